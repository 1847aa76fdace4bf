/*
 * test_emotion_trained.c - the trained emotion mode through the public API:
 * kefu_model_train(task emotion) on small label<TAB>text files of our own
 * (English and Chinese, single- and multi-label lines), then
 * kefu_emotion_classify / kefu_emotion_label, the binary model round trip,
 * and the errors (bad label lists with file:line, no trained labels).
 */
#include <unistd.h>

#include "testutil.h"

static char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "/tmp/kefu-test-emo-%d-%s", (int)getpid(), name);
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Three labels, each with its own words in both languages; the multi-label
 * lines mix the anger and sadness words. */
static const char TRAIN[] =
    "anger\tI am furious, this is outrageous\n"
    "anger\tabsolutely outrageous service, I am furious\n"
    "anger\tthis is a scam and I am livid\n"
    "anger\tyou people are useless, I am livid\n"
    "anger\tfurious about the third broken charger\n"
    "anger\toutrageous fees again, I am so angry\n"
    "anger\tangry and livid about this scam\n"
    "anger\t气死我了，垃圾客服\n"
    "anger\t太气人了，什么垃圾服务\n"
    "anger\t垃圾产品，气死了\n"
    "anger\t你们简直是骗子，气死人\n"
    "anger\t愤怒，垃圾，骗子\n"
    "joy\tthank you so much, wonderful help\n"
    "joy\twonderful, the refund arrived, thanks\n"
    "joy\tgreat service, I am delighted\n"
    "joy\tdelighted with the wonderful support, thank you\n"
    "joy\tthanks a lot, that was great\n"
    "joy\tlovely, it works now, delighted\n"
    "joy\tgreat news, thank you\n"
    "joy\t太开心了，谢谢你们\n"
    "joy\t非常满意，谢谢客服\n"
    "joy\t很开心，问题解决了，满意\n"
    "joy\t谢谢，服务很棒，开心\n"
    "joy\t满意，太好了\n"
    "sadness\tI am so sad, my parcel is lost forever\n"
    "sadness\theartbroken, the gift never came\n"
    "sadness\tfeeling sad and lonely tonight\n"
    "sadness\tthis makes me sad, I cried\n"
    "sadness\theartbroken and sad about my old phone\n"
    "sadness\tI cried all night, so heartbroken\n"
    "sadness\tlonely and sad\n"
    "sadness\t好难过，礼物丢了\n"
    "sadness\t伤心，哭了一整晚\n"
    "sadness\t很难过，心都碎了\n"
    "sadness\t伤心难过\n"
    "sadness\t我哭了，好伤心\n"
    "anger,sadness\tfurious and heartbroken, the scam took my savings\n"
    "anger,sadness\tI am livid and I cried all night\n"
    "anger,sadness\toutrageous, and so sad, heartbroken\n"
    "anger,sadness\tangry and sad, furious and heartbroken\n"
    "sadness,anger\t气死了又好伤心，垃圾\n"
    "anger,sadness\t愤怒又难过，哭了，骗子\n"
    "anger,sadness\t垃圾骗子，伤心难过\n"
    "joy,sadness\tthank you, though I am a little sad it ended\n";

static const char VAL[] =
    "anger\tthis is outrageous and I am furious\n"
    "joy\tthank you, wonderful\n"
    "sadness\tso sad and heartbroken\n"
    "anger,sadness\tlivid and heartbroken\n"
    "anger\t垃圾，气死了\n"
    "joy\t谢谢，很满意\n"
    "sadness\t好伤心\n";

/* Epochs reported by the progress callback: calls, and the last total. */
typedef struct epochs_seen {
    uint32_t calls, total;
} epochs_seen;

static void count_epochs(uint32_t epoch, uint32_t epochs, double loss,
                         double val_accuracy, void *user)
{
    epochs_seen *e = user;
    (void)epoch;
    (void)loss;
    (void)val_accuracy;
    e->calls++;
    e->total = epochs;
}

/* Trains an emotion model on train_text (and val_text, config file text
 * cfg: NULL for none) with options epochs / seed (0: the default); the
 * progress callback counts into *seen (NULL: no callback). */
