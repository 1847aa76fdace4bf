/* test_router.c - the router's ordering rules, timers, reservations,
 * snapshots and invariants under random event sequences. */
#include "testutil.h"

#include "router.h" /* kefu_router_verify */

#define S_BILLING 1
#define S_TECH 2
#define Q1 10
#define Q2 20

/* ---- helpers ---- */

typedef struct evlog {
    kefu_route_event ev[4096];
    size_t n;
} evlog;

static size_t drain(kefu_router *r, evlog *log)
{
    size_t got = 0;
    kefu_route_event e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    while (kefu_router_poll(r, &e) == KEFU_OK) {
        if (log && log->n < 4096)
            log->ev[log->n++] = e;
        got++;
        e.size = sizeof e;
    }
    return got;
}

/* The next event, which must exist. */
static kefu_route_event next_event(kefu_router *r)
{
    kefu_route_event e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    assert_int_equal(kefu_router_poll(r, &e), KEFU_OK);
    return e;
}

static void expect_offer(kefu_router *r, uint32_t conv, uint32_t agent)
{
    kefu_route_event e = next_event(r);
    assert_int_equal(e.kind, KEFU_ROUTE_OFFER);
    assert_int_equal(e.conversation, conv);
    assert_int_equal(e.agent, agent);
}

static void expect_none(kefu_router *r)
{
    kefu_route_event e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    assert_int_equal(kefu_router_poll(r, &e), KEFU_E_EMPTY);
}

static void verify(kefu_router *r)
{
    assert_int_equal(kefu_router_verify(r), KEFU_OK);
}

static kefu_router *router_with_queue(uint32_t strategy)
{
    kefu_router *r = NULL;
    assert_int_equal(kefu_router_new(&r, NULL, NULL), KEFU_OK);
    assert_int_equal(kefu_router_queue_add(r, 0, Q1, strategy), KEFU_OK);
    return r;
}

/* An agent in Q1 with billing at `level`, available at time t. */
static void agent(kefu_router *r, int64_t t, uint32_t id, uint32_t tier,
                  uint32_t cap, uint32_t level)
{
    assert_int_equal(kefu_router_agent_add(r, t, id, tier, cap), KEFU_OK);
    if (level)
        assert_int_equal(kefu_router_agent_skill(r, t, id, S_BILLING, level),
                         KEFU_OK);
    assert_int_equal(kefu_router_agent_queue(r, t, id, Q1, 1), KEFU_OK);
    assert_int_equal(kefu_router_agent_state(r, t, id, KEFU_AGENT_AVAILABLE),
                     KEFU_OK);
}

static kefu_route_request req(uint32_t queue, uint32_t channel,
                              int32_t priority, const uint32_t *skills,
                              const uint32_t *levels, uint32_t n)
{
    kefu_route_request q;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.queue = queue;
    q.channel = channel;
    q.priority = priority;
    q.nskills = n;
    q.skills = skills;
    q.levels = levels;
    return q;
}

static int submit(kefu_router *r, int64_t t, uint32_t id, int32_t prio,
                  uint32_t level)
{
    static const uint32_t sk[1] = {S_BILLING};
    uint32_t lv[1] = {level};
    kefu_route_request q = req(Q1, KEFU_CHANNEL_CHAT, prio, sk, lv,
                               level ? 1 : 0);
    return kefu_router_submit(r, t, id, &q);
}

static kefu_agent_info ainfo(kefu_router *r, uint32_t id)
{
    kefu_agent_info a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    assert_int_equal(kefu_router_agent_info(r, id, &a), KEFU_OK);
    return a;
}

static kefu_conversation_info cinfo(kefu_router *r, uint32_t id)
{
    kefu_conversation_info c;
    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    assert_int_equal(kefu_router_conversation_info(r, id, &c), KEFU_OK);
    return c;
}

/* ---- agent ordering ---- */

static void test_longest_idle(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    (void)state;
    agent(r, 0, 3, 1, 1, 5);   /* idle since 0 */
    agent(r, 50, 2, 1, 1, 5);  /* idle since 50 */
    agent(r, 100, 1, 1, 1, 5); /* idle since 100 */
    assert_int_equal(submit(r, 1000, 100, 0, 1), KEFU_OK);
    expect_offer(r, 100, 3);
    assert_int_equal(submit(r, 1001, 101, 0, 1), KEFU_OK);
    expect_offer(r, 101, 2);
    assert_int_equal(submit(r, 1002, 102, 0, 1), KEFU_OK);
    expect_offer(r, 102, 1);
    expect_none(r);
    verify(r);
    kefu_router_free(r);
}

static void test_least_loaded(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LEAST_LOADED);
    (void)state;
    agent(r, 0, 1, 1, 3, 5);
    agent(r, 0, 2, 1, 3, 5);
    agent(r, 0, 3, 1, 2, 5);
    /* equal loads: longest idle, then lower id */
    assert_int_equal(submit(r, 10, 100, 0, 1), KEFU_OK);
    expect_offer(r, 100, 1);
    assert_int_equal(submit(r, 11, 101, 0, 1), KEFU_OK);
    expect_offer(r, 101, 2);
    assert_int_equal(submit(r, 12, 102, 0, 1), KEFU_OK);
    expect_offer(r, 102, 3);
    /* loads 1/3, 1/3, 1/2: next goes to 1 (idle since 10), then 2 */
    assert_int_equal(submit(r, 13, 103, 0, 1), KEFU_OK);
    expect_offer(r, 103, 1);
    assert_int_equal(submit(r, 14, 104, 0, 1), KEFU_OK);
    expect_offer(r, 104, 2);
    /* 2/3, 2/3, 1/2: agent 3 */
    assert_int_equal(submit(r, 15, 105, 0, 1), KEFU_OK);
    expect_offer(r, 105, 3);
    assert_int_equal(ainfo(r, 3).state, KEFU_AGENT_BUSY);
    verify(r);
    kefu_router_free(r);
}

static void test_best_proficiency(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_BEST_PROFICIENCY);
    (void)state;
    assert_int_equal(kefu_router_queue_set(r, 0, Q1, KEFU_QUEUE_SKILL,
                                           S_BILLING), KEFU_OK);
    agent(r, 0, 1, 1, 1, 3);
    agent(r, 0, 2, 1, 1, 7);
    agent(r, 0, 3, 1, 1, 5);
    assert_int_equal(submit(r, 1, 100, 0, 2), KEFU_OK);
    expect_offer(r, 100, 2);
    assert_int_equal(submit(r, 2, 101, 0, 2), KEFU_OK);
    expect_offer(r, 101, 3);
    /* the best one may lack the level: skipped */
    assert_int_equal(submit(r, 3, 102, 0, 4), KEFU_OK);
    expect_none(r);
    assert_int_equal(cinfo(r, 102).state, KEFU_CONV_WAITING);
    verify(r);
    kefu_router_free(r);
}

static void test_round_robin(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_ROUND_ROBIN);
    (void)state;
    agent(r, 0, 1, 1, 5, 5);
    agent(r, 0, 2, 1, 5, 5);
    agent(r, 0, 3, 1, 5, 5);
    for (uint32_t i = 0; i < 7; i++) {
        assert_int_equal(submit(r, 10 + i, 100 + i, 0, 1), KEFU_OK);
        expect_offer(r, 100 + i, 1 + i % 3);
    }
    verify(r);
    kefu_router_free(r);
}

