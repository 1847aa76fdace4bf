/*
 * fuzz_emotion_lexicon.c - the emotion: section of a model and scoring.
 * Input: a model (YAML), optionally followed by a NUL byte and a message.
 * The model loads or fails with a diagnostic that has a message; a loaded
 * model scores a few fixed messages and the given one with every score in
 * 0..100, and a tracker fed those scores round-trips through its bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emotion.h"
#include "kefu.h"

static void check_scores(const kefu_emotion *e)
{
    for (int c = 0; c < KEFU_EMOTION_COUNT; c++)
        if (!(e->score[c] >= 0 && e->score[c] <= 100))
            abort();
    if (!(e->negativity >= 0 && e->negativity <= 100))
        abort();
}

static void score(kefu_scratch *s, kefu_emotion_track *t, const char *msg,
                  size_t len, int64_t ms)
{
    kefu_emotion e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    int rc = kefu_emotion_score(s, msg, len, &e);
    if (rc != KEFU_OK) {
        if (e.negativity != 0 || e.matched != 0)
            abort();
        return;
    }
    check_scores(&e);
    if (kefu_emotion_track_update(t, &e, ms, (int32_t)(len % 102) - 1) != KEFU_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fixed[] = {
        "退款太慢了，气死了！！！", "No problems or complaints",
        "谢谢，但是还是没解决", "I am sooo ANGRY 😡", ""};
    const uint8_t *nul = memchr(data, 0, size);
    size_t ylen = nul ? (size_t)(nul - data) : size;
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    kefu_emotion_track *t = NULL, *t2 = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    int rc = kefu_model_load_buffer(&m, (const char *)data, ylen, "fuzz.yaml",
                                    NULL, NULL, d);
    if (rc != KEFU_OK) {
        if (m || kefu_diag_status(d) != rc || !kefu_diag_message(d)[0])
            abort();
        kefu_diag_free(d);
        return 0;
    }
    if (kefu_scratch_new(&s, m, NULL) || kefu_emotion_track_new(&t, NULL) ||
        kefu_emotion_track_new(&t2, NULL))
        abort();
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        score(s, t, fixed[i], strlen(fixed[i]), (int64_t)i);
    if (nul)
        score(s, t, (const char *)nul + 1, size - ylen - 1, 100);
    {
        uint8_t buf[KEFU_EMOTION_TRACK_BYTES];
        size_t len = 0;
        kefu_emotion_level a, b;
        if (kefu_emotion_track_save(t, buf, sizeof buf, &len) ||
            kefu_emotion_track_load(t2, buf, len))
            abort();
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        a.size = b.size = sizeof a;
        kefu_emotion_track_get(t, &a);
        kefu_emotion_track_get(t2, &b);
        if (memcmp(&a, &b, sizeof a))
            abort();
    }
    kefu_emotion_track_free(t);
    kefu_emotion_track_free(t2);
    kefu_scratch_free(s);
    kefu_model_free(m);
    kefu_diag_free(d);
    return 0;
}