static kefu_model *train_with(const char *train_text, const char *val_text,
                              const char *cfg, uint32_t epochs, uint64_t seed,
                              epochs_seen *seen, int *rc, kefu_diag *d)
{
    const char *tr = tmp_path("train.tsv"), *va = tmp_path("val.tsv");
    const char *cf = tmp_path("cfg.yaml");
    kefu_model *m = NULL;
    kefu_train_options o;
    write_file(tr, train_text);
    if (val_text)
        write_file(va, val_text);
    if (cfg)
        write_file(cf, cfg);
    kefu_train_options_init(&o);
    o.task = KEFU_TASK_EMOTION;
    o.epochs = epochs;
    o.seed = seed;
    if (seen) {
        o.progress = count_epochs;
        o.user = seen;
    }
    *rc = kefu_model_train(&m, cfg ? cf : NULL, tr, val_text ? va : NULL, &o,
                           NULL, d);
    unlink(tr);
    unlink(va);
    unlink(cf);
    return m;
}

static kefu_model *train(const char *train_text, const char *val_text, int *rc, kefu_diag *d)
{
    return train_with(train_text, val_text, NULL, 0, 7, NULL, rc, d);
}

/* TRAIN with the `classifier:` section `cfg` (NULL: none) and options
 * epochs / seed (0: the default); fails the test if training fails. */
static kefu_model *train_cfg(const char *cfg, uint32_t epochs, uint64_t seed)
{
    kefu_diag *d = kefu_diag_new(NULL);
    int rc;
    kefu_model *m = train_with(TRAIN, NULL, cfg, epochs, seed, NULL, &rc, d);
    if (rc)
        fail_msg("train: %s", kefu_diag_message(d));
    kefu_diag_free(d);
    return m;
}

/* Label probabilities of a few texts, n per text. */
static void probs_of(const kefu_model *m, float *out, size_t n)
{
    static const char *texts[] = {"furious and heartbroken", "谢谢，满意",
                                  "so sad", "垃圾", "ok"};
    kefu_scratch *s = NULL;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(kefu_emotion_classify(s, texts[i], strlen(texts[i]),
                                               out + i * n, n),
                         KEFU_OK);
    kefu_scratch_free(s);
}

static void test_config_section(void **st)
{
    /* `classifier:` configures trained emotion labels too (it used to
     * create an empty intent classifier and fail); options given to
     * kefu_model_train win over it */
    float a[15], b[15], c[15];
    const char *path = tmp_path("cfg.kefu");
    kefu_model *m1, *m2, *m3, *m4 = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    (void)st;
    m1 = train_cfg("kefu: 1\nclassifier: {epochs: 5, seed: 3}\n", 0, 0);
    m2 = train_cfg(NULL, 5, 3);
    m3 = train_cfg("kefu: 1\nclassifier: {epochs: 5, seed: 3}\n", 0, 9);
    assert_int_equal(kefu_model_emotion_label_count(m1), 3);
    probs_of(m1, a, 3);
    probs_of(m2, b, 3);
    assert_memory_equal(a, b, sizeof a);
    probs_of(m3, c, 3);                       /* seed 9 from the options */
    assert_true(memcmp(a, c, sizeof a) != 0);
    /* the binary model (its YAML read again on load) answers the same */
    assert_int_equal(kefu_model_save(m1, path, d), KEFU_OK);
    assert_int_equal(kefu_model_load(&m4, path, NULL, d), KEFU_OK);
    unlink(path);
    probs_of(m4, c, 3);
    assert_memory_equal(a, c, sizeof a);
    /* a classifier section with nothing to train is an error */
    kefu_model_free(m4);
    m4 = NULL;
    {
        static const char only[] = "kefu: 1\nclassifier: {seed: 2}\n";
        assert_int_equal(kefu_model_load_buffer(&m4, only, sizeof only - 1,
                                                "c.yaml", NULL, NULL, d),
                         KEFU_E_EMPTY);
    }
    assert_null(m4);
    assert_non_null(strstr(kefu_diag_message(d), "classifier section"));
    kefu_model_free(m1);
    kefu_model_free(m2);
    kefu_model_free(m3);
    kefu_diag_free(d);
}

static size_t label_index(const kefu_model *m, const char *name)
{
    size_t n = kefu_model_emotion_label_count(m);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kefu_model_emotion_label_name(m, i), name))
            return i;
    return n;
}