static void test_preferred_agent(void **state)
{
    static const uint32_t sk[1] = {S_BILLING}, lv[1] = {1};
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    kefu_route_request q = req(Q1, KEFU_CHANNEL_CHAT, 0, sk, lv, 1);
    (void)state;
    agent(r, 0, 1, 1, 1, 5);
    agent(r, 5, 2, 1, 1, 5);
    q.preferred_agent = 2;
    assert_int_equal(kefu_router_submit(r, 10, 100, &q), KEFU_OK);
    expect_offer(r, 100, 2);
    /* preferred agent busy: the best other one */
    assert_int_equal(kefu_router_submit(r, 11, 101, &q), KEFU_OK);
    expect_offer(r, 101, 1);
    /* preferred agent lacking the skill is not offered */
    assert_int_equal(kefu_router_agent_add(r, 12, 3, 1, 1), KEFU_OK);
    assert_int_equal(kefu_router_agent_queue(r, 12, 3, Q1, 1), KEFU_OK);
    assert_int_equal(kefu_router_agent_state(r, 12, 3, KEFU_AGENT_AVAILABLE),
                     KEFU_OK);
    q.preferred_agent = 3;
    assert_int_equal(kefu_router_submit(r, 13, 102, &q), KEFU_OK);
    expect_none(r);
    verify(r);
    kefu_router_free(r);
}

/* ---- conversation ordering ---- */

static void test_priority_then_arrival(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    (void)state;
    assert_int_equal(kefu_router_set(r, KEFU_ROUTER_AGING_MS, 0), KEFU_OK);
    assert_int_equal(submit(r, 0, 100, 1, 1), KEFU_OK);
    assert_int_equal(submit(r, 10, 101, 5, 1), KEFU_OK);
    assert_int_equal(submit(r, 20, 102, 1, 1), KEFU_OK);
    assert_int_equal(submit(r, 30, 103, 5, 1), KEFU_OK);
    agent(r, 100, 1, 1, 4, 5);
    expect_offer(r, 101, 1);
    expect_offer(r, 103, 1);
    expect_offer(r, 100, 1);
    expect_offer(r, 102, 1);
    expect_none(r);
    verify(r);
    kefu_router_free(r);
}

/* One agent, a high-priority conversation every second, each handled in
 * one second; a low-priority one waiting since 0 must be served once its
 * aged priority passes the newcomers' (aging 10 s per level, 5 levels
 * apart: about 50 s), and never without aging. */
static int64_t starving_run(int64_t aging)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    int64_t served_at = -1;
    uint32_t next = 1000, held = 100;
    assert_int_equal(kefu_router_set(r, KEFU_ROUTER_AGING_MS, aging), KEFU_OK);
    agent(r, 0, 1, 1, 1, 5);
    assert_int_equal(submit(r, 0, 100, 5, 1), KEFU_OK); /* takes the agent */
    expect_offer(r, 100, 1);
    assert_int_equal(kefu_router_accept(r, 0, 100, 1), KEFU_OK);
    assert_int_equal(submit(r, 1, 1, 0, 1), KEFU_OK);   /* the low one */
    for (int64_t t = 1000; t <= 200000 && served_at < 0; t += 1000) {
        kefu_route_event e;
        assert_int_equal(submit(r, t, next++, 5, 1), KEFU_OK);
        assert_int_equal(kefu_router_complete(r, t, held, 0), KEFU_OK);
        e = next_event(r);
        assert_int_equal(e.kind, KEFU_ROUTE_OFFER);
        assert_int_equal(kefu_router_accept(r, t, e.conversation, e.agent), KEFU_OK);
        held = e.conversation;
        if (held == 1)
            served_at = t;
        expect_none(r);
        verify(r);
    }
    kefu_router_free(r);
    return served_at;
}

static void test_aging_prevents_starvation(void **state)
{
    int64_t with, without;
    (void)state;
    with = starving_run(10000);
    without = starving_run(0);
    assert_true(with > 40000 && with <= 60000);
    assert_int_equal(without, -1);
}

/* ---- relaxation ---- */

static void test_relaxation_level_drop_and_any(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    static const uint32_t sk[2] = {S_BILLING, S_TECH}, lv[2] = {5, 3};
    kefu_route_request q = req(Q1, KEFU_CHANNEL_CHAT, 0, sk, lv, 2);
    (void)state;
    assert_int_equal(kefu_router_queue_step(r, 0, Q1, 30000, 2, 0, 0, 0),
                     KEFU_OK);
    assert_int_equal(kefu_router_queue_step(r, 0, Q1, 60000, 0, 0, 1, 0),
                     KEFU_OK);
    /* steps must grow */
    assert_int_equal(kefu_router_queue_step(r, 0, Q1, 50000, 0, 0, 1, 0),
                     KEFU_E_ARG);
    agent(r, 0, 1, 1, 1, 3); /* billing 3, no tech */
    assert_int_equal(kefu_router_agent_skill(r, 0, 1, S_TECH, 1), KEFU_OK);
    agent(r, 0, 2, 1, 1, 0); /* no skills at all */
    assert_int_equal(kefu_router_submit(r, 1000, 100, &q), KEFU_OK);
    assert_int_equal(kefu_router_submit(r, 1000, 101, &q), KEFU_OK);
    expect_none(r);
    assert_int_equal(kefu_router_tick(r, 30999), KEFU_OK);
    expect_none(r);
    /* at 31 s: billing >= 3 and tech >= 1 accepted -> agent 1 */
    assert_int_equal(kefu_router_tick(r, 31000), KEFU_OK);
    expect_offer(r, 100, 1);
    assert_int_equal(cinfo(r, 100).step, 1);
    expect_none(r);
    assert_int_equal(kefu_router_accept(r, 31000, 100, 1), KEFU_OK);
    /* at 61 s: any agent of the queue -> agent 2 for the second one */
    assert_int_equal(kefu_router_tick(r, 60999), KEFU_OK);
    expect_none(r);
    assert_int_equal(kefu_router_tick(r, 61000), KEFU_OK);
    expect_offer(r, 101, 2);
    assert_int_equal(cinfo(r, 101).step, 2);
    drain(r, NULL);
    verify(r);
    kefu_router_free(r);
}

static void test_relaxation_tier_and_overflow(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    kefu_route_request q = req(Q1, KEFU_CHANNEL_CHAT, 0, NULL, NULL, 0);
    kefu_route_event e;
    (void)state;
    assert_int_equal(kefu_router_queue_add(r, 0, Q2, KEFU_STRATEGY_LONGEST_IDLE),
                     KEFU_OK);
    assert_int_equal(kefu_router_queue_step(r, 0, Q1, 10000, 0,
                                            KEFU_TIER_JUNIOR, 0, 0), KEFU_OK);
    assert_int_equal(kefu_router_queue_step(r, 0, Q1, 20000, 0, 0, 0, Q2),
                     KEFU_OK);
    assert_int_equal(kefu_router_queue_step(r, 0, Q1, 30000, 0, 0, 0, Q1),
                     KEFU_E_ARG);
    agent(r, 0, 1, KEFU_TIER_JUNIOR, 1, 0);
    q.tier = KEFU_TIER_SENIOR;
    assert_int_equal(kefu_router_submit(r, 0, 100, &q), KEFU_OK);
    expect_none(r);
    assert_int_equal(kefu_router_tick(r, 10000), KEFU_OK);
    expect_offer(r, 100, 1);
    assert_int_equal(kefu_router_accept(r, 10001, 100, 1), KEFU_OK);
    /* another senior request: the junior is busy; at 20 s it overflows to
     * Q2, where a senior agent sits */
    assert_int_equal(kefu_router_submit(r, 10002, 101, &q), KEFU_OK);
    assert_int_equal(kefu_router_agent_add(r, 10003, 2, KEFU_TIER_EXPERT, 1),
                     KEFU_OK);
    assert_int_equal(kefu_router_agent_queue(r, 10003, 2, Q2, 1), KEFU_OK);
    assert_int_equal(kefu_router_agent_state(r, 10003, 2,
                                             KEFU_AGENT_AVAILABLE), KEFU_OK);
    expect_none(r);
    assert_int_equal(kefu_router_tick(r, 30002), KEFU_OK);
    e = next_event(r);
    assert_int_equal(e.kind, KEFU_ROUTE_OVERFLOW);
    assert_int_equal(e.conversation, 101);
    assert_int_equal(e.queue, Q2);
    assert_int_equal(e.time_ms, 30002);
    expect_offer(r, 101, 2);
    assert_int_equal(cinfo(r, 101).queue, Q2);
    {
        kefu_route_stats s;
        memset(&s, 0, sizeof s);
        s.size = sizeof s;
        assert_int_equal(kefu_router_stats(r, 30002, Q1, 3600000, &s), KEFU_OK);
        assert_int_equal(s.reroutes, 1);
    }
    verify(r);
    kefu_router_free(r);
}

