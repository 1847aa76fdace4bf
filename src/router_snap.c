/*
 * router_snap.c - the router's state as a versioned, CRC-checked blob.
 *
 * Layout (little-endian, doc/routing.md has the field list):
 *   "KEFURTS\0"  u32 version  u32 0  u64 payload_len  payload  u32 crc32
 * The CRC covers everything before it.  Agents and conversations are
 * written sorted by id and derived data (heaps, timers, loads, counters)
 * is left out and rebuilt, so a router and its restored copy write the
 * same bytes.  A restore parses into a fresh router, checks every field
 * and cross-reference, and only then replaces the caller's state.
 */
#include "router.h"

#include <stdlib.h>

#define SNAP_MAGIC "KEFURTS"
#define SNAP_VERSION 1u
#define SNAP_HEADER 24u

/* ---- writing ---- */

typedef struct wr {
    uint8_t *buf;
    size_t cap, len;
} wr;

static void put(wr *w, const void *p, size_t n)
{
    if (w->len + n <= w->cap)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_u32(wr *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 4);
}

static void put_u64(wr *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}

static void put_i64(wr *w, int64_t v)
{
    put_u64(w, (uint64_t)v);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void put_buckets(wr *w, const struct kefu_router *r,
                        const rt_bucket *bs)
{
    for (int64_t i = 0; i < r->nbuckets; i++) {
        const rt_bucket *b = &bs[i];
        put_i64(w, b->start);
        put_u64(w, b->offered);
        put_u64(w, b->answered);
        put_u64(w, b->in_target);
        put_u64(w, b->abandoned);
        put_u64(w, b->transfers);
        put_u64(w, b->reroutes);
        put_u64(w, b->wait_ms);
        put_u64(w, b->staffed_ms);
        put_u64(w, b->busy_ms);
    }
}

static void put_agent(wr *w, const struct kefu_router *r, const rt_agent *a)
{
    put_u32(w, a->id);
    put_u32(w, a->tier);
    put_u32(w, a->capacity);
    put_u32(w, a->presence);
    put_u32(w, a->misses);
    for (int c = 0; c < KEFU_ROUTER_CHANNELS; c++)
        put_u32(w, a->cost[c]);
    put_u32(w, a->nlang);
    for (uint32_t i = 0; i < a->nlang; i++)
        put_u32(w, a->lang[i]);
    put_u32(w, a->nskill);
    for (uint32_t i = 0; i < a->nskill; i++) {
        put_u32(w, a->skills[i].skill);
        put_u32(w, a->skills[i].level);
    }
    put_u32(w, a->nmem);
    for (uint32_t i = 0; i < a->nmem; i++)
        put_u32(w, r->queues[a->mem[i].queue].id);
    put_i64(w, a->idle_since);
    put_i64(w, a->wrapup_until);
    put_u64(w, a->rr);
    put_u64(w, a->gen);
}

static void put_conv(wr *w, const struct kefu_router *r, const rt_conv *c)
{
    put_u32(w, c->id);
    put_u32(w, c->state);
    put_u32(w, r->queues[c->queue].id);
    put_u32(w, c->channel);
    put_u32(w, c->language);
    put_u32(w, c->tier);
    put_u32(w, c->preferred);
    put_u32(w, c->step);
    put_u32(w, c->state == RT_C_WAITING ? 0 : r->agents[c->agent].id);
    put_u32(w, c->skip_agent);
    put_u32(w, c->transferred);
    put_u32(w, (uint32_t)c->priority);
    put_i64(w, c->arrival);
    put_i64(w, c->queued_at);
    put_i64(w, c->offer_at);
    put_i64(w, c->deadline);
    put_u64(w, c->seq);
    put_u64(w, c->gen);
    put_u32(w, c->nskill);
    for (uint32_t i = 0; i < c->nskill; i++) {
        put_u32(w, c->skills[i].skill);
        put_u32(w, c->skills[i].level);
    }
}

/* Sorted (id << 32 | index) of the live slots. */
static uint64_t *sorted_ids(const struct kefu_router *r, bool agents,
                            size_t *n)
{
    size_t slots = agents ? r->nagents : r->nconvs, k = 0;
    uint64_t *v = kefu_alloc_array(&r->mem, slots + 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < slots; i++) {
        uint32_t id = agents ? r->agents[i].id : r->convs[i].id;
        if (id)
            v[k++] = (uint64_t)id << 32 | i;
    }
    qsort(v, k, sizeof *v, cmp_u64);
    *n = k;
    return v;
}

KEFU_API int kefu_router_snapshot(const kefu_router *r, void *buf, size_t cap,
                                  size_t *len)
{
    wr w = {buf, buf ? cap : 0, 0};
    uint64_t *ag, *cv;
    size_t nag, ncv;
    uint32_t crc;
    if (!r || !len)
        return KEFU_E_ARG;
    ag = sorted_ids(r, true, &nag);
    cv = sorted_ids(r, false, &ncv);
    if (!ag || !cv) {
        kefu_dealloc(&r->mem, ag);
        kefu_dealloc(&r->mem, cv);
        return KEFU_E_NOMEM;
    }
    put(&w, SNAP_MAGIC, 8);
    put_u32(&w, SNAP_VERSION);
    put_u32(&w, 0);
    put_u64(&w, 0); /* payload length, patched below */
    put_i64(&w, r->aging);
    put_i64(&w, r->offer_timeout);
    put_i64(&w, r->max_misses);
    put_i64(&w, r->bucket_ms);
    put_i64(&w, r->nbuckets);
    put_i64(&w, r->now);
    put_u64(&w, r->seq);
    put_u64(&w, r->rr);
    put_u64(&w, r->gen);
    put_u32(&w, (uint32_t)r->nqueues);
    for (size_t i = 0; i < r->nqueues; i++) {
        const rt_queue *q = &r->queues[i];
        put_u32(&w, q->id);
        put_u32(&w, q->strategy);
        put_u32(&w, q->skill);
        put_i64(&w, q->sl_target);
        put_u32(&w, q->nstep);
        for (uint32_t k = 0; k < q->nstep; k++) {
            put_i64(&w, q->steps[k].after);
            put_u32(&w, q->steps[k].drop);
            put_u32(&w, q->steps[k].tier);
            put_u32(&w, q->steps[k].any);
            put_u32(&w, q->steps[k].overflow);
        }
        put_buckets(&w, r, q->stats);
    }
    put_buckets(&w, r, r->total);
    put_u32(&w, (uint32_t)nag);
    for (size_t i = 0; i < nag; i++)
        put_agent(&w, r, &r->agents[(uint32_t)ag[i]]);
    put_u32(&w, (uint32_t)ncv);
    for (size_t i = 0; i < ncv; i++)
        put_conv(&w, r, &r->convs[(uint32_t)cv[i]]);
    put_u32(&w, (uint32_t)(r->nevents - r->ev_head));
    for (size_t i = r->ev_head; i < r->nevents; i++) {
        const kefu_route_event *e = &r->events[i];
        put_u32(&w, e->kind);
        put_u32(&w, e->conversation);
        put_u32(&w, e->agent);
        put_u32(&w, e->queue);
        put_i64(&w, e->time_ms);
    }
    kefu_dealloc(&r->mem, ag);
    kefu_dealloc(&r->mem, cv);
    *len = w.len + 4;
    if (!buf || w.len + 4 > cap)
        return KEFU_E_BUFFER;
    {
        uint64_t payload = w.len - SNAP_HEADER;
        size_t end = w.len;
        w.len = 16;
        put_u64(&w, payload);
        w.len = end;
    }
    crc = kefu_crc32(0, buf, w.len);
    put_u32(&w, crc);
    return KEFU_OK;
}

/* ---- reading ---- */

typedef struct rd {
    const uint8_t *p;
    size_t n, off;
    bool bad;
} rd;

static uint64_t get_n(rd *r, int bytes)
{
    uint64_t v = 0;
    if (r->bad || r->n - r->off < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += (size_t)bytes;
    return v;
}

static uint32_t get_u32(rd *r)
{
    return (uint32_t)get_n(r, 4);
}

static uint64_t get_u64(rd *r)
{
    return get_n(r, 8);
}

static int64_t get_i64(rd *r)
{
    return (int64_t)get_n(r, 8);
}

static int corrupt(struct kefu_router *r, const char *what)
{
    return kefu_diag_msg(&r->diag, KEFU_E_CORRUPT, "router snapshot: %s",
                         what);
}

static bool opt_ok(kefu_router_option o, int64_t v)
{
    int64_t lo, hi;
    return kefu_router_bounds(o, &lo, &hi) == KEFU_OK && v >= lo && v <= hi;
}

static int read_buckets(rd *in, struct kefu_router *t, rt_bucket **out)
{
    rt_bucket *bs;
    if (rt_alloc_stats(t, &bs))
        return KEFU_E_NOMEM;
    for (int64_t i = 0; i < t->nbuckets; i++) {
        rt_bucket *b = &bs[i];
        b->start = get_i64(in);
        b->offered = get_u64(in);
        b->answered = get_u64(in);
        b->in_target = get_u64(in);
        b->abandoned = get_u64(in);
        b->transfers = get_u64(in);
        b->reroutes = get_u64(in);
        b->wait_ms = get_u64(in);
        b->staffed_ms = get_u64(in);
        b->busy_ms = get_u64(in);
        /* a bucket sits in the slot of its start time, or is empty */
        if (b->start != -1 &&
            (b->start < 0 || b->start % t->bucket_ms ||
             (b->start / t->bucket_ms) % t->nbuckets != i))
            in->bad = true;
    }
    *out = bs;
    return in->bad ? KEFU_E_CORRUPT : KEFU_OK;
}

static int read_queues(rd *in, struct kefu_router *t)
{
    uint32_t n = get_u32(in);
    int rc;
    if (in->bad || n > (in->n - in->off) / 28)
        return KEFU_E_CORRUPT;
    if (!(t->queues = kefu_alloc_array(&t->mem, (size_t)n + 1,
                                       sizeof *t->queues)))
        return KEFU_E_NOMEM;
    t->qcap = (size_t)n + 1;
    for (uint32_t i = 0; i < n; i++) {
        rt_queue *q = &t->queues[i];
        t->nqueues = i + 1; /* owned (stats, heaps) from here */
        q->id = get_u32(in);
        q->strategy = get_u32(in);
        q->skill = get_u32(in);
        q->sl_target = get_i64(in);
        q->nstep = get_u32(in);
        if (in->bad || !q->id || q->id == RT_NONE ||
            q->strategy < KEFU_STRATEGY_LONGEST_IDLE ||
            q->strategy > KEFU_STRATEGY_ROUND_ROBIN || q->skill == RT_NONE ||
            q->sl_target < 0 || q->sl_target > 86400000 ||
            q->nstep > KEFU_ROUTER_MAX_STEPS ||
            rt_map_get(&t->queue_ix, q->id) != RT_NONE)
            return KEFU_E_CORRUPT;
        for (uint32_t k = 0; k < q->nstep; k++) {
            rt_step *s = &q->steps[k];
            s->after = get_i64(in);
            s->drop = get_u32(in);
            s->tier = get_u32(in);
            s->any = get_u32(in);
            s->overflow = get_u32(in);
            if (s->after <= 0 || s->after > 7 * 86400000LL ||
                (k && s->after <= q->steps[k - 1].after) ||
                s->drop > KEFU_ROUTER_MAX_LEVEL || s->tier > KEFU_TIER_EXPERT ||
                s->any > 1 || s->overflow == q->id)
                return KEFU_E_CORRUPT;
        }
        if ((rc = read_buckets(in, t, &q->stats)))
            return rc;
        if (rt_map_put(&t->mem, &t->queue_ix, q->id, i))
            return KEFU_E_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < t->queues[i].nstep; k++)
            if (t->queues[i].steps[k].overflow &&
                rt_map_get(&t->queue_ix, t->queues[i].steps[k].overflow) ==
                    RT_NONE)
                return KEFU_E_CORRUPT;
    return KEFU_OK;
}

static int read_agent(rd *in, struct kefu_router *t, rt_agent *a)
{
    a->id = get_u32(in);
    a->tier = get_u32(in);
    a->capacity = get_u32(in);
    a->presence = get_u32(in);
    a->misses = get_u32(in);
    for (int c = 0; c < KEFU_ROUTER_CHANNELS; c++)
        if ((a->cost[c] = get_u32(in)) > KEFU_ROUTER_MAX_CAPACITY)
            return KEFU_E_CORRUPT;
    if (in->bad || !a->id || a->id == RT_NONE || a->tier > KEFU_TIER_EXPERT ||
        a->capacity < 1 || a->capacity > KEFU_ROUTER_MAX_CAPACITY ||
        a->presence > KEFU_AGENT_AWAY ||
        rt_map_get(&t->agent_ix, a->id) != RT_NONE)
        return KEFU_E_CORRUPT;
    a->nlang = get_u32(in);
    if (a->nlang > KEFU_ROUTER_MAX_LANGUAGES)
        return KEFU_E_CORRUPT;
    for (uint32_t i = 0; i < a->nlang; i++) {
        a->lang[i] = get_u32(in);
        if (!a->lang[i])
            return KEFU_E_CORRUPT;
        for (uint32_t j = 0; j < i; j++)
            if (a->lang[j] == a->lang[i])
                return KEFU_E_CORRUPT;
    }
    a->nskill = get_u32(in);
    if (in->bad || a->nskill > RT_MAX_AGENT_SKILLS)
        return KEFU_E_CORRUPT;
    if (kefu_grow(&t->mem, (void **)&a->skills, &a->skcap, a->nskill + 1,
                  sizeof *a->skills))
        return KEFU_E_NOMEM;
    for (uint32_t i = 0; i < a->nskill; i++) {
        a->skills[i].skill = get_u32(in);
        a->skills[i].level = get_u32(in);
        if (!a->skills[i].skill || a->skills[i].skill == RT_NONE ||
            a->skills[i].level < 1 || a->skills[i].level > KEFU_ROUTER_MAX_LEVEL ||
            (i && a->skills[i].skill <= a->skills[i - 1].skill))
            return KEFU_E_CORRUPT;
    }
    a->nmem = get_u32(in);
    if (in->bad || a->nmem > RT_MAX_AGENT_QUEUES)
        return KEFU_E_CORRUPT;
    if (kefu_grow(&t->mem, (void **)&a->mem, &a->memcap, a->nmem + 1,
                  sizeof *a->mem))
        return KEFU_E_NOMEM;
    for (uint32_t i = 0; i < a->nmem; i++) {
        uint32_t qi = rt_map_get(&t->queue_ix, get_u32(in));
        if (qi == RT_NONE)
            return KEFU_E_CORRUPT;
        for (uint32_t j = 0; j < i; j++)
            if (a->mem[j].queue == qi)
                return KEFU_E_CORRUPT;
        a->mem[i].queue = qi;
        a->mem[i].pos = RT_NONE;
    }
    a->idle_since = get_i64(in);
    a->wrapup_until = get_i64(in);
    a->rr = get_u64(in);
    a->gen = get_u64(in);
    /* a pending wrap-up always ends after the clock (due timers fired) */
    if (in->bad || a->idle_since < -RT_MAX_TIME || a->idle_since > t->now ||
        (a->wrapup_until && (a->wrapup_until <= t->now ||
                             a->wrapup_until > t->now + 86400000)) ||
        a->rr > t->rr || a->gen > t->gen)
        return KEFU_E_CORRUPT;
    return KEFU_OK;
}

static int read_agents(rd *in, struct kefu_router *t)
{
    uint32_t n = get_u32(in);
    int rc;
    if (in->bad || n > (in->n - in->off) / 80)
        return KEFU_E_CORRUPT;
    if (!(t->agents = kefu_alloc_array(&t->mem, (size_t)n + 1,
                                       sizeof *t->agents)))
        return KEFU_E_NOMEM;
    t->agcap = (size_t)n + 1;
    for (uint32_t i = 0; i < n; i++) {
        rt_agent *a = &t->agents[i];
        t->nagents = i + 1; /* owned (skills, mem) from here */
        if ((rc = read_agent(in, t, a)))
            return rc;
        if (i && a->id <= t->agents[i - 1].id)
            return KEFU_E_CORRUPT;
        if (rt_map_put(&t->mem, &t->agent_ix, a->id, i))
            return KEFU_E_NOMEM;
    }
    return KEFU_OK;
}

static int read_conv(rd *in, struct kefu_router *t, rt_conv *c)
{
    uint32_t qid, aid;
    const rt_queue *q;
    c->id = get_u32(in);
    c->state = get_u32(in);
    qid = get_u32(in);
    c->channel = get_u32(in);
    c->language = get_u32(in);
    c->tier = get_u32(in);
    c->preferred = get_u32(in);
    c->step = get_u32(in);
    aid = get_u32(in);
    c->skip_agent = get_u32(in);
    c->transferred = get_u32(in);
    c->priority = (int32_t)get_u32(in);
    c->arrival = get_i64(in);
    c->queued_at = get_i64(in);
    c->offer_at = get_i64(in);
    c->deadline = get_i64(in);
    c->seq = get_u64(in);
    c->gen = get_u64(in);
    c->nskill = get_u32(in);
    if (in->bad || !c->id || c->id == RT_NONE ||
        c->state < RT_C_WAITING || c->state > RT_C_ASSIGNED ||
        (c->queue = rt_map_get(&t->queue_ix, qid)) == RT_NONE ||
        c->channel < 1 || c->channel > KEFU_ROUTER_CHANNELS ||
        c->tier > KEFU_TIER_EXPERT || c->transferred > 1 ||
        c->priority < -RT_MAX_PRIORITY || c->priority > RT_MAX_PRIORITY ||
        c->nskill > KEFU_ROUTER_MAX_REQ_SKILLS ||
        c->arrival < 0 || c->arrival > c->queued_at || c->queued_at > t->now ||
        c->seq == 0 || c->seq > t->seq || c->gen > t->gen ||
        rt_map_get(&t->conv_ix, c->id) != RT_NONE)
        return KEFU_E_CORRUPT;
    for (uint32_t i = 0; i < c->nskill; i++) {
        c->skills[i].skill = get_u32(in);
        c->skills[i].level = get_u32(in);
        if (!c->skills[i].skill || c->skills[i].skill == RT_NONE ||
            c->skills[i].level < 1 || c->skills[i].level > KEFU_ROUTER_MAX_LEVEL)
            return KEFU_E_CORRUPT;
        for (uint32_t j = 0; j < i; j++)
            if (c->skills[j].skill == c->skills[i].skill)
                return KEFU_E_CORRUPT;
    }
    q = &t->queues[c->queue];
    if (c->step > q->nstep)
        return KEFU_E_CORRUPT;
    if (c->state == RT_C_WAITING) {
        if (aid || (c->step < q->nstep &&
                    c->queued_at + q->steps[c->step].after <= t->now))
            return KEFU_E_CORRUPT;
        c->agent = RT_NONE;
    } else {
        rt_agent *a;
        if ((c->agent = rt_map_get(&t->agent_ix, aid)) == RT_NONE)
            return KEFU_E_CORRUPT;
        a = &t->agents[c->agent];
        if (!a->cost[c->channel - 1] || a->presence == KEFU_AGENT_OFFLINE ||
            a->load + a->cost[c->channel - 1] > a->capacity ||
            c->offer_at < c->queued_at || c->offer_at > t->now ||
            (c->state == RT_C_RESERVED &&
             (c->deadline <= t->now || c->deadline > t->now + 86400000)))
            return KEFU_E_CORRUPT;
        a->load += a->cost[c->channel - 1];
        a->nconv++;
    }
    return KEFU_OK;
}

static int read_convs(rd *in, struct kefu_router *t)
{
    uint32_t n = get_u32(in);
    int rc;
    if (in->bad || n > (in->n - in->off) / 100)
        return KEFU_E_CORRUPT;
    if (!(t->convs = kefu_alloc_array(&t->mem, (size_t)n + 1,
                                      sizeof *t->convs)))
        return KEFU_E_NOMEM;
    t->cvcap = (size_t)n + 1;
    for (uint32_t i = 0; i < n; i++) {
        rt_conv *c = &t->convs[i];
        if ((rc = read_conv(in, t, c)))
            return rc;
        if (i && c->id <= t->convs[i - 1].id)
            return KEFU_E_CORRUPT;
        if (rt_map_put(&t->mem, &t->conv_ix, c->id, i))
            return KEFU_E_NOMEM;
        t->nconvs = i + 1;
    }
    return KEFU_OK;
}

static int read_events(rd *in, struct kefu_router *t)
{
    uint32_t n = get_u32(in);
    if (in->bad || n > (in->n - in->off) / 24)
        return KEFU_E_CORRUPT;
    if (kefu_grow(&t->mem, (void **)&t->events, &t->evcap, (size_t)n + 1,
                  sizeof *t->events))
        return KEFU_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        kefu_route_event *e = &t->events[i];
        memset(e, 0, sizeof *e);
        e->size = sizeof *e;
        e->kind = get_u32(in);
        e->conversation = get_u32(in);
        e->agent = get_u32(in);
        e->queue = get_u32(in);
        e->time_ms = get_i64(in);
        if (e->kind < KEFU_ROUTE_OFFER || e->kind > KEFU_ROUTE_AGENT_AWAY ||
            e->time_ms < 0 || e->time_ms > t->now)
            return KEFU_E_CORRUPT;
    }
    t->nevents = n;
    return in->bad ? KEFU_E_CORRUPT : KEFU_OK;
}

static int parse(rd *in, struct kefu_router *t)
{
    int rc;
    t->aging = get_i64(in);
    t->offer_timeout = get_i64(in);
    t->max_misses = get_i64(in);
    t->bucket_ms = get_i64(in);
    t->nbuckets = get_i64(in);
    t->now = get_i64(in);
    t->seq = get_u64(in);
    t->rr = get_u64(in);
    t->gen = get_u64(in);
    if (in->bad || !opt_ok(KEFU_ROUTER_AGING_MS, t->aging) ||
        !opt_ok(KEFU_ROUTER_OFFER_TIMEOUT_MS, t->offer_timeout) ||
        !opt_ok(KEFU_ROUTER_MAX_MISSES, t->max_misses) ||
        !opt_ok(KEFU_ROUTER_STATS_BUCKET_MS, t->bucket_ms) ||
        !opt_ok(KEFU_ROUTER_STATS_BUCKETS, t->nbuckets) || t->now < 0 ||
        t->now > RT_MAX_TIME)
        return KEFU_E_CORRUPT;
    /* buckets are read before anything is allocated per bucket count:
     * make sure the blob can hold them */
    if ((uint64_t)t->nbuckets * 80 > in->n - in->off)
        return KEFU_E_CORRUPT;
    if ((rc = read_queues(in, t)) || (rc = read_buckets(in, t, &t->total)) ||
        (rc = read_agents(in, t)) || (rc = read_convs(in, t)) ||
        (rc = read_events(in, t)))
        return rc;
    if (in->off != in->n)
        return KEFU_E_CORRUPT;
    return KEFU_OK;
}

KEFU_API int kefu_router_restore(kefu_router *r, const void *data, size_t len)
{
    const uint8_t *p = data;
    struct kefu_router *t;
    rd in;
    uint32_t crc, version, flags;
    uint64_t payload;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    kefu_diag_clear(&r->diag);
    if (!data)
        return kefu_diag_msg(&r->diag, KEFU_E_ARG, "snapshot is NULL");
    if (len < SNAP_HEADER + 4 || memcmp(p, SNAP_MAGIC, 8))
        return corrupt(r, "not a router snapshot");
    in.p = p;
    in.n = len;
    in.off = 8;
    in.bad = false;
    version = get_u32(&in);
    flags = get_u32(&in);
    payload = get_u64(&in);
    if (version != SNAP_VERSION)
        return kefu_diag_msg(&r->diag, KEFU_E_VERSION,
                             "router snapshot version %u (this is %u)",
                             version, SNAP_VERSION);
    if (flags != 0)
        return corrupt(r, "unknown flags");
    if (payload != len - SNAP_HEADER - 4)
        return corrupt(r, "truncated or padded");
    crc = (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 |
          (uint32_t)p[len - 2] << 16 | (uint32_t)p[len - 1] << 24;
    if (crc != kefu_crc32(0, p, len - 4))
        return corrupt(r, "checksum mismatch");
    in.n = len - 4;
    if (!(t = kefu_alloc(&r->mem, sizeof *t)))
        return kefu_diag_msg(&r->diag, KEFU_E_NOMEM, "out of memory");
    rt_router_init(t, &r->mem.a);
    t->nbuckets = 1; /* until parsed */
    rc = parse(&in, t);
    if (rc == KEFU_OK)
        rc = rt_rebuild(t);
    if (rc == KEFU_OK && kefu_router_verify(t))
        rc = KEFU_E_CORRUPT;
    if (rc) {
        rt_router_release(t);
        kefu_dealloc(&r->mem, t);
        if (rc == KEFU_E_NOMEM)
            return kefu_diag_msg(&r->diag, rc, "out of memory");
        return corrupt(r, "inconsistent content");
    }
    rt_router_release(r);
    *r = *t;
    kefu_diag_init(&r->diag, &r->mem.a);
    kefu_dealloc(&r->mem, t);
    return KEFU_OK;
}