/* The predicted labels of `text`, sorted and comma-joined, in `out`. */
static void predict(kefu_scratch *s, const char *text, char *out, size_t cap)
{
    const char *labs[8];
    size_t n;
    assert_int_equal(kefu_emotion_classify(s, text, strlen(text), NULL, 0), KEFU_OK);
    n = kefu_emotion_label_count(s);
    assert_true(n >= 1 && n <= 8);
    for (size_t i = 0; i < n; i++) {
        labs[i] = kefu_emotion_label(s, i);
        assert_non_null(labs[i]);
    }
    assert_null(kefu_emotion_label(s, n));
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(labs[j - 1], labs[j]) > 0; j--) {
            const char *t = labs[j];
            labs[j] = labs[j - 1];
            labs[j - 1] = t;
        }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, labs[i], cap - strlen(out) - 1);
    }
}

static void expect(kefu_scratch *s, const char *text, const char *want)
{
    char got[128];
    predict(s, text, got, sizeof got);
    if (strcmp(got, want))
        fail_msg("'%s': predicted '%s', expected '%s'", text, got, want);
}

static void test_multi_label(void **st)
{
    kefu_diag *d = kefu_diag_new(NULL);
    int rc;
    kefu_model *m = train(TRAIN, VAL, &rc, d);
    kefu_scratch *s = NULL;
    float probs[3];
    (void)st;
    if (rc)
        fail_msg("train: %s", kefu_diag_message(d));
    assert_int_equal(kefu_model_emotion_label_count(m), 3);
    assert_int_not_equal(label_index(m, "anger"), 3);
    assert_int_not_equal(label_index(m, "joy"), 3);
    assert_int_not_equal(label_index(m, "sadness"), 3);
    assert_null(kefu_model_emotion_label_name(m, 3));
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    assert_int_equal(kefu_emotion_label_count(s), 0);
    assert_null(kefu_emotion_label(s, 0));

    expect(s, "I am furious, this is outrageous", "anger");
    expect(s, "a scam, I am livid", "anger");
    expect(s, "垃圾客服，气死了", "anger");
    expect(s, "thank you, wonderful and great", "joy");
    expect(s, "谢谢，非常满意", "joy");
    expect(s, "so sad, I cried", "sadness");
    expect(s, "好难过，伤心", "sadness");
    expect(s, "furious and heartbroken, I cried", "anger,sadness");
    expect(s, "气死了，好伤心，哭了", "anger,sadness");

    /* probabilities in model order; the predicted labels are those >= 0.5 */
    assert_int_equal(kefu_emotion_classify(s, "livid and heartbroken", 21, probs, 3), KEFU_OK);
    for (size_t i = 0; i < 3; i++)
        assert_true(probs[i] >= 0.0f && probs[i] <= 1.0f);
    assert_true(probs[label_index(m, "anger")] >= 0.5f);
    assert_true(probs[label_index(m, "sadness")] >= 0.5f);
    assert_true(probs[label_index(m, "joy")] < 0.5f);
    assert_int_equal(kefu_emotion_label_count(s), 2);
    /* fewer slots than labels is fine; NULL with a count is not */
    assert_int_equal(kefu_emotion_classify(s, "thanks", 6, probs, 1), KEFU_OK);
    assert_int_equal(kefu_emotion_classify(s, "thanks", 6, NULL, 2), KEFU_E_ARG);
    /* empty text still gives one label */
    assert_int_equal(kefu_emotion_classify(s, "", 0, NULL, 0), KEFU_OK);
    assert_int_equal(kefu_emotion_label_count(s), 1);
    /* invalid UTF-8: an error, and no labels left from the previous call */
    assert_int_not_equal(kefu_emotion_classify(s, "\xff\xfe", 2, NULL, 0), KEFU_OK);
    assert_int_equal(kefu_emotion_label_count(s), 0);
    assert_null(kefu_emotion_label(s, 0));
    kefu_scratch_free(s);
    kefu_model_free(m);
    kefu_diag_free(d);
}