static void test_step_added_while_waiting(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    (void)state;
    agent(r, 0, 1, 1, 1, 3);
    assert_int_equal(submit(r, 0, 100, 0, 5), KEFU_OK); /* needs level 5 */
    assert_int_equal(submit(r, 40000, 101, 0, 5), KEFU_OK);
    expect_none(r);
    /* a step at 30 s: 100 has waited 50 s and relaxes at once; 101 at 70 s */
    assert_int_equal(kefu_router_queue_step(r, 50000, Q1, 30000, 2, 0, 0, 0),
                     KEFU_OK);
    expect_offer(r, 100, 1);
    assert_int_equal(kefu_router_accept(r, 50000, 100, 1), KEFU_OK);
    assert_int_equal(kefu_router_complete(r, 60000, 100, 0), KEFU_OK);
    expect_none(r);
    assert_int_equal(kefu_router_tick(r, 70000), KEFU_OK);
    expect_offer(r, 101, 1);
    verify(r);
    kefu_router_free(r);
}

static void test_aging_option_reorders(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    (void)state;
    /* default aging (60 s per level): the priority-0 conversation that
     * waited 3 minutes beats a priority-2 newcomer ... */
    assert_int_equal(submit(r, 0, 100, 0, 1), KEFU_OK);
    assert_int_equal(submit(r, 180000, 101, 2, 1), KEFU_OK);
    /* ... until aging is switched off: strict priority */
    assert_int_equal(kefu_router_set(r, KEFU_ROUTER_AGING_MS, 0), KEFU_OK);
    verify(r);
    agent(r, 180001, 1, 1, 1, 5);
    expect_offer(r, 101, 1);
    kefu_router_free(r);
    r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    assert_int_equal(submit(r, 0, 100, 0, 1), KEFU_OK);
    assert_int_equal(submit(r, 180000, 101, 2, 1), KEFU_OK);
    agent(r, 180001, 1, 1, 1, 5);
    expect_offer(r, 100, 1);
    kefu_router_free(r);
}

/* ---- reservations ---- */

static void test_offer_timeout_and_away(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    kefu_route_event e;
    (void)state;
    assert_int_equal(kefu_router_set(r, KEFU_ROUTER_OFFER_TIMEOUT_MS, 5000),
                     KEFU_OK);
    assert_int_equal(kefu_router_set(r, KEFU_ROUTER_MAX_MISSES, 2), KEFU_OK);
    agent(r, 0, 1, 1, 1, 5);
    assert_int_equal(submit(r, 100, 100, 0, 1), KEFU_OK);
    expect_offer(r, 100, 1);
    assert_int_equal(ainfo(r, 1).conversations, 1);
    /* nobody answers: at 5.1 s the offer times out; only agent 1 exists
     * and it missed this one, so the conversation waits */
    assert_int_equal(kefu_router_tick(r, 5099), KEFU_OK);
    expect_none(r);
    assert_int_equal(kefu_router_tick(r, 5100), KEFU_OK);
    e = next_event(r);
    assert_int_equal(e.kind, KEFU_ROUTE_TIMEOUT);
    assert_int_equal(e.agent, 1);
    expect_none(r);
    assert_int_equal(cinfo(r, 100).state, KEFU_CONV_WAITING);
    assert_int_equal(ainfo(r, 1).conversations, 0);
    assert_int_equal(ainfo(r, 1).load, 0);
    assert_int_equal(ainfo(r, 1).misses, 1);
    /* a second one is offered to agent 1 and missed too: agent goes away */
    assert_int_equal(submit(r, 6000, 101, 0, 1), KEFU_OK);
    expect_offer(r, 101, 1);
    assert_int_equal(kefu_router_tick(r, 11000), KEFU_OK);
    e = next_event(r);
    assert_int_equal(e.kind, KEFU_ROUTE_TIMEOUT);
    e = next_event(r);
    assert_int_equal(e.kind, KEFU_ROUTE_AGENT_AWAY);
    assert_int_equal(e.agent, 1);
    assert_int_equal(ainfo(r, 1).state, KEFU_AGENT_AWAY);
    /* a second agent takes both, oldest first (aging, same priority) */
    agent(r, 12000, 2, 1, 2, 5);
    expect_offer(r, 100, 2);
    expect_offer(r, 101, 2);
    verify(r);
    kefu_router_free(r);
}

static void test_reject_keeps_place(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    (void)state;
    agent(r, 0, 1, 1, 1, 5);
    assert_int_equal(submit(r, 10, 100, 0, 1), KEFU_OK);
    expect_offer(r, 100, 1);
    assert_int_equal(submit(r, 20, 101, 0, 1), KEFU_OK);
    assert_int_equal(kefu_router_reject(r, 30, 100, 1), KEFU_OK);
    /* agent 1 declined 100, so it gets 101; 100 keeps its arrival */
    expect_offer(r, 101, 1);
    assert_int_equal(cinfo(r, 100).arrival_ms, 10);
    assert_int_equal(cinfo(r, 100).state, KEFU_CONV_WAITING);
    /* a new agent gets 100 before anything that came later */
    assert_int_equal(submit(r, 40, 102, 0, 1), KEFU_OK);
    agent(r, 50, 2, 1, 1, 5);
    expect_offer(r, 100, 2);
    /* reject of a conversation that is not reserved changes nothing */
    assert_int_equal(kefu_router_reject(r, 60, 102, 1), KEFU_E_STATE);
    /* only the agent holding the offer can answer it */
    assert_int_equal(kefu_router_accept(r, 60, 100, 1), KEFU_E_STATE);
    assert_int_equal(kefu_router_accept(r, 60, 100, 2), KEFU_OK);
    assert_int_equal(kefu_router_reject(r, 60, 999, 1), KEFU_E_UNKNOWN);
    verify(r);
    kefu_router_free(r);
}

/* ---- capacity, wrap-up, cancel, transfer ---- */

