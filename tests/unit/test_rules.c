/* test_rules.c - the rule language, rule sets, evaluation, traces, hot swap. */
#include "testutil.h"

#include <pthread.h>
#include <stdbool.h>

/* ---- helpers ---- */

static const char *HDR = "kefu: 1\n"
                         "facts: {transfer_amount: number, vip: bool, "
                         "segment: string, tags: list<string>, "
                         "scores: list<number>, hold: duration}\n";

/* Loads a model whose single rule is `when`. */
static kefu_model *model_with(const char *when, kefu_diag *d, int *rc)
{
    static char yaml[40000];
    kefu_model *m = NULL;
    snprintf(yaml, sizeof yaml,
             "%srules:\n  - name: r\n    when: '%s'\n    then: {tag: hit}\n",
             HDR, when);
    *rc = kefu_model_load_buffer(&m, yaml, strlen(yaml), "m.yaml", NULL, NULL, d);
    return m;
}

typedef struct fx {
    kefu_model *m;
    kefu_facts *f;
    kefu_rules_result *r;
} fx;

static void fx_open(fx *x, const char *yaml)
{
    kefu_diag *d = kefu_diag_new(NULL);
    char buf[1024];
    int rc = kefu_model_load_buffer(&x->m, yaml, strlen(yaml), "m.yaml", NULL,
                                    NULL, d);
    kefu_diag_format(d, buf, sizeof buf);
    if (rc)
        fail_msg("load failed: %s", buf);
    kefu_diag_free(d);
    assert_int_equal(kefu_facts_new(&x->f, kefu_model_rules(x->m), NULL), KEFU_OK);
    assert_int_equal(kefu_rules_result_new(&x->r, NULL), KEFU_OK);
}

static void fx_close(fx *x)
{
    kefu_rules_result_free(x->r);
    kefu_facts_free(x->f);
    kefu_model_free(x->m);
}

#define SETN(f, n, v) assert_int_equal(kefu_facts_set_number(f, n, strlen(n), v), KEFU_OK)
#define SETS(f, n, v) assert_int_equal(kefu_facts_set_string(f, n, strlen(n), v, strlen(v)), KEFU_OK)
#define SETB(f, n, v) assert_int_equal(kefu_facts_set_bool(f, n, strlen(n), v), KEFU_OK)
#define SETD(f, n, v) assert_int_equal(kefu_facts_set_duration(f, n, strlen(n), v), KEFU_OK)

static int fired(fx *x)
{
    assert_int_equal(kefu_rules_eval(x->r, kefu_model_rules(x->m), x->f, 0), KEFU_OK);
    return (int)kefu_rules_result_fired_count(x->r);
}

/* Evaluates one expression against facts set up by `setup`. */
typedef void (*setup_fn)(kefu_facts *f);

static int eval_expr(const char *when, setup_fn setup)
{
    kefu_diag *d = kefu_diag_new(NULL);
    int rc, out;
    kefu_model *m = model_with(when, d, &rc);
    kefu_facts *f = NULL;
    kefu_rules_result *r = NULL;
    char buf[1024];
    kefu_diag_format(d, buf, sizeof buf);
    if (rc)
        fail_msg("[%s] does not compile: %s", when, buf);
    kefu_diag_free(d);
    assert_int_equal(kefu_facts_new(&f, kefu_model_rules(m), NULL), KEFU_OK);
    assert_int_equal(kefu_rules_result_new(&r, NULL), KEFU_OK);
    if (setup)
        setup(f);
    assert_int_equal(kefu_rules_eval(r, kefu_model_rules(m), f, KEFU_RULES_TRACE), KEFU_OK);
    out = (int)kefu_rules_result_fired_count(r);
    /* the traced and the plain programs agree */
    assert_int_equal(kefu_rules_eval(r, kefu_model_rules(m), f, 0), KEFU_OK);
    assert_int_equal((int)kefu_rules_result_fired_count(r), out);
    kefu_rules_result_free(r);
    kefu_facts_free(f);
    kefu_model_free(m);
    return out;
}

static void std_facts(kefu_facts *f)
{
    const char *slots[] = {"order_id", "phone"};
    const char *risk[] = {"fraud"};
    const double scores[] = {3, 7, 12};
    SETN(f, "emotion.anger", 85);
    SETN(f, "confidence", 0.42);
    SETS(f, "intent", "refund");
    SETS(f, "text", "我要投诉你们 I want a refund NOW");
    SETS(f, "channel", "chat");
    SETS(f, "customer.tier", "gold");
    SETN(f, "customer.value", 12000);
    SETN(f, "session.human_requests", 3);
    SETD(f, "wait", 95000);
    SETN(f, "transfer_amount", 50000);
    assert_int_equal(kefu_facts_set_strings(f, "slots", 5, slots, NULL, 2), KEFU_OK);
    assert_int_equal(kefu_facts_set_strings(f, "customer.risk", 13, risk, NULL, 1), KEFU_OK);
    assert_int_equal(kefu_facts_set_numbers(f, "scores", 6, scores, 3), KEFU_OK);
}

#define YES(e) do { if (eval_expr(e, std_facts) != 1) fail_msg("expected true: %s", e); } while (0)
#define NO(e) do { if (eval_expr(e, std_facts) != 0) fail_msg("expected false: %s", e); } while (0)

/* ---- grammar, precedence, types ---- */

static void test_operators(void **st)
{
    (void)st;
    YES("emotion.anger > 80");
    NO("emotion.anger > 85");
    YES("emotion.anger >= 85 && confidence < 0.5");
    YES("emotion.anger == 85 and not (confidence > 0.5)");
    YES("!(emotion.anger != 85)");
    YES("intent == \"refund\"");
    YES("intent != \"cancel\"");
    YES("intent in [\"refund\", \"cancel\"]");
    NO("intent not in [\"refund\", \"cancel\"]");
    YES("\"order_id\" in slots");
    YES("slots contains \"phone\"");
    NO("slots contains \"email\"");
    YES("text contains \"投诉\"");
    NO("text contains \"赔偿\"");
    YES("text startsWith \"我要\"");
    YES("text endsWith \"NOW\"");
    NO("text endsWith \"now\"");
    YES("text matches \"投诉|赔偿\"");
    YES("text matches \"(?i)refund\\\\s+now\"");
    NO("text matches \"^refund\"");
    YES("wait > 90s");
    YES("wait > 1.5m and wait < 2m");
    YES("wait >= 95000ms");
    YES("wait + 5s == 100s");
    YES("wait / 1s == 95");
    YES("wait * 2 > 3m");
    YES("customer.value / 1000 + 3 * 2 == 18");
    YES("customer.value % 5000 == 2000");
    YES("-emotion.anger < -80");
    YES("1 + 2 * 3 == 7");
    YES("(1 + 2) * 3 == 9");
    YES("10 - 4 - 3 == 3");
    YES("true or false and false");      /* and binds tighter */
    NO("(true or false) and false");
    YES("not false and true");
    YES("has(transfer_amount)");
    NO("has(vip)");
    NO("vip");                           /* unset facts read as zero values */
    YES("segment == \"\"");
    YES("count(slots) == 2");
    YES("len(slots) == 2");
    YES("len(intent) == 6");
    YES("len(\"投诉\") == 2");
    YES("any(slots, s, s startsWith \"order\")");
    NO("all(slots, s, s startsWith \"order\")");
    YES("count(scores, x, x > 5) == 2");
    YES("all(scores, x, x > 1)");
    YES("any([\"投诉\", \"赔偿\"], w, text contains w)");
    YES("3 in scores");
    NO("4 in scores");
    YES("\"fraud\" in customer.risk");
    YES("customer.tier in [''gold'', ''platinum'']");
    YES("intent < \"z\" and intent > \"a\"");
    YES("session.human_requests >= 3 || false");
    NO("has(entities.order_id)");
    YES("entities.order_id == \"\"");
    YES("true");
    YES("\"a\\u00e9\" == \"a\xc3\xa9\"");
    YES("count(tags) == 0 and not any(tags, t, t == \"x\")");
    /* the compact forms (two-test chains, negations, jumps) */
    YES("not vip and has(transfer_amount)");
    NO("vip or not has(transfer_amount)");
    YES("intent != \"x\" or vip");
    NO("not (intent == \"refund\") or vip");
    YES("\"fraud\" in customer.risk and not vip");
    NO("\"aml\" in customer.risk or intent in [\"a\", \"b\"]");
    YES("not not (wait >= 95s)");
    YES("not (emotion.anger < 85) and not (emotion.anger > 85)");
    YES("(emotion.anger > 90 or confidence < 0.5) and (intent == \"refund\" or vip) and not has(vip)");
    NO("(emotion.anger > 90 or confidence > 0.5) and intent == \"refund\" and customer.tier != \"x\"");
}

