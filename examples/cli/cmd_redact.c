/*
 * cmd_redact.c - `kefu redact [-m MODEL] [--json] [FILE|-]`: one message
 * per line in, the same line with personal data masked out (phone, ID and
 * card numbers, e-mail addresses, the model's custom rules), ready to be
 * logged.  Without -m the default policy applies.  A line that cannot be
 * redacted (invalid UTF-8, too long) is printed as an empty line - never
 * unmasked - with the reason on stderr; the exit status is then 1.
 * --json prints {"text": ..., "redactions": [{"kind", "bytes", "chars"}]}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_json(const kefu_scratch *s)
{
    size_t len;
    const char *out = kefu_redacted(s, &len);
    printf("{\"text\":");
    cli_json_string(stdout, out, len);
    printf(",\"redactions\":[");
    for (size_t i = 0; i < kefu_redaction_count(s); i++) {
        kefu_redaction r;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        kefu_redaction_get(s, i, &r);
        printf("%s{\"kind\":", i ? "," : "");
        cli_json_string(stdout, r.name, strlen(r.name));
        printf(",\"bytes\":[%u,%u],\"chars\":[%u,%u]}", r.byte_start,
               r.byte_end, r.char_start, r.char_end);
    }
    printf("]}\n");
}

int cmd_redact(int argc, char **argv)
{
    const char *path = NULL, *model_path = NULL;
    int json = 0, failed = 0;
    FILE *in = stdin;
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    char *line = NULL;
    size_t cap = 0;
    long n;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: kefu redact [-m MODEL] [--json] [FILE|-]\n"
                   "One message per line in; the line with phone, ID and card numbers\n"
                   "and e-mail addresses masked out (the model's redaction: section,\n"
                   "or the default policy without -m).\n");
            kefu_diag_free(d);
            return 0;
        } else if (!strcmp(argv[i], "-m") && i + 1 < argc) {
            model_path = argv[++i];
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "kefu redact: unexpected argument '%s'\n", argv[i]);
            kefu_diag_free(d);
            return 2;
        }
    }
    rc = model_path ? kefu_model_load(&m, model_path, NULL, d)
                    : kefu_model_load_buffer(&m, "kefu: 1\n", 8, "(default)",
                                             NULL, NULL, d);
    if (rc != KEFU_OK) {
        cli_report("cannot load the model", rc, d);
        kefu_diag_free(d);
        return 1;
    }
    if (kefu_scratch_new(&s, m, NULL) != KEFU_OK) {
        fprintf(stderr, "kefu redact: out of memory\n");
        kefu_model_free(m);
        kefu_diag_free(d);
        return 1;
    }
    if (path && strcmp(path, "-") && !(in = fopen(path, "rb"))) {
        perror(path);
        kefu_scratch_free(s);
        kefu_model_free(m);
        kefu_diag_free(d);
        return 1;
    }
    while ((n = cli_getline(&line, &cap, in)) >= 0) {
        rc = kefu_redact(s, line, (size_t)n);
        if (rc != KEFU_OK) {
            cli_report("cannot redact a line", rc, kefu_scratch_diag(s));
            failed = 1;
        }
        if (json)
            print_json(s);
        else {
            size_t len;
            const char *out = kefu_redacted(s, &len);
            fwrite(out, 1, len, stdout);
            putchar('\n');
        }
    }
    if (in != stdin)
        fclose(in);
    free(line);
    kefu_scratch_free(s);
    kefu_model_free(m);
    kefu_diag_free(d);
    return failed;
}