static void test_capacity_costs(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    kefu_route_request voice = req(Q1, KEFU_CHANNEL_VOICE, 0, NULL, NULL, 0);
    kefu_route_request email = req(Q1, KEFU_CHANNEL_EMAIL, 0, NULL, NULL, 0);
    (void)state;
    agent(r, 0, 1, 1, 3, 5);
    assert_int_equal(kefu_router_agent_channel(r, 0, 1, KEFU_CHANNEL_VOICE, 3),
                     KEFU_OK);
    assert_int_equal(kefu_router_agent_channel(r, 0, 1, KEFU_CHANNEL_EMAIL, 0),
                     KEFU_OK);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(submit(r, 10 + i, 100 + i, 0, 1), KEFU_OK);
    expect_offer(r, 100, 1);
    expect_offer(r, 101, 1);
    expect_offer(r, 102, 1);
    expect_none(r);
    assert_int_equal(ainfo(r, 1).load, 3);
    assert_int_equal(kefu_router_submit(r, 20, 200, &voice), KEFU_OK);
    assert_int_equal(kefu_router_submit(r, 21, 300, &email), KEFU_OK);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(kefu_router_accept(r, 30, 100 + i, 1), KEFU_OK);
    /* one chat done: the waiting chat (older than the call) fits */
    assert_int_equal(kefu_router_complete(r, 40, 100, 0), KEFU_OK);
    expect_offer(r, 103, 1);
    expect_none(r);
    assert_int_equal(kefu_router_accept(r, 41, 103, 1), KEFU_OK);
    /* the call needs all three units */
    assert_int_equal(kefu_router_complete(r, 50, 101, 0), KEFU_OK);
    assert_int_equal(kefu_router_complete(r, 51, 102, 0), KEFU_OK);
    expect_none(r);
    assert_int_equal(kefu_router_complete(r, 52, 103, 0), KEFU_OK);
    expect_offer(r, 200, 1);
    expect_none(r); /* e-mail is never offered to an agent without it */
    assert_true(ainfo(r, 1).load <= ainfo(r, 1).capacity);
    /* a channel's cost cannot change under a conversation using it */
    assert_int_equal(kefu_router_agent_channel(r, 53, 1, KEFU_CHANNEL_VOICE, 1),
                     KEFU_E_STATE);
    verify(r);
    kefu_router_free(r);
}

static void test_wrapup(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    (void)state;
    agent(r, 0, 1, 1, 1, 5);
    assert_int_equal(submit(r, 0, 100, 0, 1), KEFU_OK);
    expect_offer(r, 100, 1);
    assert_int_equal(kefu_router_accept(r, 1, 100, 1), KEFU_OK);
    assert_int_equal(submit(r, 2, 101, 0, 1), KEFU_OK);
    assert_int_equal(kefu_router_complete(r, 1000, 100, 5000), KEFU_OK);
    assert_int_equal(ainfo(r, 1).state, KEFU_AGENT_WRAPUP);
    assert_int_equal(ainfo(r, 1).wrapup_until_ms, 6000);
    assert_int_equal(kefu_router_tick(r, 5999), KEFU_OK);
    expect_none(r);
    assert_int_equal(kefu_router_tick(r, 6000), KEFU_OK);
    {
        kefu_route_event e = next_event(r);
        assert_int_equal(e.kind, KEFU_ROUTE_OFFER);
        assert_int_equal(e.time_ms, 6000);
    }
    assert_int_equal(ainfo(r, 1).idle_since_ms, 6000);
    verify(r);
    kefu_router_free(r);
}

static void test_cancel_and_transfer(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    kefu_route_stats s;
    (void)state;
    assert_int_equal(kefu_router_queue_add(r, 0, Q2, KEFU_STRATEGY_LONGEST_IDLE),
                     KEFU_OK);
    agent(r, 0, 1, 1, 1, 5);
    assert_int_equal(submit(r, 0, 100, 0, 1), KEFU_OK);
    expect_offer(r, 100, 1);
    assert_int_equal(submit(r, 1, 101, 0, 1), KEFU_OK);
    /* waiting and reserved conversations can be cancelled */
    assert_int_equal(kefu_router_cancel(r, 2, 101), KEFU_OK);
    assert_int_equal(kefu_router_cancel(r, 3, 100), KEFU_OK);
    assert_int_equal(ainfo(r, 1).conversations, 0);
    assert_int_equal(kefu_router_conversation_info(r, 100, &(kefu_conversation_info){sizeof(kefu_conversation_info), 0, 0, 0, 0, 0, 0}),
                     KEFU_E_UNKNOWN);
    /* assigned: transfer to Q2 (no agent there yet), not cancel */
    assert_int_equal(submit(r, 4, 102, 0, 1), KEFU_OK);
    expect_offer(r, 102, 1);
    assert_int_equal(kefu_router_accept(r, 5, 102, 1), KEFU_OK);
    assert_int_equal(kefu_router_cancel(r, 6, 102), KEFU_E_STATE);
    assert_int_equal(kefu_router_transfer(r, 7, 102, Q2), KEFU_OK);
    assert_int_equal(cinfo(r, 102).state, KEFU_CONV_WAITING);
    assert_int_equal(cinfo(r, 102).queue, Q2);
    assert_int_equal(ainfo(r, 1).conversations, 0);
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    assert_int_equal(kefu_router_stats(r, 10, 0, 3600000, &s), KEFU_OK);
    assert_int_equal(s.offered, 3);
    assert_int_equal(s.abandoned, 2);
    assert_int_equal(s.answered, 1);
    assert_int_equal(s.transfers, 1);
    assert_int_equal(s.waiting, 1);
    assert_int_equal(s.longest_wait_ms, 6);
    verify(r);
    kefu_router_free(r);
}

static void test_statistics(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    kefu_route_stats s;
    (void)state;
    assert_int_equal(kefu_router_queue_set(r, 0, Q1, KEFU_QUEUE_SL_TARGET_MS,
                                           10000), KEFU_OK);
    agent(r, 0, 1, 1, 1, 5);
    /* answered at once, after 20 s, and one abandoned */
    assert_int_equal(submit(r, 0, 100, 0, 1), KEFU_OK);
    assert_int_equal(kefu_router_accept(r, 0, 100, 1), KEFU_OK);
    assert_int_equal(submit(r, 1000, 101, 0, 1), KEFU_OK);
    assert_int_equal(submit(r, 2000, 102, 0, 1), KEFU_OK);
    assert_int_equal(kefu_router_complete(r, 21000, 100, 0), KEFU_OK);
    assert_int_equal(kefu_router_accept(r, 21000, 101, 1), KEFU_OK);
    assert_int_equal(kefu_router_cancel(r, 22000, 102), KEFU_OK);
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    assert_int_equal(kefu_router_stats(r, 30000, Q1, 3600000, &s), KEFU_OK);
    assert_int_equal(s.offered, 3);
    assert_int_equal(s.answered, 2);
    assert_int_equal(s.answered_in_target, 1);
    assert_int_equal(s.abandoned, 1);
    assert_true(s.service_level > 0.333 && s.service_level < 0.334);
    assert_true(s.abandon_rate > 0.333 && s.abandon_rate < 0.334);
    assert_true(s.asa_ms == 10000.0);
    /* the agent was logged in for 30 s, busy (holding work) all along */
    assert_int_equal(kefu_router_tick(r, 30000), KEFU_OK);
    assert_int_equal(kefu_router_stats(r, 30000, 0, 3600000, &s), KEFU_OK);
    assert_true(s.occupancy > 0.999);
    /* a window that ends before anything happened is empty */
    assert_int_equal(kefu_router_set(r, KEFU_ROUTER_STATS_BUCKET_MS, 1000),
                     KEFU_OK);
    assert_int_equal(kefu_router_stats(r, 30000, Q1, 5000, &s), KEFU_OK);
    assert_int_equal(s.offered, 0);
    verify(r);
    kefu_router_free(r);
}

/* ---- invalid events change nothing ---- */