static void test_short_circuit(void **st)
{
    (void)st;
    /* the right side would fail (division by zero) if it ran */
    NO("false and 1 / 0 == 1");
    YES("true or 1 / 0 == 1");
    YES("emotion.anger > 80 || customer.value / 0 > 1");
    /* ... and fails when it does run: the rule does not fire */
    NO("true and 1 / 0 == 1");
}

static void expect_compile_err(const char *when, int status, unsigned col,
                               const char *msg)
{
    kefu_diag *d = kefu_diag_new(NULL);
    int rc;
    kefu_model *m = model_with(when, d, &rc);
    char buf[1024];
    kefu_diag_format(d, buf, sizeof buf);
    /* `when: '` puts the expression at column 12 of line 5 */
    if (rc != status || kefu_diag_line(d) != 5 || kefu_diag_column(d) != 12 + col ||
        !strstr(kefu_diag_message(d), msg))
        fail_msg("[%s]: got %d %s, wanted %d col %u '%s'", when, rc, buf, status,
                 12 + col, msg);
    assert_null(m);
    kefu_diag_free(d);
}

static void test_errors(void **st)
{
    (void)st;
    expect_compile_err("emotion.angr > 80", KEFU_E_UNKNOWN, 0,
                       "unknown fact 'emotion.angr' (did you mean 'emotion.anger'?)");
    expect_compile_err("intent > 3", KEFU_E_TYPE, 7, "cannot order string and number");
    expect_compile_err("intent == 3", KEFU_E_TYPE, 7, "cannot compare string with number");
    expect_compile_err("wait > 90", KEFU_E_TYPE, 5, "cannot order duration and number");
    expect_compile_err("emotion.anger", KEFU_E_TYPE, 0, "must be a bool, not a number");
    expect_compile_err("text matches \"(\"", KEFU_E_PATTERN, 15, "missing closing parenthesis");
    expect_compile_err("text matches intent", KEFU_E_TYPE, 13, "string constant");
    expect_compile_err("confidence matches \"x\"", KEFU_E_TYPE, 11, "needs a string");
    expect_compile_err("intent = \"x\"", KEFU_E_SYNTAX, 7, "compare with '=='");
    expect_compile_err("1 < 2 < 3", KEFU_E_SYNTAX, 6, "do not chain");
    expect_compile_err("(true", KEFU_E_SYNTAX, 5, "expected ')'");
    expect_compile_err("true and", KEFU_E_SYNTAX, 8, "unexpected end");
    expect_compile_err("wait > 5x", KEFU_E_SYNTAX, 8, "unknown duration unit 'x'");
    expect_compile_err("\"abc", KEFU_E_SYNTAX, 0, "unterminated string");
    expect_compile_err("intent in [1, \"a\"]", KEFU_E_TYPE, 14, "one type");
    expect_compile_err("intent in []", KEFU_E_TYPE, 10, "empty list");
    expect_compile_err("intent in [intent]", KEFU_E_TYPE, 11, "constants");
    expect_compile_err("has(1)", KEFU_E_SYNTAX, 4, "has() takes a fact name");
    expect_compile_err("foo(1)", KEFU_E_UNKNOWN, 0, "unknown function 'foo'");
    expect_compile_err("any(intent, x, true)", KEFU_E_TYPE, 4, "needs a list");
    expect_compile_err("any(slots, x, x)", KEFU_E_TYPE, 14, "needs a bool");
    expect_compile_err("not confidence", KEFU_E_TYPE, 4, "needs a bool");
    expect_compile_err("confidence and true", KEFU_E_TYPE, 0, "needs a bool");
    expect_compile_err("vip == true ]", KEFU_E_SYNTAX, 12, "after the expression");
    expect_compile_err("text + text == \"\"", KEFU_E_TYPE, 5, "does not apply");
    expect_compile_err("slots == slots", KEFU_E_TYPE, 6, "cannot compare");
    expect_compile_err("text # 1", KEFU_E_SYNTAX, 5, "unexpected character '#'");
    expect_compile_err("投诉", KEFU_E_SYNTAX, 0, "strings go in quotes");
    /* columns count characters: the error is after two CJK characters */
    expect_compile_err("\"投诉\" == 3", KEFU_E_TYPE, 5, "cannot compare");
}

static void test_limits(void **st)
{
    char expr[20000];
    kefu_diag *d = kefu_diag_new(NULL);
    int rc;
    kefu_model *m;
    size_t n = 0;
    (void)st;
    /* deep nesting */
    for (int i = 0; i < 100; i++)
        expr[n++] = '(';
    n += (size_t)sprintf(expr + n, "true");
    for (int i = 0; i < 100; i++)
        expr[n++] = ')';
    expr[n] = '\0';
    m = model_with(expr, d, &rc);
    assert_int_equal(rc, KEFU_E_LIMIT);
    assert_non_null(strstr(kefu_diag_message(d), "nested deeper"));
    assert_null(m);
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(expr + n, "not ");
    sprintf(expr + n, "true");
    m = model_with(expr, d, &rc);
    assert_int_equal(rc, KEFU_E_LIMIT);
    /* too many parts */
    n = 0;
    for (int i = 0; i < 1400; i++)
        n += (size_t)sprintf(expr + n, "%s1==1", i ? " or " : "");
    m = model_with(expr, d, &rc);
    if (rc != KEFU_E_LIMIT) fail_msg("%s", kefu_diag_message(d));
    assert_non_null(strstr(kefu_diag_message(d), "more than"));
    /* too long */
    memset(expr, ' ', 17000);
    memcpy(expr + 16990, "true", 5);
    m = model_with(expr, d, &rc);
    assert_int_equal(rc, KEFU_E_LIMIT);
    /* nested loops over fact lists exceed the cost bound */
    m = model_with("any(slots, a, any(missing_slots, b, a == b))", d, &rc);
    assert_int_equal(rc, KEFU_E_LIMIT);
    assert_non_null(strstr(kefu_diag_message(d), "steps"));
    /* ... but over a small constant list it is fine */
    m = model_with("any([\"a\", \"b\"], a, any(missing_slots, b, a == b))", d, &rc);
    assert_int_equal(rc, KEFU_OK);
    kefu_model_free(m);
    kefu_diag_free(d);
}

static void runaway_facts(kefu_facts *f)
{
    char text[4000];
    memset(text, 'a', sizeof text - 2);
    text[sizeof text - 2] = '!';
    text[sizeof text - 1] = '\0';
    SETS(f, "text", text);
}

static void test_runaway_regex(void **st)
{
    fx x = {0};
    kefu_rule_outcome o = {.size = sizeof o};
    char why[512];
    (void)st;
    fx_open(&x, "kefu: 1\nrules:\n"
                "  - {name: evil, when: 'text matches \"(a+)+$\" or true', then: {tag: x}}\n"
                "  - {name: fine, when: 'text contains \"a\"', then: {tag: y}}\n");
    runaway_facts(x.f);
    assert_int_equal(kefu_rules_eval(x.r, kefu_model_rules(x.m), x.f, KEFU_RULES_TRACE), KEFU_OK);
    assert_int_equal(kefu_rules_result_rule(x.r, 0, &o), KEFU_OK);
    assert_int_equal(o.state, KEFU_RULE_ERROR);
    assert_int_equal(o.status, KEFU_E_LIMIT);
    assert_int_equal(kefu_rules_result_rule(x.r, 1, &o), KEFU_OK);
    assert_int_equal(o.state, KEFU_RULE_FIRED);
    assert_int_equal(kefu_rules_result_fired_count(x.r), 1);
    kefu_rules_result_explain(x.r, 0, why, sizeof why);
    assert_non_null(strstr(why, "evil: error"));
    fx_close(&x);
}

