/* test_emotion.c - the emotion stage: scores, rules, the `emotion:` model
 * section, the tracker and its byte layout. */
#include "testutil.h"

#include <math.h>
#include <stddef.h>

#include "emotion.h"

static kefu_model *load(const char *yaml, int *rc, kefu_diag *d)
{
    kefu_model *m = NULL;
    *rc = kefu_model_load_buffer(&m, yaml, strlen(yaml), "t.yaml", NULL, NULL, d);
    return m;
}

static kefu_model *builtin(void)
{
    int rc;
    kefu_model *m = load("kefu: 1\n", &rc, NULL);
    assert_int_equal(rc, KEFU_OK);
    return m;
}

static kefu_emotion score(kefu_scratch *s, const char *text)
{
    kefu_emotion e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    assert_int_equal(kefu_emotion_score(s, text, strlen(text), &e), KEFU_OK);
    return e;
}

static void test_category_names(void **state)
{
    (void)state;
    assert_string_equal(kefu_emotion_category_name(KEFU_EMOTION_ANGER), "anger");
    assert_string_equal(kefu_emotion_category_name(KEFU_EMOTION_ANXIETY), "anxiety");
    assert_string_equal(kefu_emotion_category_name(KEFU_EMOTION_DISAPPOINTMENT),
                        "disappointment");
    assert_string_equal(kefu_emotion_category_name(KEFU_EMOTION_JOY), "joy");
    assert_null(kefu_emotion_category_name(-1));
    assert_null(kefu_emotion_category_name(KEFU_EMOTION_COUNT));
}