static unsigned char *snap(kefu_router *r, size_t *len)
{
    unsigned char *buf;
    assert_int_equal(kefu_router_snapshot(r, NULL, 0, len), KEFU_E_BUFFER);
    buf = malloc(*len);
    assert_non_null(buf);
    assert_int_equal(kefu_router_snapshot(r, buf, *len, len), KEFU_OK);
    return buf;
}

static void assert_same_state(kefu_router *r, const unsigned char *before,
                              size_t blen)
{
    size_t alen;
    unsigned char *after = snap(r, &alen);
    assert_int_equal(alen, blen);
    assert_memory_equal(after, before, blen);
    free(after);
}

static void test_invalid_events_change_nothing(void **state)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    static const uint32_t sk[2] = {S_BILLING, S_BILLING}, lv[2] = {1, 1};
    static const uint32_t bad_lv[1] = {101};
    kefu_route_request q = req(Q1, KEFU_CHANNEL_CHAT, 0, sk, lv, 1);
    unsigned char *before;
    size_t blen;
    (void)state;
    agent(r, 0, 1, 1, 1, 5);
    assert_int_equal(submit(r, 100, 100, 0, 1), KEFU_OK);
    assert_int_equal(submit(r, 100, 101, 0, 1), KEFU_OK);
    drain(r, NULL);
    before = snap(r, &blen);

    assert_int_equal(kefu_router_tick(r, 99), KEFU_E_ARG); /* time backwards */
    assert_int_equal(kefu_router_submit(r, 100, 100, &q), KEFU_E_EXISTS);
    assert_int_equal(kefu_router_submit(r, 100, 0, &q), KEFU_E_ARG);
    q.channel = 9;
    assert_int_equal(kefu_router_submit(r, 100, 200, &q), KEFU_E_ARG);
    q.channel = KEFU_CHANNEL_CHAT;
    q.queue = 77;
    assert_int_equal(kefu_router_submit(r, 100, 200, &q), KEFU_E_UNKNOWN);
    q.queue = Q1;
    q.nskills = 2;
    assert_int_equal(kefu_router_submit(r, 100, 200, &q), KEFU_E_ARG);
    q.nskills = 1;
    q.levels = bad_lv;
    assert_int_equal(kefu_router_submit(r, 100, 200, &q), KEFU_E_ARG);
    q.levels = lv;
    q.priority = 2000000;
    assert_int_equal(kefu_router_submit(r, 100, 200, &q), KEFU_E_ARG);
    q.priority = 0;
    q.size = 8;
    assert_int_equal(kefu_router_submit(r, 100, 200, &q), KEFU_E_ARG);
    assert_int_equal(kefu_router_submit(r, 100, 200, NULL), KEFU_E_ARG);
    assert_int_equal(kefu_router_accept(r, 100, 101, 1), KEFU_E_STATE);
    assert_int_equal(kefu_router_accept(r, 100, 555, 1), KEFU_E_UNKNOWN);
    assert_int_equal(kefu_router_complete(r, 100, 100, 0), KEFU_E_STATE);
    assert_int_equal(kefu_router_transfer(r, 100, 100, Q1), KEFU_E_STATE);
    assert_int_equal(kefu_router_agent_add(r, 100, 1, 1, 1), KEFU_E_EXISTS);
    assert_int_equal(kefu_router_agent_add(r, 100, 2, 9, 1), KEFU_E_ARG);
    assert_int_equal(kefu_router_agent_add(r, 100, 2, 1, 65), KEFU_E_ARG);
    assert_int_equal(kefu_router_agent_state(r, 100, 1, KEFU_AGENT_OFFLINE),
                     KEFU_E_STATE);
    assert_int_equal(kefu_router_agent_state(r, 100, 1, KEFU_AGENT_BUSY),
                     KEFU_E_ARG);
    assert_int_equal(kefu_router_agent_remove(r, 100, 1), KEFU_E_STATE);
    assert_int_equal(kefu_router_agent_skill(r, 100, 1, 0, 1), KEFU_E_ARG);
    assert_int_equal(kefu_router_agent_skill(r, 100, 9, 1, 1), KEFU_E_UNKNOWN);
    assert_int_equal(kefu_router_agent_queue(r, 100, 1, 77, 1), KEFU_E_UNKNOWN);
    assert_int_equal(kefu_router_agent_channel(r, 100, 1, 0, 1), KEFU_E_ARG);
    assert_int_equal(kefu_router_queue_add(r, 100, Q1, 1), KEFU_E_EXISTS);
    assert_int_equal(kefu_router_queue_add(r, 100, 30, 9), KEFU_E_ARG);
    assert_int_equal(kefu_router_queue_set(r, 100, Q1, KEFU_QUEUE_STRATEGY, 0),
                     KEFU_E_ARG);
    assert_int_equal(kefu_router_set(r, KEFU_ROUTER_OFFER_TIMEOUT_MS, 0),
                     KEFU_E_ARG);
    assert_int_equal(kefu_router_cancel(r, 100, 555), KEFU_E_UNKNOWN);
    assert_true(strlen(kefu_diag_message(kefu_router_diag(r))) > 0);
    assert_same_state(r, before, blen);
    free(before);
    kefu_router_free(r);
}

/* ---- determinism, snapshots, random sequences ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Host-side view, to check the router against. */
typedef struct hostview {
    uint8_t state[400]; /* 0 gone, 1 waiting, 2 reserved, 3 assigned */
    uint32_t agent_of[400];
} hostview;

/* One random event (valid or not).  Returns the call's status. */
static int random_event(kefu_router *r, uint64_t *rng, int64_t *t,
                        hostview *h)
{
    uint32_t conv = 1 + (uint32_t)(rng_next(rng) % 399);
    uint32_t ag = 1 + (uint32_t)(rng_next(rng) % 12);
    uint32_t k = (uint32_t)(rng_next(rng) % 100);
    int rc;
    if (k < 30) {
        static const uint32_t sk[2] = {S_BILLING, S_TECH};
        uint32_t lv[2] = {1 + (uint32_t)(rng_next(rng) % 6),
                          1 + (uint32_t)(rng_next(rng) % 3)};
        kefu_route_request q = req(rng_next(rng) % 4 ? Q1 : Q2,
                                   1 + (uint32_t)(rng_next(rng) % 3),
                                   (int32_t)(rng_next(rng) % 5), sk, lv,
                                   (uint32_t)(rng_next(rng) % 3));
        q.preferred_agent = rng_next(rng) % 3 ? 0 : ag;
        q.tier = (uint32_t)(rng_next(rng) % 3);
        q.language = rng_next(rng) % 4 ? 0 : KEFU_LANG('e', 'n');
        rc = kefu_router_submit(r, *t, conv, &q);
        if (rc == KEFU_OK) {
            assert_int_equal(h->state[conv], 0);
            h->state[conv] = 1;
        }
    } else if (k < 45) {
        rc = kefu_router_accept(r, *t, conv, h->agent_of[conv]);
        if (rc == KEFU_OK) {
            assert_int_equal(h->state[conv], 2);
            h->state[conv] = 3;
        }
    } else if (k < 50) {
        rc = kefu_router_reject(r, *t, conv, h->agent_of[conv]);
        if (rc == KEFU_OK) {
            assert_int_equal(h->state[conv], 2);
            h->state[conv] = 1;
        }
    } else if (k < 62) {
        rc = kefu_router_complete(r, *t, conv,
                                  (int64_t)(rng_next(rng) % 3) * 2000);
        if (rc == KEFU_OK) {
            assert_int_equal(h->state[conv], 3);
            h->state[conv] = 0;
        }
    } else if (k < 68) {
        rc = kefu_router_cancel(r, *t, conv);
        if (rc == KEFU_OK) {
            assert_true(h->state[conv] == 1 || h->state[conv] == 2);
            h->state[conv] = 0;
        }
    } else if (k < 70) {
        rc = kefu_router_transfer(r, *t, conv, rng_next(rng) % 2 ? Q1 : Q2);
        if (rc == KEFU_OK) {
            assert_int_equal(h->state[conv], 3);
            h->state[conv] = 1;
        }
    } else if (k < 80) {
        rc = kefu_router_agent_state(r, *t, ag, (uint32_t)(rng_next(rng) % 4));
    } else if (k < 85) {
        rc = kefu_router_agent_skill(r, *t, ag, S_BILLING + (uint32_t)(rng_next(rng) % 2),
                                     (uint32_t)(rng_next(rng) % 7));
    } else if (k < 87) {
        rc = kefu_router_agent_queue(r, *t, ag, rng_next(rng) % 2 ? Q1 : Q2,
                                     (uint32_t)(rng_next(rng) % 2));
    } else if (k < 89) {
        rc = kefu_router_agent_channel(r, *t, ag, 1 + (uint32_t)(rng_next(rng) % 3),
                                       (uint32_t)(rng_next(rng) % 3));
    } else if (k < 90) {
        rc = kefu_router_agent_remove(r, *t, ag);
        if (rc == KEFU_OK)
            assert_int_equal(kefu_router_agent_add(r, *t, ag, ag % 4, 1 + ag % 3),
                             KEFU_OK);
    } else if (k < 93) {
        /* invalid on purpose: time going backwards */
        int64_t now = r->now;
        rc = kefu_router_tick(r, now - 1 - (int64_t)(rng_next(rng) % 10));
        assert_int_equal(rc, KEFU_E_ARG);
    } else {
        rc = kefu_router_tick(r, *t);
    }
    return rc;
}

