/*
 * bench_router.c - routing decisions per second and latency percentiles of
 * the kefu router at 100, 1,000 and 10,000 agents, next to a
 * straightforward implementation that scans every agent (on arrival) or
 * every waiting conversation (when an agent frees up).  Both make the same
 * decisions (checked on every call), so the ratio is the price of the scan.
 *
 * Floor: one queue per skill (agents/50 skills, at least 10), each agent
 * with 3 skills at levels 1..10 and capacity 1; a conversation needs its
 * queue's skill at level 1..5, priority 0..3, aging 60 s per level.
 *
 *  busy: every agent busy and 10 conversations waiting per agent (at most
 *        100,000); each step completes a random conversation (the agent
 *        takes the best waiting one it is eligible for) and submits a new
 *        one (queued).
 * A decision is one call that routes: a submit or a complete.
 *  idle: a third of the agents busy, nothing waiting; each step submits a
 *        conversation (offered to the longest-idle eligible agent at once)
 *        and completes a random one.
 *
 * usage: bench_router [--quick]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kefu.h"

#define AGING 60000

static uint64_t rs = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- the floor, shared by both implementations ---- */

typedef struct fagent {
    uint32_t skill[3], level[3];
    int64_t idle_since;
    uint32_t busy_with;   /* conversation id or 0 */
    int available;
} fagent;

typedef struct fconv {
    uint32_t id, skill, level;
    int32_t prio;
    int64_t arrival;
    uint64_t seq;
    int waiting;
    uint32_t wpos;        /* index in floor_.waiting_ids */
} fconv;

typedef struct floor_ {
    uint32_t nagents, nskills;
    fagent *a;            /* 1-based */
    fconv *c;             /* by id, 1-based */
    uint32_t nc, cap;
    uint32_t *active;     /* assigned conversation ids */
    uint32_t nactive;
    uint32_t *waiting_ids; /* waiting conversation ids, unordered */
    uint32_t nwaiting, wcap;
    uint64_t seq;
} floor_;

/* ---- the scan-everything router ---- */

static int level_of(const fagent *a, uint32_t skill)
{
    for (int i = 0; i < 3; i++)
        if (a->skill[i] == skill)
            return (int)a->level[i];
    return -1;
}

/* arrival: longest-idle eligible available agent, or 0 */
static uint32_t scan_agent(const floor_ *f, const fconv *c)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i <= f->nagents; i++) {
        const fagent *a = &f->a[i];
        if (!a->available || level_of(a, c->skill) < (int)c->level)
            continue;
        if (!best || a->idle_since < f->a[best].idle_since ||
            (a->idle_since == f->a[best].idle_since && i < best))
            best = i;
    }
    return best;
}

static int conv_before(const fconv *a, const fconv *b)
{
    int64_t ra = (int64_t)a->prio * AGING - a->arrival;
    int64_t rb = (int64_t)b->prio * AGING - b->arrival;
    if (ra != rb)
        return ra > rb;
    if (a->arrival != b->arrival)
        return a->arrival < b->arrival;
    return a->seq < b->seq;
}

/* agent frees up: best waiting conversation it is eligible for, or 0 */
static uint32_t scan_conv(const floor_ *f, const fagent *a)
{
    uint32_t best = 0;
    for (uint32_t w = 0; w < f->nwaiting; w++) {
        uint32_t id = f->waiting_ids[w];
        const fconv *c = &f->c[id];
        if (level_of(a, c->skill) < (int)c->level)
            continue;
        if (!best || conv_before(c, &f->c[best]))
            best = id;
    }
    return best;
}

/* ---- driving both ---- */

typedef struct lat {
    double *v;
    size_t n, cap;
} lat;

static void lat_add(lat *l, double ns)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = ns;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(lat *l, double p)
{
    size_t i = (size_t)(p * (double)(l->n - 1));
    return l->v[i];
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_router: %s: %s\n", what, kefu_strerror(rc));
    exit(1);
}

static uint32_t new_conv(floor_ *f, int64_t t)
{
    fconv *c;
    if (f->nc + 1 >= f->cap) {
        f->cap = f->cap ? 2 * f->cap : 1024;
        f->c = realloc(f->c, f->cap * sizeof *f->c);
    }
    c = &f->c[++f->nc];
    c->id = f->nc;
    c->skill = 1 + (uint32_t)(rnd() % f->nskills);
    c->level = 1 + (uint32_t)(rnd() % 5);
    c->prio = (int32_t)(rnd() % 4);
    c->arrival = t;
    c->seq = ++f->seq;
    c->waiting = 1;
    if (f->nwaiting == f->wcap) {
        f->wcap = f->wcap ? 2 * f->wcap : 1024;
        f->waiting_ids = realloc(f->waiting_ids, f->wcap * sizeof *f->waiting_ids);
    }
    c->wpos = f->nwaiting;
    f->waiting_ids[f->nwaiting++] = c->id;
    return c->id;
}