static void test_failure_cases(void **state)
{
    kefu_model *m = builtin();
    kefu_scratch *s = NULL;
    kefu_emotion e;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);

    e = score(s, "No problems or complaints");
    assert_true(e.negativity < 20 && e.score[KEFU_EMOTION_ANGER] < 10);
    e = score(s, "没问题");
    assert_true(e.negativity < 20);
    e = score(s, "不是很满意");
    assert_true(e.score[KEFU_EMOTION_DISAPPOINTMENT] >= 10 &&
                e.score[KEFU_EMOTION_DISAPPOINTMENT] <= 50);
    assert_true(e.score[KEFU_EMOTION_JOY] < 10);
    {
        /* "not very satisfied" is milder than "not satisfied" */
        kefu_emotion strong = score(s, "不满意");
        assert_true(strong.score[KEFU_EMOTION_DISAPPOINTMENT] >
                    e.score[KEFU_EMOTION_DISAPPOINTMENT] + 10);
    }
    e = score(s, "Kindly stop disturbing me");
    assert_true(e.score[KEFU_EMOTION_ANGER] >= 40);
    e = score(s, "谢谢，但是还是没解决");
    assert_true(e.score[KEFU_EMOTION_DISAPPOINTMENT] >= 60);
    assert_true(e.score[KEFU_EMOTION_DISAPPOINTMENT] > e.score[KEFU_EMOTION_JOY]);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_rules_move_scores(void **state)
{
    kefu_model *m = builtin();
    kefu_scratch *s = NULL;
    float plain, very, bit, caps, excl, elong;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    plain = score(s, "I am angry").score[KEFU_EMOTION_ANGER];
    very = score(s, "I am very angry").score[KEFU_EMOTION_ANGER];
    bit = score(s, "I am a bit angry").score[KEFU_EMOTION_ANGER];
    caps = score(s, "I am ANGRY").score[KEFU_EMOTION_ANGER];
    excl = score(s, "I am angry!!!").score[KEFU_EMOTION_ANGER];
    elong = score(s, "I am angryyyy").score[KEFU_EMOTION_ANGER];
    assert_true(very > plain && plain > bit && bit > 0);
    assert_true(caps > plain && excl > plain && elong > plain);
    assert_true(score(s, "I am not angry").score[KEFU_EMOTION_ANGER] < 5);
    /* the negator's scope ends at a clause boundary */
    assert_true(score(s, "not me. I am angry").score[KEFU_EMOTION_ANGER] >= plain - 0.01f);
    /* contrast: what follows "but" weighs more than what precedes it */
    {
        kefu_emotion a = score(s, "great service but terrible delivery");
        kefu_emotion b = score(s, "terrible delivery but great service");
        assert_true(a.negativity > b.negativity);
        assert_true(b.score[KEFU_EMOTION_JOY] > a.score[KEFU_EMOTION_JOY]);
    }
    /* Chinese: 很不满意 (very dissatisfied) above 不满意 */
    assert_true(score(s, "很不满意").score[KEFU_EMOTION_DISAPPOINTMENT] >
                score(s, "不满意").score[KEFU_EMOTION_DISAPPOINTMENT]);
    /* Traditional folds to Simplified */
    assert_true(fabsf(score(s, "這個服務太差了").negativity -
                      score(s, "这个服务太差了").negativity) < 0.01f);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_bad_input(void **state)
{
    kefu_model *m = builtin();
    kefu_scratch *s = NULL;
    kefu_emotion e;
    char *big;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    memset(&e, 0x55, sizeof e);
    e.size = sizeof e;
    assert_int_equal(kefu_emotion_score(s, "\xff\xfe", 2, &e), KEFU_E_UTF8);
    assert_int_equal(kefu_diag_offset(kefu_scratch_diag(s)), 0);
    assert_true(e.score[0] == 0 && e.negativity == 0 && e.size == sizeof e);
    /* 1 MiB is above the default limit of 65536 bytes */
    big = malloc(1 << 20);
    memset(big, 'a', 1 << 20);
    assert_int_equal(kefu_emotion_score(s, big, 1 << 20, &e), KEFU_E_TOO_LONG);
    free(big);
    assert_int_equal(kefu_emotion_score(s, NULL, 3, &e), KEFU_E_ARG);
    assert_int_equal(kefu_emotion_score(NULL, "x", 1, &e), KEFU_E_ARG);
    assert_int_equal(kefu_emotion_score(s, "x", 1, NULL), KEFU_E_ARG);
    e.size = 0;
    assert_int_equal(kefu_emotion_score(s, "x", 1, &e), KEFU_E_ARG);
    /* an older, shorter struct: fields past its size are not written */
    {
        kefu_emotion old;
        memset(&old, 0x7f, sizeof old);
        old.size = offsetof(kefu_emotion, matched);
        assert_int_equal(kefu_emotion_score(s, "angry", 5, &old), KEFU_OK);
        assert_true(old.score[KEFU_EMOTION_ANGER] > 0);
        assert_int_equal(old.matched, 0x7f7f7f7f);
    }
    e = score(s, "");
    assert_true(e.negativity == 0 && e.matched == 0);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

/* A counting allocator: after warm-up, scoring must not allocate. */
typedef struct counter {
    long n;
} counter;

static void *cnt_malloc(size_t n, void *u)
{
    ((counter *)u)->n++;
    return malloc(n);
}

static void *cnt_realloc(void *p, size_t n, void *u)
{
    ((counter *)u)->n++;
    return realloc(p, n);
}

static void cnt_free(void *p, void *u)
{
    (void)u;
    free(p);
}

static void test_no_allocation_per_call(void **state)
{
    counter c = {0};
    kefu_allocator a = {cnt_malloc, cnt_realloc, cnt_free, &c};
    kefu_model *m = builtin();
    kefu_scratch *s = NULL;
    const char *msgs[] = {"谢谢，但是还是没解决", "I am sooo angry!!!",
                          "😡😡 垃圾", "Kindly stop disturbing me"};
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, &a), KEFU_OK);
    for (int i = 0; i < 4; i++)
        score(s, msgs[i]);
    c.n = 0;
    for (int r = 0; r < 10; r++)
        for (int i = 0; i < 4; i++)
            score(s, msgs[i]);
    assert_int_equal(c.n, 0);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    for (long budget = 0; budget < 400; budget += 7) {
        tu_failing_alloc f = {budget, 0};
        kefu_allocator a = tu_failing_allocator(&f);
        kefu_model *m = NULL;
        kefu_scratch *s = NULL;
        const char *y = "kefu: 1\nemotion: {lexicon: [{term: 催单, anxiety: 60}]}\n";
        int rc = kefu_model_load_buffer(&m, y, strlen(y), "t", NULL, &a, NULL);
        if (rc != KEFU_OK) {
            assert_int_equal(rc, KEFU_E_NOMEM);
            assert_null(m);
            continue;
        }
        rc = kefu_scratch_new(&s, m, &a);
        if (rc == KEFU_OK) {
            kefu_emotion e = {sizeof e, {0}, 0, 0};
            rc = kefu_emotion_score(s, "催单 太慢了", strlen("催单 太慢了"), &e);
            assert_true(rc == KEFU_OK || rc == KEFU_E_NOMEM);
        }
        kefu_scratch_free(s);
        kefu_model_free(m);
    }
}

