/*
 * router.c - skill-based routing as a deterministic state machine.
 *
 * Every public call carries the host's time; due timers (offer timeouts,
 * wrap-up ends, relaxation steps) fire first, in (due, kind, id) order, each
 * at its own due time.  Nothing here reads a clock or draws a random
 * number, and every ordering is total (ties end on ids or arrival
 * sequence), so the same calls give the same decisions, and a restored
 * snapshot makes the same decisions as the router it was taken from.
 *
 * Indexes, so that no event scans everything:
 *  - per queue, a heap of its offerable member agents ordered by the
 *    queue's strategy;
 *  - per queue, a heap of waiting conversations by priority with aging
 *    (key priority * aging_ms - arrival: the effective priority
 *    priority + wait / aging_ms grows at the same rate for everyone, so the
 *    order never changes while they wait) and one by arrival (longest
 *    wait);
 *  - a timer heap.
 * A match walks a heap in order without popping it (a small frontier heap
 * of positions) and stops at the first eligible entry.
 *
 * Failure atomicity: every call validates, then reserves all the memory
 * its state change can need (heap slots, event slots, map slots), then
 * changes state; nothing after the reservation can fail.
 */
#include "router.h"

#include "model.h"

/* Worst number of events one step (one call or one timer) can emit: an
 * offer per unit of an agent's capacity, plus a notice or two. */
#define RT_EVENTS_PER_STEP (2 * KEFU_ROUTER_MAX_CAPACITY + 8)

static int rt_fail(struct kefu_router *r, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#include <stdarg.h>
#include <stdio.h>

static int rt_fail(struct kefu_router *r, int status, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kefu_diag_msg(&r->diag, status, "%s", msg);
}

/* ------------------------------------------------------------------------
 * id maps
 * ---------------------------------------------------------------------- */

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

uint32_t rt_map_get(const rt_map *m, uint32_t key)
{
    if (!m->cap || key == 0)
        return RT_NONE;
    for (size_t i = mix32(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key)
            return m->vals[i];
        if (m->keys[i] == 0)
            return RT_NONE;
    }
}

/* Makes room for `extra` more keys without a later allocation. */
static int map_reserve(const kefu_mem *mem, rt_map *m, size_t extra)
{
    size_t need = m->n + extra, ncap;
    uint32_t *k, *v;
    if (need * 2 <= m->cap)
        return KEFU_OK;
    ncap = m->cap ? m->cap : 16;
    while (ncap < need * 2)
        ncap *= 2;
    k = kefu_alloc_array(mem, ncap, sizeof *k);
    v = kefu_alloc_array(mem, ncap, sizeof *v);
    if (!k || !v) {
        kefu_dealloc(mem, k);
        kefu_dealloc(mem, v);
        return KEFU_E_NOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = mix32(m->keys[i]) & (ncap - 1);
        while (k[j])
            j = (j + 1) & (ncap - 1);
        k[j] = m->keys[i];
        v[j] = m->vals[i];
    }
    kefu_dealloc(mem, m->keys);
    kefu_dealloc(mem, m->vals);
    m->keys = k;
    m->vals = v;
    m->cap = ncap;
    return KEFU_OK;
}

int rt_map_put(const kefu_mem *mem, rt_map *m, uint32_t key, uint32_t val)
{
    size_t i;
    int rc = map_reserve(mem, m, 1);
    if (rc)
        return rc;
    for (i = mix32(key) & (m->cap - 1); m->keys[i] && m->keys[i] != key;
         i = (i + 1) & (m->cap - 1))
        ;
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return KEFU_OK;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void map_del(rt_map *m, uint32_t key)
{
    size_t i, j, mask = m->cap - 1;
    if (!m->cap || !key)
        return;
    for (i = mix32(key) & mask; m->keys[i] != key; i = (i + 1) & mask)
        if (!m->keys[i])
            return;
    m->keys[i] = 0;
    m->n--;
    for (j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = mix32(m->keys[j]) & mask;
        /* move j into the hole i if its home is not in (i, j] */
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = 0;
            i = j;
        }
    }
}

static void map_free(const kefu_mem *mem, rt_map *m)
{
    kefu_dealloc(mem, m->keys);
    kefu_dealloc(mem, m->vals);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------
 * ordering
 * ---------------------------------------------------------------------- */

static uint32_t agent_level(const rt_agent *a, uint32_t skill)
{
    size_t lo = 0, hi = a->nskill;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->skills[mid].skill == skill)
            return a->skills[mid].level;
        if (a->skills[mid].skill < skill)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Is agent a ahead of agent b in queue q's order? */
static bool agent_before(const struct kefu_router *r, const rt_queue *q,
                         uint32_t ai, uint32_t bi)
{
    const rt_agent *a = &r->agents[ai], *b = &r->agents[bi];
    switch (q->strategy) {
    case KEFU_STRATEGY_LEAST_LOADED: {
        uint64_t la = (uint64_t)a->load * b->capacity;
        uint64_t lb = (uint64_t)b->load * a->capacity;
        if (la != lb)
            return la < lb;
        break;
    }
    case KEFU_STRATEGY_BEST_PROFICIENCY: {
        uint32_t la = agent_level(a, q->skill), lb = agent_level(b, q->skill);
        if (la != lb)
            return la > lb;
        break;
    }
    case KEFU_STRATEGY_ROUND_ROBIN:
        if (a->rr != b->rr)
            return a->rr < b->rr;
        return a->id < b->id;
    default:
        break;
    }
    if (a->idle_since != b->idle_since)
        return a->idle_since < b->idle_since;
    return a->id < b->id;
}

static int64_t conv_rank(const struct kefu_router *r, const rt_conv *c)
{
    return (int64_t)c->priority * r->aging - c->arrival;
}

/* Is conversation a served before b? */
static bool conv_before(const struct kefu_router *r, const rt_conv *a,
                        const rt_conv *b)
{
    if (r->aging) {
        int64_t ra = conv_rank(r, a), rb = conv_rank(r, b);
        if (ra != rb)
            return ra > rb;
    } else if (a->priority != b->priority) {
        return a->priority > b->priority;
    }
    if (a->arrival != b->arrival)
        return a->arrival < b->arrival;
    return a->seq < b->seq;
}

static bool arr_before(const rt_conv *a, const rt_conv *b)
{
    if (a->arrival != b->arrival)
        return a->arrival < b->arrival;
    return a->seq < b->seq;
}

/* ------------------------------------------------------------------------
 * heaps
 * ---------------------------------------------------------------------- */

typedef struct hctx {
    struct kefu_router *r;
    rt_queue *q;
    int kind;
} hctx;

static bool h_less(const hctx *c, uint64_t a, uint64_t b)
{
    switch (c->kind) {
    case RT_H_AGENTS:
        return agent_before(c->r, c->q, (uint32_t)(a >> 32),
                            (uint32_t)(b >> 32));
    case RT_H_PRIO:
        return conv_before(c->r, &c->r->convs[a], &c->r->convs[b]);
    default:
        return arr_before(&c->r->convs[a], &c->r->convs[b]);
    }
}

static void h_setpos(const hctx *c, uint64_t e, size_t pos)
{
    switch (c->kind) {
    case RT_H_AGENTS:
        c->r->agents[e >> 32].mem[(uint32_t)e].pos = (uint32_t)pos;
        break;
    case RT_H_PRIO:
        c->r->convs[e].hpos = (uint32_t)pos;
        break;
    default:
        c->r->convs[e].apos = (uint32_t)pos;
        break;
    }
}

static void h_up(const hctx *c, rt_heap *h, size_t i)
{
    uint64_t e = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!h_less(c, e, h->v[p]))
            break;
        h->v[i] = h->v[p];
        h_setpos(c, h->v[i], i);
        i = p;
    }
    h->v[i] = e;
    h_setpos(c, e, i);
}

static void h_down(const hctx *c, rt_heap *h, size_t i)
{
    uint64_t e = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, best;
        if (l >= h->n)
            break;
        best = l;
        if (l + 1 < h->n && h_less(c, h->v[l + 1], h->v[l]))
            best = l + 1;
        if (!h_less(c, h->v[best], e))
            break;
        h->v[i] = h->v[best];
        h_setpos(c, h->v[i], i);
        i = best;
    }
    h->v[i] = e;
    h_setpos(c, e, i);
}

/* Capacity must have been reserved. */
static void h_push(const hctx *c, rt_heap *h, uint64_t e)
{
    h->v[h->n++] = e;
    h_up(c, h, h->n - 1);
}

static void h_remove(const hctx *c, rt_heap *h, size_t i)
{
    uint64_t last = h->v[--h->n];
    if (i == h->n)
        return;
    h->v[i] = last;
    h_setpos(c, last, i);
    h_up(c, h, i);
    h_down(c, h, c->kind == RT_H_AGENTS
                     ? (c->r->agents[last >> 32].mem[(uint32_t)last].pos)
                     : c->kind == RT_H_PRIO ? c->r->convs[last].hpos
                                            : c->r->convs[last].apos);
}

/* Reserves heap slots and the traversal scratch that goes with them. */
static int heap_reserve(struct kefu_router *r, rt_heap *h, size_t extra)
{
    if (kefu_grow(&r->mem, (void **)&h->v, &h->cap, h->n + extra,
                  sizeof *h->v))
        return KEFU_E_NOMEM;
    if (kefu_grow(&r->mem, (void **)&r->aux, &r->auxcap, h->cap + 2,
                  sizeof *r->aux))
        return KEFU_E_NOMEM;
    return KEFU_OK;
}

