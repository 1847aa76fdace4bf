/* fuzz_session_blob.c - kefu_session_restore on arbitrary bytes: rejected
 * cleanly or restored into a session that then runs a turn and dumps again
 * to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kefu.h"

static kefu_model *model;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kefu_session *s = NULL;
    uint8_t before[4096], after[4096];
    size_t lb = 0, la = 0;
    if (!model &&
        kefu_model_load_buffer(&model, "kefu: 1\n", 8, "m", NULL, NULL, NULL))
        return 0;
    if (kefu_session_new(&s, model, NULL))
        return 0;
    if (kefu_session_dump(s, before, sizeof before, &lb))
        abort();
    if (kefu_session_restore(s, data, size) == KEFU_OK) {
        kefu_turn t;
        kefu_triage r;
        /* a restored blob dumps back to itself (fuzzing builds do not check
         * the CRC, so compare what precedes it) */
        if (kefu_session_dump(s, after, sizeof after, &la) || la != size ||
            memcmp(after, data, size - 4))
            abort();
        kefu_turn_init(&t);
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        t.time_ms = INT64_MAX / 2;
        kefu_session_turn(s, "hello 你好", 12, &t, &r);
    } else {
        /* rejected: unchanged */
        if (kefu_session_dump(s, after, sizeof after, &la) || la != lb ||
            memcmp(after, before, lb))
            abort();
    }
    kefu_session_free(s);
    return 0;
}