static void test_single_label_and_round_trip(void **st)
{
    kefu_diag *d = kefu_diag_new(NULL);
    char single[sizeof TRAIN];
    const char *path = tmp_path("emo.kefu");
    const char *texts[] = {"furious and heartbroken", "谢谢，满意", "so sad", "垃圾", "", "ok"};
    kefu_model *m, *m2 = NULL;
    kefu_scratch *s = NULL, *s2 = NULL;
    size_t o = 0;
    int rc;
    (void)st;
    /* drop the multi-label lines: a single-label model answers one label */
    for (const char *p = TRAIN; *p;) {
        const char *nl = strchr(p, '\n');
        const char *tab = strchr(p, '\t');
        size_t n = (size_t)(nl - p) + 1;
        if (!memchr(p, ',', (size_t)(tab - p))) {
            memcpy(single + o, p, n);
            o += n;
        }
        p += n;
    }
    single[o] = '\0';
    m = train(single, NULL, &rc, d);
    if (rc)
        fail_msg("train: %s", kefu_diag_message(d));
    assert_int_equal(kefu_model_emotion_label_count(m), 3);
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    expect(s, "I am furious, this is outrageous", "anger");
    expect(s, "thank you, wonderful", "joy");
    expect(s, "伤心难过", "sadness");
    assert_int_equal(kefu_emotion_classify(s, "furious and heartbroken", 23, NULL, 0), KEFU_OK);
    assert_int_equal(kefu_emotion_label_count(s), 1);

    /* the binary model gives the same labels and probabilities, and
     * reports the same training outcome */
    assert_int_equal(kefu_model_save(m, path, d), KEFU_OK);
    assert_int_equal(kefu_model_load(&m2, path, NULL, d), KEFU_OK);
    unlink(path);
    assert_int_equal(kefu_model_emotion_label_count(m2), 3);
    {
        kefu_classifier_info a, b;
        a.size = b.size = sizeof a;
        assert_int_equal(kefu_model_classifier_info(m, KEFU_TASK_EMOTION, &a), KEFU_OK);
        assert_int_equal(kefu_model_classifier_info(m2, KEFU_TASK_EMOTION, &b), KEFU_OK);
        assert_memory_equal(&a, &b, sizeof a);
        assert_int_equal(a.classes, 3);
        assert_true(a.examples > 0 && a.features > 0 && a.temperature > 0);
        assert_true(a.threshold == 0.0f && a.margin == 0.0f);
        assert_int_equal(a.oos_index, -1);
        /* an emotion model has no intent classifier */
        assert_int_equal(kefu_model_classifier_info(m, KEFU_TASK_INTENT, &a), KEFU_E_STATE);
    }
    assert_int_equal(kefu_scratch_new(&s2, m2, NULL), KEFU_OK);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        float p1[3], p2[3];
        size_t len = strlen(texts[i]);
        assert_string_equal(kefu_model_emotion_label_name(m, i % 3),
                            kefu_model_emotion_label_name(m2, i % 3));
        assert_int_equal(kefu_emotion_classify(s, texts[i], len, p1, 3), KEFU_OK);
        assert_int_equal(kefu_emotion_classify(s2, texts[i], len, p2, 3), KEFU_OK);
        assert_memory_equal(p1, p2, sizeof p1);
        assert_int_equal(kefu_emotion_label_count(s), kefu_emotion_label_count(s2));
        assert_string_equal(kefu_emotion_label(s, 0), kefu_emotion_label(s2, 0));
    }
    kefu_scratch_free(s);
    kefu_scratch_free(s2);
    kefu_model_free(m);
    kefu_model_free(m2);
    kefu_diag_free(d);
}

static void expect_bad(const char *train_text, const char *val_text, int want_rc,
                       const char *file_part, uint32_t line, const char *msg_part)
{
    kefu_diag *d = kefu_diag_new(NULL);
    int rc;
    kefu_model *m = train(train_text, val_text, &rc, d);
    assert_null(m);
    assert_int_equal(rc, want_rc);
    assert_int_equal(kefu_diag_status(d), want_rc);
    assert_non_null(kefu_diag_file(d));
    if (!strstr(kefu_diag_file(d), file_part))
        fail_msg("diag file '%s', expected it to contain '%s'", kefu_diag_file(d), file_part);
    assert_int_equal(kefu_diag_line(d), line);
    if (!strstr(kefu_diag_message(d), msg_part))
        fail_msg("diag message '%s', expected '%s'", kefu_diag_message(d), msg_part);
    kefu_diag_free(d);
}