/* ---- rule sets, actions, modes ---- */

static const char *PACK =
    "kefu: 1\n"
    "facts: {vip: bool}\n"
    "rules:\n"
    "  mode: all\n"
    "  list:\n"
    "    - name: low\n"
    "      priority: 1\n"
    "      when: emotion.anger > 10\n"
    "      then:\n"
    "        tag: [angry, seen]\n"
    "        suggest: soothing_script\n"
    "    - name: high\n"
    "      priority: 10\n"
    "      when: emotion.anger > 50\n"
    "      then:\n"
    "        escalate: {queue: human, skill: billing, tier: senior}\n"
    "        priority: {raise: 2}\n"
    "        flag: true\n"
    "    - name: stopper\n"
    "      priority: 5\n"
    "      when: vip\n"
    "      then: {lock: true, escalate: vip_desk, priority: 9, stop: true, flag: abuse}\n"
    "    - name: off\n"
    "      enabled: false\n"
    "      when: true\n"
    "      then: {tag: never}\n";

/* A cheap part and a pattern joined by and/or (a rule form of its own in
 * plain evaluation): which side runs first, and when the pattern's error
 * is the rule's. */
static void test_part_and_pattern(void **st)
{
    static const struct {
        const char *when;
        int state;
    } cases[] = {
        {"text matches \"(a+)+$\" or true", KEFU_RULE_ERROR},   /* written first */
        {"true or text matches \"(a+)+$\"", KEFU_RULE_FIRED},   /* not matched */
        {"false or text matches \"(a+)+$\"", KEFU_RULE_ERROR},
        {"not (true or text matches \"(a+)+$\")", KEFU_RULE_FALSE},
        {"not (text matches \"(a+)+$\") and false", KEFU_RULE_ERROR},
        {"false and text matches \"(a+)+$\"", KEFU_RULE_FALSE},
        {"text matches \"(a+)+$\"", KEFU_RULE_ERROR},
        /* no one-character searches: PCRE2's JIT reads past the text
         * there, which valgrind reports */
        {"not (text matches \"b!\")", KEFU_RULE_FIRED},
        {"text matches \"!$\" and not vip", KEFU_RULE_FIRED},
        {"not vip and not (text matches \"!$\")", KEFU_RULE_FALSE},
        {"not (not vip and text matches \"b!\")", KEFU_RULE_FIRED},
        {"text matches \"^a\" or vip", KEFU_RULE_FIRED},
        {"not (text matches \"^a\") or vip", KEFU_RULE_FALSE},
        {"emotion.anger > 50 and text matches \"a!\"", KEFU_RULE_FALSE},
        {"not (emotion.anger > 50) and text matches \"a!\"", KEFU_RULE_FIRED},
    };
    char yaml[8192];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "%srules:\n", HDR);
    fx x = {0};
    kefu_rule_outcome o = {.size = sizeof o};
    (void)st;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n,
                              "  - {name: r%zu, when: '%s', then: {tag: t}}\n",
                              i, cases[i].when);
    fx_open(&x, yaml);
    runaway_facts(x.f);
    for (int traced = 0; traced < 2; traced++) {
        assert_int_equal(kefu_rules_eval(x.r, kefu_model_rules(x.m), x.f,
                                         traced ? KEFU_RULES_TRACE : 0), KEFU_OK);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            assert_int_equal(kefu_rules_result_rule(x.r, (uint32_t)i, &o), KEFU_OK);
            if ((int)o.state != cases[i].state)
                fail_msg("%s (%s): state %u, wanted %d", cases[i].when,
                         traced ? "traced" : "plain", o.state, cases[i].state);
            if (o.state == KEFU_RULE_ERROR)
                assert_int_equal(o.status, KEFU_E_LIMIT);
        }
    }
    fx_close(&x);
}

static void test_actions_and_order(void **st)
{
    fx x = {0};
    kefu_rule_action a = {.size = sizeof a};
    const kefu_ruleset *rs;
    (void)st;
    fx_open(&x, PACK);
    rs = kefu_model_rules(x.m);
    assert_int_equal(kefu_ruleset_rule_count(rs), 3);
    assert_string_equal(kefu_ruleset_rule_name(rs, 0), "high");   /* by priority */
    assert_string_equal(kefu_ruleset_rule_name(rs, 1), "stopper");
    assert_string_equal(kefu_ruleset_rule_name(rs, 2), "low");
    assert_string_equal(kefu_ruleset_rule_when(rs, 2), "emotion.anger > 10");
    assert_int_equal(kefu_ruleset_mode(rs), KEFU_RULES_ALL);
    assert_int_equal(fired(&x), 0);
    SETN(x.f, "emotion.anger", 60);
    assert_int_equal(fired(&x), 2);
    assert_int_equal(kefu_rules_result_fired(x.r, 0), 0);
    assert_int_equal(kefu_rules_result_fired(x.r, 1), 2);
    assert_int_equal(kefu_rules_result_fired(x.r, 2), UINT32_MAX);
    assert_int_equal(kefu_rules_result_action_count(x.r), 6);
    assert_int_equal(kefu_rules_result_action(x.r, 0, &a), KEFU_OK);
    assert_int_equal(a.type, KEFU_ACTION_ESCALATE);
    assert_string_equal(a.queue, "human");
    assert_string_equal(a.skill, "billing");
    assert_string_equal(a.tier, "senior");
    assert_int_equal(a.rule, 0);
    assert_int_equal(kefu_rules_result_action(x.r, 1, &a), KEFU_OK);
    assert_int_equal(a.type, KEFU_ACTION_PRIORITY);
    assert_int_equal(a.raise, 1);
    assert_int_equal(a.value, 2);
    assert_int_equal(kefu_rules_result_action(x.r, 2, &a), KEFU_OK);
    assert_int_equal(a.type, KEFU_ACTION_FLAG);
    assert_string_equal(a.arg, "quality_review");
    assert_int_equal(kefu_rules_result_action(x.r, 3, &a), KEFU_OK);
    assert_int_equal(a.type, KEFU_ACTION_TAG);
    assert_string_equal(a.arg, "angry");
    assert_int_equal(a.rule, 2);
    assert_int_equal(kefu_rules_result_action(x.r, 4, &a), KEFU_OK);
    assert_string_equal(a.arg, "seen");
    assert_int_equal(kefu_rules_result_action(x.r, 5, &a), KEFU_OK);
    assert_int_equal(a.type, KEFU_ACTION_SUGGEST);
    assert_string_equal(a.arg, "soothing_script");
    assert_string_equal(a.queue, "");
    assert_int_equal(kefu_rules_result_action(x.r, 6, &a), KEFU_E_ARG);
    /* stop: the rules after it are skipped */
    SETB(x.f, "vip", 1);
    assert_int_equal(fired(&x), 2);
    assert_int_equal(kefu_rules_result_fired(x.r, 1), 1);
    {
        kefu_rule_outcome o = {.size = sizeof o};
        uint32_t types[] = {KEFU_ACTION_ESCALATE, KEFU_ACTION_PRIORITY,
                            KEFU_ACTION_FLAG,     KEFU_ACTION_LOCK,
                            KEFU_ACTION_ESCALATE, KEFU_ACTION_PRIORITY,
                            KEFU_ACTION_STOP,     KEFU_ACTION_FLAG};
        assert_int_equal(kefu_rules_result_action_count(x.r), 8);
        for (uint32_t i = 0; i < 8; i++) {
            assert_int_equal(kefu_rules_result_action(x.r, i, &a), KEFU_OK);
            assert_int_equal(a.type, types[i]);
        }
        assert_int_equal(kefu_rules_result_action(x.r, 4, &a), KEFU_OK);
        assert_string_equal(a.queue, "vip_desk");
        assert_int_equal(kefu_rules_result_action(x.r, 5, &a), KEFU_OK);
        assert_int_equal(a.value, 9);
        assert_int_equal(a.raise, 0);
        assert_int_equal(kefu_rules_result_action(x.r, 7, &a), KEFU_OK);
        assert_string_equal(a.arg, "abuse");
        assert_int_equal(kefu_rules_result_rule(x.r, 2, &o), KEFU_OK);
        assert_int_equal(o.state, KEFU_RULE_SKIPPED);
    }
    fx_close(&x);
}

