/*
 * cmd_text.c - `kefu text [FILE|-]`: one text per line in, one JSON object
 * per line out with the normalised text and the tokens (kind, text, byte
 * and character spans).  Invalid lines get {"error": ...} and the run goes
 * on; the exit status is 1 if any line failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *kind_name(uint32_t k)
{
    switch (k) {
    case KEFU_TOKEN_WORD: return "word";
    case KEFU_TOKEN_CJK: return "cjk";
    case KEFU_TOKEN_NUMBER: return "number";
    case KEFU_TOKEN_EMOJI: return "emoji";
    case KEFU_TOKEN_PUNCT: return "punct";
    default: return "symbol";
    }
}

int cmd_text(int argc, char **argv)
{
    const char *path = NULL;
    FILE *in = stdin;
    kefu_text *t = NULL;
    char *line = NULL;
    size_t cap = 0;
    long n;
    int failed = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: kefu text [FILE|-]\n"
                   "One text per line in; JSON lines out: normalised text and tokens.\n");
            return 0;
        }
        if (path) {
            fprintf(stderr, "kefu text: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
        path = argv[i];
    }
    if (path && strcmp(path, "-")) {
        in = fopen(path, "rb");
        if (!in) {
            perror(path);
            return 1;
        }
    }
    if (kefu_text_new(&t, NULL) != KEFU_OK) {
        fprintf(stderr, "kefu text: out of memory\n");
        return 1;
    }
    while ((n = cli_getline(&line, &cap, in)) >= 0) {
        size_t nlen;
        const char *norm;
        int rc = kefu_text_run(t, line, (size_t)n);
        if (rc != KEFU_OK) {
            cli_error_json(rc, kefu_text_diag(t));
            failed = 1;
            continue;
        }
        norm = kefu_text_normalized(t, &nlen);
        printf("{\"normalized\":");
        cli_json_string(stdout, norm, nlen);
        printf(",\"tokens\":[");
        for (size_t i = 0; i < kefu_text_token_count(t); i++) {
            kefu_token tok = {sizeof tok, 0, NULL, 0, 0, 0, 0, 0};
            kefu_text_token(t, i, &tok);
            printf("%s{\"kind\":\"%s\",\"text\":", i ? "," : "",
                   kind_name(tok.kind));
            cli_json_string(stdout, tok.text, tok.text_len);
            printf(",\"bytes\":[%u,%u],\"chars\":[%u,%u]}", tok.byte_start,
                   tok.byte_end, tok.char_start, tok.char_end);
        }
        printf("]}\n");
    }
    free(line);
    kefu_text_free(t);
    if (in != stdin)
        fclose(in);
    return failed;
}