/* Frontier of a non-destructive in-order walk: a min-heap of positions. */
typedef struct walk {
    const hctx *c;
    const rt_heap *h;
    uint64_t *f;
    size_t n;
} walk;

static bool w_less(const walk *w, uint64_t pa, uint64_t pb)
{
    return h_less(w->c, w->h->v[pa], w->h->v[pb]);
}

static void w_push(walk *w, uint64_t pos)
{
    size_t i = w->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!w_less(w, pos, w->f[p]))
            break;
        w->f[i] = w->f[p];
        i = p;
    }
    w->f[i] = pos;
}

static uint64_t w_pop(walk *w)
{
    uint64_t top = w->f[0], e = w->f[--w->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, b;
        if (l >= w->n)
            break;
        b = l;
        if (l + 1 < w->n && w_less(w, w->f[l + 1], w->f[l]))
            b = l + 1;
        if (!w_less(w, w->f[b], e))
            break;
        w->f[i] = w->f[b];
        i = b;
    }
    if (w->n)
        w->f[i] = e;
    return top;
}

static void w_start(walk *w, const hctx *c, const rt_heap *h, uint64_t *f)
{
    w->c = c;
    w->h = h;
    w->f = f;
    w->n = 0;
    if (h->n)
        w_push(w, 0);
}

/* Next element in order, or false at the end.  The frontier never holds
 * more than heap size + 1 positions (auxcap is kept above that). */
static bool w_next(walk *w, uint64_t *e)
{
    uint64_t p;
    if (!w->n)
        return false;
    p = w_pop(w);
    if (2 * p + 1 < w->h->n)
        w_push(w, 2 * p + 1);
    if (2 * p + 2 < w->h->n)
        w_push(w, 2 * p + 2);
    *e = w->h->v[p];
    return true;
}

/* ---- timers: min-heap by (due, kind, id, gen) ---- */

static bool t_less(const rt_timer *a, const rt_timer *b)
{
    if (a->due != b->due)
        return a->due < b->due;
    if (a->kind != b->kind)
        return a->kind < b->kind;
    if (a->id != b->id)
        return a->id < b->id;
    return a->gen < b->gen;
}

static void t_push(struct kefu_router *r, int64_t due, uint32_t kind,
                   uint32_t id, uint64_t gen)
{
    rt_timer t = {due, kind, id, gen};
    size_t i = r->ntimers++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!t_less(&t, &r->timers[p]))
            break;
        r->timers[i] = r->timers[p];
        i = p;
    }
    r->timers[i] = t;
}

static void t_pop(struct kefu_router *r)
{
    rt_timer e = r->timers[--r->ntimers];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, b;
        if (l >= r->ntimers)
            break;
        b = l;
        if (l + 1 < r->ntimers && t_less(&r->timers[l + 1], &r->timers[l]))
            b = l + 1;
        if (!t_less(&r->timers[b], &e))
            break;
        r->timers[i] = r->timers[b];
        i = b;
    }
    if (r->ntimers)
        r->timers[i] = e;
}

/* ------------------------------------------------------------------------
 * statistics buckets
 * ---------------------------------------------------------------------- */

int rt_alloc_stats(struct kefu_router *r, rt_bucket **out)
{
    rt_bucket *b = kefu_alloc_array(&r->mem, (size_t)r->nbuckets, sizeof *b);
    if (!b)
        return KEFU_E_NOMEM;
    for (int64_t i = 0; i < r->nbuckets; i++)
        b[i].start = -1;
    *out = b;
    return KEFU_OK;
}

static rt_bucket *bucket_at(struct kefu_router *r, rt_bucket *bs, int64_t t)
{
    int64_t start = t - t % r->bucket_ms;
    rt_bucket *b = &bs[(start / r->bucket_ms) % r->nbuckets];
    if (b->start != start) {
        memset(b, 0, sizeof *b);
        b->start = start;
    }
    return b;
}

/* Adds staffed and busy agent time from r->now to t, bucket by bucket. */
static void integrate(struct kefu_router *r, int64_t t)
{
    int64_t from = r->now;
    if (t <= from || (!r->staffed && !r->busy))
        return;
    /* only the window is kept: skip time older than it */
    if (t - from > r->bucket_ms * r->nbuckets)
        from = t - r->bucket_ms * r->nbuckets;
    while (from < t) {
        int64_t end = from - from % r->bucket_ms + r->bucket_ms;
        rt_bucket *b = bucket_at(r, r->total, from);
        if (end > t)
            end = t;
        b->staffed_ms += (uint64_t)(end - from) * r->staffed;
        b->busy_ms += (uint64_t)(end - from) * r->busy;
        from = end;
    }
}

typedef enum { ST_OFFERED, ST_ANSWERED, ST_ABANDONED, ST_TRANSFER,
               ST_REROUTE } stat_kind;

static void stat_add(struct kefu_router *r, uint32_t qi, stat_kind k,
                     int64_t wait)
{
    rt_bucket *bs[2];
    bs[0] = bucket_at(r, r->queues[qi].stats, r->now);
    bs[1] = bucket_at(r, r->total, r->now);
    for (int i = 0; i < 2; i++) {
        rt_bucket *b = bs[i];
        switch (k) {
        case ST_OFFERED: b->offered++; break;
        case ST_ANSWERED:
            b->answered++;
            b->wait_ms += (uint64_t)wait;
            if (wait <= r->queues[qi].sl_target)
                b->in_target++;
            break;
        case ST_ABANDONED: b->abandoned++; break;
        case ST_TRANSFER: b->transfers++; break;
        case ST_REROUTE: b->reroutes++; break;
        }
    }
}

/* ------------------------------------------------------------------------
 * agents: offerability and the queue heaps
 * ---------------------------------------------------------------------- */

static bool offerable(const rt_agent *a)
{
    return a->id && a->presence == KEFU_AGENT_AVAILABLE && !a->wrapup_until &&
           a->load < a->capacity;
}

static bool working(const rt_agent *a)
{
    return a->nconv > 0 || a->wrapup_until != 0;
}

/* Takes the agent out of every queue heap and the counters. */
static void agent_detach(struct kefu_router *r, uint32_t ai)
{
    rt_agent *a = &r->agents[ai];
    for (uint32_t s = 0; s < a->nmem; s++) {
        if (a->mem[s].pos != RT_NONE) {
            rt_queue *q = &r->queues[a->mem[s].queue];
            hctx c = {r, q, RT_H_AGENTS};
            h_remove(&c, &q->agents, a->mem[s].pos);
            a->mem[s].pos = RT_NONE;
        }
    }
    if (a->presence != KEFU_AGENT_OFFLINE)
        r->staffed--;
    if (working(a))
        r->busy--;
}

/* Puts the agent back where its state says (the heaps have room: a slot
 * is reserved for every member when it joins). */
static void agent_attach(struct kefu_router *r, uint32_t ai)
{
    rt_agent *a = &r->agents[ai];
    if (a->presence != KEFU_AGENT_OFFLINE)
        r->staffed++;
    if (working(a))
        r->busy++;
    if (!offerable(a))
        return;
    for (uint32_t s = 0; s < a->nmem; s++) {
        rt_queue *q = &r->queues[a->mem[s].queue];
        hctx c = {r, q, RT_H_AGENTS};
        h_push(&c, &q->agents, (uint64_t)ai << 32 | s);
    }
}

/* ------------------------------------------------------------------------
 * eligibility
 * ---------------------------------------------------------------------- */

typedef struct relax {
    uint32_t drop, tier, any;
} relax;

static relax conv_relax(const struct kefu_router *r, const rt_conv *c)
{
    const rt_queue *q = &r->queues[c->queue];
    relax x = {0, c->tier, 0};
    for (uint32_t i = 0; i < c->step && i < q->nstep; i++) {
        const rt_step *s = &q->steps[i];
        if (s->drop > x.drop)
            x.drop = s->drop;
        if (s->tier)
            x.tier = s->tier;
        if (s->any)
            x.any = 1;
    }
    return x;
}

/* Membership in the conversation's queue is checked by the caller. */
static bool eligible(const struct kefu_router *r, const rt_conv *c,
                     const rt_agent *a)
{
    uint32_t cost;
    relax x;
    if (!offerable(a) || a->id == c->skip_agent)
        return false;
    cost = a->cost[c->channel - 1];
    if (!cost || a->load + cost > a->capacity)
        return false;
    if (c->language) {
        uint32_t i;
        for (i = 0; i < a->nlang && a->lang[i] != c->language; i++)
            ;
        if (i == a->nlang)
            return false;
    }
    x = conv_relax(r, c);
    if (x.any)
        return true;
    if (a->tier < x.tier)
        return false;
    for (uint32_t i = 0; i < c->nskill; i++) {
        uint32_t need = c->skills[i].level > x.drop
                            ? c->skills[i].level - x.drop : 1;
        if (agent_level(a, c->skills[i].skill) < need)
            return false;
    }
    return true;
}

static uint32_t member_slot(const rt_agent *a, uint32_t qi)
{
    for (uint32_t s = 0; s < a->nmem; s++)
        if (a->mem[s].queue == qi)
            return s;
    return RT_NONE;
}

/* ------------------------------------------------------------------------
 * events out
 * ---------------------------------------------------------------------- */

static int events_reserve(struct kefu_router *r, size_t extra)
{
    if (r->ev_head > 0 && r->nevents + extra > r->evcap) {
        /* compact the consumed prefix */
        memmove(r->events, r->events + r->ev_head,
                (r->nevents - r->ev_head) * sizeof *r->events);
        r->nevents -= r->ev_head;
        r->ev_head = 0;
    }
    return kefu_grow(&r->mem, (void **)&r->events, &r->evcap,
                     r->nevents + extra, sizeof *r->events);
}