/* Applies the router's events to the host view, checking them. */
static void follow(kefu_router *r, hostview *h, evlog *log)
{
    kefu_route_event e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    while (kefu_router_poll(r, &e) == KEFU_OK) {
        if (log && log->n < 4096)
            log->ev[log->n++] = e;
        if (e.kind == KEFU_ROUTE_OFFER) {
            /* never offered twice, never offered when not waiting */
            assert_int_equal(h->state[e.conversation], 1);
            h->state[e.conversation] = 2;
            h->agent_of[e.conversation] = e.agent;
        } else if (e.kind == KEFU_ROUTE_TIMEOUT) {
            assert_int_equal(h->state[e.conversation], 2);
            h->state[e.conversation] = 1;
        }
        e.size = sizeof e;
    }
}

static void check_view(kefu_router *r, const hostview *h)
{
    for (uint32_t c = 1; c < 400; c++) {
        kefu_conversation_info ci;
        memset(&ci, 0, sizeof ci);
        ci.size = sizeof ci;
        int rc = kefu_router_conversation_info(r, c, &ci);
        if (h->state[c] == 0) {
            assert_int_equal(rc, KEFU_E_UNKNOWN);
        } else {
            /* nothing lost: the router knows it, in the same state */
            assert_int_equal(rc, KEFU_OK);
            assert_int_equal(ci.state, h->state[c]);
            if (h->state[c] >= 2)
                assert_int_equal(ci.agent, h->agent_of[c]);
        }
    }
    for (uint32_t a = 1; a <= 12; a++) {
        kefu_agent_info ai;
        memset(&ai, 0, sizeof ai);
        ai.size = sizeof ai;
        if (kefu_router_agent_info(r, a, &ai) == KEFU_OK)
            assert_true(ai.load <= ai.capacity);
    }
}

static kefu_router *random_floor(void)
{
    kefu_router *r = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE);
    assert_int_equal(kefu_router_queue_add(r, 0, Q2, KEFU_STRATEGY_LEAST_LOADED),
                     KEFU_OK);
    assert_int_equal(kefu_router_queue_step(r, 0, Q1, 20000, 2, 0, 0, 0), KEFU_OK);
    assert_int_equal(kefu_router_queue_step(r, 0, Q1, 40000, 0, 0, 1, 0), KEFU_OK);
    assert_int_equal(kefu_router_queue_step(r, 0, Q1, 60000, 0, 0, 0, Q2), KEFU_OK);
    assert_int_equal(kefu_router_queue_step(r, 0, Q2, 30000, 0, 1, 0, 0), KEFU_OK);
    assert_int_equal(kefu_router_set(r, KEFU_ROUTER_OFFER_TIMEOUT_MS, 8000),
                     KEFU_OK);
    for (uint32_t a = 1; a <= 12; a++) {
        assert_int_equal(kefu_router_agent_add(r, 0, a, a % 4, 1 + a % 3), KEFU_OK);
        assert_int_equal(kefu_router_agent_skill(r, 0, a, S_BILLING, 1 + a % 5),
                         KEFU_OK);
        if (a % 2)
            assert_int_equal(kefu_router_agent_skill(r, 0, a, S_TECH, a % 4 + 1),
                             KEFU_OK);
        if (a % 3 == 0)
            assert_int_equal(kefu_router_agent_language(r, 0, a,
                                                        KEFU_LANG('e', 'n'), 1),
                             KEFU_OK);
        assert_int_equal(kefu_router_agent_queue(r, 0, a, a % 4 ? Q1 : Q2, 1),
                         KEFU_OK);
        assert_int_equal(kefu_router_agent_state(r, 0, a, KEFU_AGENT_AVAILABLE),
                         KEFU_OK);
    }
    return r;
}

/* A well-behaved host: moves the clock, reads what the timers did, then
 * acts on what it knows. */
static void host_step(kefu_router *r, uint64_t *rng, int64_t *t, hostview *h,
                      evlog *log)
{
    *t += (int64_t)(rng_next(rng) % 4000);
    assert_int_equal(kefu_router_tick(r, *t), KEFU_OK);
    follow(r, h, log);
    random_event(r, rng, t, h);
    follow(r, h, log);
}

static void test_random_sequences_keep_invariants(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        kefu_router *r = random_floor();
        hostview h;
        uint64_t rng = seed;
        int64_t t = 0;
        memset(&h, 0, sizeof h);
        for (int i = 0; i < 1500; i++) {
            host_step(r, &rng, &t, &h, NULL);
            verify(r);
            if (i % 50 == 0)
                check_view(r, &h);
        }
        check_view(r, &h);
        kefu_router_free(r);
    }
}

static void run_script(kefu_router *r, uint64_t seed, int steps, int64_t *t,
                       hostview *h, evlog *log)
{
    uint64_t rng = seed;
    for (int i = 0; i < steps; i++)
        host_step(r, &rng, t, h, log);
}