static void test_yaml_section(void **state)
{
    kefu_diag *d = kefu_diag_new(NULL);
    kefu_scratch *s = NULL;
    kefu_model *m;
    int rc;
    (void)state;
    m = load("kefu: 1\nemotion:\n  lexicon:\n    - {term: 退款太慢, anger: 60, anxiety: 40}\n"
             "    - {term: 垃圾, anger: 0}\n", &rc, d);
    assert_int_equal(rc, KEFU_OK);
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    assert_true(score(s, "退款太慢").score[KEFU_EMOTION_ANXIETY] > 20);
    assert_true(score(s, "垃圾").score[KEFU_EMOTION_ANGER] == 0);
    assert_int_equal(m->emotion->nmodel, 2);
    kefu_scratch_free(s);
    kefu_model_free(m);

    m = load("kefu: 1\nemotion:\n  lexicon:\n    - {term: x, anger: 101}\n", &rc, d);
    assert_null(m);
    assert_int_equal(rc, KEFU_E_MODEL);
    assert_int_equal(kefu_diag_line(d), 4);
    assert_int_equal(kefu_diag_column(d), 24);

    m = load("kefu: 1\nemotion:\n  lexicon:\n    - {term: x, rage: 10}\n", &rc, d);
    assert_int_equal(rc, KEFU_E_UNKNOWN);
    assert_int_equal(kefu_diag_line(d), 4);
    assert_int_equal(kefu_diag_column(d), 17);
    assert_non_null(strstr(kefu_diag_message(d), "rage"));
    kefu_diag_free(d);
}