static void emit(struct kefu_router *r, uint32_t kind, uint32_t conv,
                 uint32_t agent, uint32_t queue)
{
    kefu_route_event *e = &r->events[r->nevents++];
    memset(e, 0, sizeof *e);
    e->size = sizeof *e;
    e->kind = kind;
    e->conversation = conv;
    e->agent = agent;
    e->queue = queue;
    e->time_ms = r->now;
}

/* ------------------------------------------------------------------------
 * conversations in queues
 * ---------------------------------------------------------------------- */

static void conv_step_timer(struct kefu_router *r, rt_conv *c)
{
    const rt_queue *q = &r->queues[c->queue];
    if (c->state == RT_C_WAITING && c->step < q->nstep) {
        /* a step added after the conversation passed its time applies
         * now, not in the past */
        int64_t due = c->queued_at + q->steps[c->step].after;
        t_push(r, due > r->now ? due : r->now, RT_T_STEP, c->id, c->gen);
    }
}

/* Heap slots for the conversation were reserved by the caller. */
static void conv_enqueue(struct kefu_router *r, uint32_t ci)
{
    rt_conv *c = &r->convs[ci];
    rt_queue *q = &r->queues[c->queue];
    hctx hp = {r, q, RT_H_PRIO}, ha = {r, q, RT_H_ARR};
    c->state = RT_C_WAITING;
    c->agent = RT_NONE;
    h_push(&hp, &q->prio, ci);
    h_push(&ha, &q->arr, ci);
}

static void conv_dequeue(struct kefu_router *r, uint32_t ci)
{
    rt_conv *c = &r->convs[ci];
    rt_queue *q = &r->queues[c->queue];
    hctx hp = {r, q, RT_H_PRIO}, ha = {r, q, RT_H_ARR};
    h_remove(&hp, &q->prio, c->hpos);
    h_remove(&ha, &q->arr, c->apos);
    c->hpos = c->apos = RT_NONE;
}

/* Offers waiting conversation ci to agent ai. */
static void make_offer(struct kefu_router *r, uint32_t ci, uint32_t ai)
{
    rt_conv *c = &r->convs[ci];
    rt_agent *a = &r->agents[ai];
    conv_dequeue(r, ci);
    c->gen = ++r->gen;
    c->state = RT_C_RESERVED;
    c->agent = ai;
    c->offer_at = r->now;
    c->deadline = r->now + r->offer_timeout;
    agent_detach(r, ai);
    a->load += a->cost[c->channel - 1];
    a->nconv++;
    a->idle_since = r->now;
    a->rr = ++r->rr;
    agent_attach(r, ai);
    t_push(r, c->deadline, RT_T_OFFER, c->id, c->gen);
    emit(r, KEFU_ROUTE_OFFER, c->id, a->id, r->queues[c->queue].id);
}

/* Best agent for a waiting conversation, or RT_NONE. */
static uint32_t best_agent(struct kefu_router *r, const rt_conv *c)
{
    rt_queue *q = &r->queues[c->queue];
    hctx hc = {r, q, RT_H_AGENTS};
    walk w;
    uint64_t e;
    if (c->preferred) {
        uint32_t pi = rt_map_get(&r->agent_ix, c->preferred);
        if (pi != RT_NONE && member_slot(&r->agents[pi], c->queue) != RT_NONE &&
            eligible(r, c, &r->agents[pi]))
            return pi;
    }
    w_start(&w, &hc, &q->agents, r->aux);
    while (w_next(&w, &e)) {
        uint32_t ai = (uint32_t)(e >> 32);
        if (eligible(r, c, &r->agents[ai]))
            return ai;
    }
    return RT_NONE;
}

static void match_conv(struct kefu_router *r, uint32_t ci)
{
    uint32_t ai;
    if (r->convs[ci].state != RT_C_WAITING)
        return;
    ai = best_agent(r, &r->convs[ci]);
    if (ai != RT_NONE)
        make_offer(r, ci, ai);
}

/* Best waiting conversation, over all the agent's queues, or RT_NONE. */
static uint32_t best_conv(struct kefu_router *r, uint32_t ai)
{
    rt_agent *a = &r->agents[ai];
    uint32_t best = RT_NONE;
    for (uint32_t s = 0; s < a->nmem; s++) {
        rt_queue *q = &r->queues[a->mem[s].queue];
        hctx hc = {r, q, RT_H_PRIO};
        walk w;
        uint64_t e;
        w_start(&w, &hc, &q->prio, r->aux);
        while (w_next(&w, &e)) {
            const rt_conv *c = &r->convs[e];
            /* the rest of this queue comes after e: stop when e already
             * loses to the best found so far */
            if (best != RT_NONE && !conv_before(r, c, &r->convs[best]))
                break;
            if (eligible(r, c, a)) {
                best = (uint32_t)e;
                break;
            }
        }
    }
    return best;
}

static void match_agent(struct kefu_router *r, uint32_t ai)
{
    while (offerable(&r->agents[ai])) {
        uint32_t ci = best_conv(r, ai);
        if (ci == RT_NONE)
            return;
        make_offer(r, ci, ai);
    }
}

/* ------------------------------------------------------------------------
 * timers
 * ---------------------------------------------------------------------- */

static int timers_reserve(struct kefu_router *r, size_t extra)
{
    return kefu_grow(&r->mem, (void **)&r->timers, &r->tcap,
                     r->ntimers + extra, sizeof *r->timers);
}

/* Memory one step may need; checked before the step changes anything. */
static int step_reserve(struct kefu_router *r)
{
    if (events_reserve(r, RT_EVENTS_PER_STEP) ||
        timers_reserve(r, RT_EVENTS_PER_STEP))
        return KEFU_E_NOMEM;
    return KEFU_OK;
}

/* Releases a reserved conversation's hold on its agent. */
static void release_agent(struct kefu_router *r, rt_conv *c)
{
    rt_agent *a = &r->agents[c->agent];
    uint32_t ai = c->agent;
    agent_detach(r, ai);
    a->load -= a->cost[c->channel - 1];
    a->nconv--;
    agent_attach(r, ai);
    c->agent = RT_NONE;
}

static void fire_offer_timeout(struct kefu_router *r, uint32_t ci)
{
    rt_conv *c = &r->convs[ci];
    uint32_t ai = c->agent;
    rt_agent *a = &r->agents[ai];
    emit(r, KEFU_ROUTE_TIMEOUT, c->id, a->id, r->queues[c->queue].id);
    release_agent(r, c);
    c->skip_agent = a->id;
    c->gen = ++r->gen;
    conv_enqueue(r, ci);
    conv_step_timer(r, c);
    agent_detach(r, ai);
    a->misses++;
    if (r->max_misses && a->misses >= (uint64_t)r->max_misses &&
        a->presence == KEFU_AGENT_AVAILABLE) {
        a->presence = KEFU_AGENT_AWAY;
        emit(r, KEFU_ROUTE_AGENT_AWAY, 0, a->id, 0);
    }
    agent_attach(r, ai);
    match_conv(r, ci);
    match_agent(r, ai);
}

static void fire_step(struct kefu_router *r, uint32_t ci)
{
    rt_conv *c = &r->convs[ci];
    const rt_step *s = &r->queues[c->queue].steps[c->step];
    c->step++;
    if (s->overflow) {
        uint32_t to = rt_map_get(&r->queue_ix, s->overflow);
        stat_add(r, c->queue, ST_REROUTE, 0);
        conv_dequeue(r, ci);
        c->queue = to;
        c->queued_at = r->now;
        c->step = 0;
        conv_enqueue(r, ci);
        emit(r, KEFU_ROUTE_OVERFLOW, c->id, 0, r->queues[to].id);
    }
    c->gen = ++r->gen;
    conv_step_timer(r, c);
    match_conv(r, ci);
}

static void fire_wrap(struct kefu_router *r, uint32_t ai)
{
    rt_agent *a = &r->agents[ai];
    agent_detach(r, ai);
    a->wrapup_until = 0;
    a->idle_since = r->now;
    agent_attach(r, ai);
    match_agent(r, ai);
}

/* Fires every timer due by `now`, each at its due time, then moves the
 * clock to `now`. */
static int advance(struct kefu_router *r, int64_t now)
{
    while (r->ntimers && r->timers[0].due <= now) {
        rt_timer t = r->timers[0];
        uint32_t ix;
        if (t.kind == RT_T_STEP || t.kind == RT_T_OFFER) {
            ix = rt_map_get(&r->conv_ix, t.id);
            if (ix == RT_NONE || r->convs[ix].gen != t.gen ||
                r->convs[ix].state !=
                    (t.kind == RT_T_STEP ? RT_C_WAITING : RT_C_RESERVED)) {
                t_pop(r);
                continue;
            }
            {
                /* a timed-out offer goes back to its queue */
                rt_queue *home = &r->queues[r->convs[ix].queue];
                if (heap_reserve(r, &home->prio, 1) ||
                    heap_reserve(r, &home->arr, 1))
                    return rt_fail(r, KEFU_E_NOMEM, "out of memory");
            }
            if (t.kind == RT_T_STEP) {
                const rt_conv *c = &r->convs[ix];
                const rt_step *s = &r->queues[c->queue].steps[c->step];
                if (s->overflow) {
                    rt_queue *to = &r->queues[rt_map_get(&r->queue_ix,
                                                         s->overflow)];
                    if (heap_reserve(r, &to->prio, 1) ||
                        heap_reserve(r, &to->arr, 1))
                        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
                }
            }
        } else {
            ix = rt_map_get(&r->agent_ix, t.id);
            if (ix == RT_NONE || r->agents[ix].gen != t.gen ||
                r->agents[ix].wrapup_until != t.due) {
                t_pop(r);
                continue;
            }
        }
        if (step_reserve(r))
            return rt_fail(r, KEFU_E_NOMEM, "out of memory");
        t_pop(r);
        integrate(r, t.due);
        r->now = t.due;
        if (t.kind == RT_T_STEP)
            fire_step(r, ix);
        else if (t.kind == RT_T_OFFER)
            fire_offer_timeout(r, ix);
        else
            fire_wrap(r, ix);
    }
    integrate(r, now);
    r->now = now;
    return KEFU_OK;
}

