/* test_entity.c - entities: patterns, lookup lists, built-ins, spans. */
#include "testutil.h"

#include <pthread.h>

static const char *const MODEL =
    "kefu: 1\n"
    "entities:\n"
    "  order_id: {builtin: order_id}\n"
    "  phone: {builtin: phone}\n"
    "  amount: {builtin: amount}\n"
    "  date: {builtin: date}\n"
    "  email: {builtin: email}\n"
    "  product:\n"
    "    values:\n"
    "      - iPhone 15\n"
    "      - {value: 苹果手机, synonyms: [apple phone]}\n"
    "      - {value: 会员卡, synonyms: [VIP卡, membership card]}\n"
    "      - pro\n"
    "  ticket: {regex: 'ticket\\s*#?(?<value>[0-9]{4,8})', normalize: digits}\n";

typedef struct ent {
    const char *name, *value;
    uint32_t b0, b1, c0, c1;
} ent;

static kefu_model *load(const char *y)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    int rc = kefu_model_load_buffer(&m, y, strlen(y), "t.yaml", NULL, NULL, d);
    if (rc) {
        char buf[600];
        kefu_diag_format(d, buf, sizeof buf);
        print_error("load: %s\n", buf);
    }
    assert_int_equal(rc, KEFU_OK);
    kefu_diag_free(d);
    return m;
}

/* Extracts and compares all entities (spans included when b1 != 0). */
static void expect(kefu_scratch *s, const char *text, const ent *want,
                   size_t n)
{
    int rc = kefu_entities_extract(s, text, strlen(text));
    if (rc)
        print_error("extract: %s\n", kefu_diag_message(kefu_scratch_diag(s)));
    assert_int_equal(rc, KEFU_OK);
    if (kefu_entity_count(s) != n) {
        for (size_t i = 0; i < kefu_entity_count(s); i++) {
            kefu_entity e = {.size = sizeof e};
            kefu_entity_get(s, i, &e);
            print_error("  got %s=%s [%u,%u)\n", e.name, e.value, e.byte_start,
                        e.byte_end);
        }
    }
    assert_int_equal(kefu_entity_count(s), n);
    for (size_t i = 0; i < n; i++) {
        kefu_entity e;
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        assert_int_equal(kefu_entity_get(s, i, &e), KEFU_OK);
        assert_string_equal(e.name, want[i].name);
        assert_string_equal(e.value, want[i].value);
        assert_int_equal(e.value_len, strlen(want[i].value));
        if (want[i].b1) {
            assert_int_equal(e.byte_start, want[i].b0);
            assert_int_equal(e.byte_end, want[i].b1);
            assert_int_equal(e.char_start, want[i].c0);
            assert_int_equal(e.char_end, want[i].c1);
        }
    }
}