static void test_features_hook(void **state)
{
    kefu_model *m = builtin();
    kefu_scratch *s = NULL;
    kefu_emo_features f;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    assert_int_equal(kefu_emotion_features(s, "not happy, but VERY angry!!", 27, &f),
                     KEFU_OK);
    assert_int_equal(f.negated, 1);
    assert_int_equal(f.contrasts, 1);
    assert_int_equal(f.exclamations, 2);
    assert_int_equal(f.caps_words, 0); /* VERY is a degree word, not a term */
    assert_true(f.raw[KEFU_EMOTION_ANGER] > 0.7f);
    assert_true(s->text.ntoks > 0); /* tokens stay for the caller */
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static kefu_emotion fake(float anger, float neg)
{
    kefu_emotion e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    e.score[KEFU_EMOTION_ANGER] = anger;
    e.negativity = neg;
    return e;
}

static void test_track(void **state)
{
    kefu_emotion_track *t = NULL;
    kefu_emotion_level l;
    kefu_emotion e;
    int64_t lo, hi, v;
    (void)state;
    assert_int_equal(kefu_emotion_track_new(&t, NULL), KEFU_OK);
    assert_int_equal(kefu_emotion_track_bounds(KEFU_EMOTION_TRACK_TREND_TURNS, &lo, &hi), KEFU_OK);
    assert_true(lo == 2 && hi == 16);
    assert_int_equal(kefu_emotion_track_bounds(99, &lo, &hi), KEFU_E_ARG);
    assert_int_equal(kefu_emotion_track_set(t, KEFU_EMOTION_TRACK_TREND_TURNS, 17), KEFU_E_ARG);
    assert_int_equal(kefu_emotion_track_set(t, KEFU_EMOTION_TRACK_HALF_LIFE_TURNS, 0), KEFU_E_ARG);
    assert_int_equal(kefu_emotion_track_set(t, KEFU_EMOTION_TRACK_HALF_LIFE_TURNS, 1), KEFU_OK);
    assert_int_equal(kefu_emotion_track_option_get(t, KEFU_EMOTION_TRACK_HALF_LIFE_TURNS, &v), KEFU_OK);
    assert_int_equal(v, 1);

    /* half-life of one turn: the old turn weighs half the new one */
    e = fake(90, 90);
    assert_int_equal(kefu_emotion_track_update(t, &e, 0, -1), KEFU_OK);
    e = fake(0, 0);
    assert_int_equal(kefu_emotion_track_update(t, &e, 10, -1), KEFU_OK);
    memset(&l, 0, sizeof l);
    l.size = sizeof l;
    assert_int_equal(kefu_emotion_track_get(t, &l), KEFU_OK);
    assert_int_equal(l.turns, 2);
    assert_true(fabsf(l.level[KEFU_EMOTION_ANGER] - 30.0f) < 0.01f); /* 45/1.5 */
    assert_true(l.peak[KEFU_EMOTION_ANGER] == 90 && l.peak_turn == 1);
    assert_true(l.trend_negativity < -80 && l.direction == -1);

    /* bad input changes nothing */
    assert_int_equal(kefu_emotion_track_update(t, &e, 5, -1), KEFU_E_ARG); /* time back */
    assert_int_equal(kefu_emotion_track_update(t, &e, 20, 101), KEFU_E_ARG);
    e.score[0] = NAN;
    assert_int_equal(kefu_emotion_track_update(t, &e, 20, -1), KEFU_E_ARG);
    assert_int_equal(kefu_emotion_track_get(t, &l), KEFU_OK);
    assert_int_equal(l.turns, 2);

    /* external score blended into anger, anxiety and negativity only */
    kefu_emotion_track_reset(t);
    assert_int_equal(kefu_emotion_track_set(t, KEFU_EMOTION_TRACK_EXTERNAL_WEIGHT, 40), KEFU_OK);
    e = fake(10, 10);
    e.score[KEFU_EMOTION_JOY] = 50;
    assert_int_equal(kefu_emotion_track_update(t, &e, 0, 100), KEFU_OK);
    assert_int_equal(kefu_emotion_track_get(t, &l), KEFU_OK);
    assert_true(fabsf(l.level[KEFU_EMOTION_ANGER] - 46.0f) < 0.01f);
    assert_true(fabsf(l.level[KEFU_EMOTION_JOY] - 50.0f) < 0.01f);
    assert_int_equal(l.direction, 0);
    kefu_emotion_track_free(t);
    kefu_emotion_track_free(NULL);
}

static void test_track_bytes(void **state)
{
    kefu_emotion_track *a = NULL, *b = NULL;
    kefu_emotion_level la, lb;
    uint8_t buf[KEFU_EMOTION_TRACK_BYTES], bad[KEFU_EMOTION_TRACK_BYTES];
    size_t len = 0;
    (void)state;
    assert_int_equal(kefu_emotion_track_new(&a, NULL), KEFU_OK);
    assert_int_equal(kefu_emotion_track_new(&b, NULL), KEFU_OK);
    kefu_emotion_track_set(a, KEFU_EMOTION_TRACK_HALF_LIFE_MS, 30000);
    for (int i = 0; i < 20; i++) {
        kefu_emotion e = fake((float)(i * 5), (float)(i * 4));
        assert_int_equal(kefu_emotion_track_update(a, &e, i * 1000, i % 3 ? -1 : 70), KEFU_OK);
    }
    assert_int_equal(kefu_emotion_track_save(a, buf, 10, &len), KEFU_E_BUFFER);
    assert_int_equal(len, KEFU_EMOTION_TRACK_BYTES);
    assert_int_equal(kefu_emotion_track_save(a, buf, sizeof buf, &len), KEFU_OK);
    assert_memory_equal(buf, "KEMT", 4);
    assert_int_equal(buf[32], 20); /* turns, little-endian */
    assert_int_equal(kefu_emotion_track_load(b, buf, len), KEFU_OK);
    memset(&la, 0, sizeof la);
    memset(&lb, 0, sizeof lb);
    la.size = lb.size = sizeof la;
    kefu_emotion_track_get(a, &la);
    kefu_emotion_track_get(b, &lb);
    assert_memory_equal(&la, &lb, sizeof la);
    {
        int64_t v;
        kefu_emotion_track_option_get(b, KEFU_EMOTION_TRACK_HALF_LIFE_MS, &v);
        assert_int_equal(v, 30000);
    }
    /* damage: every single flipped byte is refused, b stays as it was */
    kefu_emotion_track_reset(b);
    for (size_t i = 0; i < sizeof buf; i += 13) {
        memcpy(bad, buf, sizeof buf);
        bad[i] ^= 0x40;
        assert_int_not_equal(kefu_emotion_track_load(b, bad, sizeof bad), KEFU_OK);
    }
    assert_int_equal(kefu_emotion_track_load(b, buf, len - 1), KEFU_E_CORRUPT);
    kefu_emotion_track_get(b, &lb);
    assert_int_equal(lb.turns, 0);
    /* a future version with a valid checksum */
    memcpy(bad, buf, sizeof buf);
    bad[4] = 2;
    {
        uint32_t crc = kefu_crc32(0, bad, 592);
        bad[592] = (uint8_t)crc;
        bad[593] = (uint8_t)(crc >> 8);
        bad[594] = (uint8_t)(crc >> 16);
        bad[595] = (uint8_t)(crc >> 24);
    }
    assert_int_equal(kefu_emotion_track_load(b, bad, sizeof bad), KEFU_E_VERSION);
    /* a long conversation with a long half-life still round-trips */
    kefu_emotion_track_reset(a);
    kefu_emotion_track_set(a, KEFU_EMOTION_TRACK_HALF_LIFE_MS, 0);
    kefu_emotion_track_set(a, KEFU_EMOTION_TRACK_HALF_LIFE_TURNS, 1000);
    for (int i = 0; i < 5000; i++) {
        kefu_emotion e = fake(100, 100);
        e.score[KEFU_EMOTION_JOY] = 100;
        assert_int_equal(kefu_emotion_track_update(a, &e, i, -1), KEFU_OK);
    }
    assert_int_equal(kefu_emotion_track_save(a, buf, sizeof buf, &len), KEFU_OK);
    assert_int_equal(kefu_emotion_track_load(b, buf, len), KEFU_OK);
    assert_int_equal(kefu_emotion_track_save(NULL, buf, sizeof buf, &len), KEFU_E_ARG);
    kefu_emotion_track_free(a);
    kefu_emotion_track_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_category_names),
        cmocka_unit_test(test_failure_cases),
        cmocka_unit_test(test_rules_move_scores),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_no_allocation_per_call),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_yaml_section),
        cmocka_unit_test(test_features_hook),
        cmocka_unit_test(test_track),
        cmocka_unit_test(test_track_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
