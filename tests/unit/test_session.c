/* test_session.c - the one-call pipeline: counters, slots, rules, routing
 * request, blobs, hot swap. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

static const char *MODEL =
    "kefu: 1\n"
    "entities:\n"
    "  order_id: {regex: '(?i)\\b[a-z]{2}[0-9]{6}\\b'}\n"
    "facts: {vip: bool}\n"
    "intents:\n"
    "  order_status:\n"
    "    slots: [order_id]\n"
    "    skills: [orders]\n"
    "    examples: [where is my order, 我的订单到哪了, track my order, 订单什么时候到,\n"
    "               my parcel has not arrived, 快递到哪了]\n"
    "  human_agent:\n"
    "    skills: [general]\n"
    "    examples: [转人工, talk to a human, 我要人工, real person please, agent please, 人工客服]\n"
    "    patterns: [{regex: '人工|human|agent', mode: force}]\n"
    "  complaint:\n"
    "    examples: [我要投诉, i want to complain, 投诉你们, this is a complaint, 太差了我要投诉, file a complaint]\n"
    "  oos:\n"
    "    examples: [今天天气怎么样, tell me a joke, 讲个笑话, what is the capital of france, 推荐电影, play music]\n"
    "rules:\n"
    "  mode: all\n"
    "  list:\n"
    "    - {name: angry, priority: 90, when: 'emotion.anger > 80', then: {escalate: {queue: human}, priority: {raise: 2}}}\n"
    "    - {name: thrice, priority: 80, when: 'session.human_requests >= 3', then: {escalate: {queue: priority}, priority: {set: 80}}}\n"
    "    - {name: waited, priority: 70, when: 'wait > 90s', then: {escalate: {queue: human}, tag: long_wait}}\n"
    "    - {name: risky, priority: 60, when: '\"fraud\" in customer.risk', then: {lock: true, escalate: {queue: risk, skill: risk_review, tier: expert}}}\n"
    "    - {name: vip, priority: 50, when: 'customer.tier == \"vip\" or vip', then: {escalate: {tier: senior}}}\n"
    "    - {name: failing, priority: 40, when: 'session.failed_answers >= 2', then: {escalate: {queue: human}}}\n"
    "    - {name: has_order, priority: 30, when: 'has(entities.order_id)', then: {tag: order_given}}\n";

static kefu_model *model(void)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    if (kefu_model_load_buffer(&m, MODEL, strlen(MODEL), "s.yaml", NULL, NULL, d))
        fail_msg("load: %s (line %u col %u)", kefu_diag_message(d),
                 kefu_diag_line(d), kefu_diag_column(d));
    kefu_diag_free(d);
    return m;
}

static kefu_triage turn_at(kefu_session *s, const char *text, int64_t t,
                           kefu_turn *tp)
{
    kefu_turn turn;
    kefu_triage r;
    int rc;
    if (!tp) {
        kefu_turn_init(&turn);
        tp = &turn;
    }
    tp->time_ms = t;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    rc = kefu_session_turn(s, text, strlen(text), tp, &r);
    if (rc)
        fail_msg("turn '%s': %s", text, kefu_diag_message(kefu_session_diag(s)));
    return r;
}

static int fired(kefu_session *s, const char *name)
{
    const kefu_rules_result *res = kefu_session_rules(s);
    const kefu_ruleset *rs = kefu_session_ruleset(s);
    for (uint32_t i = 0; i < kefu_rules_result_fired_count(res); i++)
        if (!strcmp(kefu_ruleset_rule_name(rs, kefu_rules_result_fired(res, i)), name))
            return 1;
    return 0;
}

static void test_pipeline(void **st)
{
    kefu_model *m = model();
    kefu_session *s = NULL;
    kefu_triage r;
    const char *name, *value;
    (void)st;
    assert_int_equal(kefu_session_new(&s, m, NULL), KEFU_OK);
    r = turn_at(s, "where is my order?", 1000, NULL);
    assert_string_equal(r.intent, "order_status");
    assert_int_equal(r.turn, 1);
    assert_int_equal(r.missing_slots, 1);
    assert_int_equal(r.route_skills, 1);
    assert_string_equal(kefu_session_route_skill(s, 0), "orders");
    assert_false(r.escalated);
    assert_false(fired(s, "has_order"));
    /* the slot given in a later message is gathered */
    r = turn_at(s, "it is AB123456", 2000, NULL);
    assert_true(fired(s, "has_order"));
    assert_int_equal(kefu_session_slot(s, 0, &name, &value), KEFU_OK);
    assert_string_equal(name, "order_id");
    assert_string_equal(value, "ab123456");
    r = turn_at(s, "where is my order now", 3000, NULL);
    assert_int_equal(r.missing_slots, 0);
    kefu_session_free(s);
    kefu_model_free(m);
}