static void test_mixed_spans(void **state)
{
    kefu_model *m = load(MODEL);
    kefu_scratch *s = NULL;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    {
        /* "我的订单号是" = 6 chars / 18 bytes; the id is full-width:
         * 12 chars of 3 bytes each. */
        const char *t = "我的订单号是ＳＯ１２３４５６７８９０，call 138-1234-5678";
        ent w[] = {
            {"order_id", "SO1234567890", 18, 54, 6, 18},
            {"phone", "13812345678", 62, 75, 24, 37},
        };
        expect(s, t, w, 2);
    }
    {
        const char *t = "Mail me: Foo.Bar@Example.COM 谢谢";
        ent w[] = {{"email", "foo.bar@example.com", 9, 28, 9, 28}};
        expect(s, t, w, 1);
    }
    {
        /* Traditional cue word and lookup spelling */
        const char *t = "訂單號 AB20240501778 的蘋果手機還沒到";
        ent w[] = {
            {"order_id", "AB20240501778", 10, 23, 4, 17},
            {"product", "苹果手机", 27, 39, 19, 23},
        };
        expect(s, t, w, 2);
    }
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_lookup_lists(void **state)
{
    kefu_model *m = load(MODEL);
    kefu_scratch *s = NULL;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    {
        /* synonyms give the canonical value; case and width fold */
        const char *t = "my ＩＰＨＯＮＥ 15 and my vip卡";
        ent w[] = {{"product", "iPhone 15", 3, 24, 3, 12},
                   {"product", "会员卡", 32, 38, 20, 24}};
        expect(s, t, w, 2);
    }
    {
        /* "pro" must not match inside "problem" (word boundary) */
        const char *t = "a problem with my Pro";
        ent w[] = {{"product", "pro", 18, 21, 18, 21}};
        expect(s, t, w, 1);
    }
    {
        /* nor inside "approve" or "3pro" (no spelling starts inside a
         * word: those positions are not looked up), but after "(" */
        const char *t = "approve 3pro (pro)";
        ent w[] = {{"product", "pro", 14, 17, 14, 17}};
        expect(s, t, w, 1);
    }
    {
        const char *t = "I want a Membership  Card please";
        ent w[] = {{"product", "会员卡", 9, 25, 9, 25}};
        expect(s, t, w, 1);
    }
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_builtins(void **state)
{
    kefu_model *m = load(MODEL);
    kefu_scratch *s = NULL;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    {
        ent w[] = {{"amount", "1299.00 CNY", 0, 0, 0, 0},
                   {"amount", "300 CNY", 0, 0, 0, 0},
                   {"amount", "20 USD", 0, 0, 0, 0}};
        expect(s, "付了￥1,299.00，退我三百元 or 20 dollars", w, 3);
    }
    {
        ent w[] = {{"amount", "5 USD", 0, 0, 0, 0},
                   {"amount", "88.5 CNY", 0, 0, 0, 0}};
        expect(s, "USD 5 plus 88.5块", w, 2);
    }
    {
        ent w[] = {{"date", "2024-05-01", 0, 0, 0, 0},
                   {"date", "--05-03", 0, 0, 0, 0},
                   {"date", "today-1", 0, 0, 0, 0},
                   {"date", "today+1", 0, 0, 0, 0},
                   {"date", "2024-05-03", 0, 0, 0, 0}};
        expect(s, "2024-05-01下单，5月3号发货，昨天没到 tomorrow? May 3rd, 2024", w,
               5);
    }
    /* impossible dates are not dates */
    expect(s, "2024-02-30 or 13月5日", NULL, 0);
    {
        ent w[] = {{"date", "2024-02-29", 0, 0, 0, 0}};
        expect(s, "2024年2月29日", w, 1);
    }
    {
        ent w[] = {{"phone", "+8613812345678", 0, 0, 0, 0},
                   {"phone", "+442079460958", 0, 0, 0, 0},
                   {"phone", "+8613912345678", 0, 0, 0, 0}};
        expect(s, "+86 138 1234 5678, +44 20 7946 0958, 008613912345678", w, 3);
    }
    /* ordinary short numbers are neither phones nor orders */
    expect(s, "我买了3件，共12345个", NULL, 0);
    {
        /* a mobile number alone is a phone, not an order id */
        ent w[] = {{"phone", "13912345678", 0, 0, 0, 0}};
        expect(s, "13912345678", w, 1);
    }
    /* a bare card or ID number is a person's number, not an order's */
    expect(s, "6222021001123456789 和 11010519491231002X", NULL, 0);
    {
        ent w[] = {{"order_id", "6222021001123456789", 0, 0, 0, 0},
                   {"order_id", "6222021001123456788", 0, 0, 0, 0}};
        expect(s, "订单号6222021001123456789 6222021001123456788", w, 2);
    }
    {
        /* no digit in the message: the built-ins that can match without
         * one (day words, Chinese numerals before 元, an e-mail address) are
         * still searched */
        ent w[] = {{"amount", "300 CNY", 0, 0, 0, 0},
                   {"date", "today-3", 0, 0, 0, 0},
                   {"email", "kefu.team@example.com", 0, 0, 0, 0},
                   {"date", "today-2", 0, 0, 0, 0}};
        expect(s, "三百元 大前天 kefu.team@example.com the day before yesterday "
                  "订单号 abcdef", w, 4);   /* an order id needs a digit */
    }
    /* and none of them in text with no digit, no '@' and no cue word */
    expect(s, "nothing here, 没有任何日期或金额", NULL, 0);
    {
        ent w[] = {{"order_id", "1234567890123", 0, 0, 0, 0},
                   {"ticket", "4455", 0, 0, 0, 0}};
        expect(s, "order #1234567890123 ticket #4455", w, 2);
    }
    {
        /* a word-list pattern runs from each occurrence of its literal (the
         * prefilter): every one is found, one that does not complete is
         * passed over, case folding applies, the spans are the original's */
        ent w[] = {{"ticket", "1111", 6, 10, 6, 10},
                   {"ticket", "3333", 36, 40, 32, 36}};
        expect(s, "ticket1111 ticket ab 工单 TICKET #3333", w, 2);
    }
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_order_options(void **state)
{
    kefu_model *m = load("kefu: 1\nentities:\n"
                         "  order_id: {builtin: order_id, prefixes: [JD, tb],"
                         " min_digits: 6}\n");
    kefu_scratch *s = NULL;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    {
        ent w[] = {{"order_id", "JD123456", 0, 0, 0, 0},
                   {"order_id", "TB-9876543", 0, 0, 0, 0}};
        expect(s, "jd123456 and TB-9876543 but not XY1234567", w, 2);
    }
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_find_and_names(void **state)
{
    kefu_model *m = load(MODEL);
    (void)state;
    assert_int_equal(kefu_model_entity_count(m), 7);
    assert_string_equal(kefu_model_entity_name(m, 0), "order_id");
    assert_string_equal(kefu_model_entity_name(m, 6), "ticket");
    assert_null(kefu_model_entity_name(m, 7));
    assert_int_equal(kefu_model_entity_count(NULL), 0);
    kefu_model_free(m);
}

static void test_runaway_pattern(void **state)
{
    kefu_model *m = load("kefu: 1\nentities:\n"
                         "  slow: {regex: '(a+)+$'}\n"
                         "  ok: {regex: 'b+'}\n");
    kefu_scratch *s = NULL;
    char text[200];
    (void)state;
    memset(text, 'a', 60);
    strcpy(text + 60, "! bbb");
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    assert_int_equal(kefu_entities_extract(s, text, strlen(text)), KEFU_E_LIMIT);
    assert_int_equal(kefu_entity_count(s), 0);
    assert_non_null(strstr(kefu_diag_message(kefu_scratch_diag(s)), "slow"));
    /* the scratch is still usable */
    assert_int_equal(kefu_entities_extract(s, "bb", 2), KEFU_OK);
    assert_int_equal(kefu_entity_count(s), 1);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void expect_error(const char *y, int status, uint32_t line,
                         uint32_t col, const char *msg)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    assert_int_equal(kefu_model_load_buffer(&m, y, strlen(y), "bad.yaml", NULL,
                                            NULL, d),
                     status);
    assert_null(m);
    if (kefu_diag_line(d) != line || kefu_diag_column(d) != col ||
        !strstr(kefu_diag_message(d), msg))
        print_error("got %u:%u %s\n", kefu_diag_line(d), kefu_diag_column(d),
                    kefu_diag_message(d));
    assert_int_equal(kefu_diag_line(d), line);
    assert_int_equal(kefu_diag_column(d), col);
    assert_non_null(strstr(kefu_diag_message(d), msg));
    kefu_diag_free(d);
}

static void test_bad_yaml(void **state)
{
    (void)state;
    /* PCRE2 reports the missing ')' at the end of the pattern, offset 6;
     * the value starts at column 15 */
    expect_error("kefu: 1\nentities:\n  x: {regex: 'ab(c|d'}\n", KEFU_E_PATTERN,
                 3, 21, "missing closing parenthesis");
    /* plain scalar, error after a multi-byte character */
    expect_error("kefu: 1\nentities:\n  x:\n    regex: 订单[0-9\n",
                 KEFU_E_PATTERN, 4, 18, "missing terminating ]");
    /* '' in a single-quoted scalar counts two columns */
    expect_error("kefu: 1\nentities:\n  x: {regex: 'it''s(?<'}\n", KEFU_E_PATTERN,
                 3, 23, "does not compile");
    expect_error("kefu: 1\nentities:\n  x: {builtin: iban}\n", KEFU_E_UNKNOWN, 3,
                 16, "unknown builtin");
    expect_error("kefu: 1\nentities:\n  x: {regex: a, values: [b]}\n",
                 KEFU_E_MODEL, 3, 6, "exactly one of");
    expect_error("kefu: 1\nentities:\n  x: {regex: a, colour: red}\n",
                 KEFU_E_UNKNOWN, 3, 17, "unknown key 'colour'");
    expect_error("kefu: 1\nentities:\n  x: {values: []}\n", KEFU_E_MODEL, 3,
                 15, "must not be empty");
    expect_error("kefu: 1\nentities:\n  x: {regex: a, normalize: loud}\n",
                 KEFU_E_UNKNOWN, 3, 28, "unknown normalize");
    expect_error("kefu: 1\nentities:\n  x: {regex: a, prefixes: [A]}\n",
                 KEFU_E_MODEL, 3, 6, "order_id");
    /* found by fuzzing: a list where a name belongs */
    expect_error("kefu: 1\nentities:\n  x: {builtin: [a], min_digits: 6}\n",
                 KEFU_E_MODEL, 3, 6, "order_id");
    expect_error("kefu: 1\nentities:\n  x: {builtin: [a]}\n", KEFU_E_MODEL, 3,
                 16, "expected a string");
    expect_error("kefu: 1\nentities:\n  x y: {regex: a}\n", KEFU_E_MODEL, 3, 3,
                 "entity names");
    expect_error("kefu: 1\nentities:\n  x: abc\n", KEFU_E_MODEL, 3, 6,
                 "must be a mapping");
    expect_error("kefu: 1\nentities: [a]\n", KEFU_E_MODEL, 2, 11,
                 "must be a mapping");
}

static void test_bad_input(void **state)
{
    kefu_model *m = load(MODEL);
    kefu_scratch *s = NULL;
    kefu_entity e = {.size = sizeof e};
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    assert_int_equal(kefu_entities_extract(s, "order 1234567890123", 19), KEFU_OK);
    assert_int_equal(kefu_entity_count(s), 1);
    /* invalid UTF-8 clears the previous results */
    assert_int_equal(kefu_entities_extract(s, "ab\xff", 3), KEFU_E_UTF8);
    assert_int_equal(kefu_entity_count(s), 0);
    assert_int_equal(kefu_diag_offset(kefu_scratch_diag(s)), 2);
    assert_int_equal(kefu_entity_get(s, 0, &e), KEFU_E_ARG);
    assert_int_equal(kefu_entities_extract(NULL, "a", 1), KEFU_E_ARG);
    assert_int_equal(kefu_entities_extract(s, NULL, 3), KEFU_E_ARG);
    assert_int_equal(kefu_entities_extract(s, "", 0), KEFU_OK);
    assert_int_equal(kefu_entity_count(s), 0);
    /* a too-small struct is refused */
    assert_int_equal(kefu_entities_extract(s, "13812345678", 11), KEFU_OK);
    e.size = 4;
    assert_int_equal(kefu_entity_get(s, 0, &e), KEFU_E_ARG);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_no_entities_section(void **state)
{
    kefu_model *m = load("kefu: 1\nname: bare\n");
    kefu_scratch *s = NULL;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    assert_int_equal(kefu_entities_extract(s, "13812345678", 11), KEFU_OK);
    assert_int_equal(kefu_entity_count(s), 0);
    assert_int_equal(kefu_model_entity_count(m), 0);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    for (long budget = 0; budget < 400; budget++) {
        tu_failing_alloc f = {budget, 0};
        kefu_allocator a = tu_failing_allocator(&f);
        kefu_model *m = NULL;
        kefu_scratch *s = NULL;
        int rc = kefu_model_load_buffer(&m, MODEL, strlen(MODEL), "t", NULL, &a,
                                        NULL);
        if (rc) {
            assert_int_equal(rc, KEFU_E_NOMEM);
            continue;
        }
        rc = kefu_scratch_new(&s, m, &a);
        if (rc == KEFU_OK) {
            const char *t = "订单号 SO12345678901 13812345678";
            rc = kefu_entities_extract(s, t, strlen(t));
            assert_true(rc == KEFU_OK || rc == KEFU_E_NOMEM);
            if (rc == KEFU_OK)
                assert_int_equal(kefu_entity_count(s), 2);
            else
                assert_int_equal(kefu_entity_count(s), 0);
        }
        kefu_scratch_free(s);
        kefu_model_free(m);
    }
}

/* A catalogue of thousands of spellings: every one is found, with its
 * canonical value, and nothing else. */
static void test_big_lookup_list(void **state)
{
    size_t cap = 1 << 20, used = 0;
    char *y = malloc(cap);
    kefu_model *m;
    kefu_scratch *s = NULL;
    (void)state;
    assert_non_null(y);
    used += (size_t)snprintf(y + used, cap - used,
                             "kefu: 1\nentities:\n  sku:\n    values:\n");
    for (int i = 0; i < 5000; i++)
        used += (size_t)snprintf(y + used, cap - used,
                                 "      - {value: SKU-%04d, synonyms: [商品%d号]}\n",
                                 i, i);
    m = load(y);
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    {
        ent w[] = {{"sku", "SKU-0042", 0, 0, 0, 0},
                   {"sku", "SKU-4999", 0, 0, 0, 0},
                   {"sku", "SKU-1234", 0, 0, 0, 0}};
        /* 商品12号 must not match inside 商品123号 (no such value) */
        expect(s, "sku-0042 和 商品4999号, 商品1234号 但不是 商品50000号", w, 3);
    }
    kefu_scratch_free(s);
    kefu_model_free(m);
    free(y);
}

/* An allocator failing only its n-th allocation. */
typedef struct one_shot {
    long fail_at, count;
} one_shot;

static void *os_malloc(size_t n, void *u)
{
    one_shot *o = u;
    return o->count++ == o->fail_at ? NULL : malloc(n);
}

static void *os_realloc(void *p, size_t n, void *u)
{
    one_shot *o = u;
    return o->count++ == o->fail_at ? NULL : realloc(p, n);
}

static void os_free(void *p, void *u)
{
    (void)u;
    free(p);
}

/* Whatever allocation fails, the match limits stay on: a runaway pattern
 * ends in KEFU_E_LIMIT (or KEFU_E_NOMEM), never in a complete search. */
static void test_limits_survive_oom(void **state)
{
    static const char *const y = "kefu: 1\nentities:\n  slow: {regex: '(a+)+$'}\n";
    char text[40];
    (void)state;
    /* 20 a's: more steps than kefu's limit, fewer than PCRE2's default */
    memset(text, 'a', 20);
    strcpy(text + 20, "!");
    for (long at = 0; at < 200; at++) {
        one_shot o = {at, 0};
        kefu_allocator a = {os_malloc, os_realloc, os_free, &o};
        kefu_model *m = NULL;
        kefu_scratch *s = NULL;
        if (kefu_model_load_buffer(&m, y, strlen(y), "t", NULL, &a, NULL))
            continue;
        if (kefu_scratch_new(&s, m, &a) == KEFU_OK) {
            for (int k = 0; k < 2; k++) {
                int rc = kefu_entities_extract(s, text, strlen(text));
                assert_true(rc == KEFU_E_LIMIT || rc == KEFU_E_NOMEM);
            }
        }
        kefu_scratch_free(s);
        kefu_model_free(m);
    }
}

/* One model, several threads, a scratch each: results must not mix. */
static const char *const THREAD_MSGS[] = {
    "订单号SO20240501778 电话13812345678",
    "refund $1,299.00 by May 3rd, 2024 to a@b.com",
    "蘋果手機 和 membership card，昨天",
};

typedef struct thread_arg {
    const kefu_model *model;
    char want[3][512];
    int ok;
} thread_arg;

static void describe(kefu_scratch *s, const char *msg, char *buf, size_t cap)
{
    size_t used = 0, len;
    buf[0] = '\0';
    if (kefu_entities_extract(s, msg, strlen(msg)) != KEFU_OK)
        return;
    for (size_t i = 0; i < kefu_entity_count(s); i++) {
        kefu_entity e = {.size = sizeof e};
        kefu_entity_get(s, i, &e);
        used += (size_t)snprintf(buf + used, cap - used, "%s=%s@%u;", e.name,
                                 e.value, e.byte_start);
    }
    if (kefu_redact(s, msg, strlen(msg)) == KEFU_OK)
        snprintf(buf + used, cap - used, "%s", kefu_redacted(s, &len));
}

static void *worker(void *p)
{
    thread_arg *a = p;
    kefu_scratch *s = NULL;
    char got[512];
    a->ok = kefu_scratch_new(&s, a->model, NULL) == KEFU_OK;
    for (int round = 0; round < 300 && a->ok; round++) {
        size_t k = (size_t)round % 3;
        describe(s, THREAD_MSGS[k], got, sizeof got);
        if (strcmp(got, a->want[k]))
            a->ok = 0;
    }
    kefu_scratch_free(s);
    return NULL;
}

static void test_threads(void **state)
{
    kefu_model *m = load(MODEL);
    kefu_scratch *s = NULL;
    thread_arg args[4];
    pthread_t th[4];
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    for (int t = 0; t < 4; t++) {
        args[t].model = m;
        for (int k = 0; k < 3; k++)
            describe(s, THREAD_MSGS[k], args[t].want[k], sizeof args[t].want[k]);
    }
    assert_non_null(strstr(args[0].want[0], "order_id=SO20240501778"));
    assert_non_null(strstr(args[0].want[1], "[EMAIL]"));
    for (int t = 0; t < 4; t++)
        assert_int_equal(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        assert_true(args[t].ok);
    }
    kefu_scratch_free(s);
    kefu_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_spans),
        cmocka_unit_test(test_lookup_lists),
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_order_options),
        cmocka_unit_test(test_find_and_names),
        cmocka_unit_test(test_runaway_pattern),
        cmocka_unit_test(test_bad_yaml),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_no_entities_section),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_big_lookup_list),
        cmocka_unit_test(test_limits_survive_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