/* Every mutating call starts here: a valid clock, due timers fired, and
 * the memory of one step reserved. */
static int begin(struct kefu_router *r, int64_t now)
{
    int rc;
    kefu_diag_clear(&r->diag);
    if (now < r->now || now > RT_MAX_TIME)
        return rt_fail(r, KEFU_E_ARG,
                       "time %lld is before the router's clock %lld",
                       (long long)now, (long long)r->now);
    if ((rc = advance(r, now)))
        return rc;
    if (step_reserve(r))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    return KEFU_OK;
}

/* ------------------------------------------------------------------------
 * life cycle and options
 * ---------------------------------------------------------------------- */

void rt_router_init(struct kefu_router *r, const kefu_allocator *alloc)
{
    memset(r, 0, sizeof *r);
    kefu_mem_init(&r->mem, alloc);
    kefu_diag_init(&r->diag, &r->mem.a);
    r->aging = 60000;
    r->offer_timeout = 15000;
    r->max_misses = 3;
    r->bucket_ms = 60000;
    r->nbuckets = 60;
    r->agfree = r->cvfree = RT_NONE;
}

void rt_router_release(struct kefu_router *r)
{
    const kefu_mem *mem = &r->mem;
    for (size_t i = 0; i < r->nagents; i++) {
        kefu_dealloc(mem, r->agents[i].skills);
        kefu_dealloc(mem, r->agents[i].mem);
    }
    for (size_t i = 0; i < r->nqueues; i++) {
        kefu_dealloc(mem, r->queues[i].agents.v);
        kefu_dealloc(mem, r->queues[i].prio.v);
        kefu_dealloc(mem, r->queues[i].arr.v);
        kefu_dealloc(mem, r->queues[i].stats);
    }
    kefu_dealloc(mem, r->agents);
    kefu_dealloc(mem, r->convs);
    kefu_dealloc(mem, r->queues);
    kefu_dealloc(mem, r->timers);
    kefu_dealloc(mem, r->events);
    kefu_dealloc(mem, r->aux);
    kefu_dealloc(mem, r->total);
    map_free(mem, &r->agent_ix);
    map_free(mem, &r->conv_ix);
    map_free(mem, &r->queue_ix);
}

KEFU_API int kefu_router_new(kefu_router **out, const kefu_model *model,
                             const kefu_allocator *alloc)
{
    kefu_mem mem;
    struct kefu_router *r;
    int rc;
    if (!out)
        return KEFU_E_ARG;
    *out = NULL;
    kefu_mem_init(&mem, alloc);
    if (!(r = kefu_alloc(&mem, sizeof *r)))
        return KEFU_E_NOMEM;
    rt_router_init(r, &mem.a);
    if ((rc = rt_alloc_stats(r, &r->total))) {
        kefu_router_free(r);
        return rc;
    }
    if (model && model->floor && (rc = rt_apply_floor(r, model->floor))) {
        kefu_router_free(r);
        return rc;
    }
    *out = r;
    return KEFU_OK;
}

KEFU_API void kefu_router_free(kefu_router *r)
{
    kefu_mem mem;
    if (!r)
        return;
    mem = r->mem;
    rt_router_release(r);
    kefu_dealloc(&mem, r);
}

KEFU_API const kefu_diag *kefu_router_diag(const kefu_router *r)
{
    return r ? &r->diag : NULL;
}

KEFU_API int kefu_router_bounds(kefu_router_option opt, int64_t *lo,
                                int64_t *hi)
{
    int64_t l, h;
    switch (opt) {
    case KEFU_ROUTER_AGING_MS: l = 0; h = 1000000000; break;
    case KEFU_ROUTER_OFFER_TIMEOUT_MS: l = 1; h = 86400000; break;
    case KEFU_ROUTER_MAX_MISSES: l = 0; h = 1000; break;
    case KEFU_ROUTER_STATS_BUCKET_MS: l = 1000; h = 86400000; break;
    case KEFU_ROUTER_STATS_BUCKETS: l = 1; h = 10080; break;
    default: return KEFU_E_ARG;
    }
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
    return KEFU_OK;
}

static int64_t *option_ref(struct kefu_router *r, kefu_router_option opt)
{
    switch (opt) {
    case KEFU_ROUTER_AGING_MS: return &r->aging;
    case KEFU_ROUTER_OFFER_TIMEOUT_MS: return &r->offer_timeout;
    case KEFU_ROUTER_MAX_MISSES: return &r->max_misses;
    case KEFU_ROUTER_STATS_BUCKET_MS: return &r->bucket_ms;
    case KEFU_ROUTER_STATS_BUCKETS: return &r->nbuckets;
    default: return NULL;
    }
}

/* Rebuilds every conversation heap (their order depends on aging). */
static void reheap_convs(struct kefu_router *r)
{
    for (size_t qi = 0; qi < r->nqueues; qi++) {
        rt_queue *q = &r->queues[qi];
        hctx hp = {r, q, RT_H_PRIO};
        for (size_t i = q->prio.n; i-- > 0;)
            h_down(&hp, &q->prio, i);
    }
}

KEFU_API int kefu_router_set(kefu_router *r, kefu_router_option opt,
                             int64_t value)
{
    int64_t lo, hi, *ref;
    if (!r)
        return KEFU_E_ARG;
    kefu_diag_clear(&r->diag);
    if (kefu_router_bounds(opt, &lo, &hi) || !(ref = option_ref(r, opt)))
        return rt_fail(r, KEFU_E_ARG, "unknown router option %d", (int)opt);
    if (value < lo || value > hi)
        return rt_fail(r, KEFU_E_ARG, "option %d: %lld is outside %lld..%lld",
                       (int)opt, (long long)value, (long long)lo,
                       (long long)hi);
    if (opt == KEFU_ROUTER_STATS_BUCKET_MS || opt == KEFU_ROUTER_STATS_BUCKETS) {
        /* new geometry: fresh buckets for everyone, or nothing changes */
        int64_t old = *ref;
        size_t nq = r->nqueues;
        rt_bucket **fresh;
        *ref = value;
        fresh = kefu_alloc_array(&r->mem, nq + 1, sizeof *fresh);
        bool ok = fresh != NULL;
        for (size_t i = 0; ok && i <= nq; i++)
            ok = rt_alloc_stats(r, &fresh[i]) == KEFU_OK;
        if (!ok) {
            *ref = old;
            if (fresh)
                for (size_t i = 0; i <= nq; i++)
                    kefu_dealloc(&r->mem, fresh[i]);
            kefu_dealloc(&r->mem, fresh);
            return rt_fail(r, KEFU_E_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < nq; i++) {
            kefu_dealloc(&r->mem, r->queues[i].stats);
            r->queues[i].stats = fresh[i];
        }
        kefu_dealloc(&r->mem, r->total);
        r->total = fresh[nq];
        kefu_dealloc(&r->mem, fresh);
        return KEFU_OK;
    }
    *ref = value;
    if (opt == KEFU_ROUTER_AGING_MS)
        reheap_convs(r);
    return KEFU_OK;
}

KEFU_API int kefu_router_get(const kefu_router *r, kefu_router_option opt,
                             int64_t *value)
{
    int64_t *ref;
    if (!r || !value || !(ref = option_ref((struct kefu_router *)r, opt)))
        return KEFU_E_ARG;
    *value = *ref;
    return KEFU_OK;
}

/* ------------------------------------------------------------------------
 * queues
 * ---------------------------------------------------------------------- */

static int find_queue(struct kefu_router *r, uint32_t id, uint32_t *qi)
{
    *qi = rt_map_get(&r->queue_ix, id);
    if (*qi == RT_NONE)
        return rt_fail(r, KEFU_E_UNKNOWN, "no queue %u", id);
    return KEFU_OK;
}

KEFU_API int kefu_router_queue_add(kefu_router *r, int64_t now, uint32_t id,
                                   uint32_t strategy)
{
    rt_queue *q;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)))
        return rc;
    if (!id)
        return rt_fail(r, KEFU_E_ARG, "queue id 0 is reserved");
    if (strategy < KEFU_STRATEGY_LONGEST_IDLE ||
        strategy > KEFU_STRATEGY_ROUND_ROBIN)
        return rt_fail(r, KEFU_E_ARG, "unknown strategy %u", strategy);
    if (rt_map_get(&r->queue_ix, id) != RT_NONE)
        return rt_fail(r, KEFU_E_EXISTS, "queue %u exists", id);
    if (r->nqueues >= RT_NONE - 1 ||
        kefu_grow(&r->mem, (void **)&r->queues, &r->qcap, r->nqueues + 1,
                  sizeof *r->queues) ||
        map_reserve(&r->mem, &r->queue_ix, 1))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    q = &r->queues[r->nqueues];
    memset(q, 0, sizeof *q);
    if (rt_alloc_stats(r, &q->stats))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    q->id = id;
    q->strategy = strategy;
    q->sl_target = 20000;
    rt_map_put(&r->mem, &r->queue_ix, id, (uint32_t)r->nqueues);
    r->nqueues++;
    return KEFU_OK;
}

