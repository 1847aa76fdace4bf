/*
 * fuzz_entities.c - the entities: and redaction: sections and extraction.
 * Input: a model (YAML), optionally followed by a NUL byte and a message.
 * Without a message, a few fixed mixed-language messages are used.  The
 * model loads or fails with a diagnostic; extraction and redaction return
 * results with spans inside the message, or an error and no results.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kefu.h"

static void check(kefu_scratch *s, const char *msg, size_t len)
{
    int rc = kefu_entities_extract(s, msg, len);
    size_t n = kefu_entity_count(s), out_len = 0;
    const char *out;
    if (rc != KEFU_OK && n != 0)
        abort();
    for (size_t i = 0; i < n; i++) {
        kefu_entity e;
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        if (kefu_entity_get(s, i, &e) != KEFU_OK)
            abort();
        if (e.byte_start >= e.byte_end || e.byte_end > len ||
            e.char_start >= e.char_end || !e.name || !e.value ||
            e.value[e.value_len] != '\0')
            abort();
    }
    rc = kefu_redact(s, msg, len);
    out = kefu_redacted(s, &out_len);
    /* messages may hold NUL bytes: the result is out_len bytes plus a NUL */
    if (!out || out[out_len] != '\0')
        abort();
    if (rc != KEFU_OK && (out_len != 0 || kefu_redaction_count(s) != 0))
        abort();
    if (rc == KEFU_OK && kefu_utf8_check(out, out_len, NULL) != KEFU_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const msgs[] = {
        "我的訂單號是ＳＯ２０２４０５０１７７８，电话138-1234-5678",
        "refund $1,299.00 to card 6222021001123456789 by May 3rd, 2024",
        "身份证11010519491231002X mail a.b@example.com 三百元 昨天",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    };
    const char *nul = memchr(data, 0, size);
    size_t ylen = nul ? (size_t)(nul - (const char *)data) : size;
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    int rc;
    if (!d)
        return 0;
    rc = kefu_model_load_buffer(&m, (const char *)data, ylen, "fuzz.yaml",
                                NULL, NULL, d);
    if (rc != KEFU_OK && (m || kefu_diag_status(d) != rc))
        abort();
    if (rc == KEFU_OK && kefu_scratch_new(&s, m, NULL) == KEFU_OK) {
        if (nul) {
            check(s, nul + 1, size - ylen - 1);
        } else {
            for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
                check(s, msgs[i], strlen(msgs[i]));
        }
    }
    kefu_scratch_free(s);
    kefu_model_free(m);
    kefu_diag_free(d);
    return 0;
}
