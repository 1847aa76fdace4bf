/* fuzz_model_binary.c - the binary model loader on arbitrary bytes (the
 * seeds are real model files, so mutations reach deep into the format):
 * a model or a clean error, never a crash or a leak.  A loaded model must
 * classify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kefu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    int rc;
    if (!d)
        return 0;
    /* force the binary path: the YAML loader has its own target */
    if (size < 8 || memcmp(data, "KEFUMDL\x01", 8)) {
        kefu_diag_free(d);
        return 0;
    }
    rc = kefu_model_load_buffer(&m, (const char *)data, size, "fuzz.kefu",
                                NULL, NULL, d);
    if (rc != KEFU_OK && m != NULL)
        abort();
    if (rc == KEFU_OK) {
        kefu_scratch *s = NULL;
        if (kefu_scratch_new(&s, m, NULL) == KEFU_OK && kefu_model_intent_count(m)) {
            kefu_intent_result r;
            memset(&r, 0, sizeof r);
            r.size = sizeof r;
            kefu_classify(s, "where is my order 我的订单", 31, &r);
        }
        kefu_scratch_free(s);
    }
    kefu_model_free(m);
    kefu_diag_free(d);
    return 0;
}