static void build(floor_ *f, kefu_router **r, uint32_t n)
{
    int rc;
    memset(f, 0, sizeof *f);
    f->nagents = n;
    f->nskills = n / 50 < 10 ? 10 : n / 50;
    f->a = calloc(n + 1, sizeof *f->a);
    f->active = calloc(n + 1, sizeof *f->active);
    if ((rc = kefu_router_new(r, NULL, NULL)))
        die("new", rc);
    kefu_router_set(*r, KEFU_ROUTER_AGING_MS, AGING);
    for (uint32_t s = 1; s <= f->nskills; s++)
        if ((rc = kefu_router_queue_add(*r, 0, s, KEFU_STRATEGY_LONGEST_IDLE)))
            die("queue", rc);
    for (uint32_t i = 1; i <= n; i++) {
        fagent *a = &f->a[i];
        if ((rc = kefu_router_agent_add(*r, 0, i, 1, 1)))
            die("agent", rc);
        for (int k = 0; k < 3; k++) {
            uint32_t s;
            do {
                s = 1 + (uint32_t)(rnd() % f->nskills);
            } while ((k > 0 && s == a->skill[0]) || (k > 1 && s == a->skill[1]));
            a->skill[k] = s;
            a->level[k] = 1 + (uint32_t)(rnd() % 10);
            if ((rc = kefu_router_agent_skill(*r, 0, i, s, a->level[k])) ||
                (rc = kefu_router_agent_queue(*r, 0, i, s, 1)))
                die("agent skill", rc);
        }
    }
}

static int mismatches;

/* Reads kefu's offer (if any) and accepts it; checks it against the scan. */
static void take_offer(kefu_router *r, int64_t t, uint32_t want_conv,
                       uint32_t want_agent)
{
    kefu_route_event e;
    int rc;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    rc = kefu_router_poll(r, &e);
    if (rc != KEFU_OK) {
        if (want_conv)
            mismatches++;
        return;
    }
    if (e.conversation != want_conv || e.agent != want_agent)
        mismatches++;
    if ((rc = kefu_router_accept(r, t, e.conversation, e.agent)))
        die("accept", rc);
}

static void assign(floor_ *f, uint32_t agent, uint32_t conv, int64_t t)
{
    f->a[agent].available = 0;
    f->a[agent].busy_with = conv;
    f->a[agent].idle_since = t;
    f->c[conv].waiting = 0;
    {
        uint32_t last = f->waiting_ids[--f->nwaiting], pos = f->c[conv].wpos;
        f->waiting_ids[pos] = last;
        f->c[last].wpos = pos;
    }
    f->active[f->nactive++] = conv;
}

/* Submits conversation id at t through kefu and the scan; returns the
 * agent chosen (0 = queued). */
static uint32_t submit(kefu_router *r, floor_ *f, uint32_t id, int64_t t,
                       lat *lk, lat *ls, int with_scan)
{
    fconv *c = &f->c[id];
    uint32_t sk[1] = {c->skill}, lv[1] = {c->level}, agent = 0;
    kefu_route_request q;
    double t0, t1;
    int rc;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.queue = c->skill;
    q.channel = KEFU_CHANNEL_VOICE;
    q.priority = c->prio;
    q.nskills = 1;
    q.skills = sk;
    q.levels = lv;
    t0 = now_ns();
    rc = kefu_router_submit(r, t, id, &q);
    t1 = now_ns();
    if (rc)
        die("submit", rc);
    if (lk)
        lat_add(lk, t1 - t0);
    if (with_scan) {
        t0 = now_ns();
        agent = scan_agent(f, c);
        t1 = now_ns();
        if (ls)
            lat_add(ls, t1 - t0);
    }
    if (agent)
        assign(f, agent, id, t);
    take_offer(r, t, agent ? id : 0, agent);
    return agent;
}

/* Completes a random active conversation; the agent takes the best
 * waiting one. */
static void complete_one(kefu_router *r, floor_ *f, int64_t t, lat *lk,
                         lat *ls)
{
    uint32_t k = (uint32_t)(rnd() % f->nactive), id = f->active[k], agent = 0;
    uint32_t next;
    double t0, t1;
    int rc;
    for (uint32_t i = 1; i <= f->nagents; i++)
        if (f->a[i].busy_with == id) {
            agent = i;
            break;
        }
    f->active[k] = f->active[--f->nactive];
    t0 = now_ns();
    rc = kefu_router_complete(r, t, id, 0);
    t1 = now_ns();
    if (rc)
        die("complete", rc);
    if (lk)
        lat_add(lk, t1 - t0);
    f->a[agent].busy_with = 0;
    f->a[agent].available = 1;
    f->a[agent].idle_since = t;
    t0 = now_ns();
    next = scan_conv(f, &f->a[agent]);
    t1 = now_ns();
    if (ls)
        lat_add(ls, t1 - t0);
    if (next)
        assign(f, agent, next, t);
    take_offer(r, t, next, next ? agent : 0);
}