static void test_replay_is_deterministic(void **state)
{
    kefu_router *a = random_floor(), *b = random_floor();
    static evlog la, lb;
    hostview ha, hb;
    int64_t ta = 0, tb = 0;
    size_t na, nb;
    unsigned char *sa, *sb;
    (void)state;
    memset(&ha, 0, sizeof ha);
    memset(&hb, 0, sizeof hb);
    la.n = lb.n = 0;
    run_script(a, 42, 2000, &ta, &ha, &la);
    run_script(b, 42, 2000, &tb, &hb, &lb);
    assert_true(la.n > 100);
    assert_int_equal(la.n, lb.n);
    assert_memory_equal(la.ev, lb.ev, la.n * sizeof la.ev[0]);
    sa = snap(a, &na);
    sb = snap(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(sa, sb, na);
    free(sa);
    free(sb);
    kefu_router_free(a);
    kefu_router_free(b);
}

static void test_snapshot_round_trip(void **state)
{
    kefu_router *a = random_floor(), *b = NULL;
    static evlog la, lb;
    hostview ha, hb;
    int64_t ta = 0, tb;
    size_t n1, n2;
    unsigned char *s1, *s2;
    bool waiting = false, reserved = false;
    (void)state;
    memset(&ha, 0, sizeof ha);
    {
        uint64_t rng = 7;
        for (int i = 0; i < 20000 && !(waiting && reserved && i > 500); i++) {
            host_step(a, &rng, &ta, &ha, NULL);
            waiting = reserved = false;
            for (int c = 1; c < 400; c++) {
                waiting |= ha.state[c] == 1;
                reserved |= ha.state[c] == 2;
            }
        }
    }
    assert_true(waiting && reserved); /* the snapshot holds both kinds */
    s1 = snap(a, &n1);
    assert_int_equal(kefu_router_new(&b, NULL, NULL), KEFU_OK);
    assert_int_equal(kefu_router_restore(b, s1, n1), KEFU_OK);
    verify(b);
    s2 = snap(b, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(s1, s2, n1);
    free(s2);
    hb = ha;
    check_view(b, &hb);
    /* both go on identically */
    tb = ta;
    la.n = lb.n = 0;
    run_script(a, 99, 1500, &ta, &ha, &la);
    run_script(b, 99, 1500, &tb, &hb, &lb);
    assert_int_equal(la.n, lb.n);
    assert_memory_equal(la.ev, lb.ev, la.n * sizeof la.ev[0]);
    s1 = (free(s1), snap(a, &n1));
    s2 = snap(b, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(s1, s2, n1);
    free(s1);
    free(s2);
    kefu_router_free(a);
    kefu_router_free(b);
}

/* Events not yet read travel with the snapshot. */
static void test_snapshot_keeps_pending_events(void **state)
{
    kefu_router *a = router_with_queue(KEFU_STRATEGY_LONGEST_IDLE), *b = NULL;
    unsigned char *s;
    size_t n;
    (void)state;
    agent(a, 0, 1, 1, 2, 5);
    assert_int_equal(submit(a, 10, 100, 0, 1), KEFU_OK);
    assert_int_equal(submit(a, 20, 101, 0, 1), KEFU_OK);
    s = snap(a, &n);
    assert_int_equal(kefu_router_new(&b, NULL, NULL), KEFU_OK);
    assert_int_equal(kefu_router_restore(b, s, n), KEFU_OK);
    expect_offer(b, 100, 1);
    expect_offer(b, 101, 1);
    expect_none(b);
    /* the reservations survived: they time out in the copy as well */
    assert_int_equal(kefu_router_tick(b, 15010), KEFU_OK);
    assert_int_equal(next_event(b).kind, KEFU_ROUTE_TIMEOUT);
    free(s);
    kefu_router_free(a);
    kefu_router_free(b);
}

static void test_corrupt_snapshot_rejected(void **state)
{
    kefu_router *a = random_floor(), *b = random_floor();
    hostview h;
    int64_t t = 0;
    size_t n, bn;
    unsigned char *s, *before;
    (void)state;
    memset(&h, 0, sizeof h);
    run_script(a, 3, 400, &t, &h, NULL);
    s = snap(a, &n);
    before = snap(b, &bn);
    /* every single-byte change and every truncation is refused, and the
     * target router keeps its own state */
    for (size_t i = 0; i < n; i += 1 + i / 64) {
        s[i] ^= 0x5A;
        int rc = kefu_router_restore(b, s, n);
        assert_true(rc == KEFU_E_CORRUPT || rc == KEFU_E_VERSION);
        s[i] ^= 0x5A;
    }
    for (size_t cut = 0; cut < n; cut += 1 + cut / 16)
        assert_int_equal(kefu_router_restore(b, s, cut), KEFU_E_CORRUPT);
    assert_int_equal(kefu_router_restore(b, NULL, 0), KEFU_E_ARG);
    assert_same_state(b, before, bn);
    /* and the intact one restores */
    assert_int_equal(kefu_router_restore(b, s, n), KEFU_OK);
    free(s);
    free(before);
    kefu_router_free(a);
    kefu_router_free(b);
}

/* Out of memory at any point of a call leaves the router as it was. */
static void test_out_of_memory_changes_nothing(void **state)
{
    tu_failing_alloc fa = {-1, 0};
    kefu_allocator al = tu_failing_allocator(&fa);
    kefu_router *r = NULL;
    unsigned char *before;
    size_t blen;
    int rc = KEFU_E_NOMEM, failures = 0;
    (void)state;
    assert_int_equal(kefu_router_new(&r, NULL, &al), KEFU_OK);
    assert_int_equal(kefu_router_queue_add(r, 0, Q1, KEFU_STRATEGY_LONGEST_IDLE),
                     KEFU_OK);
    agent(r, 0, 1, 1, 1, 5);
    /* a call first moves the clock (timers fire whatever the call does) */
    assert_int_equal(kefu_router_tick(r, 10), KEFU_OK);
    before = snap(r, &blen);
    /* fail the first, second, ... allocation of a submit until it fits */
    for (long budget = 0; rc == KEFU_E_NOMEM && budget < 200; budget++) {
        fa.count = 0;
        fa.budget = budget;
        rc = submit(r, 10, 100, 0, 1);
        fa.budget = -1;
        if (rc == KEFU_E_NOMEM) {
            failures++;
            assert_same_state(r, before, blen);
            verify(r);
        }
    }
    assert_int_equal(rc, KEFU_OK);
    assert_true(failures > 0);
    expect_offer(r, 100, 1);
    free(before);
    kefu_router_free(r);
}

/* ---- the floor from a model file ---- */

static const char floor_yaml[] =
    "kefu: 1\n"
    "skills: {billing: 1, tech: 2}\n"
    "queues:\n"
    "  general: {id: 20}\n"
    "  billing:\n"
    "    id: 10\n"
    "    strategy: best_proficiency\n"
    "    skill: billing\n"
    "    sl_target_s: 15\n"
    "    steps:\n"
    "      - {after_s: 30, level_drop: 2}\n"
    "      - {after_s: 60, overflow: general}\n"
    "agents:\n"
    "  alice:\n"
    "    id: 1001\n"
    "    tier: senior\n"
    "    capacity: 3\n"
    "    channels: {voice: 3, chat: 1}\n"
    "    languages: [zh, en]\n"
    "    skills: {billing: 5, tech: 2}\n"
    "    queues: [billing]\n"
    "    state: available\n"
    "  bob: {id: 1002, skills: {billing: 8}, queues: [billing, general]}\n";

static void test_floor_from_model(void **state)
{
    kefu_model *m = NULL;
    kefu_router *r = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    static const uint32_t sk[1] = {1}, lv[1] = {4};
    kefu_route_request q = req(10, KEFU_CHANNEL_CHAT, 0, sk, lv, 1);
    kefu_agent_info a;
    (void)state;
    assert_int_equal(kefu_model_load_buffer(&m, floor_yaml, strlen(floor_yaml),
                                            "floor.yaml", NULL, NULL, d),
                     KEFU_OK);
    assert_int_equal(kefu_router_new(&r, m, NULL), KEFU_OK);
    kefu_model_free(m); /* the router does not keep the model */
    a = ainfo(r, 1001);
    assert_int_equal(a.state, KEFU_AGENT_AVAILABLE);
    assert_int_equal(a.capacity, 3);
    assert_int_equal(a.tier, KEFU_TIER_SENIOR);
    assert_int_equal(ainfo(r, 1002).state, KEFU_AGENT_OFFLINE);
    q.language = KEFU_LANG('z', 'h');
    assert_int_equal(kefu_router_submit(r, 1, 1, &q), KEFU_OK);
    expect_offer(r, 1, 1001);
    /* bob is better at billing but offline; once available and the
     * request speaks no language, best proficiency picks him */
    assert_int_equal(kefu_router_agent_state(r, 2, 1002, KEFU_AGENT_AVAILABLE),
                     KEFU_OK);
    q.language = 0;
    assert_int_equal(kefu_router_submit(r, 3, 2, &q), KEFU_OK);
    expect_offer(r, 2, 1002);
    kefu_router_free(r);
    kefu_diag_free(d);
}

static kefu_model *model_of(const char *yaml)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    int rc = kefu_model_load_buffer(&m, yaml, strlen(yaml), "m.yaml", NULL,
                                    NULL, d);
    if (rc)
        fprintf(stderr, "%s\n", kefu_diag_message(d));
    assert_int_equal(rc, KEFU_OK);
    kefu_diag_free(d);
    return m;
}

static void test_reload_keeps_everyone_logged_in(void **state)
{
    static const char *b_yaml =
        "kefu: 1\n"
        "skills: {billing: 1, tech: 2}\n"
        "queues:\n"
        "  general: {id: 20}\n"
        "  billing: {id: 10, strategy: least_loaded, steps: [{after_s: 5, level_drop: 3}]}\n"
        "agents:\n"
        "  alice: {id: 1001, tier: senior, capacity: 2, channels: {voice: 3, chat: 1},\n"
        "          languages: [zh], skills: {billing: 9}, queues: [billing]}\n"
        "  bob: {id: 1002, skills: {billing: 8}, queues: [billing, general]}\n"
        "  carol: {id: 1003, skills: {tech: 5}, queues: [general], state: available}\n";
    static const char *c_yaml =
        "kefu: 1\n"
        "skills: {billing: 1}\n"
        "agents:\n"
        "  alice: {id: 1001, capacity: 1, skills: {billing: 9}}\n";
    static const uint32_t sk[1] = {1}, lv4[1] = {4}, lv9[1] = {9};
    kefu_model *a = model_of(floor_yaml), *b = model_of(b_yaml),
               *c = model_of(c_yaml);
    kefu_router *r = NULL;
    kefu_route_request q = req(10, KEFU_CHANNEL_CHAT, 0, sk, lv4, 1);
    unsigned char *before;
    size_t blen;
    (void)state;
    assert_int_equal(kefu_router_new(&r, a, NULL), KEFU_OK);
    q.language = KEFU_LANG('z', 'h');
    assert_int_equal(kefu_router_submit(r, 1, 1, &q), KEFU_OK);
    expect_offer(r, 1, 1001);
    assert_int_equal(kefu_router_accept(r, 1, 1, 1001), KEFU_OK);
    assert_int_equal(kefu_router_agent_state(r, 2, 1002, KEFU_AGENT_AVAILABLE),
                     KEFU_OK);
    q.language = 0;
    q.levels = lv9;
    assert_int_equal(kefu_router_submit(r, 2, 2, &q), KEFU_OK);
    expect_none(r); /* nobody has billing 9 */
    assert_int_equal(kefu_router_reload(r, 3, b), KEFU_OK);
    /* alice now has billing 9 and room for a second chat */
    expect_offer(r, 2, 1001);
    expect_none(r);
    verify(r);
    assert_int_equal(ainfo(r, 1001).capacity, 2);
    assert_int_equal(ainfo(r, 1001).conversations, 2);
    assert_int_equal(cinfo(r, 1).state, KEFU_CONV_ASSIGNED);
    /* bob stays logged in although the model says nothing about it */
    assert_int_equal(ainfo(r, 1002).state, KEFU_AGENT_AVAILABLE);
    assert_int_equal(ainfo(r, 1003).state, KEFU_AGENT_AVAILABLE);
    /* a reload that cannot apply (capacity below what alice holds) changes
     * nothing */
    assert_int_equal(kefu_router_tick(r, 4), KEFU_OK);
    before = snap(r, &blen);
    assert_int_equal(kefu_router_reload(r, 4, c), KEFU_E_STATE);
    assert_non_null(strstr(kefu_diag_message(kefu_router_diag(r)), "1001"));
    assert_same_state(r, before, blen);
    free(before);
    kefu_router_free(r);
    kefu_model_free(a);
    kefu_model_free(b);
    kefu_model_free(c);
}

static void expect_model_error(const char *yaml, int status, uint32_t line,
                               uint32_t col, const char *needle)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    assert_int_equal(kefu_model_load_buffer(&m, yaml, strlen(yaml), "f.yaml",
                                            NULL, NULL, d), status);
    assert_null(m);
    assert_int_equal(kefu_diag_line(d), line);
    assert_int_equal(kefu_diag_column(d), col);
    assert_non_null(strstr(kefu_diag_message(d), needle));
    kefu_diag_free(d);
}

static void test_floor_errors_have_positions(void **state)
{
    (void)state;
    expect_model_error("kefu: 1\n"
                       "skills: {billing: 1}\n"
                       "agents:\n"
                       "  a: {id: 1, skills: {bilingg: 3}}\n",
                       KEFU_E_UNKNOWN, 4, 23, "bilingg");
    expect_model_error("kefu: 1\n"
                       "queues:\n"
                       "  q: {id: 1, strategy: fastest}\n",
                       KEFU_E_MODEL, 3, 24, "strategy");
    expect_model_error("kefu: 1\n"
                       "queues:\n"
                       "  q:\n"
                       "    id: 1\n"
                       "    steps: [{after_s: 5, overflow: nowhere}]\n",
                       KEFU_E_UNKNOWN, 5, 36, "nowhere");
    expect_model_error("kefu: 1\n"
                       "agents:\n"
                       "  a: {id: 1, capacity: 99}\n",
                       KEFU_E_MODEL, 3, 24, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longest_idle),
        cmocka_unit_test(test_least_loaded),
        cmocka_unit_test(test_best_proficiency),
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_preferred_agent),
        cmocka_unit_test(test_priority_then_arrival),
        cmocka_unit_test(test_aging_prevents_starvation),
        cmocka_unit_test(test_relaxation_level_drop_and_any),
        cmocka_unit_test(test_relaxation_tier_and_overflow),
        cmocka_unit_test(test_step_added_while_waiting),
        cmocka_unit_test(test_aging_option_reorders),
        cmocka_unit_test(test_offer_timeout_and_away),
        cmocka_unit_test(test_reject_keeps_place),
        cmocka_unit_test(test_capacity_costs),
        cmocka_unit_test(test_wrapup),
        cmocka_unit_test(test_cancel_and_transfer),
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_invalid_events_change_nothing),
        cmocka_unit_test(test_random_sequences_keep_invariants),
        cmocka_unit_test(test_replay_is_deterministic),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_keeps_pending_events),
        cmocka_unit_test(test_corrupt_snapshot_rejected),
        cmocka_unit_test(test_out_of_memory_changes_nothing),
        cmocka_unit_test(test_floor_from_model),
        cmocka_unit_test(test_floor_errors_have_positions),
        cmocka_unit_test(test_reload_keeps_everyone_logged_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