static void test_counters_and_rules(void **st)
{
    kefu_model *m = model();
    kefu_session *s = NULL;
    kefu_triage r;
    kefu_turn t;
    const char *risk[] = {"fraud"};
    (void)st;
    assert_int_equal(kefu_session_new(&s, m, NULL), KEFU_OK);
    /* three requests for a human in a row */
    turn_at(s, "转人工", 0, NULL);
    r = turn_at(s, "人工客服", 1000, NULL);
    assert_false(fired(s, "thrice"));
    r = turn_at(s, "我要人工!!!", 2000, NULL);
    assert_true(fired(s, "thrice"));
    assert_true(r.escalated);
    assert_string_equal(r.route_queue, "priority");
    assert_int_equal(r.route_priority, 80);
    /* the streak is broken by another request */
    r = turn_at(s, "where is my order", 3000, NULL);
    assert_false(fired(s, "thrice"));
    assert_true(r.escalated); /* state stays escalated */
    /* waiting, risk, tier */
    kefu_turn_init(&t);
    t.wait_ms = 91000;
    turn_at(s, "hello?", 4000, &t);
    assert_true(fired(s, "waited"));
    kefu_turn_init(&t);
    t.wait_ms = 89000;
    turn_at(s, "hello?", 5000, &t);
    assert_false(fired(s, "waited"));
    kefu_turn_init(&t);
    t.customer_risk = risk;
    t.customer_risk_count = 1;
    t.customer_tier = "vip";
    r = turn_at(s, "where is my order", 6000, &t);
    assert_true(fired(s, "risky"));
    assert_true(fired(s, "vip"));
    assert_true(r.locked);
    assert_string_equal(r.route_tier, "expert");
    assert_string_equal(r.route_queue, "risk");
    /* host-declared fact, kept until changed, dropped by a restore */
    assert_int_equal(kefu_facts_set_bool(kefu_session_facts(s), "vip", 3, 1), KEFU_OK);
    turn_at(s, "where is my order", 7000, NULL);
    assert_true(fired(s, "vip"));
    turn_at(s, "where is my order", 7500, NULL);
    assert_true(fired(s, "vip"));
    {
        uint8_t blob[4096];
        size_t len;
        assert_int_equal(kefu_session_dump(s, blob, sizeof blob, &len), KEFU_OK);
        assert_int_equal(kefu_session_restore(s, blob, len), KEFU_OK);
        turn_at(s, "where is my order", 8000, NULL);
        assert_false(fired(s, "vip"));
    }
    kefu_session_free(s);
    kefu_model_free(m);
}

static void test_failed_answers_and_anger(void **st)
{
    kefu_model *m = model();
    kefu_session *s = NULL;
    kefu_triage r;
    (void)st;
    assert_int_equal(kefu_session_new(&s, m, NULL), KEFU_OK);
    r = turn_at(s, "tell me a joke", 0, NULL);
    assert_true(r.out_of_scope);
    assert_false(fired(s, "failing"));
    turn_at(s, "讲个笑话", 1000, NULL);
    assert_true(fired(s, "failing"));
    r = turn_at(s, "你们这什么破服务！！！气死我了，垃圾！！！", 2000, NULL);
    assert_true(r.emotion[KEFU_EMOTION_ANGER] > 80);
    assert_true(fired(s, "angry"));
    kefu_session_free(s);
    kefu_model_free(m);
}

