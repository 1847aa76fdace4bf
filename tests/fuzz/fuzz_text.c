/* fuzz_text.c - the text stage on arbitrary bytes: no crash, no leak, and
 * every token span lies inside the input and in order. */
#include <stdint.h>
#include <stdlib.h>

#include "kefu.h"

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
    return 0;
}
