/* fuzz_text.c - the text stage on arbitrary bytes: no crash, no leak, every
 * token span lies inside the input and in order, and the fast path agrees
 * with the plain utf8proc path (kefu_text.reference) on status, error
 * offset, normalised text, code points and tokens.  The first byte picks
 * T2S and case folding for the comparison. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kefu.h"
#include "text.h"

static void compare_paths(const uint8_t *data, size_t size, int opts)
{
    kefu_text *a = NULL, *b = NULL;
    int ra, rb;
    if (kefu_text_new(&a, NULL) != KEFU_OK || kefu_text_new(&b, NULL) != KEFU_OK)
        goto done;
    b->reference = 1;
    kefu_text_set(a, KEFU_TEXT_T2S, opts & 1);
    kefu_text_set(b, KEFU_TEXT_T2S, opts & 1);
    kefu_text_set(a, KEFU_TEXT_CASEFOLD, (opts >> 1) & 1);
    kefu_text_set(b, KEFU_TEXT_CASEFOLD, (opts >> 1) & 1);
    ra = kefu_text_run(a, (const char *)data, size);
    rb = kefu_text_run(b, (const char *)data, size);
    if (ra != rb)
        abort();
    if (ra != KEFU_OK) {
        if (kefu_diag_offset(kefu_text_diag(a)) != kefu_diag_offset(kefu_text_diag(b)))
            abort();
        goto done;
    }
    if (a->norm.len != b->norm.len ||
        memcmp(a->norm.data, b->norm.data, a->norm.len + 1) ||
        a->ncps != b->ncps ||
        (a->ncps && memcmp(a->cps, b->cps, a->ncps * sizeof *a->cps)) ||
        a->ntoks != b->ntoks ||
        (a->ntoks && memcmp(a->toks, b->toks, a->ntoks * sizeof *a->toks)))
        abort();
done:
    kefu_text_free(a);
    kefu_text_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kefu_text *t = NULL;
    uint32_t prev_end = 0;
    if (kefu_text_new(&t, NULL) != KEFU_OK)
        return 0;
    if (kefu_text_run(t, (const char *)data, size) == KEFU_OK) {
        for (size_t i = 0; i < kefu_text_token_count(t); i++) {
            kefu_token k = {sizeof k, 0, NULL, 0, 0, 0, 0, 0};
            if (kefu_text_token(t, i, &k) != KEFU_OK || k.byte_end > size ||
                k.byte_start > k.byte_end || k.byte_start < prev_end ||
                k.char_start > k.char_end || k.text_len == 0)
                abort();
            prev_end = k.byte_end;
        }
    }
    kefu_text_free(t);
    compare_paths(data, size, 3);
    if (size > 0)
        compare_paths(data + 1, size - 1, data[0]);
    return 0;
}
