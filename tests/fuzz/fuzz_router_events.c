/*
 * fuzz_router_events.c - bytes -> a sequence of router calls on a small
 * floor.  After every call the router's invariants must hold (no agent
 * over capacity, heaps and maps consistent), and a call that fails must
 * leave the state byte-for-byte as it was (compared through snapshots).
 * A call first fires the timers due by its time, whatever it then does, so
 * the harness moves the clock with a tick before taking the "before"
 * snapshot.
 */
#include <stdlib.h>
#include <string.h>

#include "kefu.h"
#include "router.h" /* kefu_router_verify */

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

typedef struct in {
    const uint8_t *p;
    size_t n, off;
} in;

static uint32_t byte(in *s)
{
    return s->off < s->n ? s->p[s->off++] : 0;
}

static unsigned char *snap(kefu_router *r, size_t *len)
{
    unsigned char *b;
    if (kefu_router_snapshot(r, NULL, 0, len) != KEFU_E_BUFFER)
        __builtin_trap();
    b = malloc(*len);
    CHECK(b && kefu_router_snapshot(r, b, *len, len) == KEFU_OK);
    return b;
}

static void drain(kefu_router *r)
{
    kefu_route_event e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    while (kefu_router_poll(r, &e) == KEFU_OK)
        e.size = sizeof e;
}

static int one_call(kefu_router *r, in *s, int64_t now)
{
    uint32_t op = byte(s) % 16, a = 1 + byte(s) % 8, c = 1 + byte(s) % 32;
    uint32_t x = byte(s), y = byte(s);
    static const uint32_t skills[3] = {1, 2, 3};
    uint32_t levels[3] = {1 + x % 5, 1 + y % 5, 1 + (x ^ y) % 5};
    kefu_route_request q;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    switch (op) {
    case 0: case 1: case 2:
        q.queue = 10 + 10 * (x % 3);          /* 30 does not exist */
        q.channel = y % 10;                   /* 0, 9 invalid */
        q.priority = (int32_t)(x % 7) - 3;
        q.tier = y % 5;                       /* 4 invalid */
        q.preferred_agent = x % 3 ? 0 : a;
        q.language = y % 4 ? 0 : 0x656e;
        q.nskills = x % 4;
        q.skills = skills;
        q.levels = levels;
        return kefu_router_submit(r, now, c, &q);
    case 3: case 4: return kefu_router_accept(r, now, c, a);
    case 5: return kefu_router_reject(r, now, c, a);
    case 6: case 7: return kefu_router_complete(r, now, c, (int64_t)(x % 4) * 3000);
    case 8: return kefu_router_cancel(r, now, c);
    case 9: return kefu_router_transfer(r, now, c, 10 + 10 * (x % 3));
    case 10: return kefu_router_agent_state(r, now, a, x % 5);
    case 11: return kefu_router_agent_skill(r, now, a, x % 4, y % 8);
    case 12: return kefu_router_agent_queue(r, now, a, 10 + 10 * (x % 3), y % 3);
    case 13: return kefu_router_agent_channel(r, now, a, x % 10, y % 5);
    case 14:
        if (x % 2)
            return kefu_router_agent_remove(r, now, a);
        return kefu_router_agent_add(r, now, a, y % 5, x % 6);
    default:
        return kefu_router_tick(r, now);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kefu_router *r;
    in s = {data, size, 0};
    int64_t t = 0;
    if (kefu_router_new(&r, NULL, NULL))
        return 0;
    /* few statistics buckets keep the per-call snapshots small */
    kefu_router_set(r, KEFU_ROUTER_STATS_BUCKETS, 2);
    kefu_router_set(r, KEFU_ROUTER_OFFER_TIMEOUT_MS, 4000);
    kefu_router_set(r, KEFU_ROUTER_MAX_MISSES, 2);
    kefu_router_queue_add(r, 0, 10, KEFU_STRATEGY_LONGEST_IDLE);
    kefu_router_queue_add(r, 0, 20, 1 + (size % 4));
    kefu_router_queue_step(r, 0, 10, 5000, 2, 0, 0, 0);
    kefu_router_queue_step(r, 0, 10, 9000, 0, 1, 1, 0);
    kefu_router_queue_step(r, 0, 10, 15000, 0, 0, 0, 20);
    for (uint32_t a = 1; a <= 8; a++) {
        kefu_router_agent_add(r, 0, a, a % 4, a % 4 + 1);
        kefu_router_agent_skill(r, 0, a, 1 + a % 3, 1 + a % 5);
        kefu_router_agent_queue(r, 0, a, a % 3 ? 10 : 20, 1);
        kefu_router_agent_state(r, 0, a, KEFU_AGENT_AVAILABLE);
    }
    while (s.off < s.n && s.off < 4096) {
        size_t blen, alen;
        unsigned char *before, *after;
        int64_t now = t + (int64_t)(byte(&s) % 64) * 500 - 1000; /* may go back */
        int rc;
        if (now >= t) {
            CHECK(kefu_router_tick(r, now) == KEFU_OK);
            t = now;
        }
        drain(r);
        before = snap(r, &blen);
        rc = one_call(r, &s, now);
        if (now < t)
            CHECK(rc == KEFU_E_ARG);
        if (rc == KEFU_OK)
            drain(r);
        CHECK(kefu_router_verify(r) == KEFU_OK);
        if (rc == KEFU_OK) {
            /* the clock only moves forward, with the calls that succeed */
            CHECK(r->now >= t);
            t = r->now;
        } else if (rc != KEFU_E_NOMEM) {
            after = snap(r, &alen);
            CHECK(alen == blen && !memcmp(before, after, blen));
            free(after);
        }
        free(before);
    }
    kefu_router_free(r);
    return 0;
}