static void test_first_match(void **st)
{
    fx x = {0};
    (void)st;
    fx_open(&x, "kefu: 1\nrules:\n  mode: first\n  list:\n"
                "    - {name: a, when: 'emotion.anger > 50', then: {tag: a}}\n"
                "    - {name: b, when: 'emotion.anger > 10', then: {tag: b}}\n");
    assert_int_equal(kefu_ruleset_mode(kefu_model_rules(x.m)), KEFU_RULES_FIRST);
    SETN(x.f, "emotion.anger", 60);
    assert_int_equal(fired(&x), 1);
    assert_int_equal(kefu_rules_result_fired(x.r, 0), 0);
    SETN(x.f, "emotion.anger", 20);
    assert_int_equal(fired(&x), 1);
    assert_int_equal(kefu_rules_result_fired(x.r, 0), 1);
    fx_close(&x);
}

static void test_trace(void **st)
{
    fx x = {0};
    kefu_trace_entry t = {.size = sizeof t};
    kefu_rule_outcome o = {.size = sizeof o};
    char why[512];
    size_t need;
    (void)st;
    fx_open(&x, "kefu: 1\nrules:\n"
                "  - name: angry\n"
                "    when: emotion.anger > 80 and (intent == \"refund\" or wait > 90s)\n"
                "    then: {escalate: human}\n");
    SETN(x.f, "emotion.anger", 85);
    SETS(x.f, "intent", "cancel");
    SETD(x.f, "wait", 120000);
    assert_int_equal(kefu_rules_eval(x.r, kefu_model_rules(x.m), x.f, KEFU_RULES_TRACE), KEFU_OK);
    assert_int_equal(kefu_rules_result_fired_count(x.r), 1);
    assert_int_equal(kefu_rules_result_rule(x.r, 0, &o), KEFU_OK);
    assert_int_equal(o.state, KEFU_RULE_FIRED);
    assert_int_equal(o.trace_first, 0);
    assert_int_equal(o.trace_count, kefu_rules_result_trace_count(x.r));
    assert_int_equal(kefu_rules_result_trace(x.r, 0, &t), KEFU_OK);
    assert_int_equal(t.kind, KEFU_TRACE_FACT);
    assert_int_equal(t.type, KEFU_FACT_NUMBER);
    assert_int_equal((int)t.number, 85);
    assert_memory_equal(t.expr, "emotion.anger", 13);
    assert_int_equal(t.expr_len, 13);
    assert_int_equal(kefu_rules_result_trace(x.r, 1, &t), KEFU_OK);
    assert_int_equal(t.kind, KEFU_TRACE_EXPR);
    assert_int_equal(t.boolean, 1);
    assert_int_equal(t.expr_len, strlen("emotion.anger > 80"));
    need = kefu_rules_result_explain(x.r, 0, why, sizeof why);
    assert_int_equal(need, strlen(why));
    assert_string_equal(why,
        "angry: fired: emotion.anger = 85, emotion.anger > 80 = true, "
        "intent = \"cancel\", intent == \"refund\" = false, wait = 120s, "
        "wait > 90s = true, (intent == \"refund\" or wait > 90s) = true, "
        "emotion.anger > 80 and (intent == \"refund\" or wait > 90s) = true");
    /* short-circuit: the right side is not evaluated and not traced */
    SETN(x.f, "emotion.anger", 10);
    assert_int_equal(kefu_rules_eval(x.r, kefu_model_rules(x.m), x.f, KEFU_RULES_TRACE), KEFU_OK);
    kefu_rules_result_explain(x.r, 0, why, sizeof why);
    assert_string_equal(why,
        "angry: not fired: emotion.anger = 10, emotion.anger > 80 = false, "
        "emotion.anger > 80 and (intent == \"refund\" or wait > 90s) = false");
    /* truncation reports the full length */
    assert_int_equal(kefu_rules_result_explain(x.r, 0, why, 8), strlen(
        "angry: not fired: emotion.anger = 10, emotion.anger > 80 = false, "
        "emotion.anger > 80 and (intent == \"refund\" or wait > 90s) = false"));
    assert_string_equal(why, "angry: ");
    /* without the flag there is no trace */
    assert_int_equal(kefu_rules_eval(x.r, kefu_model_rules(x.m), x.f, 0), KEFU_OK);
    assert_int_equal(kefu_rules_result_trace_count(x.r), 0);
    fx_close(&x);
}

/* ---- facts ---- */

static void test_facts_api(void **st)
{
    fx x = {0};
    const char *bad[] = {"\xff"};
    (void)st;
    fx_open(&x, "kefu: 1\nfacts: {vip: bool}\nrules:\n"
                "  - {name: e, when: 'has(entities.order_id) and entities.order_id startsWith \"A\"', then: {tag: o}}\n");
    assert_int_equal(kefu_facts_set_number(x.f, "nope", 4, 1), KEFU_E_UNKNOWN);
    assert_non_null(strstr(kefu_diag_message(kefu_facts_diag(x.f)), "unknown fact 'nope'"));
    assert_int_equal(kefu_facts_set_number(x.f, "intent", 6, 1), KEFU_E_TYPE);
    assert_int_equal(kefu_facts_set_string(x.f, "text", 4, "\xc3", 1), KEFU_E_UTF8);
    assert_int_equal(kefu_facts_set_strings(x.f, "slots", 5, bad, NULL, 1), KEFU_E_UTF8);
    assert_int_equal(kefu_facts_set_number(x.f, "confidence", 10, 0.0 / 0.0), KEFU_E_ARG);
    /* entities no rule uses are accepted and ignored */
    assert_int_equal(kefu_facts_set_string(x.f, "entities.phone", 14, "1", 1), KEFU_OK);
    assert_int_equal(kefu_ruleset_fact_type(kefu_model_rules(x.m), "entities.order_id", 17), KEFU_FACT_STRING);
    assert_int_equal(kefu_ruleset_fact_type(kefu_model_rules(x.m), "vip", 3), KEFU_FACT_BOOL);
    assert_int_equal(kefu_ruleset_fact_type(kefu_model_rules(x.m), "wait", 4), KEFU_FACT_DURATION);
    assert_int_equal(kefu_ruleset_fact_type(kefu_model_rules(x.m), "x", 1), KEFU_E_UNKNOWN);
    assert_int_equal(fired(&x), 0);
    SETS(x.f, "entities.order_id", "A123");
    assert_int_equal(fired(&x), 1);
    assert_int_equal(kefu_facts_unset(x.f, "entities.order_id", 17), KEFU_OK);
    assert_int_equal(fired(&x), 0);
    SETS(x.f, "entities.order_id", "A9");
    kefu_facts_clear(x.f);
    assert_int_equal(fired(&x), 0);
    {   /* too many list items */
        const char *many[300];
        for (int i = 0; i < 300; i++)
            many[i] = "x";
        assert_int_equal(kefu_facts_set_strings(x.f, "slots", 5, many, NULL, 300), KEFU_E_LIMIT);
    }
    kefu_facts_free(NULL);
    kefu_rules_result_free(NULL);
    kefu_ruleset_free(NULL);
    kefu_rules_slot_free(NULL);
    fx_close(&x);
}

/* Strings of up to KEFU_FSLOT_INLINE bytes are kept in their slot, longer
 * ones in a buffer: values across that length, overwritten both ways, and
 * carried over by a rebind, read back alike by every form of test. */