static void report(const char *phase, uint32_t n, size_t waiting, lat *lk,
                   lat *ls, double kefu_s, double scan_s)
{
    qsort(lk->v, lk->n, sizeof *lk->v, cmp_d);
    qsort(ls->v, ls->n, sizeof *ls->v, cmp_d);
    printf("| %s | %u | %zu | %.0f | %.2f | %.2f | %.2f | %.0f | %.2f | %.2f "
           "| %.0fx |\n",
           phase, n, waiting, lk->n / kefu_s, pct(lk, 0.5) / 1e3,
           pct(lk, 0.99) / 1e3, pct(lk, 0.999) / 1e3, ls->n / scan_s,
           pct(ls, 0.5) / 1e3, pct(ls, 0.99) / 1e3,
           (lk->n / kefu_s) / (ls->n / scan_s));
}

/* The kefu part and the scan part run in the same loop (they must agree
 * on every decision); their times are measured separately around their
 * own calls. */
static double sum(const lat *l)
{
    double s = 0;
    for (size_t i = 0; i < l->n; i++)
        s += l->v[i];
    return s / 1e9;
}

static void run_size(uint32_t n, int quick)
{
    size_t steps = quick ? 2000 : (n >= 10000 ? 20000 : 50000);
    floor_ f;
    kefu_router *r;
    int64_t t = 1000;
    size_t waiting = (size_t)n * 10 > 100000 ? 100000 : (size_t)n * 10;
    lat lk = {0}, ls = {0};

    /* busy phase: all agents busy, `waiting` conversations queued */
    build(&f, &r, n);
    for (uint32_t i = 1; i <= n; i++) {
        kefu_router_agent_state(r, t, i, KEFU_AGENT_AVAILABLE);
        f.a[i].available = 1;
        f.a[i].idle_since = t;
    }
    /* fill every agent, then the queues */
    while (f.nactive < n) {
        uint32_t id = new_conv(&f, ++t);
        f.c[id].level = 1; /* fills every agent quickly */
        submit(r, &f, id, t, NULL, NULL, 1);
    }
    for (size_t w = 0; w < waiting; w++) {
        uint32_t id = new_conv(&f, ++t);
        submit(r, &f, id, t, NULL, NULL, 0);
    }
    for (size_t i = 0; i < steps; i++) {
        t += 10;
        complete_one(r, &f, t, &lk, &ls);
        submit(r, &f, new_conv(&f, t), t, &lk, &ls, 1);
    }
    report("busy", n, waiting, &lk, &ls, sum(&lk), sum(&ls));
    kefu_router_free(r);
    free(f.a);
    free(f.c);
    free(f.active);
    free(f.waiting_ids);
    lk.n = ls.n = 0;

    /* idle phase: a third busy, nothing waiting */
    build(&f, &r, n);
    t = 1000;
    for (uint32_t i = 1; i <= n; i++) {
        kefu_router_agent_state(r, t, i, KEFU_AGENT_AVAILABLE);
        f.a[i].available = 1;
        f.a[i].idle_since = t;
    }
    while (f.nactive < n / 3) {
        uint32_t id = new_conv(&f, ++t);
        f.c[id].level = 1;
        if (!submit(r, &f, id, t, NULL, NULL, 1))
            break;
    }
    for (size_t i = 0; i < steps; i++) {
        uint32_t id;
        t += 10;
        id = new_conv(&f, t);
        f.c[id].level = 1; /* everybody in the queue qualifies */
        submit(r, &f, id, t, &lk, &ls, 1);
        if (f.nactive)
            complete_one(r, &f, t, &lk, &ls);
    }
    report("idle", n, (size_t)0, &lk, &ls, sum(&lk), sum(&ls));
    kefu_router_free(r);
    free(f.a);
    free(f.c);
    free(f.active);
    free(f.waiting_ids);
    free(lk.v);
    free(ls.v);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    static const uint32_t sizes[] = {100, 1000, 10000};
    printf("| phase | agents | waiting | kefu decisions/s | kefu p50 us | "
           "kefu p99 us | kefu p99.9 us | scan decisions/s | scan p50 us | "
           "scan p99 us | ratio |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        run_size(sizes[i], quick);
    printf("\nDecisions that differ between kefu and the scan: %d\n",
           mismatches);
    return mismatches ? 1 : 0;
}