/* Re-sorts a queue's agent heap after its order changed. */
static void reheap_agents(struct kefu_router *r, rt_queue *q)
{
    hctx c = {r, q, RT_H_AGENTS};
    for (size_t i = q->agents.n; i-- > 0;)
        h_down(&c, &q->agents, i);
}

KEFU_API int kefu_router_queue_set(kefu_router *r, int64_t now, uint32_t id,
                                   kefu_queue_option opt, int64_t value)
{
    uint32_t qi;
    rt_queue *q;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = find_queue(r, id, &qi)))
        return rc;
    q = &r->queues[qi];
    switch (opt) {
    case KEFU_QUEUE_STRATEGY:
        if (value < KEFU_STRATEGY_LONGEST_IDLE ||
            value > KEFU_STRATEGY_ROUND_ROBIN)
            return rt_fail(r, KEFU_E_ARG, "unknown strategy %lld",
                           (long long)value);
        q->strategy = (uint32_t)value;
        reheap_agents(r, q);
        break;
    case KEFU_QUEUE_SKILL:
        if (value < 0 || value > UINT32_MAX - 1)
            return rt_fail(r, KEFU_E_ARG, "bad skill id %lld", (long long)value);
        q->skill = (uint32_t)value;
        reheap_agents(r, q);
        break;
    case KEFU_QUEUE_SL_TARGET_MS:
        if (value < 0 || value > 86400000)
            return rt_fail(r, KEFU_E_ARG, "service-level target %lld ms is "
                           "outside 0..86400000", (long long)value);
        q->sl_target = value;
        break;
    default:
        return rt_fail(r, KEFU_E_ARG, "unknown queue option %d", (int)opt);
    }
    return KEFU_OK;
}

KEFU_API int kefu_router_queue_step(kefu_router *r, int64_t now, uint32_t id,
                                    int64_t after, uint32_t drop,
                                    uint32_t tier, uint32_t any,
                                    uint32_t overflow)
{
    uint32_t qi, oi;
    rt_queue *q;
    rt_step *s;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = find_queue(r, id, &qi)))
        return rc;
    q = &r->queues[qi];
    if (q->nstep >= KEFU_ROUTER_MAX_STEPS)
        return rt_fail(r, KEFU_E_LIMIT, "queue %u has %d steps already", id,
                       KEFU_ROUTER_MAX_STEPS);
    if (after <= 0 || after > 7 * 86400000LL ||
        (q->nstep && after <= q->steps[q->nstep - 1].after))
        return rt_fail(r, KEFU_E_ARG, "step after %lld ms: steps must come "
                       "later than the previous one (1 ms .. 7 days)",
                       (long long)after);
    if (drop > KEFU_ROUTER_MAX_LEVEL || tier > KEFU_TIER_EXPERT || any > 1)
        return rt_fail(r, KEFU_E_ARG, "step: level drop, tier or any_agent "
                       "out of range");
    if (overflow) {
        if ((rc = find_queue(r, overflow, &oi)))
            return rc;
        if (oi == qi)
            return rt_fail(r, KEFU_E_ARG, "queue %u overflows to itself", id);
    }
    /* waiting conversations already past the new step's time get a timer
     * at once (due now): reserve room for them */
    if (timers_reserve(r, q->prio.n + RT_EVENTS_PER_STEP))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    s = &q->steps[q->nstep++];
    s->after = after;
    s->drop = drop;
    s->tier = tier;
    s->any = any;
    s->overflow = overflow;
    for (size_t i = 0; i < q->prio.n; i++) {
        rt_conv *c = &r->convs[q->prio.v[i]];
        if (c->step == q->nstep - 1) {
            c->gen = ++r->gen;
            conv_step_timer(r, c);
        }
    }
    return advance(r, now);
}

/* ------------------------------------------------------------------------
 * agents
 * ---------------------------------------------------------------------- */

static int find_agent(struct kefu_router *r, uint32_t id, uint32_t *ai)
{
    *ai = rt_map_get(&r->agent_ix, id);
    if (*ai == RT_NONE)
        return rt_fail(r, KEFU_E_UNKNOWN, "no agent %u", id);
    return KEFU_OK;
}

KEFU_API int kefu_router_agent_add(kefu_router *r, int64_t now, uint32_t id,
                                   uint32_t tier, uint32_t capacity)
{
    uint32_t ai;
    rt_agent *a;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)))
        return rc;
    if (!id)
        return rt_fail(r, KEFU_E_ARG, "agent id 0 is reserved");
    if (tier > KEFU_TIER_EXPERT)
        return rt_fail(r, KEFU_E_ARG, "tier %u is not 0..3", tier);
    if (capacity < 1 || capacity > KEFU_ROUTER_MAX_CAPACITY)
        return rt_fail(r, KEFU_E_ARG, "capacity %u is not 1..%d", capacity,
                       KEFU_ROUTER_MAX_CAPACITY);
    if (rt_map_get(&r->agent_ix, id) != RT_NONE)
        return rt_fail(r, KEFU_E_EXISTS, "agent %u exists", id);
    if (r->agfree == RT_NONE &&
        (r->nagents >= RT_NONE - 1 ||
         kefu_grow(&r->mem, (void **)&r->agents, &r->agcap, r->nagents + 1,
                   sizeof *r->agents)))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    if (map_reserve(&r->mem, &r->agent_ix, 1))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    if (r->agfree != RT_NONE) {
        ai = r->agfree;
        r->agfree = r->agents[ai].tier; /* free slots chain through tier */
    } else {
        ai = (uint32_t)r->nagents++;
    }
    a = &r->agents[ai];
    memset(a, 0, sizeof *a);
    a->id = id;
    a->tier = tier;
    a->capacity = capacity;
    a->presence = KEFU_AGENT_OFFLINE;
    a->idle_since = now;
    for (int i = 0; i < KEFU_ROUTER_CHANNELS; i++)
        a->cost[i] = 1;
    rt_map_put(&r->mem, &r->agent_ix, id, ai);
    r->live_agents++;
    return KEFU_OK;
}

KEFU_API int kefu_router_agent_remove(kefu_router *r, int64_t now, uint32_t id)
{
    uint32_t ai;
    rt_agent *a;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = find_agent(r, id, &ai)))
        return rc;
    a = &r->agents[ai];
    if (a->nconv)
        return rt_fail(r, KEFU_E_STATE, "agent %u holds %u conversations",
                       id, a->nconv);
    agent_detach(r, ai);
    for (uint32_t s = 0; s < a->nmem; s++)
        r->queues[a->mem[s].queue].members--;
    kefu_dealloc(&r->mem, a->skills);
    kefu_dealloc(&r->mem, a->mem);
    map_del(&r->agent_ix, id);
    memset(a, 0, sizeof *a);
    a->tier = r->agfree;
    r->agfree = ai;
    r->live_agents--;
    return KEFU_OK;
}

KEFU_API int kefu_router_agent_skill(kefu_router *r, int64_t now, uint32_t id,
                                     uint32_t skill, uint32_t level)
{
    uint32_t ai, i;
    rt_agent *a;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = find_agent(r, id, &ai)))
        return rc;
    if (!skill || skill == RT_NONE || level > KEFU_ROUTER_MAX_LEVEL)
        return rt_fail(r, KEFU_E_ARG, "skill %u level %u: skill ids are "
                       "non-zero, levels 0..%d", skill, level,
                       KEFU_ROUTER_MAX_LEVEL);
    a = &r->agents[ai];
    for (i = 0; i < a->nskill && a->skills[i].skill < skill; i++)
        ;
    bool have = i < a->nskill && a->skills[i].skill == skill;
    if (!have && level) {
        if (a->nskill >= RT_MAX_AGENT_SKILLS)
            return rt_fail(r, KEFU_E_LIMIT, "agent %u has %d skills", id,
                           RT_MAX_AGENT_SKILLS);
        if (kefu_grow(&r->mem, (void **)&a->skills, &a->skcap, a->nskill + 1,
                      sizeof *a->skills))
            return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    }
    agent_detach(r, ai);
    if (have && level) {
        a->skills[i].level = level;
    } else if (have) {
        memmove(a->skills + i, a->skills + i + 1,
                (a->nskill - i - 1) * sizeof *a->skills);
        a->nskill--;
    } else if (level) {
        memmove(a->skills + i + 1, a->skills + i,
                (a->nskill - i) * sizeof *a->skills);
        a->skills[i].skill = skill;
        a->skills[i].level = level;
        a->nskill++;
    }
    agent_attach(r, ai);
    match_agent(r, ai);
    return KEFU_OK;
}

KEFU_API int kefu_router_agent_channel(kefu_router *r, int64_t now,
                                       uint32_t id, uint32_t channel,
                                       uint32_t cost)
{
    uint32_t ai;
    rt_agent *a;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = find_agent(r, id, &ai)))
        return rc;
    a = &r->agents[ai];
    if (channel < 1 || channel > KEFU_ROUTER_CHANNELS ||
        cost > KEFU_ROUTER_MAX_CAPACITY)
        return rt_fail(r, KEFU_E_ARG, "channel %u cost %u: channels are "
                       "1..%d, costs 0..%d", channel, cost,
                       KEFU_ROUTER_CHANNELS, KEFU_ROUTER_MAX_CAPACITY);
    /* the load is the sum of costs of what the agent holds: a channel
     * with work on it keeps its cost */
    for (size_t ci = 0; ci < r->nconvs; ci++) {
        const rt_conv *c = &r->convs[ci];
        if (c->id && c->state != RT_C_WAITING && c->agent == ai &&
            c->channel == channel && a->cost[channel - 1] != cost)
            return rt_fail(r, KEFU_E_STATE, "agent %u holds a conversation "
                           "on channel %u", id, channel);
        if (!a->nconv)
            break;
    }
    agent_detach(r, ai);
    a->cost[channel - 1] = cost;
    agent_attach(r, ai);
    match_agent(r, ai);
    return KEFU_OK;
}