static void test_string_storage(void **st)
{
    static const char *const values[] = {
        "0123456789abcdef",    /* 16: in the slot */
        "0123456789abcdefg",   /* 17: in a buffer */
        "x", "", "0123456789abcdef0123456789abcdef", "0123456789abcdef"};
    static const char *const rules =
        "kefu: 1\nfacts: {segment: string, vip: bool}\nrules:\n"
        "  - {name: a, when: 'segment == \"0123456789abcdef\"', then: {tag: a}}\n"
        "  - {name: b, when: 'segment == \"0123456789abcdefg\"', then: {tag: b}}\n"
        "  - {name: c, when: 'segment in [\"x\", \"\"]', then: {tag: c}}\n"
        "  - {name: d, when: 'segment startsWith \"0123456789abcdef0\" or vip', then: {tag: d}}\n"
        "  - {name: e, when: 'len(segment) == 16 and segment matches \"f$\"', then: {tag: e}}\n";
    static const char *const expect[] = {"a e", "b", "c", "c", "d", "a e"};
    kefu_model *other = NULL;
    fx x = {0};
    (void)st;
    fx_open(&x, rules);
    assert_int_equal(kefu_model_load_buffer(&other, rules, strlen(rules), "o", NULL, NULL, NULL), KEFU_OK);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
            char got[64] = "";
            SETS(x.f, "segment", values[i]);
            for (int traced = 0; traced < 2; traced++) {
                kefu_rules_result *r = x.r;
                const kefu_ruleset *rs = round ? kefu_model_rules(other) : kefu_model_rules(x.m);
                got[0] = '\0';
                assert_int_equal(kefu_rules_eval(r, rs, x.f, traced ? KEFU_RULES_TRACE : 0), KEFU_OK);
                for (uint32_t k = 0; k < kefu_rules_result_fired_count(r); k++)
                    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s",
                             k ? " " : "", kefu_ruleset_rule_name(rs, kefu_rules_result_fired(r, k)));
                if (strcmp(got, expect[i]))
                    fail_msg("'%s' (round %d, %s): fired '%s', wanted '%s'", values[i],
                             round, traced ? "traced" : "plain", got, expect[i]);
            }
        }
        /* the same facts, moved to another set of the same schema, keep
         * their last value */
        assert_int_equal(kefu_facts_rebind(x.f, kefu_model_rules(other)), KEFU_OK);
        assert_int_equal(kefu_rules_eval(x.r, kefu_model_rules(other), x.f, 0), KEFU_OK);
        assert_int_equal(kefu_rules_result_fired_count(x.r), 2);
    }
    fx_close(&x);
    kefu_model_free(other);
}

static void test_model_sections(void **st)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    (void)st;
    /* no rules: an empty set */
    assert_int_equal(kefu_model_load_buffer(&m, "kefu: 1\n", 8, "m", NULL, NULL, d), KEFU_OK);
    assert_non_null(kefu_model_rules(m));
    assert_int_equal(kefu_ruleset_rule_count(kefu_model_rules(m)), 0);
    kefu_model_free(m);
    kefu_diag_free(d);
}

/* ---- hot swap ---- */

static const char *SET_A = "rules:\n  - {name: a, when: 'emotion.anger > 50', then: {tag: a}}\n";
static const char *SET_B = "rules:\n  - {name: b, when: 'emotion.anger > 10', then: {tag: b}}\n"
                           "  - {name: b2, when: 'vip', then: {tag: b2}}\n"
                           "facts: {vip: bool}\n";

typedef struct swap_ctx {
    kefu_rules_slot *slot;
    kefu_model *m;
    kefu_ruleset *first;
    int iterations;
    int errors;
} swap_ctx;

static void *reader(void *arg)
{
    swap_ctx *c = arg;
    kefu_rules_result *r = NULL;
    kefu_facts *f = NULL;
    kefu_ruleset *first = kefu_ruleset_ref(c->first);
    kefu_rules_result_new(&r, NULL);
    kefu_facts_new(&f, first, NULL);
    kefu_facts_set_number(f, "emotion.anger", 13, 30);
    for (int i = 0; i < c->iterations; i++) {
        kefu_ruleset *rs = kefu_rules_slot_acquire(c->slot);
        const char *name;
        if (kefu_rules_eval(r, rs, f, KEFU_RULES_TRACE) != KEFU_OK)
            __atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
        name = kefu_ruleset_rule_name(rs, 0);
        /* set A never fires at 30; set B always fires rule b */
        if (name[0] == 'a' && kefu_rules_result_fired_count(r) != 0)
            __atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
        if (name[0] == 'b' && kefu_rules_result_fired_count(r) != 1)
            __atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
        kefu_ruleset_free(rs);
    }
    /* the first set is still usable by its holder */
    if (kefu_rules_eval(r, first, f, 0) != KEFU_OK ||
        strcmp(kefu_ruleset_rule_name(first, 0), "a"))
        __atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
    kefu_ruleset_free(first);
    kefu_facts_free(f);
    kefu_rules_result_free(r);
    return NULL;
}

