/* test_redact.c - masking phone, ID, card numbers and e-mail addresses. */
#include "testutil.h"

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

static void expect(kefu_scratch *s, const char *in, const char *out)
{
    size_t len = 0;
    const char *got;
    int rc = kefu_redact(s, in, strlen(in));
    if (rc)
        print_error("redact: %s\n", kefu_diag_message(kefu_scratch_diag(s)));
    assert_int_equal(rc, KEFU_OK);
    got = kefu_redacted(s, &len);
    if (strcmp(got, out))
        print_error("in:   %s\nwant: %s\ngot:  %s\n", in, out, got);
    assert_string_equal(got, out);
    assert_int_equal(len, strlen(out));
}

static void test_defaults(void **state)
{
    kefu_model *m = load("kefu: 1\n");
    kefu_scratch *s = NULL;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    expect(s, "我的手机13812345678，谢谢", "我的手机*******5678，谢谢");
    expect(s, "身份证11010519491231002X", "身份证**************002X");
    expect(s, "id 44030419900307123x ok", "id **************123x ok");
    expect(s, "卡号 6222 0210 0112 3456 789 到账了吗",
           "卡号 **** **** **** ***6 789 到账了吗");
    expect(s, "visa 4111111111111111.", "visa ************1111.");
    expect(s, "mail Zhang.San+kefu@Example.com.cn now",
           "mail [EMAIL] now");
    /* full-width digits are caught and keep their width */
    expect(s, "電話：１３８１２３４５６７８", "電話：*******５６７８");
    expect(s, "call +86 138-1234-5678 or +44 20 7946 0958",
           "call +** ***-****-5678 or +** ** **** 0958");
    expect(s, "0086 13912345678", "**** *******5678");
    /* no digit: only the e-mail rule is searched (and no '@': none) */
    expect(s, "write to Li.Si@example.org, 谢谢", "write to [EMAIL], 谢谢");
    expect(s, "nothing to hide, 没有号码", "nothing to hide, 没有号码");
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_near_misses(void **state)
{
    kefu_model *m = load("kefu: 1\n");
    kefu_scratch *s = NULL;
    static const char *const keep[] = {
        "身份证110105194912310021",       /* wrong check character */
        "身份证110105194913310025",       /* month 13 */
        "id 110105190002290011 ",         /* 1900 was not a leap year */
        "卡号6222021001123456788",        /* Luhn fails */
        "order SO6222021001123456789",    /* letters glued on: an id */
        "订单20240501123456789已发货",     /* ordinary long number */
        "退款¥1,299.00，共12345件",         /* amounts and counts */
        "电话12812345678",                 /* no such mobile prefix */
        "version 2.13812345678",           /* digits glued to a number */
        "a@b",                            /* not an address */
    };
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        expect(s, keep[i], keep[i]);
        assert_int_equal(kefu_redaction_count(s), 0);
    }
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_spans(void **state)
{
    kefu_model *m = load("kefu: 1\n");
    kefu_scratch *s = NULL;
    kefu_redaction r;
    const char *t = "請打 138 1234 5678 或寫信 x@y.cn";
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    expect(s, t, "請打 *** **** 5678 或寫信 [EMAIL]");
    assert_int_equal(kefu_redaction_count(s), 2);
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    assert_int_equal(kefu_redaction_get(s, 0, &r), KEFU_OK);
    assert_int_equal(r.kind, KEFU_REDACT_PHONE);
    assert_string_equal(r.name, "phone");
    assert_int_equal(r.byte_start, 7);
    assert_int_equal(r.byte_end, 20);
    assert_int_equal(r.char_start, 3);
    assert_int_equal(r.char_end, 16);
    assert_int_equal(kefu_redaction_get(s, 1, &r), KEFU_OK);
    assert_int_equal(r.kind, KEFU_REDACT_EMAIL);
    assert_int_equal(r.byte_start, 31);
    assert_int_equal(r.char_start, 21);
    assert_int_equal(r.char_end, 27);
    assert_int_equal(kefu_redaction_get(s, 2, &r), KEFU_E_ARG);
    r.size = 4;
    assert_int_equal(kefu_redaction_get(s, 0, &r), KEFU_E_ARG);
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static const char *const CONFIGURED =
    "kefu: 1\n"
    "redaction:\n"
    "  phone: {replace: '[PHONE]'}\n"
    "  bank_card: {keep_first: 6, keep_last: 4, mask: '#'}\n"
    "  email: false\n"
    "  id_card: {mask: '•', keep_last: 1}\n"
    "  custom:\n"
    "    - {name: member, regex: '会员号 ?(?<value>[0-9]{6,})', replace: '[MEMBER]'}\n"
    "    - {name: plate, regex: '京[a-z][0-9a-z]{5}', keep_first: 1, keep_last: 0}\n";

static void test_configured(void **state)
{
    kefu_model *m = load(CONFIGURED);
    kefu_scratch *s = NULL;
    kefu_redaction r = {.size = sizeof r};
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    expect(s, "手机13812345678 卡6222021001123456789 mail a@b.com",
           "手机[PHONE] 卡622202#########6789 mail a@b.com");
    expect(s, "身份证 11010519491231002X", "身份证 •••••••••••••••••X");
    expect(s, "我的会员号 12345678 车牌京A12345",
           "我的会员号 [MEMBER] 车牌京A*****");
    assert_int_equal(kefu_redaction_count(s), 2);
    assert_int_equal(kefu_redaction_get(s, 0, &r), KEFU_OK);
    assert_int_equal(r.kind, KEFU_REDACT_CUSTOM);
    assert_string_equal(r.name, "member");
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_errors_leave_nothing(void **state)
{
    kefu_model *m = load("kefu: 1\ntext: {max_bytes: 32}\n"
                         "redaction:\n  custom: [{regex: '(a+)+$'}]\n");
    kefu_scratch *s = NULL;
    char slow[40];
    size_t len = 99;
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    expect(s, "13812345678", "*******5678");
    assert_int_equal(kefu_redact(s, "138\xff", 4), KEFU_E_UTF8);
    assert_string_equal(kefu_redacted(s, &len), "");
    assert_int_equal(len, 0);
    assert_int_equal(kefu_redaction_count(s), 0);
    assert_int_equal(kefu_diag_offset(kefu_scratch_diag(s)), 3);
    expect(s, "13812345678", "*******5678");
    assert_int_equal(kefu_redact(s, "13812345678 13812345678 13812345678", 35),
                     KEFU_E_TOO_LONG);
    assert_string_equal(kefu_redacted(s, NULL), "");
    memset(slow, 'a', 30);
    strcpy(slow + 30, "!");
    assert_int_equal(kefu_redact(s, slow, strlen(slow)), KEFU_E_LIMIT);
    assert_string_equal(kefu_redacted(s, NULL), "");
    assert_int_equal(kefu_redact(NULL, "a", 1), KEFU_E_ARG);
    assert_int_equal(kefu_redact(s, NULL, 1), KEFU_E_ARG);
    assert_string_equal(kefu_redacted(NULL, &len), "");
    expect(s, "", "");
    kefu_scratch_free(s);
    kefu_model_free(m);
}

static void test_keeps_entities(void **state)
{
    kefu_model *m = load("kefu: 1\nentities:\n  phone: {builtin: phone}\n");
    kefu_scratch *s = NULL;
    kefu_entity e = {.size = sizeof e};
    (void)state;
    assert_int_equal(kefu_scratch_new(&s, m, NULL), KEFU_OK);
    assert_int_equal(kefu_entities_extract(s, "call 13812345678", 16), KEFU_OK);
    expect(s, "other 13912345678", "other *******5678");
    assert_int_equal(kefu_entity_count(s), 1);
    assert_int_equal(kefu_entity_get(s, 0, &e), KEFU_OK);
    assert_string_equal(e.value, "13812345678");
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
    expect_error("kefu: 1\nredaction:\n  custom:\n    - {regex: 'a[b'}\n",
                 KEFU_E_PATTERN, 4, 19, "missing terminating ]");
    expect_error("kefu: 1\nredaction:\n  passport: true\n", KEFU_E_UNKNOWN, 3, 3,
                 "unknown key 'passport'");
    expect_error("kefu: 1\nredaction:\n  phone: {mask: '**'}\n", KEFU_E_MODEL,
                 3, 17, "one character");
    expect_error("kefu: 1\nredaction:\n  phone: maybe\n", KEFU_E_MODEL, 3, 10,
                 "true or false");
    expect_error("kefu: 1\nredaction:\n  phone: {keep_last: 99}\n",
                 KEFU_E_MODEL, 3, 22, "outside");
    expect_error("kefu: 1\nredaction:\n  custom: [{name: x}]\n", KEFU_E_MODEL,
                 3, 12, "needs 'regex:'");
}

static void test_out_of_memory(void **state)
{
    (void)state;
    for (long budget = 0; budget < 300; budget++) {
        tu_failing_alloc f = {budget, 0};
        kefu_allocator a = tu_failing_allocator(&f);
        kefu_model *m = NULL;
        kefu_scratch *s = NULL;
        const char *t = "手机13812345678 卡6222021001123456789";
        int rc = kefu_model_load_buffer(&m, CONFIGURED, strlen(CONFIGURED), "t",
                                        NULL, &a, NULL);
        if (rc) {
            assert_int_equal(rc, KEFU_E_NOMEM);
            continue;
        }
        if (kefu_scratch_new(&s, m, &a) == KEFU_OK) {
            rc = kefu_redact(s, t, strlen(t));
            assert_true(rc == KEFU_OK || rc == KEFU_E_NOMEM);
            if (rc == KEFU_OK)
                assert_string_equal(kefu_redacted(s, NULL),
                                    "手机[PHONE] 卡622202#########6789");
            else
                assert_string_equal(kefu_redacted(s, NULL), "");
        }
        kefu_scratch_free(s);
        kefu_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_near_misses),
        cmocka_unit_test(test_spans),
        cmocka_unit_test(test_configured),
        cmocka_unit_test(test_errors_leave_nothing),
        cmocka_unit_test(test_keeps_entities),
        cmocka_unit_test(test_bad_yaml),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
