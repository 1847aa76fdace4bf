/* util.c - helpers shared by the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_json_string(FILE *out, const char *s, size_t len)
{
    size_t run = 0;   /* start of the characters not yet written */
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fwrite(s + run, 1, i - run, out);
        run = i + 1;
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            fprintf(out, "\\u%04x", c);
        }
    }
    fwrite(s + run, 1, len - run, out);
    fputc('"', out);
}

void cli_json_fixed4(FILE *out, double x)
{
    char buf[32], *p = buf + sizeof buf;
    unsigned long long v;
    int neg = x < 0;
    if (!isfinite(x)) {
        fputs("null", out);
        return;
    }
    if (fabs(x) >= 1e12) {
        fprintf(out, "%.4f", x);
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
    fwrite(p, 1, (size_t)(buf + sizeof buf - p), out);
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

void cli_entities_json(const kefu_scratch *s)
{
    printf(",\"entities\":[");
    for (size_t i = 0; i < kefu_entity_count(s); i++) {
        kefu_entity e;
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        if (kefu_entity_get(s, i, &e))
            continue;
        printf("%s{\"name\":", i ? "," : "");
        cli_json_string(stdout, e.name, strlen(e.name));
        printf(",\"value\":");
        cli_json_string(stdout, e.value, e.value_len);
        printf(",\"bytes\":[%u,%u],\"chars\":[%u,%u]}", e.byte_start,
               e.byte_end, e.char_start, e.char_end);
    }
    printf("]");
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