static void *writer(void *arg)
{
    swap_ctx *c = arg;
    for (int i = 0; i < c->iterations / 10; i++) {
        kefu_ruleset *rs = NULL;
        const char *y = i % 2 ? SET_A : SET_B;
        if (kefu_ruleset_compile(&rs, c->m, y, strlen(y), "swap.yaml", NULL, NULL)) {
            __atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        kefu_rules_slot_swap(c->slot, rs);
        kefu_ruleset_free(rs);
    }
    return NULL;
}

static const char *BAD = "rules:\n  - {name: x, when: 'angr > 1', then: {tag: t}}\n";

static void test_hot_swap(void **st)
{
    kefu_model *m = NULL;
    kefu_ruleset *a = NULL, *bad = NULL, *held;
    kefu_diag *d = kefu_diag_new(NULL);
    swap_ctx c = {0};
    pthread_t th[4];
    (void)st;
    assert_int_equal(kefu_model_load_buffer(&m, "kefu: 1\n", 8, "m", NULL, NULL, d), KEFU_OK);
    assert_int_equal(kefu_ruleset_compile(&a, m, SET_A, strlen(SET_A), "a.yaml", NULL, d), KEFU_OK);
    assert_int_equal(kefu_rules_slot_new(&c.slot, a, NULL), KEFU_OK);
    /* a set that does not compile changes nothing */
    assert_int_equal(kefu_ruleset_compile(&bad, m, BAD, strlen(BAD), "bad.yaml", NULL, d), KEFU_E_UNKNOWN);
    assert_null(bad);
    assert_string_equal(kefu_diag_file(d), "bad.yaml");
    assert_int_equal(kefu_diag_line(d), 2);
    assert_int_equal(kefu_diag_column(d), 22);
    held = kefu_rules_slot_acquire(c.slot);
    assert_ptr_equal(held, a);
    kefu_ruleset_free(held);
    c.m = m;
    c.first = a;
    c.iterations = 20000;
    pthread_create(&th[0], NULL, writer, &c);
    pthread_create(&th[1], NULL, reader, &c);
    pthread_create(&th[2], NULL, reader, &c);
    pthread_create(&th[3], NULL, writer, &c);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(c.errors, 0);
    kefu_ruleset_free(a);
    kefu_rules_slot_free(c.slot);
    kefu_model_free(m);   /* compiled sets do not need the model */
    kefu_diag_free(d);
}

static void test_facts_across_sets(void **st)
{
    kefu_model *m = NULL;
    kefu_ruleset *a = NULL, *b = NULL;
    kefu_facts *f = NULL;
    kefu_rules_result *r = NULL;
    (void)st;
    assert_int_equal(kefu_model_load_buffer(&m, "kefu: 1\nfacts: {tier2: string}\n", 31, "m", NULL, NULL, NULL), KEFU_OK);
    assert_int_equal(kefu_ruleset_compile(&a, m, SET_A, strlen(SET_A), "a", NULL, NULL), KEFU_OK);
    assert_int_equal(kefu_ruleset_compile(&b, m, SET_B, strlen(SET_B), "b", NULL, NULL), KEFU_OK);
    assert_int_equal(kefu_facts_new(&f, a, NULL), KEFU_OK);
    assert_int_equal(kefu_rules_result_new(&r, NULL), KEFU_OK);
    /* vip is not in a's schema */
    assert_int_equal(kefu_facts_set_bool(f, "vip", 3, 1), KEFU_E_UNKNOWN);
    SETS(f, "tier2", "x");
    /* facts of set a evaluate against set b: vip reads as unset */
    assert_int_equal(kefu_rules_eval(r, b, f, 0), KEFU_OK);
    assert_int_equal(kefu_rules_result_fired_count(r), 0);
    assert_int_equal(kefu_facts_rebind(f, b), KEFU_OK);
    SETB(f, "vip", 1);
    assert_int_equal(kefu_rules_eval(r, b, f, 0), KEFU_OK);
    assert_int_equal(kefu_rules_result_fired_count(r), 1);
    kefu_ruleset_free(a);   /* f holds b now; a goes away */
    kefu_rules_result_free(r);
    kefu_facts_free(f);
    kefu_ruleset_free(b);
    kefu_model_free(m);
}

/* ---- the flat form against the traced programs ---- */

static uint64_t frng = 0x2545F4914F6CDD1Dull;

static uint32_t frnd(uint32_t n)
{
    frng ^= frng << 13;
    frng ^= frng >> 7;
    frng ^= frng << 17;
    return (uint32_t)(frng % n);
}

static const char *const CMP[] = {"==", "!=", "<", "<=", ">", ">="};

/* Intents i0, i1 ... and some longer than 16 bytes whose first and last 8
 * bytes are alike. */
static const char *rand_intent(uint32_t n)
{
    static char buf[8][40];
    static int at;
    uint32_t k = frnd(n);
    char *b = buf[at++ & 7];
    if (frnd(4))
        snprintf(b, sizeof buf[0], "i%u", k);
    else
        snprintf(b, sizeof buf[0], "long_int-%u-ent_name", k);
    return b;
}

/* Few values, two of them long and alike but for their middle. */
static const char *const SEGMENTS[] = {"", "s1", "abcdefgh-one-12345678",
                                       "abcdefgh-two-12345678"};

/* A condition of cheap tests (the flat form) with, when `mixed`, parts
 * that run as programs: patterns, arithmetic that can fail, loops. */
static void rand_cond(char *b, size_t cap, int depth, bool mixed)
{
    size_t n = strlen(b);
    int k;
    if (depth > 0 && frnd(3)) {
        const char *op = frnd(2) ? "and" : "or";
        if (!frnd(5)) {
            snprintf(b + n, cap - n, "not (");
            rand_cond(b, cap, depth - 1, mixed);
            n = strlen(b);
            snprintf(b + n, cap - n, ")");
            return;
        }
        snprintf(b + n, cap - n, "(");
        rand_cond(b, cap, depth - 1, mixed);
        n = strlen(b);
        snprintf(b + n, cap - n, " %s ", op);
        rand_cond(b, cap, depth - 1, mixed);
        n = strlen(b);
        snprintf(b + n, cap - n, ")");
        return;
    }
    k = (int)frnd(mixed ? 24 : 17);
    switch (k) {
    case 0: snprintf(b + n, cap - n, "emotion.anger %s %u", CMP[frnd(6)], frnd(11) * 10); break;
    case 1: snprintf(b + n, cap - n, "0.%u %s confidence", frnd(10), CMP[frnd(6)]); break;
    case 2: snprintf(b + n, cap - n, "wait %s %us", CMP[frnd(6)], frnd(6) * 30); break;
    case 3: snprintf(b + n, cap - n, "%s", frnd(2) ? "vip" : "not vip"); break;
    case 4: snprintf(b + n, cap - n, "vip %s %s", frnd(2) ? "==" : "!=", frnd(2) ? "true" : "false"); break;
    case 5: snprintf(b + n, cap - n, "has(%s)", frnd(2) ? "vip" : "transfer_amount"); break;
    case 6: snprintf(b + n, cap - n, "intent %s \"%s\"", frnd(2) ? "==" : "!=", rand_intent(150)); break;
    case 7: snprintf(b + n, cap - n, "\"%s\" == intent", rand_intent(150)); break;
    case 8: {   /* 150 intents: more constants than one word holds */
        int m = 1 + (int)frnd(6);
        snprintf(b + n, cap - n, "intent %sin [", frnd(3) ? "" : "not ");
        for (int i = 0; i < m; i++) {
            n = strlen(b);
            snprintf(b + n, cap - n, "%s\"%s\"", i ? ", " : "", rand_intent(150));
        }
        n = strlen(b);
        snprintf(b + n, cap - n, "]");
        break;
    }
    case 9: snprintf(b + n, cap - n, "segment %s \"%s\"", frnd(2) ? "==" : "!=", SEGMENTS[frnd(4)]); break;
    case 10: snprintf(b + n, cap - n, "\"r%u\" in customer.risk", frnd(8)); break;
    case 11: snprintf(b + n, cap - n, "tags contains \"t%u\"", frnd(10)); break;
    case 12: snprintf(b + n, cap - n, "any(customer.risk, x, x in [\"r%u\", \"r%u\"])", frnd(8), frnd(8)); break;
    case 13: snprintf(b + n, cap - n, "any(tags, t, t == \"t%u\")", frnd(10)); break;
    case 14: snprintf(b + n, cap - n, "any(tags, t, \"t%u\" == t)", frnd(10)); break;
    case 15: snprintf(b + n, cap - n, "%s", frnd(2) ? "true" : "false"); break;
    case 16: snprintf(b + n, cap - n, "customer.value %s %u", CMP[frnd(6)], frnd(5) * 1000); break;
    case 17: snprintf(b + n, cap - n, "text contains \"%s\"", frnd(2) ? "ab" : "投诉"); break;
    case 18: snprintf(b + n, cap - n, "customer.value / transfer_amount > 1"); break;
    case 19: snprintf(b + n, cap - n, "count(tags) > %u", frnd(3)); break;
    case 20: snprintf(b + n, cap - n, "any(tags, t, t == \"t%u\" or (vip and emotion.anger > 50))", frnd(10)); break;
    case 21: snprintf(b + n, cap - n, "(emotion.anger > 50) == (intent in [\"i1\", \"i2\"] or vip)"); break;
    case 22: snprintf(b + n, cap - n, "text matches \"a.|投\""); break;
    default: snprintf(b + n, cap - n, "all(customer.risk, x, x != \"r%u\")", frnd(8)); break;
    }
}

static void rand_facts(kefu_facts *f)
{
    const char *items[4], *v;   /* SETS reads its value twice */
    char names[4][8];
    uint32_t n;
    kefu_facts_clear(f);
    if (frnd(4))
        SETN(f, "emotion.anger", frnd(21) * 5);
    if (frnd(4))
        SETN(f, "confidence", frnd(11) / 10.0);
    if (frnd(4))
        SETD(f, "wait", (int64_t)frnd(7) * 30000);
    if (frnd(3))
        SETB(f, "vip", (int)frnd(2));
    if (frnd(2))
        SETN(f, "transfer_amount", frnd(3) * 1000);
    if (frnd(5)) {
        v = frnd(10) ? rand_intent(160) : "";
        SETS(f, "intent", v);
    }
    if (frnd(2)) {
        v = frnd(5) ? SEGMENTS[frnd(4)] : "abcdefgh-six-12345678";
        SETS(f, "segment", v);
    }
    if (frnd(3))
        SETN(f, "customer.value", frnd(5) * 1000);
    v = frnd(2) ? "xaby" : "我要投诉";
    SETS(f, "text", v);
    n = frnd(4);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "r%u", frnd(10));
        items[i] = names[i];
    }
    assert_int_equal(kefu_facts_set_strings(f, "customer.risk", 13, items, NULL, n), KEFU_OK);
    n = frnd(4);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "t%u", frnd(12));
        items[i] = names[i];
    }
    assert_int_equal(kefu_facts_set_strings(f, "tags", 4, items, NULL, n), KEFU_OK);
}

/* Every rule's outcome, the fired list and the actions agree between the
 * plain evaluation (flat form and programs) and the traced one (programs
 * alone). */
