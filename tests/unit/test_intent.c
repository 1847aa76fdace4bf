/* test_intent.c - intents: training on load, patterns, out of scope, slots,
 * explain, binary models, threads. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "core.h" /* kefu_crc32, to forge a valid checksum */
#include "intent.h"
#include "model.h"

static const char *MODEL =
    "kefu: 1\n"
    "name: shop\n"
    "classifier: {epochs: 30, threshold: 0.2}\n"
    "entities:\n"
    "  order_id: {regex: '(?i)\\b[A-Z]{2}[0-9]{6}\\b'}\n"
    "intents:\n"
    "  order_status:\n"
    "    slots: [order_id]\n"
    "    skills: [orders]\n"
    "    examples: [我的订单到哪了, 订单什么时候到, where is my order, track my order,\n"
    "               my package has not arrived, 快递到哪了, order status please,\n"
    "               查一下订单, when will my parcel arrive, 包裹在哪里]\n"
    "  refund:\n"
    "    skills: [billing]\n"
    "    examples: [我要退款, 退钱给我, i want a refund, refund my money,\n"
    "               give me my money back, 申请退款, how do i get a refund,\n"
    "               退款怎么还没到, refund please, 钱退回来]\n"
    "    patterns:\n"
    "      - {regex: '退.{0,2}款', mode: boost, weight: 1.5}\n"
    "  human_agent:\n"
    "    examples: [转人工, 我要人工客服, talk to a human, real person please,\n"
    "               give me an agent, 人工服务, representative, 找真人,\n"
    "               connect me to an agent, 人工]\n"
    "    patterns:\n"
    "      - {regex: '(?i)\\bhuman\\b|人工', mode: force}\n"
    "  oos:\n"
    "    examples: [今天天气怎么样, tell me a joke, what is the capital of france,\n"
    "               推荐一部电影, who won the game, 讲个笑话, play some music,\n"
    "               how tall is everest, 你喜欢吃什么, what time is it in tokyo]\n";

static kefu_model *load_model(void)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    int rc = kefu_model_load_buffer(&m, MODEL, strlen(MODEL), "shop.yaml", NULL,
                                    NULL, d);
    if (rc)
        fail_msg("load: %s", kefu_diag_message(d));
    kefu_diag_free(d);
    return m;
}

static kefu_intent_result classify(kefu_scratch *s, const char *text)
{
    kefu_intent_result r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    assert_int_equal(kefu_classify(s, text, strlen(text), &r), KEFU_OK);
    return r;
}