static void test_bad_input_changes_nothing(void **st)
{
    kefu_model *m = model();
    kefu_session *s = NULL, *s2_unused = NULL;
    kefu_triage r;
    kefu_turn t;
    uint8_t a[4096], b[4096];
    size_t la, lb;
    (void)st;
    assert_int_equal(kefu_session_new(&s, m, NULL), KEFU_OK);
    turn_at(s, "where is my order", 1000, NULL);
    assert_int_equal(kefu_session_dump(s, a, sizeof a, &la), KEFU_OK);
    kefu_turn_init(&t);
    t.time_ms = 2000;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    assert_int_equal(kefu_session_turn(s, "bad \xff", 5, &t, &r), KEFU_E_UTF8);
    assert_int_equal(kefu_session_turn(s, NULL, 3, &t, &r), KEFU_E_ARG);
    t.time_ms = 10; /* back in time */
    assert_int_equal(kefu_session_turn(s, "hi", 2, &t, &r), KEFU_E_ARG);
    t.time_ms = 3000;
    t.external_emotion = 101;
    assert_int_equal(kefu_session_turn(s, "hi", 2, &t, &r), KEFU_E_ARG);
    t.external_emotion = -2;
    assert_int_equal(kefu_session_turn(s, "hi", 2, &t, &r), KEFU_E_ARG);
    assert_non_null(strstr(kefu_diag_message(kefu_session_diag(s)), "external_emotion"));
    t.external_emotion = -1;
    t.wait_ms = -5;
    assert_int_equal(kefu_session_turn(s, "hi", 2, &t, &r), KEFU_E_ARG);
    assert_non_null(strstr(kefu_diag_message(kefu_session_diag(s)), "wait_ms"));
    t.wait_ms = -1;
    t.customer_value = NAN;
    assert_int_equal(kefu_session_turn(s, "hi", 2, &t, &r), KEFU_E_ARG);
    assert_non_null(strstr(kefu_diag_message(kefu_session_diag(s)), "NaN"));
    assert_int_equal(kefu_session_dump(s, b, sizeof b, &lb), KEFU_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_int_equal(kefu_session_new(NULL, m, NULL), KEFU_E_ARG);
    assert_int_equal(kefu_session_new(&s2_unused, NULL, NULL), KEFU_E_ARG);
    assert_int_equal(kefu_session_turn(NULL, "hi", 2, &t, &r), KEFU_E_ARG);
    assert_int_equal(kefu_session_restore(s, NULL, 5), KEFU_E_ARG);
    assert_int_equal(kefu_session_dump(s, a, sizeof a, NULL), KEFU_E_ARG);
    assert_null(kefu_session_route_skill(NULL, 0));
    kefu_session_free(s);
    kefu_session_free(NULL);
    kefu_model_free(m);
}

static void test_blob_round_trip(void **st)
{
    kefu_model *m = model();
    kefu_session *s = NULL, *s2 = NULL;
    uint8_t *blob, *blob2;
    size_t len = 0, len2 = 0;
    kefu_triage r1, r2;
    (void)st;
    assert_int_equal(kefu_session_new(&s, m, NULL), KEFU_OK);
    assert_int_equal(kefu_session_new(&s2, m, NULL), KEFU_OK);
    turn_at(s, "转人工", 0, NULL);
    turn_at(s, "人工", 1000, NULL);
    turn_at(s, "my order AB123456", 2000, NULL);
    turn_at(s, "转人工", 3000, NULL);
    turn_at(s, "人工", 4000, NULL);
    assert_int_equal(kefu_session_dump(s, NULL, 0, &len), KEFU_E_BUFFER);
    assert_true(len > 16 && len < 2048);
    blob = malloc(len);
    blob2 = malloc(len);
    assert_int_equal(kefu_session_dump(s, blob, len - 1, &len2), KEFU_E_BUFFER);
    assert_int_equal(kefu_session_dump(s, blob, len, &len2), KEFU_OK);
    assert_int_equal(len, len2);
    /* restore on another session (another process would do the same) */
    assert_int_equal(kefu_session_restore(s2, blob, len), KEFU_OK);
    assert_int_equal(kefu_session_dump(s2, blob2, len, &len2), KEFU_OK);
    assert_memory_equal(blob, blob2, len);
    r1 = turn_at(s, "我要人工", 5000, NULL);
    r2 = turn_at(s2, "我要人工", 5000, NULL);
    assert_int_equal(r1.turn, 6);
    assert_int_equal(r2.turn, 6);
    assert_true(fired(s2, "thrice"));
    assert_true(r1.level == r2.level && r1.trend == r2.trend);
    /* every single-byte corruption and every truncation is rejected, and
     * the session is unchanged */
    blob2 = realloc(blob2, 4096);
    assert_int_equal(kefu_session_dump(s2, blob2, 4096, &len2), KEFU_OK);
    for (size_t i = 0; i < len; i++) {
        uint8_t *c = malloc(len), *after = malloc(4096);
        size_t la;
        memcpy(c, blob, len);
        c[i] ^= 0x41;
        assert_int_not_equal(kefu_session_restore(s2, c, len), KEFU_OK);
        assert_int_not_equal(kefu_session_restore(s2, c, i), KEFU_OK);
        assert_int_equal(kefu_session_dump(s2, after, 4096, &la), KEFU_OK);
        assert_int_equal(la, len2);
        assert_memory_equal(after, blob2, len2);
        free(c);
        free(after);
    }
    assert_int_equal(kefu_session_restore(s2, (const uint8_t *)"hello world, not a blob", 23),
                     KEFU_E_CORRUPT);
    blob[7] = 9;
    assert_int_equal(kefu_session_restore(s2, blob, len), KEFU_E_VERSION);
    free(blob);
    free(blob2);
    kefu_session_free(s);
    kefu_session_free(s2);
    kefu_model_free(m);
}

/* An allocator that fails once its budget is spent (-1: never). */
static long budget = -1;

static void *lim_malloc(size_t n, void *u)
{
    (void)u;
    if (budget == 0)
        return NULL;
    if (budget > 0)
        budget--;
    return malloc(n);
}

static void *lim_realloc(void *p, size_t n, void *u)
{
    (void)u;
    if (budget == 0)
        return NULL;
    if (budget > 0)
        budget--;
    return realloc(p, n);
}

static void lim_free(void *p, void *u)
{
    (void)u;
    free(p);
}

static void test_failed_turn_changes_nothing(void **st)
{
    /* a turn that runs out of memory at any allocation leaves the session
     * as it was (emotion trajectory included: the dump is byte for byte
     * the same), and the next turn works.  A rule set swapped in between
     * the turns makes the rules stage, after the emotion update, allocate
     * too. */
    static const kefu_allocator lim = {lim_malloc, lim_realloc, lim_free, NULL};
    const char *rules2 = "kefu: 1\nrules:\n  - {name: always, when: 'true', then: {tag: swapped}}\n";
    kefu_model *m = model();
    kefu_ruleset *alt = NULL;
    unsigned failed = 0;
    (void)st;
    assert_int_equal(kefu_ruleset_compile(&alt, m, rules2, strlen(rules2), "r2.yaml",
                                          NULL, NULL),
                     KEFU_OK);
    for (long n = 0; n < 400; n++) {
        kefu_rules_slot *slot = NULL;
        kefu_session *s = NULL;
        uint8_t before[4096], after[4096];
        size_t lb, la;
        kefu_turn turn;
        kefu_triage r;
        int rc;
        budget = -1;
        assert_int_equal(kefu_rules_slot_new(&slot, kefu_model_rules(m), NULL), KEFU_OK);
        assert_int_equal(kefu_session_new(&s, m, &lim), KEFU_OK);
        assert_int_equal(kefu_session_use_rules(s, slot), KEFU_OK);
        turn_at(s, "太慢了，气死我了", 1000, NULL);
        assert_int_equal(kefu_rules_slot_swap(slot, alt), KEFU_OK);
        assert_int_equal(kefu_session_dump(s, before, sizeof before, &lb), KEFU_OK);
        kefu_turn_init(&turn);
        turn.time_ms = 2000;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        budget = n;
        rc = kefu_session_turn(s, "还是没到，我要投诉，转人工", 39, &turn, &r);
        budget = -1;
        if (rc == KEFU_OK) {
            assert_true(fired(s, "always"));
            kefu_session_free(s);
            kefu_rules_slot_free(slot);
            break;   /* enough budget: every earlier n failed */
        }
        assert_int_equal(rc, KEFU_E_NOMEM);
        failed++;
        assert_int_equal(kefu_session_dump(s, after, sizeof after, &la), KEFU_OK);
        assert_int_equal(la, lb);
        assert_memory_equal(after, before, lb);
        turn_at(s, "还是没到，我要投诉，转人工", 2000, NULL);
        kefu_session_free(s);
        kefu_rules_slot_free(slot);
    }
    print_message("%u budgets failed the turn\n", failed);
    assert_true(failed > 0);
    kefu_ruleset_free(alt);
    kefu_model_free(m);
}

typedef struct swapper {
    kefu_rules_slot *slot;
    kefu_ruleset *a, *b;
    atomic_int stop;
} swapper;

static void *swap_loop(void *arg)
{
    swapper *w = arg;
    for (int i = 0; !atomic_load(&w->stop) && i < 20000; i++)
        kefu_rules_slot_swap(w->slot, i % 2 ? w->a : w->b);
    return NULL;
}

static void test_hot_swap(void **st)
{
    kefu_model *m = model();
    kefu_session *s = NULL;
    kefu_ruleset *alt = NULL;
    kefu_rules_slot *slot = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    const char *rules2 = "kefu: 1\nrules:\n  - {name: always, when: 'true', then: {tag: swapped}}\n";
    const char *bad = "kefu: 1\nrules:\n  - {name: broken, when: 'nosuchfact > 1', then: {tag: x}}\n";
    swapper w;
    pthread_t th;
    (void)st;
    assert_int_equal(kefu_ruleset_compile(&alt, m, rules2, strlen(rules2), "r2.yaml", NULL, d), KEFU_OK);
    assert_int_equal(kefu_rules_slot_new(&slot, kefu_model_rules(m), NULL), KEFU_OK);
    assert_int_equal(kefu_session_new(&s, m, NULL), KEFU_OK);
    assert_int_equal(kefu_session_use_rules(s, slot), KEFU_OK);
    turn_at(s, "where is my order", 0, NULL);
    assert_false(fired(s, "always"));
    assert_int_equal(kefu_rules_slot_swap(slot, alt), KEFU_OK);
    turn_at(s, "where is my order", 1000, NULL);
    assert_true(fired(s, "always"));
    /* a set that fails to compile leaves the running one in place */
    {
        kefu_ruleset *broken = NULL;
        assert_int_not_equal(kefu_ruleset_compile(&broken, m, bad, strlen(bad), "bad.yaml", NULL, d), KEFU_OK);
        assert_null(broken);
        assert_int_equal(kefu_diag_line(d), 3);
        turn_at(s, "where is my order", 2000, NULL);
        assert_true(fired(s, "always"));
    }
    /* swaps from another thread while the session runs turns */
    w.slot = slot;
    w.a = alt;
    w.b = kefu_model_rules(m);
    atomic_init(&w.stop, 0);
    pthread_create(&th, NULL, swap_loop, &w);
    for (int i = 0; i < 300; i++) {
        kefu_triage r = turn_at(s, "where is my order", 3000 + i, NULL);
        /* each turn saw one whole set: either the tag rule alone or none of it */
        assert_true(fired(s, "always") ? r.rules_fired == 1 : !fired(s, "always"));
    }
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    kefu_session_free(s);
    kefu_rules_slot_free(slot);
    kefu_ruleset_free(alt);
    kefu_diag_free(d);
    kefu_model_free(m);
}

static void test_model_without_rules_or_intents(void **st)
{
    kefu_model *m = NULL;
    kefu_session *s = NULL;
    kefu_triage r;
    (void)st;
    assert_int_equal(kefu_model_load_buffer(&m, "kefu: 1\n", 8, "x", NULL, NULL, NULL), KEFU_OK);
    assert_int_equal(kefu_session_new(&s, m, NULL), KEFU_OK);
    r = turn_at(s, "气死我了！！！", 0, NULL);
    assert_string_equal(r.intent, "");
    assert_true(r.emotion[KEFU_EMOTION_ANGER] > 50);
    assert_int_equal(r.rules_fired, 0);
    kefu_session_free(s);
    kefu_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_counters_and_rules),
        cmocka_unit_test(test_failed_answers_and_anger),
        cmocka_unit_test(test_failed_turn_changes_nothing),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_blob_round_trip),
        cmocka_unit_test(test_hot_swap),
        cmocka_unit_test(test_model_without_rules_or_intents),
    };
    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