static void expect_same_outcomes(kefu_rules_result *r, const kefu_ruleset *rs,
                                 const kefu_facts *f, const char *yaml)
{
    uint32_t n = kefu_ruleset_rule_count(rs), nf, na;
    uint8_t state[400];
    int32_t status[400];
    uint32_t fired[400];
    kefu_rule_outcome o = {.size = sizeof o};
    assert_true(n <= 400);
    assert_int_equal(kefu_rules_eval(r, rs, f, KEFU_RULES_TRACE), KEFU_OK);
    nf = kefu_rules_result_fired_count(r);
    na = kefu_rules_result_action_count(r);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(kefu_rules_result_rule(r, i, &o), KEFU_OK);
        state[i] = (uint8_t)o.state;
        status[i] = o.status;
    }
    for (uint32_t i = 0; i < nf; i++)
        fired[i] = kefu_rules_result_fired(r, i);
    assert_int_equal(kefu_rules_eval(r, rs, f, 0), KEFU_OK);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(kefu_rules_result_rule(r, i, &o), KEFU_OK);
        if (o.state != state[i] || o.status != status[i])
            fail_msg("rule %u (%s): plain %u/%d, traced %u/%d\n%s", i,
                     kefu_ruleset_rule_when(rs, i), o.state, o.status, state[i],
                     status[i], yaml);
    }
    assert_int_equal(kefu_rules_result_fired_count(r), nf);
    assert_int_equal(kefu_rules_result_action_count(r), na);
    for (uint32_t i = 0; i < nf; i++)
        assert_int_equal(kefu_rules_result_fired(r, i), fired[i]);
}

static void flat_round(const char *mode, bool stops, bool mixed)
{
    static char yaml[200000];
    char cond[4096];
    size_t n;
    kefu_model *m = NULL, *other = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    kefu_facts *f = NULL, *g = NULL;
    kefu_rules_result *r = NULL;
    const kefu_ruleset *rs;
    n = (size_t)snprintf(yaml, sizeof yaml, "%srules:\n  mode: %s\n  list:\n", HDR, mode);
    for (int i = 0; i < 300; i++) {
        cond[0] = '\0';
        if (mixed && !frnd(4)) {   /* a cheap part and a pattern */
            static const char *const pat[] = {"text matches \"a.|投\"",
                                              "not (text matches \"y$\")"};
            const char *op = frnd(2) ? " and " : " or ";
            const char *pm = pat[frnd(2)];
            bool first = frnd(2);
            if (frnd(4)) {
                if (first)
                    snprintf(cond, sizeof cond, "%s%s", pm, op);
                strcat(cond, "(");
                rand_cond(cond, sizeof cond, 1 + (int)frnd(3), false);
                strcat(cond, ")");
                if (!first)
                    snprintf(cond + strlen(cond), sizeof cond - strlen(cond), "%s%s", op, pm);
            } else {
                snprintf(cond, sizeof cond, "%s", pm);
            }
            if (!frnd(3) && strlen(cond) + 7 < sizeof cond) {   /* not (...) */
                memmove(cond + 5, cond, strlen(cond) + 1);
                memcpy(cond, "not (", 5);
                strcat(cond, ")");
            }
        } else {
            rand_cond(cond, sizeof cond, 1 + (int)frnd(4), mixed);
        }
        n += (size_t)snprintf(yaml + n, sizeof yaml - n,
                              "    - name: r%d\n      when: '%s'\n"
                              "      then: {tag: t%d%s}\n",
                              i, cond, i, stops && !frnd(40) ? ", stop: true" : "");
    }
    if (kefu_model_load_buffer(&m, yaml, n, "flat.yaml", NULL, NULL, d)) {
        char msg[1024];
        kefu_diag_format(d, msg, sizeof msg);
        fail_msg("%s", msg);
    }
    rs = kefu_model_rules(m);
    /* facts made for another set, whose host facts are in another order:
     * read by name */
    assert_int_equal(kefu_model_load_buffer(&other,
                     "kefu: 1\nfacts: {tags: list<string>, hold: duration, "
                     "segment: string, vip: bool, transfer_amount: number}\n",
                     strlen("kefu: 1\nfacts: {tags: list<string>, hold: duration, "
                            "segment: string, vip: bool, transfer_amount: number}\n"),
                     "o.yaml", NULL, NULL, d), KEFU_OK);
    assert_int_equal(kefu_facts_new(&f, kefu_model_rules(m), NULL), KEFU_OK);
    assert_int_equal(kefu_facts_new(&g, kefu_model_rules(other), NULL), KEFU_OK);
    assert_int_equal(kefu_rules_result_new(&r, NULL), KEFU_OK);
    for (int k = 0; k < 200; k++) {
        uint64_t seed = frng;
        rand_facts(f);
        expect_same_outcomes(r, rs, f, yaml);
        frng = seed;   /* the same facts, through the other set's schema */
        rand_facts(g);
        expect_same_outcomes(r, rs, g, yaml);
    }
    kefu_rules_result_free(r);
    kefu_facts_free(f);
    kefu_facts_free(g);
    kefu_model_free(other);
    kefu_model_free(m);
    kefu_diag_free(d);
}

static void test_flat_form(void **st)
{
    (void)st;
    for (int round = 0; round < 4; round++) {
        flat_round("all", false, false);
        flat_round("all", true, true);
        flat_round("first", false, true);
    }
}

static void test_oom(void **st)
{
    bool loaded = false;
    (void)st;
    for (long budget = 0; budget < 5000 && !loaded; budget++) {
        tu_failing_alloc fa = {budget, 0};
        kefu_allocator al = tu_failing_allocator(&fa);
        kefu_model *m = NULL;
        int rc = kefu_model_load_buffer(&m, PACK, strlen(PACK), "m", NULL, &al, NULL);
        if (rc == KEFU_OK) {
            kefu_model_free(m);
            loaded = true;
            continue;
        }
        assert_int_equal(rc, KEFU_E_NOMEM);
        assert_null(m);
    }
    assert_true(loaded);   /* every failure point before that was clean */
    /* facts and results under failing allocators */
    for (long budget = 0; budget < 50; budget++) {
        tu_failing_alloc fa = {budget, 0};
        kefu_allocator al = tu_failing_allocator(&fa);
        kefu_model *m = NULL;
        kefu_facts *f = NULL;
        kefu_rules_result *r = NULL;
        int rc;
        assert_int_equal(kefu_model_load_buffer(&m, PACK, strlen(PACK), "m", NULL, NULL, NULL), KEFU_OK);
        rc = kefu_facts_new(&f, kefu_model_rules(m), &al);
        if (rc == KEFU_OK) {
            rc = kefu_facts_set_string(f, "text", 4, "hello", 5);
            if (rc == KEFU_OK)
                rc = kefu_rules_result_new(&r, &al);
            if (rc == KEFU_OK)
                rc = kefu_rules_eval(r, kefu_model_rules(m), f, KEFU_RULES_TRACE);
        }
        assert_true(rc == KEFU_OK || rc == KEFU_E_NOMEM);
        kefu_rules_result_free(r);
        kefu_facts_free(f);
        kefu_model_free(m);
    }
}

/* ---- the default rule pack ---- */

typedef struct pack {
    kefu_model *m;
    kefu_ruleset *rs;
    kefu_facts *f;
    kefu_rules_result *r;
} pack;

static void pack_open(pack *p)
{
    kefu_diag *d = kefu_diag_new(NULL);
    char buf[1024];
    memset(p, 0, sizeof *p);
    assert_int_equal(kefu_model_load_buffer(&p->m, "kefu: 1\n", 8, "m", NULL, NULL, NULL), KEFU_OK);
    if (kefu_ruleset_load(&p->rs, p->m, KEFU_SOURCE_DIR "/examples/default-rules.yaml", NULL, d)) {
        kefu_diag_format(d, buf, sizeof buf);
        fail_msg("default pack: %s", buf);
    }
    kefu_diag_free(d);
    assert_int_equal(kefu_facts_new(&p->f, p->rs, NULL), KEFU_OK);
    assert_int_equal(kefu_rules_result_new(&p->r, NULL), KEFU_OK);
}

static void pack_close(pack *p)
{
    kefu_rules_result_free(p->r);
    kefu_facts_free(p->f);
    kefu_ruleset_free(p->rs);
    kefu_model_free(p->m);
}

/* Evaluates and compares the fired rule names (in order) with `want`,
 * a space-separated list. */
static void pack_expect(pack *p, const char *want, const char *what)
{
    char got[1024] = "";
    size_t n = 0;
    assert_int_equal(kefu_rules_eval(p->r, p->rs, p->f, KEFU_RULES_TRACE), KEFU_OK);
    for (uint32_t i = 0; i < kefu_rules_result_fired_count(p->r); i++)
        n += (size_t)snprintf(got + n, sizeof got - n, "%s%s", i ? " " : "",
                              kefu_ruleset_rule_name(p->rs, kefu_rules_result_fired(p->r, i)));
    if (strcmp(got, want))
        fail_msg("%s: fired [%s], wanted [%s]", what, got, want);
    kefu_facts_clear(p->f);
}