KEFU_API int kefu_router_agent_language(kefu_router *r, int64_t now,
                                        uint32_t id, uint32_t language,
                                        uint32_t on)
{
    uint32_t ai, i;
    rt_agent *a;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = find_agent(r, id, &ai)))
        return rc;
    if (!language || on > 1)
        return rt_fail(r, KEFU_E_ARG, "language code 0 or on not 0/1");
    a = &r->agents[ai];
    for (i = 0; i < a->nlang && a->lang[i] != language; i++)
        ;
    if (on && i == a->nlang) {
        if (a->nlang >= KEFU_ROUTER_MAX_LANGUAGES)
            return rt_fail(r, KEFU_E_LIMIT, "agent %u speaks %d languages",
                           id, KEFU_ROUTER_MAX_LANGUAGES);
        a->lang[a->nlang++] = language;
        match_agent(r, ai);
    } else if (!on && i < a->nlang) {
        a->lang[i] = a->lang[--a->nlang];
    }
    return KEFU_OK;
}

KEFU_API int kefu_router_agent_queue(kefu_router *r, int64_t now, uint32_t id,
                                     uint32_t queue, uint32_t on)
{
    uint32_t ai, qi, s;
    rt_agent *a;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = find_agent(r, id, &ai)) ||
        (rc = find_queue(r, queue, &qi)))
        return rc;
    if (on > 1)
        return rt_fail(r, KEFU_E_ARG, "on must be 0 or 1");
    a = &r->agents[ai];
    s = member_slot(a, qi);
    if (on && s == RT_NONE) {
        rt_queue *q = &r->queues[qi];
        if (a->nmem >= RT_MAX_AGENT_QUEUES)
            return rt_fail(r, KEFU_E_LIMIT, "agent %u is in %d queues", id,
                           RT_MAX_AGENT_QUEUES);
        if (kefu_grow(&r->mem, (void **)&a->mem, &a->memcap, a->nmem + 1,
                      sizeof *a->mem) ||
            heap_reserve(r, &q->agents, q->members + 1 - q->agents.n))
            return rt_fail(r, KEFU_E_NOMEM, "out of memory");
        agent_detach(r, ai);
        a->mem[a->nmem].queue = qi;
        a->mem[a->nmem].pos = RT_NONE;
        a->nmem++;
        q->members++;
        agent_attach(r, ai);
        match_agent(r, ai);
    } else if (!on && s != RT_NONE) {
        agent_detach(r, ai);
        r->queues[qi].members--;
        a->mem[s] = a->mem[--a->nmem];
        agent_attach(r, ai);
    }
    return KEFU_OK;
}

KEFU_API int kefu_router_agent_state(kefu_router *r, int64_t now, uint32_t id,
                                     uint32_t state)
{
    uint32_t ai;
    rt_agent *a;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = find_agent(r, id, &ai)))
        return rc;
    a = &r->agents[ai];
    if (state != KEFU_AGENT_OFFLINE && state != KEFU_AGENT_AVAILABLE &&
        state != KEFU_AGENT_AWAY)
        return rt_fail(r, KEFU_E_ARG, "presence %u is not offline, available "
                       "or away", state);
    if (state == KEFU_AGENT_OFFLINE && a->nconv)
        return rt_fail(r, KEFU_E_STATE, "agent %u holds %u conversations; "
                       "finish them before going offline", id, a->nconv);
    if (state == a->presence)
        return KEFU_OK;
    agent_detach(r, ai);
    if (state == KEFU_AGENT_AVAILABLE) {
        a->misses = 0;
        if (!working(a))
            a->idle_since = now;
    }
    a->presence = state;
    agent_attach(r, ai);
    match_agent(r, ai);
    return KEFU_OK;
}

static uint32_t agent_state_of(const rt_agent *a)
{
    if (a->presence != KEFU_AGENT_AVAILABLE)
        return a->presence;
    if (a->wrapup_until)
        return KEFU_AGENT_WRAPUP;
    if (a->load >= a->capacity)
        return KEFU_AGENT_BUSY;
    return KEFU_AGENT_AVAILABLE;
}

KEFU_API int kefu_router_agent_info(const kefu_router *r, uint32_t id,
                                    kefu_agent_info *out)
{
    kefu_agent_info x;
    uint32_t ai;
    const rt_agent *a;
    if (!r || !out || out->size < sizeof(uint32_t))
        return KEFU_E_ARG;
    if ((ai = rt_map_get(&r->agent_ix, id)) == RT_NONE)
        return KEFU_E_UNKNOWN;
    a = &r->agents[ai];
    memset(&x, 0, sizeof x);
    x.size = out->size;
    x.state = agent_state_of(a);
    x.presence = a->presence;
    x.load = a->load;
    x.capacity = a->capacity;
    x.conversations = a->nconv;
    x.misses = a->misses;
    x.tier = a->tier;
    x.idle_since_ms = a->idle_since;
    x.wrapup_until_ms = a->wrapup_until;
    memcpy(out, &x, out->size < sizeof x ? out->size : sizeof x);
    return KEFU_OK;
}

/* ------------------------------------------------------------------------
 * conversations
 * ---------------------------------------------------------------------- */

static int find_conv(struct kefu_router *r, uint32_t id, uint32_t *ci)
{
    *ci = rt_map_get(&r->conv_ix, id);
    if (*ci == RT_NONE)
        return rt_fail(r, KEFU_E_UNKNOWN, "no conversation %u", id);
    return KEFU_OK;
}

static int check_request(struct kefu_router *r, const kefu_route_request *q,
                         uint32_t *qi)
{
    int rc;
    if (!q || !KEFU_COVERS(q->size, kefu_route_request, levels))
        return rt_fail(r, KEFU_E_ARG, "request is NULL or its size is wrong");
    if ((rc = find_queue(r, q->queue, qi)))
        return rc;
    if (q->channel < 1 || q->channel > KEFU_ROUTER_CHANNELS)
        return rt_fail(r, KEFU_E_ARG, "channel %u is not 1..%d", q->channel,
                       KEFU_ROUTER_CHANNELS);
    if (q->priority < -RT_MAX_PRIORITY || q->priority > RT_MAX_PRIORITY)
        return rt_fail(r, KEFU_E_ARG, "priority %d is outside +-%d",
                       (int)q->priority, RT_MAX_PRIORITY);
    if (q->tier > KEFU_TIER_EXPERT)
        return rt_fail(r, KEFU_E_ARG, "tier %u is not 0..3", q->tier);
    if (q->nskills > KEFU_ROUTER_MAX_REQ_SKILLS ||
        (q->nskills && (!q->skills || !q->levels)))
        return rt_fail(r, KEFU_E_ARG, "%u required skills (at most %d, with "
                       "both arrays)", q->nskills, KEFU_ROUTER_MAX_REQ_SKILLS);
    for (uint32_t i = 0; i < q->nskills; i++) {
        if (!q->skills[i] || q->skills[i] == RT_NONE || q->levels[i] < 1 ||
            q->levels[i] > KEFU_ROUTER_MAX_LEVEL)
            return rt_fail(r, KEFU_E_ARG, "required skill %u level %u: "
                           "levels are 1..%d", q->skills[i], q->levels[i],
                           KEFU_ROUTER_MAX_LEVEL);
        for (uint32_t j = 0; j < i; j++)
            if (q->skills[j] == q->skills[i])
                return rt_fail(r, KEFU_E_ARG, "skill %u required twice",
                               q->skills[i]);
    }
    return KEFU_OK;
}

KEFU_API int kefu_router_submit(kefu_router *r, int64_t now, uint32_t id,
                                const kefu_route_request *req)
{
    uint32_t qi = 0, ci;
    rt_queue *q;
    rt_conv *c;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = check_request(r, req, &qi)))
        return rc;
    if (!id)
        return rt_fail(r, KEFU_E_ARG, "conversation id 0 is reserved");
    if (rt_map_get(&r->conv_ix, id) != RT_NONE)
        return rt_fail(r, KEFU_E_EXISTS, "conversation %u exists", id);
    q = &r->queues[qi];
    if ((r->cvfree == RT_NONE &&
         (r->nconvs >= RT_NONE - 1 ||
          kefu_grow(&r->mem, (void **)&r->convs, &r->cvcap, r->nconvs + 1,
                    sizeof *r->convs))) ||
        map_reserve(&r->mem, &r->conv_ix, 1) ||
        heap_reserve(r, &q->prio, 1) || heap_reserve(r, &q->arr, 1))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    if (r->cvfree != RT_NONE) {
        ci = r->cvfree;
        r->cvfree = r->convs[ci].queue;
    } else {
        ci = (uint32_t)r->nconvs++;
    }
    c = &r->convs[ci];
    memset(c, 0, sizeof *c);
    c->id = id;
    c->queue = qi;
    c->channel = req->channel;
    c->language = req->language;
    c->tier = req->tier;
    c->preferred = req->preferred_agent;
    c->priority = req->priority;
    c->arrival = c->queued_at = now;
    c->seq = ++r->seq;
    c->nskill = req->nskills;
    for (uint32_t i = 0; i < req->nskills; i++) {
        c->skills[i].skill = req->skills[i];
        c->skills[i].level = req->levels[i];
    }
    rt_map_put(&r->mem, &r->conv_ix, id, ci);
    r->live_convs++;
    stat_add(r, qi, ST_OFFERED, 0);
    conv_enqueue(r, ci);
    conv_step_timer(r, c);
    match_conv(r, ci);
    return KEFU_OK;
}

