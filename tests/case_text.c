/*
 * case_text.c - area "text": input.txt (one message, trailing newline
 * ignored unless the file is `input.bin`, used byte for byte) against
 * expected.txt: the normalised text on the first line, then one token per
 * line as "kind<TAB>text<TAB>byte_start-byte_end<TAB>char_start-char_end",
 * or expected_error holding "status offset" (e.g. "-3 5").
 */
#include "case_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(uint32_t k)
{
    static const char *names[] = {"?", "word", "cjk", "number", "emoji",
                                  "punct", "symbol"};
    return k < 7 ? names[k] : "?";
}

int case_text(const char *dir, char *why, size_t why_cap)
{
    size_t len = 0, cap = 4096, used = 0;
    int bin = case_has(dir, "input.bin");
    char *in = case_read(dir, bin ? "input.bin" : "input.txt", &len);
    char *exp = case_read(dir, "expected.txt", NULL);
    char *experr = case_read(dir, "expected_error", NULL);
    char *got = malloc(cap);
    kefu_text *t = NULL;
    int rc, fail = 0;

    if (!in || (!exp && !experr) || !got || kefu_text_new(&t, NULL)) {
        snprintf(why, why_cap, "needs input.txt and expected.txt or expected_error");
        fail = 1;
        goto out;
    }
    if (!bin && len && in[len - 1] == '\n')
        in[--len] = '\0';
    rc = kefu_text_run(t, in, len);
    if (experr) {
        long st = 0;
        unsigned long long off = 0;
        int n = sscanf(experr, "%ld %llu", &st, &off);
        if (rc != st || (n == 2 && kefu_diag_offset(kefu_text_diag(t)) != off)) {
            snprintf(why, why_cap, "expected status %ld offset %llu, got %d offset %llu",
                     st, off, rc,
                     (unsigned long long)kefu_diag_offset(kefu_text_diag(t)));
            fail = 1;
        }
        goto out;
    }
    if (rc != KEFU_OK) {
        snprintf(why, why_cap, "kefu_text_run failed: %s",
                 kefu_diag_message(kefu_text_diag(t)));
        fail = 1;
        goto out;
    }
    {
        size_t nlen;
        const char *norm = kefu_text_normalized(t, &nlen);
        used += (size_t)snprintf(got + used, cap - used, "%.*s\n", (int)nlen, norm);
    }
    for (size_t i = 0; i < kefu_text_token_count(t); i++) {
        kefu_token tok;
        char line[512];
        int n;
        memset(&tok, 0, sizeof tok);
        tok.size = sizeof tok;
        kefu_text_token(t, i, &tok);
        n = snprintf(line, sizeof line, "%s\t%.*s\t%u-%u\t%u-%u\n",
                     kind_name(tok.kind), (int)tok.text_len, tok.text,
                     tok.byte_start, tok.byte_end, tok.char_start, tok.char_end);
        if (used + (size_t)n + 1 > cap) {
            char *ng = realloc(got, cap = cap * 2 + (size_t)n);
            if (!ng)
                break;
            got = ng;
        }
        memcpy(got + used, line, (size_t)n + 1);
        used += (size_t)n;
    }
    case_chomp(got);
    case_chomp(exp);
    if (strcmp(got, exp)) {
        snprintf(why, why_cap, "output differs.\n--- expected\n%s\n--- got\n%s", exp, got);
        fail = 1;
    }
out:
    free(in);
    free(exp);
    free(experr);
    free(got);
    kefu_text_free(t);
    return fail;
}