static void test_default_pack(void **st)
{
    pack p;
    const char *risk[] = {"vip_watch", "disputed_charge"};
    const char *calm[] = {"vip_watch"};
    (void)st;
    pack_open(&p);
    assert_int_equal(kefu_ruleset_rule_count(p.rs), 10);
    pack_expect(&p, "", "a calm, ordinary message");
    SETS(p.f, "text", "where is my order 12345");
    SETS(p.f, "intent", "order_status");
    SETN(p.f, "emotion.anger", 30);
    pack_expect(&p, "", "order status");

    /* anger above 80 */
    SETN(p.f, "emotion.anger", 81);
    pack_expect(&p, "angry_customer", "anger 81");
    SETN(p.f, "emotion.anger", 80);
    pack_expect(&p, "", "anger exactly 80");

    /* complaint and compensation words */
    SETS(p.f, "text", "我要投诉你们的快递员");
    pack_expect(&p, "complaint_or_compensation", "投诉");
    SETS(p.f, "text", "必须赔偿我的损失");
    pack_expect(&p, "complaint_or_compensation", "赔偿");
    SETS(p.f, "text", "我要去举报 还要曝光你们");
    pack_expect(&p, "complaint_or_compensation", "举报");
    SETS(p.f, "text", "i will report you to the regulator");
    pack_expect(&p, "complaint_or_compensation", "report you");
    SETS(p.f, "text", "i want compensation for this");
    pack_expect(&p, "complaint_or_compensation", "compensation");
    SETS(p.f, "text", "i want to file a complaint");
    pack_expect(&p, "complaint_or_compensation", "complaint");
    SETS(p.f, "intent", "complaint");
    pack_expect(&p, "complaint_or_compensation", "complaint intent");
    SETS(p.f, "text", "i have a complaisant attitude, report it later, 投 诉");
    pack_expect(&p, "", "near misses of complaint words");

    /* a human three times in a row */
    SETN(p.f, "session.human_requests", 3);
    pack_expect(&p, "repeated_human_request", "three requests for a human");
    SETN(p.f, "session.human_requests", 2);
    pack_expect(&p, "", "two requests for a human");

    /* waiting more than 90 s */
    SETD(p.f, "wait", 91000);
    pack_expect(&p, "waited_too_long", "91 s");
    SETD(p.f, "wait", 90000);
    pack_expect(&p, "", "90 s");

    /* a high-risk transaction */
    SETS(p.f, "intent", "transfer_money");
    SETN(p.f, "transfer_amount", 80000);
    pack_expect(&p, "high_risk_transaction", "large transfer");
    SETS(p.f, "intent", "transfer_money");
    SETN(p.f, "transfer_amount", 2000);
    pack_expect(&p, "", "small transfer");
    SETS(p.f, "intent", "order_status");
    SETN(p.f, "transfer_amount", 80000);
    pack_expect(&p, "", "large amount, other intent");
    assert_int_equal(kefu_facts_set_strings(p.f, "customer.risk", 13, risk, NULL, 2), KEFU_OK);
    pack_expect(&p, "high_risk_transaction", "disputed charge");
    assert_int_equal(kefu_facts_set_strings(p.f, "customer.risk", 13, calm, NULL, 1), KEFU_OK);
    pack_expect(&p, "", "other risk flags");
    SETS(p.f, "text", "my card was used without permission, 被盗刷了");
    pack_expect(&p, "high_risk_transaction", "fraud words");
    SETS(p.f, "intent", "fraud_report");
    pack_expect(&p, "high_risk_transaction", "fraud intent");
    /* what scammers tell their victims, repeated to the bank */
    SETS(p.f, "text", "对方说要把钱转到安全账户");
    pack_expect(&p, "high_risk_transaction", "安全账户");
    SETS(p.f, "text", "公检法的人打电话说我涉嫌洗钱");
    pack_expect(&p, "high_risk_transaction", "公检法, 涉嫌洗钱");
    SETS(p.f, "text", "the caller said my account would be frozen if i don't move the money now");
    pack_expect(&p, "high_risk_transaction", "caller said, frozen if");
    SETS(p.f, "text", "someone called me and said to buy gift cards");
    pack_expect(&p, "high_risk_transaction", "someone called and said");
    SETS(p.f, "text", "move my savings to a safe account today");
    pack_expect(&p, "high_risk_transaction", "safe account");
    SETS(p.f, "text", "my account is frozen, 账户被冻结了, the caller was rude, "
                      "a safe-ish accountant, recall said");
    pack_expect(&p, "", "near misses of scam phrases");
    {   /* the actions: lock and a risk specialist */
        kefu_rule_action a = {.size = sizeof a};
        SETS(p.f, "intent", "fraud_report");
        assert_int_equal(kefu_rules_eval(p.r, p.rs, p.f, 0), KEFU_OK);
        assert_int_equal(kefu_rules_result_action(p.r, 0, &a), KEFU_OK);
        assert_int_equal(a.type, KEFU_ACTION_LOCK);
        assert_int_equal(kefu_rules_result_action(p.r, 1, &a), KEFU_OK);
        assert_int_equal(a.type, KEFU_ACTION_ESCALATE);
        assert_string_equal(a.queue, "risk");
        assert_string_equal(a.skill, "risk_review");
        kefu_facts_clear(p.f);
    }

    /* negative emotion rising: three levels */
    SETN(p.f, "emotion.trend", 5);
    SETN(p.f, "negativity", 55);
    pack_expect(&p, "negative_rising_senior", "level 1");
    SETN(p.f, "emotion.trend", 5);
    SETN(p.f, "negativity", 70);
    pack_expect(&p, "negative_rising_senior negative_rising_soothe", "level 2");
    SETN(p.f, "emotion.trend", 5);
    SETN(p.f, "negativity", 85);
    pack_expect(&p, "negative_rising_senior negative_rising_soothe negative_rising_review", "level 3");
    SETN(p.f, "emotion.trend", -5);
    SETN(p.f, "negativity", 85);
    pack_expect(&p, "", "negative but falling");
    SETN(p.f, "emotion.trend", 5);
    SETN(p.f, "negativity", 30);
    pack_expect(&p, "", "rising but mild");

    /* high-value customers */
    SETS(p.f, "customer.tier", "platinum");
    pack_expect(&p, "high_value_customer", "platinum");
    SETN(p.f, "customer.value", 25000);
    pack_expect(&p, "high_value_customer", "value 25000");
    SETS(p.f, "customer.tier", "standard");
    SETN(p.f, "customer.value", 300);
    pack_expect(&p, "", "standard customer");

    /* repeated contact, bot failing */
    SETB(p.f, "session.repeat_issue", 1);
    pack_expect(&p, "repeat_contact_or_bot_failing", "same issue again");
    SETN(p.f, "session.failed_answers", 2);
    pack_expect(&p, "repeat_contact_or_bot_failing", "two bot failures");
    SETN(p.f, "session.failed_answers", 1);
    SETN(p.f, "session.contacts_7d", 1);
    pack_expect(&p, "", "one failure, one contact");

    /* several at once, in priority order */
    SETN(p.f, "emotion.anger", 95);
    SETS(p.f, "text", "我要投诉");
    SETD(p.f, "wait", 120000);
    SETN(p.f, "session.human_requests", 4);
    pack_expect(&p, "repeated_human_request angry_customer complaint_or_compensation waited_too_long",
                "angry complaint after a long wait");
    pack_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_short_circuit),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_runaway_regex),
        cmocka_unit_test(test_part_and_pattern),
        cmocka_unit_test(test_actions_and_order),
        cmocka_unit_test(test_first_match),
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_facts_api),
        cmocka_unit_test(test_string_storage),
        cmocka_unit_test(test_model_sections),
        cmocka_unit_test(test_hot_swap),
        cmocka_unit_test(test_facts_across_sets),
        cmocka_unit_test(test_flat_form),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_default_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