static void test_bad_labels(void **st)
{
    (void)st;
    expect_bad("joy\tthanks\nanger\tscam\na,,b\tthis line is broken\n", NULL,
               KEFU_E_SYNTAX, "train.tsv", 3, "label");
    expect_bad("joy\tthanks\n\n,anger\tleading comma\n", NULL,
               KEFU_E_SYNTAX, "train.tsv", 3, "label");
    expect_bad("joy\tthanks\nanger,\ttrailing comma\n", NULL,
               KEFU_E_SYNTAX, "train.tsv", 2, "label");
    expect_bad("joy\tthanks\nno tab on this line\n", NULL,
               KEFU_E_SYNTAX, "train.tsv", 2, "label<TAB>text");
    /* errors in the validation file name that file and its own line */
    expect_bad(TRAIN, "joy\tthanks\nanger\tscam\nsadness,,anger\tbroken\n",
               KEFU_E_SYNTAX, "val.tsv", 3, "label");
}

static void test_no_trained_labels(void **st)
{
    static const char y[] = "kefu: 1\n";
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    (void)st;
    assert_int_equal(kefu_model_load_buffer(&m, y, sizeof y - 1, "min", NULL, NULL, NULL), KEFU_OK);
    assert_int_equal(kefu_model_emotion_label_count(m), 0);
    assert_null(kefu_model_emotion_label_name(m, 0));
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    assert_int_equal(kefu_emotion_classify(s, "furious", 7, NULL, 0), KEFU_E_STATE);
    assert_int_equal(kefu_emotion_label_count(s), 0);
    assert_null(kefu_emotion_label(s, 0));
    assert_int_equal(kefu_emotion_classify(NULL, "x", 1, NULL, 0), KEFU_E_ARG);
    assert_int_equal(kefu_emotion_label_count(NULL), 0);
    assert_null(kefu_emotion_label(NULL, 0));
    kefu_scratch_free(s);
    kefu_model_free(m);
}

/* The final training's epochs for train_text (+ val_text, config cfg,
 * option epochs): what the progress callback saw. */
static uint32_t final_epochs(const char *train_text, const char *val_text,
                             const char *cfg, uint32_t epochs)
{
    kefu_diag *d = kefu_diag_new(NULL);
    epochs_seen e = {0, 0};
    int rc;
    kefu_model *m = train_with(train_text, val_text, cfg, epochs, 0, &e, &rc, d);
    if (rc)
        fail_msg("train: %s", kefu_diag_message(d));
    assert_int_equal(e.calls, e.total); /* SGD runs every epoch it says */
    kefu_model_free(m);
    kefu_diag_free(d);
    return e.total;
}

static int is_epoch_choice(uint32_t e)
{
    return e == 3 || e == 5 || e == 10 || e == 20; /* not the default, 25 */
}

/* Without given epochs, trained emotion labels pick theirs among 3, 5, 10
 * and 20 on the tuning data (validation data, or the training data
 * cross-fitted from 50 examples up); given epochs (option or YAML) are
 * used as they are; with no tuning data the default, 25, stays. */
static void test_epochs_chosen(void **st)
{
    char twice[sizeof TRAIN * 2];
    (void)st;
    snprintf(twice, sizeof twice, "%s%s", TRAIN, TRAIN);
    assert_true(is_epoch_choice(final_epochs(TRAIN, VAL, NULL, 0)));
    assert_true(is_epoch_choice(final_epochs(twice, NULL, NULL, 0)));
    assert_int_equal(final_epochs(TRAIN, NULL, NULL, 0), 25); /* 44 lines */
    assert_int_equal(final_epochs(TRAIN, VAL, NULL, 7), 7);
    assert_int_equal(final_epochs(twice, NULL, "kefu: 1\nclassifier: {epochs: 4}\n", 0), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_label),
        cmocka_unit_test(test_single_label_and_round_trip),
        cmocka_unit_test(test_bad_labels),
        cmocka_unit_test(test_config_section),
        cmocka_unit_test(test_no_trained_labels),
        cmocka_unit_test(test_epochs_chosen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
