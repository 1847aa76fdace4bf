/* util.c - helpers shared by the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_buf_put(cli_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            fputs("kefu: out of memory\n", stderr);
            exit(1);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void cli_buf_puts(cli_buf *b, const char *s)
{
    cli_buf_put(b, s, strlen(s));
}

void cli_buf_write(cli_buf *b, FILE *out)
{
    fwrite(b->p, 1, b->len, out);
    b->len = 0;
}

void cli_buf_free(cli_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void cli_buf_json_string(cli_buf *b, const char *s, size_t len)
{
    size_t run = 0;   /* start of the characters not yet written */
    cli_buf_put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char u[8];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        cli_buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': cli_buf_puts(b, "\\\""); break;
        case '\\': cli_buf_puts(b, "\\\\"); break;
        case '\n': cli_buf_puts(b, "\\n"); break;
        case '\r': cli_buf_puts(b, "\\r"); break;
        case '\t': cli_buf_puts(b, "\\t"); break;
        default:
            snprintf(u, sizeof u, "\\u%04x", c);
            cli_buf_puts(b, u);
        }
    }
    cli_buf_put(b, s + run, len - run);
    cli_buf_put(b, "\"", 1);
}

void cli_buf_fixed4(cli_buf *b, double x)
{
    char buf[32], *p = buf + sizeof buf;
    unsigned long long v;
    int neg = x < 0;
    if (!isfinite(x)) {
        cli_buf_puts(b, "null");
        return;
    }
    if (fabs(x) >= 1e12) {
        snprintf(buf, sizeof buf, "%.4f", x);
        cli_buf_puts(b, buf);
        return;
    }
    v = (unsigned long long)llround(fabs(x) * 10000.0);
    for (int i = 0; i < 4; i++) {
        *--p = (char)('0' + v % 10);
        v /= 10;
    }
    *--p = '.';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg && strspn(p, "0.") != (size_t)(buf + sizeof buf - p))
        *--p = '-';
    cli_buf_put(b, p, (size_t)(buf + sizeof buf - p));
}

void cli_json_string(FILE *out, const char *s, size_t len)
{
    cli_buf b = {0};
    cli_buf_json_string(&b, s, len);
    cli_buf_write(&b, out);
    cli_buf_free(&b);
}

void cli_json_fixed4(FILE *out, double x)
{
    cli_buf b = {0};
    cli_buf_fixed4(&b, x);
    cli_buf_write(&b, out);
    cli_buf_free(&b);
}

void cli_report(const char *what, int status, const kefu_diag *diag)
{
    char buf[1024];
    if (diag && kefu_diag_status(diag) != KEFU_OK) {
        kefu_diag_format(diag, buf, sizeof buf);
        fprintf(stderr, "kefu: %s: %s\n", what, buf);
    } else {
        fprintf(stderr, "kefu: %s: %s\n", what, kefu_strerror(status));
    }
}

static int read_failed;

int cli_read_failed(void)
{
    return read_failed;
}

long cli_getline(char **buf, size_t *cap, FILE *in)
{
    /* POSIX getline: a whole line per call (NUL bytes included), not a
     * call per character */
    ssize_t n;
    errno = 0;
    n = getline(buf, cap, in);
    if (n < 0) {
        /* end of input, or a read error or no memory: not silent */
        if (ferror(in) || errno == ENOMEM) {
            fprintf(stderr, "kefu: reading input: %s\n",
                    strerror(errno ? errno : EIO));
            read_failed = 1;
        }
        return -1;
    }
    if (n > 0 && (*buf)[n - 1] == '\n')
        n--;
    if (n > 0 && (*buf)[n - 1] == '\r')
        n--;
    (*buf)[n] = '\0';
    return (long)n;
}

void cli_error_json(int status, const kefu_diag *diag)
{
    char msg[700];
    kefu_diag_format(diag, msg, sizeof msg);
    printf("{\"error\":");
    cli_json_string(stdout, msg, strlen(msg));
    printf(",\"status\":%d}\n", status);
}

void cli_entities_json(cli_buf *b, const kefu_scratch *s)
{
    cli_buf_puts(b, ",\"entities\":[");
    for (size_t i = 0; i < kefu_entity_count(s); i++) {
        kefu_entity e;
        char nums[96];
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        if (kefu_entity_get(s, i, &e))
            continue;
        cli_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        cli_buf_json_string(b, e.name, strlen(e.name));
        cli_buf_puts(b, ",\"value\":");
        cli_buf_json_string(b, e.value, e.value_len);
        snprintf(nums, sizeof nums, ",\"bytes\":[%u,%u],\"chars\":[%u,%u]}",
                 e.byte_start, e.byte_end, e.char_start, e.char_end);
        cli_buf_puts(b, nums);
    }
    cli_buf_puts(b, "]");
}

kefu_model *cli_load_model(const char *path)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    if (!d || kefu_model_load(&m, path, NULL, d)) {
        cli_report("load", d ? kefu_diag_status(d) : KEFU_E_NOMEM, d);
        m = NULL;
    }
    kefu_diag_free(d);
    return m;
}

int cli_count(const char *cmd, const char *opt, const char *s, uint64_t lo,
              uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v = 0;
    errno = 0;
    if (*s >= '0' && *s <= '9')
        v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr, "kefu %s: bad value '%s' for %s (a whole number, %llu to %llu)\n",
                cmd, s, opt, (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_number(const char *cmd, const char *opt, const char *s, double lo,
               double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v) || v < lo || v > hi) {
        if (isinf(hi))
            fprintf(stderr, "kefu %s: bad value '%s' for %s (a number, at least %g)\n",
                    cmd, s, opt, lo);
        else
            fprintf(stderr, "kefu %s: bad value '%s' for %s (a number, %g to %g)\n",
                    cmd, s, opt, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}