static int find_conv_in(struct kefu_router *r, int64_t now, uint32_t id,
                        uint32_t state, uint32_t *ci)
{
    int rc;
    if ((rc = begin(r, now)) || (rc = find_conv(r, id, ci)))
        return rc;
    if (r->convs[*ci].state != state)
        return rt_fail(r, KEFU_E_STATE, "conversation %u is %s", id,
                       r->convs[*ci].state == RT_C_WAITING    ? "waiting"
                       : r->convs[*ci].state == RT_C_RESERVED ? "reserved"
                                                              : "assigned");
    return KEFU_OK;
}

/* The offer must still be the named agent's. */
static int check_holder(struct kefu_router *r, uint32_t ci, uint32_t agent)
{
    const rt_conv *c = &r->convs[ci];
    if (r->agents[c->agent].id != agent)
        return rt_fail(r, KEFU_E_STATE, "conversation %u is offered to agent "
                       "%u, not %u", c->id, r->agents[c->agent].id, agent);
    return KEFU_OK;
}

KEFU_API int kefu_router_accept(kefu_router *r, int64_t now, uint32_t id,
                                uint32_t agent)
{
    uint32_t ci;
    rt_conv *c;
    rt_agent *a;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = find_conv_in(r, now, id, RT_C_RESERVED, &ci)) ||
        (rc = check_holder(r, ci, agent)))
        return rc;
    c = &r->convs[ci];
    a = &r->agents[c->agent];
    c->state = RT_C_ASSIGNED;
    c->gen = ++r->gen;
    a->misses = 0;
    if (!c->transferred)
        stat_add(r, c->queue, ST_ANSWERED, now - c->arrival);
    return KEFU_OK;
}

KEFU_API int kefu_router_reject(kefu_router *r, int64_t now, uint32_t id,
                                uint32_t agent)
{
    uint32_t ci, ai;
    rt_conv *c;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = find_conv_in(r, now, id, RT_C_RESERVED, &ci)) ||
        (rc = check_holder(r, ci, agent)))
        return rc;
    c = &r->convs[ci];
    if (heap_reserve(r, &r->queues[c->queue].prio, 1) ||
        heap_reserve(r, &r->queues[c->queue].arr, 1))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    ai = c->agent;
    c->skip_agent = r->agents[ai].id;
    release_agent(r, c);
    c->gen = ++r->gen;
    conv_enqueue(r, ci);
    conv_step_timer(r, c);
    match_conv(r, ci);
    match_agent(r, ai);
    return KEFU_OK;
}

static void conv_free(struct kefu_router *r, uint32_t ci)
{
    rt_conv *c = &r->convs[ci];
    map_del(&r->conv_ix, c->id);
    memset(c, 0, sizeof *c);
    c->queue = r->cvfree;
    r->cvfree = ci;
    r->live_convs--;
}

KEFU_API int kefu_router_complete(kefu_router *r, int64_t now, uint32_t id,
                                  int64_t wrapup)
{
    uint32_t ci, ai;
    rt_conv *c;
    rt_agent *a;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = find_conv_in(r, now, id, RT_C_ASSIGNED, &ci)))
        return rc;
    if (wrapup < 0 || wrapup > 86400000)
        return rt_fail(r, KEFU_E_ARG, "wrap-up %lld ms is outside 0..86400000",
                       (long long)wrapup);
    c = &r->convs[ci];
    ai = c->agent;
    a = &r->agents[ai];
    release_agent(r, c);
    agent_detach(r, ai);
    a->idle_since = now;
    if (wrapup > 0 && now + wrapup > a->wrapup_until) {
        a->wrapup_until = now + wrapup;
        a->gen = ++r->gen;
        t_push(r, a->wrapup_until, RT_T_WRAP, a->id, a->gen);
    }
    agent_attach(r, ai);
    conv_free(r, ci);
    match_agent(r, ai);
    return KEFU_OK;
}

KEFU_API int kefu_router_cancel(kefu_router *r, int64_t now, uint32_t id)
{
    uint32_t ci, ai = RT_NONE;
    rt_conv *c;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = begin(r, now)) || (rc = find_conv(r, id, &ci)))
        return rc;
    c = &r->convs[ci];
    if (c->state == RT_C_ASSIGNED)
        return rt_fail(r, KEFU_E_STATE, "conversation %u is assigned: "
                       "complete or transfer it", id);
    if (c->state == RT_C_WAITING) {
        conv_dequeue(r, ci);
    } else {
        ai = c->agent;
        release_agent(r, c);
    }
    stat_add(r, c->queue, ST_ABANDONED, 0);
    conv_free(r, ci);
    if (ai != RT_NONE)
        match_agent(r, ai);
    return KEFU_OK;
}

KEFU_API int kefu_router_transfer(kefu_router *r, int64_t now, uint32_t id,
                                  uint32_t queue)
{
    uint32_t ci, qi, ai;
    rt_conv *c;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if ((rc = find_conv_in(r, now, id, RT_C_ASSIGNED, &ci)) ||
        (rc = find_queue(r, queue, &qi)))
        return rc;
    if (heap_reserve(r, &r->queues[qi].prio, 1) ||
        heap_reserve(r, &r->queues[qi].arr, 1))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    c = &r->convs[ci];
    ai = c->agent;
    stat_add(r, c->queue, ST_TRANSFER, 0);
    c->skip_agent = r->agents[ai].id;
    release_agent(r, c);
    c->queue = qi;
    c->queued_at = now;
    c->step = 0;
    c->transferred = 1;
    c->gen = ++r->gen;
    conv_enqueue(r, ci);
    conv_step_timer(r, c);
    match_conv(r, ci);
    match_agent(r, ai);
    return KEFU_OK;
}

KEFU_API int kefu_router_tick(kefu_router *r, int64_t now)
{
    if (!r)
        return KEFU_E_ARG;
    return begin(r, now);
}

KEFU_API int kefu_router_poll(kefu_router *r, kefu_route_event *out)
{
    size_t n;
    if (!r || !out || out->size < sizeof(uint32_t))
        return KEFU_E_ARG;
    if (r->ev_head == r->nevents) {
        r->ev_head = r->nevents = 0;
        return KEFU_E_EMPTY;
    }
    n = out->size < sizeof *out ? out->size : sizeof *out;
    {
        kefu_route_event e = r->events[r->ev_head++];
        e.size = out->size;
        memcpy(out, &e, n);
    }
    return KEFU_OK;
}

KEFU_API int kefu_router_conversation_info(const kefu_router *r, uint32_t id,
                                           kefu_conversation_info *out)
{
    kefu_conversation_info x;
    uint32_t ci;
    const rt_conv *c;
    if (!r || !out || out->size < sizeof(uint32_t))
        return KEFU_E_ARG;
    if ((ci = rt_map_get(&r->conv_ix, id)) == RT_NONE)
        return KEFU_E_UNKNOWN;
    c = &r->convs[ci];
    memset(&x, 0, sizeof x);
    x.size = out->size;
    x.state = c->state;
    x.queue = r->queues[c->queue].id;
    x.agent = c->state == RT_C_WAITING ? 0 : r->agents[c->agent].id;
    x.step = c->step;
    x.priority = c->priority;
    x.arrival_ms = c->arrival;
    memcpy(out, &x, out->size < sizeof x ? out->size : sizeof x);
    return KEFU_OK;
}

/* ------------------------------------------------------------------------
 * statistics
 * ---------------------------------------------------------------------- */

static void sum_buckets(const struct kefu_router *r, const rt_bucket *bs,
                        int64_t now, int64_t window, rt_bucket *sum)
{
    int64_t from = now - window;
    memset(sum, 0, sizeof *sum);
    for (int64_t i = 0; i < r->nbuckets; i++) {
        const rt_bucket *b = &bs[i];
        /* a bucket counts when it overlaps (now - window, now] */
        if (b->start < 0 || b->start > now || b->start + r->bucket_ms <= from)
            continue;
        sum->offered += b->offered;
        sum->answered += b->answered;
        sum->in_target += b->in_target;
        sum->abandoned += b->abandoned;
        sum->transfers += b->transfers;
        sum->reroutes += b->reroutes;
        sum->wait_ms += b->wait_ms;
        sum->staffed_ms += b->staffed_ms;
        sum->busy_ms += b->busy_ms;
    }
}

static void queue_now(const struct kefu_router *r, const rt_queue *q,
                      int64_t now, uint64_t *waiting, int64_t *longest)
{
    *waiting += q->arr.n;
    if (q->arr.n) {
        int64_t w = now - r->convs[q->arr.v[0]].arrival;
        if (w > *longest)
            *longest = w;
    }
}