static void test_classify(void **st)
{
    kefu_model *m = load_model();
    kefu_scratch *s = NULL;
    kefu_intent_result r;
    const char *name;
    float c, total = 0;
    (void)st;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    r = classify(s, "where is my parcel?");
    assert_string_equal(r.intent, "order_status");
    assert_false(r.out_of_scope);
    assert_true(r.confidence > 0.4f && r.confidence <= 1.0f);
    assert_true(r.margin >= 0 && r.margin <= r.confidence);
    r = classify(s, "我的包裹到哪里了");
    assert_string_equal(r.intent, "order_status");
    r = classify(s, "我的訂單到哪了"); /* Traditional folds to Simplified */
    assert_string_equal(r.intent, "order_status");
    r = classify(s, "I want my money back");
    assert_string_equal(r.intent, "refund");
    assert_int_equal(kefu_classify_set_top(s, 4), KEFU_OK);
    r = classify(s, "I want my money back");
    assert_int_equal(kefu_classify_top_count(s), 4);
    {
        float prev = 2.0f;
        const char *seen[4];
        for (size_t i = 0; i < 4; i++) {
            assert_int_equal(kefu_classify_top(s, i, &name, &c), KEFU_OK);
            total += c;
            if (i == 0)
                assert_string_equal(name, "refund");
            assert_true(c <= prev);          /* best first */
            for (size_t j = 0; j < i; j++)   /* every class once */
                assert_true(strcmp(seen[j], name) != 0);
            seen[i] = name;
            prev = c;
        }
    }
    assert_true(total > 0.999f && total < 1.001f);
    assert_int_equal(kefu_classify_top(s, 4, &name, &c), KEFU_E_ARG);
    assert_int_equal(kefu_model_intent_count(m), 4);
    assert_string_equal(kefu_model_intent_name(m, 1), "refund");
    assert_string_equal(kefu_model_intent_skill(m, 1, 0), "billing");
    assert_null(kefu_model_intent_skill(m, 1, 1));
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_out_of_scope(void **st)
{
    kefu_model *m = load_model();
    kefu_scratch *s = NULL;
    kefu_intent_result r;
    (void)st;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    r = classify(s, "tell me a funny joke");
    assert_true(r.out_of_scope);
    assert_string_equal(r.intent, "oos");
    assert_int_equal(r.intent_index, -1);
    /* an empty message has nothing to go on: out of scope, not an error */
    r = classify(s, "");
    assert_true(r.out_of_scope || r.confidence < 0.5f);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_patterns(void **st)
{
    kefu_model *m = load_model();
    kefu_scratch *s = NULL;
    kefu_intent_result r;
    kefu_explain_item items[6];
    size_t n;
    (void)st;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    /* force: wins over a message that otherwise reads as a refund */
    r = classify(s, "refund refund refund, HUMAN now");
    assert_string_equal(r.intent, "human_agent");
    assert_true(r.pattern >= 0);
    assert_true(r.confidence == 1.0f);
    for (int i = 0; i < 6; i++)
        items[i].size = sizeof items[i];
    n = kefu_classify_explain(s, items, 6);
    assert_true(n >= 1);
    assert_int_equal(items[0].kind, KEFU_EXPLAIN_PATTERN);
    /* the pattern's literal prefilter: the literal later in the text (PCRE2
     * starts there), and a literal that PCRE2 then turns down (\b) */
    r = classify(s, "退款的事我想找人工");
    assert_string_equal(r.intent, "human_agent");
    assert_true(r.pattern >= 0);
    r = classify(s, "refund refund refund, HUMANE people");
    assert_int_equal(r.pattern, -1);
    r = classify(s, "refund refund refund, a Human");
    assert_true(r.pattern >= 0);
    /* boost: raises the score of its intent */
    r = classify(s, "退款");
    assert_string_equal(r.intent, "refund");
    assert_int_equal(r.pattern, -1);
    n = kefu_classify_explain(s, items, 6);
    assert_true(n >= 2);
    assert_int_equal(items[0].kind, KEFU_EXPLAIN_PATTERN);
    assert_int_equal(items[1].kind, KEFU_EXPLAIN_FEATURE);
    assert_true(items[1].text_len > 0);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_slots(void **st)
{
    kefu_model *m = load_model();
    kefu_scratch *s = NULL;
    kefu_intent_result r;
    (void)st;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    r = classify(s, "where is my order");
    assert_string_equal(r.intent, "order_status");
    assert_int_equal(r.missing_slots, 1);
    assert_string_equal(kefu_classify_missing_slot(s, 0), "order_id");
    assert_null(kefu_classify_missing_slot(s, 1));
    r = classify(s, "where is my order AB123456");
    assert_string_equal(r.intent, "order_status");
    assert_int_equal(r.missing_slots, 0);
    assert_null(kefu_classify_missing_slot(s, 0));
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_bad_input(void **st)
{
    kefu_model *m = load_model();
    kefu_scratch *s = NULL;
    kefu_intent_result r;
    (void)st;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    assert_int_equal(kefu_classify(s, "ok\xff", 3, &r), KEFU_E_UTF8);
    assert_int_equal(kefu_diag_offset(kefu_scratch_diag(s)), 2);
    assert_int_equal(kefu_classify_top_count(s), 0);
    assert_int_equal(kefu_classify(NULL, "x", 1, &r), KEFU_E_ARG);
    r.size = 4;
    assert_int_equal(kefu_classify(s, "x", 1, &r), KEFU_E_ARG);
    r.size = sizeof r;
    assert_int_equal(kefu_classify(s, NULL, 3, &r), KEFU_E_ARG);
    assert_int_equal(kefu_classify(s, NULL, 0, &r), KEFU_OK); /* empty */
    assert_int_equal(kefu_classify_explain(NULL, NULL, 0), 0);
    assert_int_equal(kefu_classify_set_top(s, 0), KEFU_E_ARG);
    assert_null(kefu_classify_missing_slot(NULL, 0));
    assert_int_equal(kefu_model_save(NULL, "/tmp/x", NULL), KEFU_E_ARG);
    assert_int_equal(kefu_model_save(m, NULL, NULL), KEFU_E_ARG);
    assert_int_equal(kefu_emotion_classify(s, "x", 1, NULL, 0), KEFU_E_STATE);
    assert_int_equal(kefu_emotion_classify(NULL, "x", 1, NULL, 0), KEFU_E_ARG);
    assert_int_equal(kefu_model_train(NULL, NULL, "x", NULL, NULL, NULL, NULL), KEFU_E_ARG);
    assert_null(kefu_model_intent_name(m, 99));
    assert_int_equal(kefu_model_intent_count(NULL), 0);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void expect_load_error(const char *yaml, int status, unsigned line,
                              unsigned col, const char *msg)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    int rc = kefu_model_load_buffer(&m, yaml, strlen(yaml), "m.yaml", NULL, NULL, d);
    if (rc != status || kefu_diag_line(d) != line || kefu_diag_column(d) != col ||
        !strstr(kefu_diag_message(d), msg))
        fail_msg("got %d %u:%u %s", rc, kefu_diag_line(d), kefu_diag_column(d),
                 kefu_diag_message(d));
    assert_null(m);
    kefu_diag_free(d);
}

static void test_load_errors(void **st)
{
    (void)st;
    expect_load_error("kefu: 1\nintents:\n  a: {examples: [x], colour: red}\n",
                      KEFU_E_UNKNOWN, 3, 22, "unknown key 'colour'");
    expect_load_error("kefu: 1\nintents:\n  a: {examples: [x], patterns: ['a(b']}\n",
                      KEFU_E_PATTERN, 3, 37, "missing closing parenthesis");
    expect_load_error("kefu: 1\nintents:\n  a: {examples: [x], patterns: [{regex: x, mode: maybe}]}\n",
                      KEFU_E_MODEL, 3, 50, "force");
    expect_load_error("kefu: 1\nclassifier: {epochs: 0}\n", KEFU_E_MODEL, 2, 22, "outside");
    expect_load_error("kefu: 1\nintents:\n  a: {examples: [x], slots: [nowhere]}\n",
                      KEFU_E_UNKNOWN, 0, 0, "slot 'nowhere'");
    expect_load_error("kefu: 1\nintents:\n  a: {description: no examples}\n",
                      KEFU_E_EMPTY, 0, 0, "no examples");
}

static char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "/tmp/kefu-test-%d-%s", (int)getpid(), name);
    return p;
}

static void test_binary_round_trip(void **st)
{
    kefu_model *m = load_model(), *m2 = NULL;
    kefu_scratch *s1 = NULL, *s2 = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    const char *p1 = tmp_path("a.kefu"), *p2 = tmp_path("b.kefu");
    const char *texts[] = {"where is my order", "退款", "talk to a human", "天气", ""};
    size_t l1 = 0, l2 = 0;
    char *b1, *b2;
    (void)st;
    assert_int_equal(kefu_model_save(m, p1, d), KEFU_OK);
    assert_int_equal(kefu_model_load(&m2, p1, NULL, d), KEFU_OK);
    assert_string_equal(kefu_model_name(m2), "shop");
    assert_int_equal(kefu_model_save(m2, p2, d), KEFU_OK);
    b1 = tu_read_file(p1, &l1);
    b2 = tu_read_file(p2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    /* same answers from both */
    assert_int_equal(kefu_scratch_new(&s1, m, NULL), KEFU_OK);
    assert_int_equal(kefu_scratch_new(&s2, m2, NULL), KEFU_OK);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        kefu_intent_result a = classify(s1, texts[i]), b = classify(s2, texts[i]);
        assert_string_equal(a.intent, b.intent);
        assert_true(a.confidence == b.confidence);
        assert_int_equal(a.missing_slots, b.missing_slots);
        assert_int_equal(a.pattern, b.pattern);
    }
    kefu_scratch_free(s1);
    kefu_scratch_free(s2);
    kefu_model_free(m2);
    m2 = NULL;

    /* corruption anywhere is caught; truncation too; nothing leaks */
    for (size_t off = 0; off < l1; off += l1 / 97 + 1) {
        b2[off] ^= 0x5A;
        assert_int_not_equal(kefu_model_load_buffer(&m2, b2, l1, "x", NULL, NULL, d), KEFU_OK);
        assert_null(m2);
        b2[off] ^= 0x5A;
    }
    for (size_t cut = 9; cut < l1; cut += l1 / 31 + 1) {
        int rc = kefu_model_load_buffer(&m2, b1, cut, "x", NULL, NULL, d);
        assert_true(rc == KEFU_E_CORRUPT || rc == KEFU_E_VERSION);
        assert_null(m2);
    }
    assert_int_equal(kefu_model_load_buffer(&m2, b1, l1 - 1, "x", NULL, NULL, d), KEFU_E_CORRUPT);
    assert_non_null(strstr(kefu_diag_message(d), "truncated"));
    free(b1);
    free(b2);
    unlink(p1);
    unlink(p2);
    assert_int_equal(kefu_model_save(m, "/nonexistent/dir/x.kefu", d), KEFU_E_IO);
    kefu_diag_free(d);
    kefu_model_free(m);
}

static uint32_t rd32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void wr32le(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The intent section (tag 2) of a binary model's bytes, or NULL. */
static unsigned char *intent_section(unsigned char *b, size_t len)
{
    unsigned char *sec = NULL;
    size_t at = 32;
    while (at + 16 <= len) {
        uint64_t slen = rd32le(b + at + 8) | (uint64_t)rd32le(b + at + 12) << 32;
        if (rd32le(b + at) == 2)
            sec = b + at + 16;
        at += 16 + (size_t)slen;
    }
    return sec;
}

/* An intent section of an older version (whose features were hashed
 * differently) is refused with KEFU_E_VERSION, even with a valid checksum;
 * version 5 (no pair count) is still read. */
static void test_old_intent_section(void **st)
{
    kefu_model *m = load_model(), *m2 = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    const char *p = tmp_path("old.kefu");
    unsigned char *b, *sec;
    size_t len = 0;
    (void)st;
    assert_int_equal(kefu_model_save(m, p, d), KEFU_OK);
    b = (unsigned char *)tu_read_file(p, &len);
    sec = intent_section(b, len);
    assert_non_null(sec);
    assert_int_equal(rd32le(sec), 6);
    /* version 5, whose kind word had no pair count: its first
     * KEFU_PAIR_WORDS words paired */
    {
        const uint32_t kind = rd32le(sec + 4);
        assert_int_equal(kind >> 26, KEFU_PAIR_WORDS_DEFAULT);
        wr32le(sec, 5);
        wr32le(b + 24, kefu_crc32(0, b + 32, len - 32));
        /* a pair count in a version 5 section is damage */
        assert_int_equal(kefu_model_load_buffer(&m2, (char *)b, len, "old.kefu",
                                                NULL, NULL, d), KEFU_E_CORRUPT);
        wr32le(sec + 4, kind & 0x03FFFFFFu);
        wr32le(b + 24, kefu_crc32(0, b + 32, len - 32));
        assert_int_equal(kefu_model_load_buffer(&m2, (char *)b, len, "old.kefu",
                                                NULL, NULL, d), KEFU_OK);
        assert_int_equal(m2->intent->cfg.feat.word_pairs, KEFU_PAIR_WORDS);
        {
            /* saved again: a version 6 section that says 24 */
            const char *p6 = tmp_path("resaved.kefu");
            kefu_model *m3 = NULL;
            unsigned char *b6, *sec6;
            size_t len6 = 0;
            assert_int_equal(kefu_model_save(m2, p6, d), KEFU_OK);
            b6 = (unsigned char *)tu_read_file(p6, &len6);
            sec6 = intent_section(b6, len6);
            assert_non_null(sec6);
            assert_int_equal(rd32le(sec6), 6);
            assert_int_equal(rd32le(sec6 + 4) >> 26, KEFU_PAIR_WORDS);
            free(b6);
            assert_int_equal(kefu_model_load(&m3, p6, NULL, d), KEFU_OK);
            assert_int_equal(m3->intent->cfg.feat.word_pairs, KEFU_PAIR_WORDS);
            kefu_model_free(m3);
            unlink(p6);
        }
        kefu_model_free(m2);
        m2 = NULL;
        /* version 6 with more pairing words than kefu keeps: damage */
        wr32le(sec, 6);
        wr32le(sec + 4, (kind & 0x03FFFFFFu) | (KEFU_PAIR_WORDS + 1u) << 26);
        wr32le(b + 24, kefu_crc32(0, b + 32, len - 32));
        assert_int_equal(kefu_model_load_buffer(&m2, (char *)b, len, "old.kefu",
                                                NULL, NULL, d), KEFU_E_CORRUPT);
    }
    wr32le(sec, 3);
    wr32le(b + 24, kefu_crc32(0, b + 32, len - 32));
    assert_int_equal(kefu_model_load_buffer(&m2, (char *)b, len, "old.kefu", NULL,
                                            NULL, d), KEFU_E_VERSION);
    assert_null(m2);
    assert_non_null(strstr(kefu_diag_message(d), "train the model again"));
    free(b);
    unlink(p);
    kefu_diag_free(d);
    kefu_model_free(m);
}

/* The learner and features are configurable; bad values are refused at
 * their line and column. */
static void test_learner_options(void **st)
{
    const char *body =
        "intents:\n"
        "  a: {examples: [cancel my card, block the card, card stolen please cancel]}\n"
        "  b: {examples: [cancel my order, stop the order, order cancel now]}\n";
    const char *heads[] = {
        "kefu: 1\nclassifier: {solver: softmax, word_pairs: false}\n",
        "kefu: 1\nclassifier: {solver: svm, cost: 3, subword_weight: 0.5}\n",
        "kefu: 1\nclassifier: {subwords: off, word_pairs: true, pair_max_df: 0.2}\n",
        "kefu: 1\nclassifier: {subwords: [3, 4], word_pairs: 3}\n",
        "kefu: 1\nclassifier: {tuning_folds: 10}\n",
    };
    (void)st;
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        char yaml[600];
        kefu_model *m = NULL;
        kefu_scratch *s = NULL;
        kefu_diag *d = kefu_diag_new(NULL);
        snprintf(yaml, sizeof yaml, "%s%s", heads[i], body);
        if (kefu_model_load_buffer(&m, yaml, strlen(yaml), "o.yaml", NULL, NULL, d))
            fail_msg("%s: %s", heads[i], kefu_diag_message(d));
        assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
        assert_string_equal(classify(s, "please cancel this card").intent, "a");
        assert_string_equal(classify(s, "cancel the order").intent, "b");
        kefu_scratch_free(s);
        kefu_model_free(m);
        kefu_diag_free(d);
    }
    /* a handful of examples: n-grams seen once are kept, or nothing
     * would tell these two apart */
    {
        const char *tiny = "kefu: 1\nintents:\n  a: {examples: [hello, hi]}\n"
                           "  b: {examples: [refund please, money back]}\n";
        kefu_model *m = NULL;
        kefu_scratch *s = NULL;
        assert_int_equal(kefu_model_load_buffer(&m, tiny, strlen(tiny), "t.yaml",
                                                NULL, NULL, NULL), KEFU_OK);
        assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
        assert_string_equal(classify(s, "refund please").intent, "b");
        assert_string_equal(classify(s, "hi").intent, "a");
        kefu_scratch_free(s);
        kefu_model_free(m);
    }
    expect_load_error("kefu: 1\nclassifier: {solver: tree}\n", KEFU_E_MODEL, 2, 22,
                      "svm or softmax");
    expect_load_error("kefu: 1\nclassifier: {cost: 0}\n", KEFU_E_MODEL, 2, 20, "outside");
    expect_load_error("kefu: 1\nclassifier: {word_pairs: maybe}\n", KEFU_E_MODEL, 2, 26,
                      "true, false or how many");
    expect_load_error("kefu: 1\nclassifier: {word_pairs: 1}\n", KEFU_E_MODEL, 2, 26,
                      "2 to 24");
    expect_load_error("kefu: 1\nclassifier: {word_pairs: 25}\n", KEFU_E_MODEL, 2, 26,
                      "2 to 24");
    expect_load_error("kefu: 1\nclassifier: {subword_weight: -1}\n", KEFU_E_MODEL, 2, 30,
                      "outside");
    expect_load_error("kefu: 1\nclassifier: {pair_max_df: 0}\n", KEFU_E_MODEL, 2, 27,
                      "outside");
    expect_load_error("kefu: 1\nclassifier: {tuning_folds: 1}\n", KEFU_E_MODEL, 2, 28,
                      "outside");
    expect_load_error("kefu: 1\nclassifier: {tuning_folds: 11}\n", KEFU_E_MODEL, 2, 28,
                      "outside");
}

/* Without validation data every training example tunes, scored by a model
 * trained without it (cross-fitting, folds stratified by label): here the
 * `oos` examples are lines 0, 5, 10, ..., so a single held-out fifth of
 * lines 4, 9, 14, ... would have none and keep the default threshold
 * (0.3), and folds by line number (i % 5) would put them all in one fold,
 * whose model never saw `oos`.  Stratified, every held-out `oos` line is
 * answered by the trained oos class, so recall is 100% at any threshold
 * and the lowest, 0, is chosen. */
static void last_pass(uint32_t epoch, uint32_t epochs, double loss,
                      double val_accuracy, void *user)
{
    uint32_t *seen = user;
    (void)loss, (void)val_accuracy;
    seen[0] = epoch;
    seen[1] = epochs;
}

/* The SVM's cap on passes is 100 unless `epochs` is given (it stops once
 * converged, which with shrinking can take more than the SGD's 25); the
 * softmax keeps 25; a given number wins for both. */
static void test_pass_cap(void **st)
{
    const char *tr = tmp_path("cap.tsv"), *cfg = tmp_path("cap.yaml");
    const char *configs[] = {NULL, "kefu: 1\nclassifier: {solver: softmax}\n",
                             "kefu: 1\nclassifier: {epochs: 7}\n"};
    const uint32_t caps[] = {100, 25, 7};
    FILE *f = fopen(tr, "w");
    (void)st;
    assert_non_null(f);
    for (int i = 0; i < 20; i++)
        fprintf(f, "a\thello there %d\nb\tgoodbye now %d\n", i, i);
    fclose(f);
    for (size_t i = 0; i < 3; i++) {
        kefu_model *m = NULL;
        kefu_diag *d = kefu_diag_new(NULL);
        kefu_train_options o;
        uint32_t seen[2] = {0, 0};
        if (configs[i]) {
            f = fopen(cfg, "w");
            assert_non_null(f);
            fputs(configs[i], f);
            fclose(f);
        }
        kefu_train_options_init(&o);
        o.progress = last_pass;
        o.user = seen;
        if (kefu_model_train(&m, configs[i] ? cfg : NULL, tr, NULL, &o, NULL, d))
            fail_msg("%s", kefu_diag_message(d));
        assert_int_equal(seen[1], caps[i]);
        assert_true(seen[0] >= 1 && seen[0] <= caps[i]);
        kefu_model_free(m);
        kefu_diag_free(d);
    }
    unlink(tr);
    unlink(cfg);
}

/* kefu_model_classifier_info: what the YAML set and training chose, the
 * same after a binary round trip; bad arguments change nothing. */
static void test_classifier_info(void **st)
{
    kefu_model *m = load_model(), *m2 = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    const char *path = tmp_path("info.kefu");
    kefu_classifier_info a, b;
    (void)st;
    memset(&a, 0x5a, sizeof a);
    a.size = sizeof a;
    assert_int_equal(kefu_model_classifier_info(m, KEFU_TASK_INTENT, &a), KEFU_OK);
    assert_int_equal(a.classes, 4);
    assert_int_equal(a.examples, 40);
    assert_true(a.features > 0);
    assert_true(a.threshold == 0.2f);  /* the YAML's */
    assert_true(a.margin == 0.0f);     /* the default */
    /* 40 examples: too few to tune on, the SVM's fixed temperature */
    assert_true(a.temperature == 0.12f);
    assert_true(a.oos_index >= 0);
    assert_string_equal(kefu_model_intent_name(m, (size_t)a.oos_index), "oos");
    assert_int_equal(kefu_model_save(m, path, d), KEFU_OK);
    assert_int_equal(kefu_model_load(&m2, path, NULL, d), KEFU_OK);
    unlink(path);
    b.size = sizeof b;
    assert_int_equal(kefu_model_classifier_info(m2, KEFU_TASK_INTENT, &b), KEFU_OK);
    assert_memory_equal(&a, &b, sizeof a);
    /* errors: nothing written past size */
    memset(&b, 0x5a, sizeof b);
    b.size = sizeof b - 1;
    assert_int_equal(kefu_model_classifier_info(m, KEFU_TASK_INTENT, &b), KEFU_E_ARG);
    assert_int_equal(b.classes, 0x5a5a5a5a);
    b.size = sizeof b;
    assert_int_equal(kefu_model_classifier_info(m, 2, &b), KEFU_E_ARG);
    assert_int_equal(kefu_model_classifier_info(NULL, KEFU_TASK_INTENT, &b), KEFU_E_ARG);
    assert_int_equal(kefu_model_classifier_info(m, KEFU_TASK_INTENT, NULL), KEFU_E_ARG);
    /* no trained emotion labels in an intent model, no intents in a
     * model of entities only */
    assert_int_equal(kefu_model_classifier_info(m, KEFU_TASK_EMOTION, &b), KEFU_E_STATE);
    assert_int_equal(b.classes, 0x5a5a5a5a);
    {
        const char *y = "kefu: 1\nentities:\n  phone: {builtin: phone}\n";
        kefu_model *e = NULL;
        assert_int_equal(kefu_model_load_buffer(&e, y, strlen(y), "e.yaml", NULL,
                                                NULL, NULL), KEFU_OK);
        assert_int_equal(kefu_model_classifier_info(e, KEFU_TASK_INTENT, &b),
                         KEFU_E_STATE);
        assert_int_equal(b.classes, 0x5a5a5a5a);
        kefu_model_free(e);
    }
    kefu_model_free(m);
    kefu_model_free(m2);
    kefu_diag_free(d);
}

static void test_cross_fitted_tuning(void **st)
{
    const char *tr = tmp_path("xfit.tsv");
    FILE *f = fopen(tr, "w");
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    kefu_train_options o;
    (void)st;
    assert_non_null(f);
    for (int i = 0; i < 100; i++) {
        if (i % 5 == 0)
            fprintf(f, "oos\tthe weather is nice %d\n", i);
        else if (i % 2)
            fprintf(f, "greet\thello there friend %d\n", i);
        else
            fprintf(f, "bye\tgoodbye see you %d\n", i);
    }
    fclose(f);
    kefu_train_options_init(&o);
    if (kefu_model_train(&m, NULL, tr, NULL, &o, NULL, d))
        fail_msg("%s", kefu_diag_message(d));
    assert_true(m->intent->cfg.threshold == 0.0f);
    /* the temperature was fitted too (not the default of tiny data) */
    assert_true(m->intent->lin.temperature != 0.12f);
    kefu_model_free(m);
    m = NULL;
    /* folds that miss a label: one `b` line among 60 `a` lines (four of
     * the five fold models never see `b`), and a single label */
    for (int only_a = 0; only_a < 2; only_a++) {
        kefu_scratch *s = NULL;
        f = fopen(tr, "w");
        assert_non_null(f);
        for (int i = 0; i < 60; i++)
            fprintf(f, "a\thello there %d\n", i);
        if (!only_a)
            fprintf(f, "b\tgoodbye now\n");
        fclose(f);
        if (kefu_model_train(&m, NULL, tr, NULL, &o, NULL, d))
            fail_msg("%s", kefu_diag_message(d));
        assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
        assert_string_equal(classify(s, only_a ? "hello there" : "goodbye now").intent,
                            only_a ? "a" : "b");
        kefu_scratch_free(s);
        kefu_model_free(m);
        m = NULL;
    }
    unlink(tr);
    kefu_diag_free(d);
}

static void test_train_tsv(void **st)
{
    const char *tr = tmp_path("train.tsv"), *va = tmp_path("val.tsv"), *bad = tmp_path("bad.tsv");
    FILE *f = fopen(tr, "w");
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    kefu_train_options o;
    (void)st;
    for (int i = 0; i < 20; i++)
        fprintf(f, "greet\thello there %d\nbye\tgoodbye now %d\noos\tthe weather %d\n", i, i, i);
    fclose(f);
    f = fopen(va, "w");
    fprintf(f, "greet\thello\nbye\tgoodbye\noos\tweather today\n");
    fclose(f);
    f = fopen(bad, "w");
    fprintf(f, "greet\thello\nno tab here\n");
    fclose(f);
    kefu_train_options_init(&o);
    o.epochs = 5;
    assert_int_equal(kefu_model_train(&m, NULL, tr, va, &o, NULL, d), KEFU_OK);
    assert_int_equal(kefu_model_intent_count(m), 3);
    kefu_model_free(m);
    m = NULL;
    /* without validation data the training examples, cross-fitted,
     * calibrate the model: confident on its own kind of text, and the
     * same model every time */
    {
        kefu_model *m2 = NULL;
        kefu_scratch *s1 = NULL, *s2 = NULL;
        kefu_intent_result a, b;
        assert_int_equal(kefu_model_train(&m, NULL, tr, NULL, &o, NULL, d), KEFU_OK);
        assert_int_equal(kefu_model_train(&m2, NULL, tr, NULL, &o, NULL, d), KEFU_OK);
        assert_int_equal(kefu_scratch_new(&s1, m, NULL), KEFU_OK);
        assert_int_equal(kefu_scratch_new(&s2, m2, NULL), KEFU_OK);
        a = classify(s1, "hello there 7");
        b = classify(s2, "hello there 7");
        assert_string_equal(a.intent, "greet");
        assert_true(a.confidence > 0.9f);
        assert_true(a.confidence == b.confidence);
        kefu_scratch_free(s1);
        kefu_scratch_free(s2);
        kefu_model_free(m);
        kefu_model_free(m2);
        m = NULL;
    }
    assert_int_equal(kefu_model_train(&m, NULL, bad, NULL, &o, NULL, d), KEFU_E_SYNTAX);
    assert_int_equal(kefu_diag_line(d), 2);
    assert_non_null(strstr(kefu_diag_file(d), "bad.tsv"));
    assert_null(m);
    assert_int_equal(kefu_model_train(&m, NULL, "/nonexistent.tsv", NULL, &o, NULL, d), KEFU_E_IO);
    /* invalid UTF-8: line and column (in characters) of the bad byte */
    f = fopen(bad, "w");
    fprintf(f, "greet\thello\ngreet\th\xc3\xa9l\xfflo\n");
    fclose(f);
    assert_int_equal(kefu_model_train(&m, NULL, bad, NULL, &o, NULL, d), KEFU_E_UTF8);
    assert_int_equal(kefu_diag_line(d), 2);
    assert_int_equal(kefu_diag_column(d), 10);
    assert_null(m);
    /* a training or validation file without examples (empty, or blank
     * lines only) is a mistake, not a file to skip */
    f = fopen(bad, "w");
    fprintf(f, "\n\r\n");
    fclose(f);
    assert_int_equal(kefu_model_train(&m, NULL, bad, NULL, &o, NULL, d), KEFU_E_EMPTY);
    assert_non_null(strstr(kefu_diag_file(d), "bad.tsv"));
    assert_int_equal(kefu_model_train(&m, NULL, tr, bad, &o, NULL, d), KEFU_E_EMPTY);
    assert_non_null(strstr(kefu_diag_file(d), "bad.tsv"));
    assert_null(m);
    o.task = 99;
    assert_int_equal(kefu_model_train(&m, NULL, tr, NULL, &o, NULL, d), KEFU_E_ARG);
    /* a struct that ends before progress and user: they are not read
     * (the garbage pointer here would crash if called) */
    {
        kefu_train_options shorter;
        memset(&shorter, 0xAB, sizeof shorter);
        kefu_train_options_init_size(&shorter, (uint32_t)offsetof(kefu_train_options, progress));
        shorter.epochs = 2;
        assert_int_equal(kefu_model_train(&m, NULL, tr, NULL, &shorter, NULL, d), KEFU_OK);
        kefu_model_free(m);
        m = NULL;
    }
    /* the YAML's ranges hold for the options too: a binding passing -1
     * as epochs gets an error, not four billion epochs */
    o.task = KEFU_TASK_INTENT;
    o.epochs = UINT32_MAX;
    assert_int_equal(kefu_model_train(&m, NULL, tr, NULL, &o, NULL, d), KEFU_E_ARG);
    assert_non_null(strstr(kefu_diag_message(d), "epochs"));
    o.epochs = 5;
    o.learning_rate = -0.5f;
    assert_int_equal(kefu_model_train(&m, NULL, tr, NULL, &o, NULL, d), KEFU_E_ARG);
    o.learning_rate = NAN;
    assert_int_equal(kefu_model_train(&m, NULL, tr, NULL, &o, NULL, d), KEFU_E_ARG);
    assert_non_null(strstr(kefu_diag_message(d), "learning_rate"));
    assert_null(m);
    unlink(tr);
    unlink(va);
    unlink(bad);
    kefu_diag_free(d);
}

typedef struct worker {
    const kefu_model *m;
    int ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    kefu_scratch *s = NULL;
    const char *texts[] = {"where is my order", "我要退款", "转人工", "讲个笑话"};
    const char *want[] = {"order_status", "refund", "human_agent", "oos"};
    w->ok = kefu_scratch_new(&s, w->m, NULL) == KEFU_OK;
    for (int i = 0; w->ok && i < 400; i++) {
        kefu_intent_result r;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        if (kefu_classify(s, texts[i % 4], strlen(texts[i % 4]), &r) ||
            strcmp(r.intent, want[i % 4]))
            w->ok = 0;
    }
    kefu_scratch_free(s);
    return NULL;
}

static void test_threads(void **st)
{
    kefu_model *m = load_model();
    pthread_t t[4];
    worker w[4];
    (void)st;
    for (int i = 0; i < 4; i++) {
        w[i].m = m;
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(w[i].ok);
    }
    kefu_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_out_of_scope),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_binary_round_trip),
        cmocka_unit_test(test_train_tsv),
        cmocka_unit_test(test_pass_cap),
        cmocka_unit_test(test_classifier_info),
        cmocka_unit_test(test_cross_fitted_tuning),
        cmocka_unit_test(test_old_intent_section),
        cmocka_unit_test(test_learner_options),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("intent", tests, NULL, NULL);
}