KEFU_API int kefu_router_stats(const kefu_router *r, int64_t now,
                               uint32_t queue, int64_t window,
                               kefu_route_stats *out)
{
    kefu_route_stats x;
    rt_bucket sum, tot;
    if (!r || !out || out->size < sizeof(uint32_t) || window <= 0 ||
        now < r->now)
        return KEFU_E_ARG;
    memset(&x, 0, sizeof x);
    x.size = out->size;
    x.queue = queue;
    if (queue) {
        uint32_t qi = rt_map_get(&r->queue_ix, queue);
        if (qi == RT_NONE)
            return KEFU_E_UNKNOWN;
        sum_buckets(r, r->queues[qi].stats, now, window, &sum);
        queue_now(r, &r->queues[qi], now, &x.waiting, &x.longest_wait_ms);
    } else {
        sum_buckets(r, r->total, now, window, &sum);
        for (size_t i = 0; i < r->nqueues; i++)
            queue_now(r, &r->queues[i], now, &x.waiting, &x.longest_wait_ms);
    }
    sum_buckets(r, r->total, now, window, &tot);
    x.offered = sum.offered;
    x.answered = sum.answered;
    x.answered_in_target = sum.in_target;
    x.abandoned = sum.abandoned;
    x.transfers = sum.transfers;
    x.reroutes = sum.reroutes;
    if (sum.answered + sum.abandoned) {
        double d = (double)(sum.answered + sum.abandoned);
        x.service_level = (double)sum.in_target / d;
        x.abandon_rate = (double)sum.abandoned / d;
    }
    if (sum.answered) {
        x.asa_ms = (double)sum.wait_ms / (double)sum.answered;
        x.transfer_rate = (double)sum.transfers / (double)sum.answered;
    }
    /* occupancy is router-wide: integrated up to the router's clock */
    if (tot.staffed_ms)
        x.occupancy = (double)tot.busy_ms / (double)tot.staffed_ms;
    memcpy(out, &x, out->size < sizeof x ? out->size : sizeof x);
    return KEFU_OK;
}

/* ------------------------------------------------------------------------
 * reload helpers (floor.c)
 * ---------------------------------------------------------------------- */

void rt_queue_clear_steps(struct kefu_router *r, uint32_t qi)
{
    r->queues[qi].nstep = 0;
    for (size_t ci = 0; ci < r->nconvs; ci++) {
        rt_conv *c = &r->convs[ci];
        if (c->id && c->queue == qi) {
            c->step = 0;
            if (c->state == RT_C_WAITING)
                c->gen = ++r->gen; /* the old step timer is void */
        }
    }
}

int rt_agent_set_limits(struct kefu_router *r, uint32_t id, uint32_t tier,
                        uint32_t capacity)
{
    uint32_t ai;
    rt_agent *a;
    int rc;
    if ((rc = find_agent(r, id, &ai)))
        return rc;
    a = &r->agents[ai];
    if (tier > KEFU_TIER_EXPERT || capacity < 1 ||
        capacity > KEFU_ROUTER_MAX_CAPACITY)
        return rt_fail(r, KEFU_E_ARG, "agent %u: tier %u or capacity %u out "
                       "of range", id, tier, capacity);
    if (capacity < a->load)
        return rt_fail(r, KEFU_E_STATE, "agent %u: capacity %u is below the "
                       "%u in use", id, capacity, a->load);
    if (step_reserve(r))
        return rt_fail(r, KEFU_E_NOMEM, "out of memory");
    agent_detach(r, ai);
    a->tier = tier;
    a->capacity = capacity;
    agent_attach(r, ai);
    match_agent(r, ai);
    return KEFU_OK;
}

/* ------------------------------------------------------------------------
 * rebuild (after restore) and invariants
 * ---------------------------------------------------------------------- */

int rt_rebuild(struct kefu_router *r)
{
    r->staffed = r->busy = 0;
    r->ntimers = 0;
    r->live_agents = r->live_convs = 0;
    for (size_t qi = 0; qi < r->nqueues; qi++) {
        rt_queue *q = &r->queues[qi];
        q->agents.n = q->prio.n = q->arr.n = 0;
        q->members = 0;
    }
    for (size_t ai = 0; ai < r->nagents; ai++) {
        rt_agent *a = &r->agents[ai];
        if (!a->id)
            continue;
        r->live_agents++;
        for (uint32_t s = 0; s < a->nmem; s++) {
            a->mem[s].pos = RT_NONE;
            r->queues[a->mem[s].queue].members++;
        }
    }
    for (size_t qi = 0; qi < r->nqueues; qi++) {
        rt_queue *q = &r->queues[qi];
        if (heap_reserve(r, &q->agents, q->members))
            return KEFU_E_NOMEM;
    }
    /* waiting conversations per queue, and timers */
    {
        size_t need = 0;
        for (size_t ci = 0; ci < r->nconvs; ci++)
            if (r->convs[ci].id)
                need++;
        if (timers_reserve(r, need + r->nagents + RT_EVENTS_PER_STEP))
            return KEFU_E_NOMEM;
    }
    for (size_t ci = 0; ci < r->nconvs; ci++) {
        rt_conv *c = &r->convs[ci];
        if (!c->id)
            continue;
        r->live_convs++;
        c->hpos = c->apos = RT_NONE;
        if (c->state == RT_C_WAITING) {
            rt_queue *q = &r->queues[c->queue];
            if (heap_reserve(r, &q->prio, 1) || heap_reserve(r, &q->arr, 1))
                return KEFU_E_NOMEM;
            conv_enqueue(r, (uint32_t)ci);
            conv_step_timer(r, c);
        } else {
            if (c->state == RT_C_RESERVED)
                t_push(r, c->deadline, RT_T_OFFER, c->id, c->gen);
        }
    }
    for (size_t ai = 0; ai < r->nagents; ai++) {
        rt_agent *a = &r->agents[ai];
        if (!a->id)
            continue;
        if (a->wrapup_until)
            t_push(r, a->wrapup_until, RT_T_WRAP, a->id, a->gen);
        agent_attach(r, (uint32_t)ai);
    }
    return KEFU_OK;
}

static int bad(struct kefu_router *r, const char *what)
{
    return kefu_diag_msg(&r->diag, KEFU_E_CORRUPT, "router invariant: %s",
                         what);
}

int kefu_router_verify(struct kefu_router *r)
{
    uint32_t live = 0;
    size_t waiting = 0;
    uint32_t *load = kefu_alloc_array(&r->mem, r->nagents + 1, sizeof *load);
    uint32_t *held = kefu_alloc_array(&r->mem, r->nagents + 1, sizeof *held);
    int rc = KEFU_OK;
    if (!load || !held) {
        kefu_dealloc(&r->mem, load);
        kefu_dealloc(&r->mem, held);
        return KEFU_E_NOMEM;
    }
    for (size_t ci = 0; ci < r->nconvs; ci++) {
        const rt_conv *c = &r->convs[ci];
        if (c->id && c->state != RT_C_WAITING && c->agent < r->nagents) {
            load[c->agent] += r->agents[c->agent].cost[c->channel - 1];
            held[c->agent]++;
        }
    }
    for (size_t ai = 0; ai < r->nagents && !rc; ai++) {
        rt_agent *a = &r->agents[ai];
        if (!a->id)
            continue;
        live++;
        if (rt_map_get(&r->agent_ix, a->id) != ai)
            rc = bad(r, "agent map");
        else if (load[ai] != a->load || held[ai] != a->nconv)
            rc = bad(r, "agent load differs from its conversations");
        else if (a->load > a->capacity)
            rc = bad(r, "agent over capacity");
        for (uint32_t s = 0; s < a->nmem && !rc; s++) {
            const rt_queue *q = &r->queues[a->mem[s].queue];
            uint32_t p = a->mem[s].pos;
            if (offerable(a) != (p != RT_NONE))
                rc = bad(r, "agent heap membership");
            else if (p != RT_NONE &&
                     (p >= q->agents.n ||
                      q->agents.v[p] != ((uint64_t)ai << 32 | s)))
                rc = bad(r, "agent heap position");
        }
    }
    kefu_dealloc(&r->mem, load);
    kefu_dealloc(&r->mem, held);
    if (rc)
        return rc;
    if (live != r->live_agents)
        return bad(r, "agent count");
    live = 0;
    for (size_t ci = 0; ci < r->nconvs; ci++) {
        const rt_conv *c = &r->convs[ci];
        if (!c->id)
            continue;
        live++;
        if (rt_map_get(&r->conv_ix, c->id) != ci)
            return bad(r, "conversation map");
        if (c->state == RT_C_WAITING) {
            const rt_queue *q = &r->queues[c->queue];
            waiting++;
            if (c->hpos >= q->prio.n || q->prio.v[c->hpos] != ci ||
                c->apos >= q->arr.n || q->arr.v[c->apos] != ci)
                return bad(r, "conversation heap position");
        } else if (c->agent >= r->nagents || !r->agents[c->agent].id) {
            return bad(r, "conversation held by no agent");
        }
    }
    if (live != r->live_convs)
        return bad(r, "conversation count");
    for (size_t qi = 0; qi < r->nqueues; qi++) {
        rt_queue *q = &r->queues[qi];
        hctx hp = {r, q, RT_H_PRIO}, ha = {r, q, RT_H_ARR},
             hg = {r, q, RT_H_AGENTS};
        waiting -= q->prio.n;
        if (q->prio.n != q->arr.n)
            return bad(r, "queue heaps differ in size");
        for (size_t i = 1; i < q->prio.n; i++)
            if (h_less(&hp, q->prio.v[i], q->prio.v[(i - 1) / 2]) ||
                h_less(&ha, q->arr.v[i], q->arr.v[(i - 1) / 2]))
                return bad(r, "conversation heap order");
        for (size_t i = 1; i < q->agents.n; i++)
            if (h_less(&hg, q->agents.v[i], q->agents.v[(i - 1) / 2]))
                return bad(r, "agent heap order");
    }
    if (waiting != 0)
        return bad(r, "waiting conversations outside the queue heaps");
    return KEFU_OK;
}
