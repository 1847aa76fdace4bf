/*
 * kefu-sim - a discrete-event contact-center simulation that drives the
 * kefu router through its public API, to check it against queueing theory
 * (Erlang C / Erlang A) and to compare routing strategies.
 *
 *   kefu-sim --agents N --arrival-rate PER_S --aht S [--patience S]
 *            [--sl-target S] [--hours H] [--seed K] [--json] [--svg FILE]
 *            [--service exp|lognormal] [--cv X]
 *   kefu-sim --compare [--hours H] [--seed K] [--json]
 *   kefu-sim --scenario FILE.yaml [--hours H] [--seed K] [--json]
 *
 * Single skill: Poisson arrivals, exponential (or log-normal) handling
 * times, exponential patience when --patience is given; every agent takes
 * one conversation at a time and accepts offers at once.  Statistics start
 * after a warm-up (a tenth of the run) and come with 95% confidence
 * half-widths from 20 batch means.  The theory values are computed by the
 * library (kefu_erlang_c / kefu_erlang_a) and printed alongside.
 *
 * --compare runs a two-skill floor (billing and tech specialists plus
 * generalists) twice: skill-based routing with a relaxation step, and plain
 * longest-idle over everybody; generalists handle a skill more slowly, so
 * who gets the work matters.
 *
 * --scenario runs a multi-skill floor from a kefu model file (its skills,
 * queues and agents sections) with traffic streams described in a small
 * YAML file (examples/scenarios/two-skills.yaml shows the format); it
 * reports each stream and the router's own statistics per queue.
 *
 * The random numbers are the example's own (splitmix64 seeding
 * xoshiro256**); the library draws none.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "kefu.h"

/* ---- random numbers ---- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_u64(rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* uniform in (0, 1) */
static double rng_unit(rng *r)
{
    return ((double)(rng_u64(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_exp(rng *r, double mean)
{
    return -mean * log(rng_unit(r));
}

static double rng_normal(rng *r)
{
    return sqrt(-2.0 * log(rng_unit(r))) * cos(6.283185307179586 * rng_unit(r));
}

/* ---- the event list ---- */

enum { EV_ARRIVAL, EV_DONE, EV_PATIENCE, EV_TICK };

typedef struct event {
    double t;
    uint32_t kind, conv;
    uint64_t seq;
} event;

typedef struct evheap {
    event *v;
    size_t n, cap;
    uint64_t seq;
} evheap;

static int ev_less(const event *a, const event *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void ev_push(evheap *h, double t, uint32_t kind, uint32_t conv)
{
    event e = {t, kind, conv, h->seq++};
    size_t i;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->v = realloc(h->v, h->cap * sizeof *h->v);
        if (!h->v) {
            fprintf(stderr, "kefu-sim: out of memory\n");
            exit(1);
        }
    }
    i = h->n++;
    while (i > 0 && ev_less(&e, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = e;
}

static event ev_pop(evheap *h)
{
    event top = h->v[0], e = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, b;
        if (l >= h->n)
            break;
        b = l + 1 < h->n && ev_less(&h->v[l + 1], &h->v[l]) ? l + 1 : l;
        if (!ev_less(&h->v[b], &e))
            break;
        h->v[i] = h->v[b];
        i = b;
    }
    if (h->n)
        h->v[i] = e;
    return top;
}

/* ---- per-conversation bookkeeping ---- */

enum { C_WAITING = 1, C_TALKING = 2, C_GONE = 3 };

typedef struct conv {
    double arrival;
    uint8_t state, skill;
    uint16_t stream;
} conv;

typedef struct batch {
    double offered, waited, answered, in_sl, abandoned, wait_sum;
} batch;

#define MAX_STREAMS 32

typedef struct stream {
    char name[64];
    uint32_t queue, channel, tier, language, nskills;
    int32_t priority;
    uint32_t skills[KEFU_ROUTER_MAX_REQ_SKILLS], levels[KEFU_ROUTER_MAX_REQ_SKILLS];
    double rate, aht, patience;
    double offered, answered, in_sl, abandoned, wait_sum;
} stream;

#define NBATCH 20
#define HIST_BINS 60

typedef struct sim {
    /* parameters */
    uint32_t agents;
    double lambda, aht, patience, sl_target, hours, cv;
    int lognormal;
    uint64_t seed;
    /* state */
    kefu_router *r;
    rng rg;
    evheap ev;
    conv *convs;
    size_t nconvs, cap;
    double now, warmup, end;
    batch b[NBATCH];
    double hist[HIST_BINS];    /* waiting times of answered, 2 s bins */
    double hour_in_sl[1000], hour_offered[1000];
    /* scenario traffic streams */
    struct stream *streams;
    size_t nstreams;
    /* multi-skill */
    int compare, skill_based;
    uint32_t *agent_skill;     /* 0 generalist, 1 billing, 2 tech */
    double specialist_share[2];
} sim;

static void die_rc(const char *what, int rc, kefu_router *r)
{
    fprintf(stderr, "kefu-sim: %s: %s (%s)\n", what, kefu_strerror(rc),
            r ? kefu_diag_message(kefu_router_diag(r)) : "");
    exit(1);
}

static int64_t ms(double t)
{
    return (int64_t)llround(t * 1000.0);
}

static double service_time(sim *s, uint32_t agent, const conv *c)
{
    double mean = s->nstreams ? s->streams[c->stream].aht : s->aht;
    uint32_t skill = c->skill;
    if (s->compare && s->agent_skill[agent] != skill)
        mean *= 1.5; /* a generalist on the specialists' work */
    if (s->lognormal) {
        double sig2 = log(1.0 + s->cv * s->cv);
        return exp(log(mean) - sig2 / 2 + sqrt(sig2) * rng_normal(&s->rg));
    }
    return rng_exp(&s->rg, mean);
}

static batch *batch_of(sim *s, double arrival)
{
    int i;
    if (arrival < s->warmup)
        return NULL;
    i = (int)((arrival - s->warmup) / (s->end - s->warmup) * NBATCH);
    return &s->b[i < 0 ? 0 : i >= NBATCH ? NBATCH - 1 : i];
}

/* Reads the router's decisions: accept every offer at once. */
static void handle_offers(sim *s, uint32_t just_arrived)
{
    kefu_route_event e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    while (kefu_router_poll(s->r, &e) == KEFU_OK) {
        if (e.kind == KEFU_ROUTE_OFFER &&
            s->convs[e.conversation].state == C_GONE) {
            /* offered by a timer inside the call that cancelled it: the
             * customer had already hung up */
        } else if (e.kind == KEFU_ROUTE_OFFER) {
            conv *c = &s->convs[e.conversation];
            batch *b = batch_of(s, c->arrival);
            double wait = s->now - c->arrival;
            int rc = kefu_router_accept(s->r, ms(s->now), e.conversation,
                                        e.agent);
            if (rc)
                die_rc("accept", rc, s->r);
            c->state = C_TALKING;
            if (b) {
                b->answered++;
                b->wait_sum += wait;
                if (e.conversation != just_arrived)
                    b->waited++;
                if (wait <= s->sl_target + 1e-9) {
                    b->in_sl++;
                    s->hour_in_sl[(int)(c->arrival / 3600) % 1000]++;
                }
                {
                    int bin = (int)(wait / 2.0);
                    s->hist[bin >= HIST_BINS ? HIST_BINS - 1 : bin]++;
                }
                if (s->compare)
                    s->specialist_share[s->agent_skill[e.agent] == c->skill]++;
            }
            /* completion needs no agent id: the router knows who holds it */
            if (s->nstreams && c->arrival >= s->warmup) {
                stream *st = &s->streams[c->stream];
                st->answered++;
                st->wait_sum += wait;
                st->in_sl += wait <= s->sl_target + 1e-9;
            }
            ev_push(&s->ev, s->now + service_time(s, e.agent, c),
                    EV_DONE, e.conversation);
        }
        e.size = sizeof e;
    }
}

static uint32_t new_conv(sim *s, uint32_t skill)
{
    uint32_t id;
    if (s->nconvs + 1 >= s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->convs = realloc(s->convs, s->cap * sizeof *s->convs);
        if (!s->convs) {
            fprintf(stderr, "kefu-sim: out of memory\n");
            exit(1);
        }
    }
    id = (uint32_t)++s->nconvs; /* ids from 1 */
    memset(&s->convs[id], 0, sizeof s->convs[id]);
    s->convs[id].arrival = s->now;
    s->convs[id].state = C_WAITING;
    s->convs[id].skill = (uint8_t)skill;
    return id;
}

static void arrive(sim *s)
{
    uint32_t skill = s->compare ? 1 + (uint32_t)(rng_u64(&s->rg) % 2) : 1;
    uint32_t id = new_conv(s, skill);
    uint32_t sk[1] = {skill}, lv[1] = {6};
    kefu_route_request q;
    batch *b = batch_of(s, s->now);
    int rc;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.queue = s->compare ? skill : 1;
    q.channel = KEFU_CHANNEL_VOICE;
    if (s->compare && s->skill_based) {
        q.nskills = 1;
        q.skills = sk;
        q.levels = lv;
    }
    if (b) {
        b->offered++;
        s->hour_offered[(int)(s->now / 3600) % 1000]++;
    }
    if ((rc = kefu_router_submit(s->r, ms(s->now), id, &q)))
        die_rc("submit", rc, s->r);
    handle_offers(s, id);
    if (s->patience > 0 && s->convs[id].state == C_WAITING)
        ev_push(&s->ev, s->now + rng_exp(&s->rg, s->patience), EV_PATIENCE, id);
    ev_push(&s->ev, s->now + rng_exp(&s->rg, 1.0 / s->lambda), EV_ARRIVAL, 0);
}

static void arrive_stream(sim *s, uint32_t k)
{
    stream *st = &s->streams[k];
    uint32_t id = new_conv(s, 0);
    kefu_route_request q;
    batch *b = batch_of(s, s->now);
    int rc;
    s->convs[id].stream = (uint16_t)k;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.queue = st->queue;
    q.channel = st->channel;
    q.priority = st->priority;
    q.tier = st->tier;
    q.language = st->language;
    q.nskills = st->nskills;
    q.skills = st->skills;
    q.levels = st->levels;
    if (b) {
        b->offered++;
        st->offered++;
        s->hour_offered[(int)(s->now / 3600) % 1000]++;
    }
    if ((rc = kefu_router_submit(s->r, ms(s->now), id, &q)))
        die_rc("submit", rc, s->r);
    handle_offers(s, id);
    if (st->patience > 0 && s->convs[id].state == C_WAITING)
        ev_push(&s->ev, s->now + rng_exp(&s->rg, st->patience), EV_PATIENCE, id);
    ev_push(&s->ev, s->now + rng_exp(&s->rg, 1.0 / st->rate), EV_ARRIVAL, k);
}

static void setup_router(sim *s)
{
    int rc;
    if ((rc = kefu_router_new(&s->r, NULL, NULL)))
        die_rc("router", rc, NULL);
    /* offers are answered at once; no aging needed with one priority */
    kefu_router_set(s->r, KEFU_ROUTER_AGING_MS, 0);
    if (!s->compare) {
        if ((rc = kefu_router_queue_add(s->r, 0, 1, KEFU_STRATEGY_LONGEST_IDLE)))
            die_rc("queue", rc, s->r);
        for (uint32_t a = 1; a <= s->agents; a++)
            if ((rc = kefu_router_agent_add(s->r, 0, a, KEFU_TIER_JUNIOR, 1)) ||
                (rc = kefu_router_agent_queue(s->r, 0, a, 1, 1)) ||
                (rc = kefu_router_agent_state(s->r, 0, a, KEFU_AGENT_AVAILABLE)))
                die_rc("agent", rc, s->r);
        return;
    }
    /* two skills: queue 1 billing, queue 2 tech; a third of the agents of
     * each kind are generalists (level 4 in both), the rest specialists
     * (level 8 in their skill) */
    s->agent_skill = calloc(s->agents + 1, sizeof *s->agent_skill);
    for (uint32_t q = 1; q <= 2; q++) {
        if ((rc = kefu_router_queue_add(s->r, 0, q, KEFU_STRATEGY_LONGEST_IDLE)))
            die_rc("queue", rc, s->r);
        if (s->skill_based &&
            (rc = kefu_router_queue_step(s->r, 0, q, 20000, 2, 0, 0, 0)))
            die_rc("step", rc, s->r);
    }
    for (uint32_t a = 1; a <= s->agents; a++) {
        uint32_t kind = a % 3 == 0 ? 0 : 1 + a % 2;
        s->agent_skill[a] = kind;
        if ((rc = kefu_router_agent_add(s->r, 0, a, KEFU_TIER_JUNIOR, 1)))
            die_rc("agent", rc, s->r);
        for (uint32_t sk = 1; sk <= 2; sk++) {
            uint32_t level = kind == 0 ? 4 : kind == sk ? 8 : 0;
            if (level && (rc = kefu_router_agent_skill(s->r, 0, a, sk, level)))
                die_rc("skill", rc, s->r);
            if ((level || !s->skill_based) &&
                (rc = kefu_router_agent_queue(s->r, 0, a, sk, 1)))
                die_rc("queue", rc, s->r);
        }
        if ((rc = kefu_router_agent_state(s->r, 0, a, KEFU_AGENT_AVAILABLE)))
            die_rc("agent", rc, s->r);
    }
}

static void run(sim *s)
{
    rng_seed(&s->rg, s->seed);
    if (!s->nstreams)
        setup_router(s);
    s->end = s->hours * 3600.0;
    s->warmup = s->end / 10.0;
    if (s->nstreams) {
        for (uint32_t k = 0; k < s->nstreams; k++)
            ev_push(&s->ev, rng_exp(&s->rg, 1.0 / s->streams[k].rate),
                    EV_ARRIVAL, k);
        ev_push(&s->ev, 1.0, EV_TICK, 0);
    } else {
        ev_push(&s->ev, rng_exp(&s->rg, 1.0 / s->lambda), EV_ARRIVAL, 0);
    }
    if (s->compare && s->skill_based)
        ev_push(&s->ev, 1.0, EV_TICK, 0);
    while (s->ev.n) {
        event e = ev_pop(&s->ev);
        int rc;
        if (e.t > s->end)
            break;
        s->now = e.t;
        if (e.kind == EV_ARRIVAL && s->nstreams) {
            arrive_stream(s, e.conv);
        } else if (e.kind == EV_ARRIVAL) {
            arrive(s);
        } else if (e.kind == EV_DONE) {
            s->convs[e.conv].state = C_GONE;
            if ((rc = kefu_router_complete(s->r, ms(s->now), e.conv, 0)))
                die_rc("complete", rc, s->r);
            handle_offers(s, 0);
        } else if (e.kind == EV_PATIENCE &&
                   s->convs[e.conv].state == C_WAITING) {
            batch *b = batch_of(s, s->convs[e.conv].arrival);
            s->convs[e.conv].state = C_GONE;
            if ((rc = kefu_router_cancel(s->r, ms(s->now), e.conv)))
                die_rc("cancel", rc, s->r);
            if (b) {
                b->abandoned++;
                b->waited++;
                if (s->nstreams)
                    s->streams[s->convs[e.conv].stream].abandoned++;
            }
            handle_offers(s, 0);
        } else if (e.kind == EV_TICK) {
            /* relaxation steps fire inside the router at their own time;
             * a host that wants to see them promptly ticks */
            if ((rc = kefu_router_tick(s->r, ms(s->now))))
                die_rc("tick", rc, s->r);
            handle_offers(s, 0);
            ev_push(&s->ev, s->now + 1.0, EV_TICK, 0);
        }
    }
}

/* ---- results ---- */

typedef struct est {
    double mean, hw;
} est;

/* Ratio estimator over batches: overall ratio, and the 95% half-width of
 * the batch ratios (t with 19 degrees of freedom). */
static est ratio(const sim *s, size_t num_off, size_t den_off)
{
    double num = 0, den = 0, m, ss = 0;
    double r[NBATCH];
    est e;
    for (int i = 0; i < NBATCH; i++) {
        double n = *(const double *)((const char *)&s->b[i] + num_off);
        double d = *(const double *)((const char *)&s->b[i] + den_off);
        num += n;
        den += d;
        r[i] = d > 0 ? n / d : 0;
    }
    e.mean = den > 0 ? num / den : 0;
    m = 0;
    for (int i = 0; i < NBATCH; i++)
        m += r[i] / NBATCH;
    for (int i = 0; i < NBATCH; i++)
        ss += (r[i] - m) * (r[i] - m);
    e.hw = 2.093 * sqrt(ss / (NBATCH - 1)) / sqrt((double)NBATCH);
    return e;
}

#define OFF(f) offsetof(batch, f)

static void write_svg(const sim *s, const char *path, est sl)
{
    FILE *f = fopen(path, "w");
    double hmax = 1, total = 0;
    int hours = (int)s->hours;
    if (!f) {
        perror(path);
        return;
    }
    for (int i = 0; i < HIST_BINS; i++) {
        if (s->hist[i] > hmax)
            hmax = s->hist[i];
        total += s->hist[i];
    }
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='900' height='380' "
               "font-family='sans-serif' font-size='12'>\n"
               "<rect width='900' height='380' fill='white'/>\n"
               "<text x='20' y='22' font-size='15'>kefu-sim: %u agents, "
               "%.3f/s, AHT %.0f s%s - service level %.1f%% in %.0f s</text>\n",
            s->agents, s->lambda, s->aht,
            s->patience > 0 ? ", with abandonment" : "", 100 * sl.mean,
            s->sl_target);
    /* left: waiting-time distribution of answered conversations */
    fprintf(f, "<text x='40' y='50'>waiting time of answered (2 s bins, "
               "%.0f answered)</text>\n", total);
    for (int i = 0; i < HIST_BINS; i++) {
        double h = 260.0 * s->hist[i] / hmax;
        int target = i * 2.0 < s->sl_target;
        fprintf(f, "<rect x='%d' y='%.1f' width='6' height='%.1f' fill='%s'/>\n",
                40 + i * 7, 330 - h, h, target ? "#3a7" : "#d54");
    }
    fprintf(f, "<line x1='40' y1='330' x2='460' y2='330' stroke='black'/>\n"
               "<text x='40' y='348'>0 s</text><text x='400' y='348'>"
               "&#8805;118 s</text>\n");
    /* right: service level per hour */
    fprintf(f, "<text x='520' y='50'>service level per hour (target line "
               "80%%)</text>\n"
               "<line x1='520' y1='330' x2='880' y2='330' stroke='black'/>\n"
               "<line x1='520' y1='70' x2='520' y2='330' stroke='black'/>\n"
               "<line x1='520' y1='%.1f' x2='880' y2='%.1f' stroke='#999' "
               "stroke-dasharray='4'/>\n"
               "<text x='490' y='74'>100%%</text><text x='500' y='334'>0%%"
               "</text>\n<polyline fill='none' stroke='#36c' stroke-width='2' "
               "points='", 330 - 260 * 0.8, 330 - 260 * 0.8);
    if (hours > 1000)
        hours = 1000;
    for (int h = 0; h < hours; h++) {
        double v = s->hour_offered[h] > 0 ? s->hour_in_sl[h] / s->hour_offered[h]
                                           : 0;
        if (s->hour_offered[h] > 0)
            fprintf(f, "%.1f,%.1f ", 520 + 360.0 * (h + 0.5) / hours,
                    330 - 260 * v);
    }
    fprintf(f, "'/>\n<text x='520' y='348'>hour 0</text><text x='820' "
               "y='348'>hour %d</text>\n</svg>\n", hours);
    fclose(f);
}

static void report(const sim *s, int json, const char *svg)
{
    est pw = ratio(s, OFF(waited), OFF(offered));
    est sl = ratio(s, OFF(in_sl), OFF(offered));
    est ab = ratio(s, OFF(abandoned), OFF(offered));
    est asa = ratio(s, OFF(wait_sum), OFF(answered));
    double offered = 0, answered = 0;
    kefu_erlang_result th;
    int thrc;
    for (int i = 0; i < NBATCH; i++) {
        offered += s->b[i].offered;
        answered += s->b[i].answered;
    }
    memset(&th, 0, sizeof th);
    th.size = sizeof th;
    thrc = s->patience > 0
               ? kefu_erlang_a(&th, s->lambda, s->aht, s->patience, s->agents,
                               s->sl_target)
               : kefu_erlang_c(&th, s->lambda, s->aht, s->agents, s->sl_target);
    if (svg)
        write_svg(s, svg, sl);
    if (json) {
        printf("{\"p_wait\":%.5f,\"p_wait_hw\":%.5f,\"asa_s\":%.4f,"
               "\"asa_s_hw\":%.4f,\"service_level\":%.5f,"
               "\"service_level_hw\":%.5f,\"abandon_rate\":%.5f,"
               "\"abandon_rate_hw\":%.5f,\"answered\":%.0f,\"offered\":%.0f",
               pw.mean, pw.hw, asa.mean, asa.hw, sl.mean, sl.hw, ab.mean,
               ab.hw, answered, offered);
        if (thrc == KEFU_OK)
            printf(",\"theory\":{\"model\":\"%s\",\"p_wait\":%.5f,"
                   "\"asa_s\":%.4f,\"service_level\":%.5f,"
                   "\"abandon_rate\":%.5f}",
                   s->patience > 0 ? "erlang_a" : "erlang_c", th.p_wait,
                   th.asa_s, th.service_level, th.abandon_rate);
        printf("}\n");
        return;
    }
    printf("offered %.0f, answered %.0f (after %.1f h warm-up)\n", offered,
           answered, s->warmup / 3600);
    printf("%-14s %12s %12s %12s\n", "", "simulated", "+-95%", "theory");
    printf("%-14s %12.4f %12.4f %12.4f\n", "p_wait", pw.mean, pw.hw,
           thrc ? NAN : th.p_wait);
    printf("%-14s %12.3f %12.3f %12.3f\n", "asa_s", asa.mean, asa.hw,
           thrc ? NAN : th.asa_s);
    printf("%-14s %12.4f %12.4f %12.4f\n", "service_level", sl.mean, sl.hw,
           thrc ? NAN : th.service_level);
    printf("%-14s %12.4f %12.4f %12.4f\n", "abandon_rate", ab.mean, ab.hw,
           thrc ? NAN : th.abandon_rate);
}


/* ---- scenario files ---- */

static yaml_node_t *ymap(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            !strcmp((const char *)k->data.scalar.value, key))
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *ystr(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                            : NULL;
}

static int ynum(const char *file, yaml_node_t *n, const char *what,
                double lo, double hi, double *out)
{
    const char *v = ystr(n);
    char *end;
    double x;
    if (!v) {
        fprintf(stderr, "kefu-sim: %s:%lu:%lu: %s must be a number\n", file,
                n ? (unsigned long)n->start_mark.line + 1 : 0,
                n ? (unsigned long)n->start_mark.column + 1 : 0, what);
        return -1;
    }
    x = strtod(v, &end);
    if (*end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "kefu-sim: %s:%lu:%lu: %s must be a number in "
                "%g..%g\n", file, (unsigned long)n->start_mark.line + 1,
                (unsigned long)n->start_mark.column + 1, what, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int load_stream(const char *file, yaml_document_t *d, yaml_node_t *n,
                       stream *st)
{
    static const char *const channels[] = {"voice", "chat", "email",
                                           "messaging", "video"};
    yaml_node_t *v;
    double x;
    memset(st, 0, sizeof *st);
    st->channel = KEFU_CHANNEL_VOICE;
    snprintf(st->name, sizeof st->name, "%s",
             ystr(ymap(d, n, "name")) ? ystr(ymap(d, n, "name")) : "stream");
    if (ynum(file, ymap(d, n, "queue"), "queue", 1, 4294967294.0, &x))
        return -1;
    st->queue = (uint32_t)x;
    if (ynum(file, ymap(d, n, "rate"), "rate", 1e-9, 1e6, &st->rate) ||
        ynum(file, ymap(d, n, "aht_s"), "aht_s", 1e-6, 1e9, &st->aht))
        return -1;
    if ((v = ymap(d, n, "patience_s")) &&
        ynum(file, v, "patience_s", 0, 1e9, &st->patience))
        return -1;
    if ((v = ymap(d, n, "priority"))) {
        if (ynum(file, v, "priority", -1e6, 1e6, &x))
            return -1;
        st->priority = (int32_t)x;
    }
    if ((v = ymap(d, n, "tier"))) {
        if (ynum(file, v, "tier", 0, 3, &x))
            return -1;
        st->tier = (uint32_t)x;
    }
    if ((v = ymap(d, n, "channel"))) {
        const char *c = ystr(v);
        st->channel = 0;
        for (uint32_t i = 0; c && i < 5; i++)
            if (!strcmp(c, channels[i]))
                st->channel = i + 1;
        if (!st->channel) {
            fprintf(stderr, "kefu-sim: %s:%lu: unknown channel\n", file,
                    (unsigned long)v->start_mark.line + 1);
            return -1;
        }
    }
    if ((v = ymap(d, n, "language"))) {
        const char *c = ystr(v);
        for (size_t i = 0; c && c[i] && i < 4; i++)
            st->language = st->language << 8 | (unsigned char)c[i];
    }
    if ((v = ymap(d, n, "skills"))) {
        if (v->type != YAML_MAPPING_NODE) {
            fprintf(stderr, "kefu-sim: %s:%lu: skills is a mapping of skill "
                    "id to minimum level\n", file,
                    (unsigned long)v->start_mark.line + 1);
            return -1;
        }
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
             p < v->data.mapping.pairs.top; p++) {
            double id, lv;
            if (st->nskills == KEFU_ROUTER_MAX_REQ_SKILLS ||
                ynum(file, yaml_document_get_node(d, p->key), "skill id", 1,
                     4294967294.0, &id) ||
                ynum(file, yaml_document_get_node(d, p->value), "level", 1,
                     100, &lv))
                return -1;
            st->skills[st->nskills] = (uint32_t)id;
            st->levels[st->nskills++] = (uint32_t)lv;
        }
    }
    return 0;
}

/* Loads the scenario and builds the router from its model. */
static int load_scenario(sim *s, const char *path, int hours_given,
                         int seed_given)
{
    FILE *f = fopen(path, "rb");
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root, *v, *traffic;
    char model_path[4096];
    const char *slash;
    kefu_model *m = NULL;
    kefu_diag *diag;
    double x;
    int rc = -1;
    if (!f) {
        perror(path);
        return -1;
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        fprintf(stderr, "kefu-sim: %s:%lu:%lu: %s\n", path,
                (unsigned long)parser.problem_mark.line + 1,
                (unsigned long)parser.problem_mark.column + 1,
                parser.problem ? parser.problem : "YAML error");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    root = yaml_document_get_root_node(&doc);
    if (!ystr(ymap(&doc, root, "model"))) {
        fprintf(stderr, "kefu-sim: %s: needs 'model: FILE' (the floor)\n", path);
        goto out;
    }
    slash = strrchr(path, '/');
    snprintf(model_path, sizeof model_path, "%.*s%s",
             slash ? (int)(slash - path + 1) : 0, path,
             ystr(ymap(&doc, root, "model")));
    if ((v = ymap(&doc, root, "hours")) && !hours_given) {
        if (ynum(path, v, "hours", 0.01, 1e6, &s->hours))
            goto out;
    }
    if ((v = ymap(&doc, root, "seed")) && !seed_given) {
        if (ynum(path, v, "seed", 0, 1e18, &x))
            goto out;
        s->seed = (uint64_t)x;
    }
    if ((v = ymap(&doc, root, "sl_target_s")) &&
        ynum(path, v, "sl_target_s", 0, 86400, &s->sl_target))
        goto out;
    traffic = ymap(&doc, root, "traffic");
    if (!traffic || traffic->type != YAML_SEQUENCE_NODE ||
        traffic->data.sequence.items.top == traffic->data.sequence.items.start) {
        fprintf(stderr, "kefu-sim: %s: needs a 'traffic:' list\n", path);
        goto out;
    }
    s->streams = calloc(MAX_STREAMS, sizeof *s->streams);
    for (yaml_node_item_t *it = traffic->data.sequence.items.start;
         it < traffic->data.sequence.items.top; it++) {
        if (s->nstreams == MAX_STREAMS) {
            fprintf(stderr, "kefu-sim: at most %d streams\n", MAX_STREAMS);
            goto out;
        }
        if (load_stream(path, &doc, yaml_document_get_node(&doc, *it),
                        &s->streams[s->nstreams]))
            goto out;
        s->nstreams++;
    }
    diag = kefu_diag_new(NULL);
    if ((rc = kefu_model_load(&m, model_path, NULL, diag)) != KEFU_OK) {
        char msg[1024];
        kefu_diag_format(diag, msg, sizeof msg);
        fprintf(stderr, "kefu-sim: %s\n", msg);
        kefu_diag_free(diag);
        rc = -1;
        goto out;
    }
    kefu_diag_free(diag);
    rc = kefu_router_new(&s->r, m, NULL);
    kefu_model_free(m);
    if (rc)
        die_rc("router", rc, NULL);
    /* hourly buckets over the whole run, for the router's own statistics */
    kefu_router_set(s->r, KEFU_ROUTER_STATS_BUCKET_MS, 3600000);
    kefu_router_set(s->r, KEFU_ROUTER_STATS_BUCKETS,
                    s->hours + 2 > 10080 ? 10080 : (int64_t)s->hours + 2);
    rc = 0;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

static void report_scenario(const sim *s, int json)
{
    est sl = ratio(s, OFF(in_sl), OFF(offered));
    est asa = ratio(s, OFF(wait_sum), OFF(answered));
    est ab = ratio(s, OFF(abandoned), OFF(offered));
    uint32_t seen[MAX_STREAMS];
    size_t nseen = 0;
    if (json)
        printf("{\"service_level\":%.5f,\"service_level_hw\":%.5f,"
               "\"asa_s\":%.4f,\"asa_s_hw\":%.4f,\"abandon_rate\":%.5f,"
               "\"abandon_rate_hw\":%.5f,\"streams\":[",
               sl.mean, sl.hw, asa.mean, asa.hw, ab.mean, ab.hw);
    else
        printf("all streams: service level %.4f (+-%.4f) in %.0f s, ASA "
               "%.2f s (+-%.2f), abandoned %.4f (+-%.4f)\n\n"
               "%-16s %9s %9s %9s %9s %9s\n", sl.mean, sl.hw, s->sl_target,
               asa.mean, asa.hw, ab.mean, ab.hw, "stream", "offered",
               "answered", "asa_s", "SL", "abandon");
    for (size_t k = 0; k < s->nstreams; k++) {
        const stream *st = &s->streams[k];
        double a = st->answered > 0 ? st->wait_sum / st->answered : 0;
        double l = st->offered > 0 ? st->in_sl / st->offered : 0;
        double b = st->offered > 0 ? st->abandoned / st->offered : 0;
        if (json)
            printf("%s{\"name\":\"%s\",\"queue\":%u,\"offered\":%.0f,"
                   "\"answered\":%.0f,\"asa_s\":%.4f,\"service_level\":%.5f,"
                   "\"abandon_rate\":%.5f}",
                   k ? "," : "", st->name, st->queue, st->offered,
                   st->answered, a, l, b);
        else
            printf("%-16s %9.0f %9.0f %9.2f %9.4f %9.4f\n", st->name,
                   st->offered, st->answered, a, l, b);
    }
    if (json)
        printf("],\"router_queues\":[");
    else
        printf("\nthe router's own statistics per queue (whole run; SL = in "
               "target / (answered + abandoned), queue targets):\n"
               "%-8s %9s %9s %9s %9s %9s %9s %9s\n", "queue", "offered",
               "answered", "abandon", "reroutes", "asa_s", "SL",
               "occupancy");
    for (size_t k = 0; k < s->nstreams; k++) {
        kefu_route_stats st;
        uint32_t q = s->streams[k].queue;
        size_t j;
        for (j = 0; j < nseen && seen[j] != q; j++)
            ;
        if (j < nseen)
            continue;
        seen[nseen++] = q;
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        if (kefu_router_stats(s->r, ms(s->now), q,
                              ms(s->end) + 3600000, &st))
            continue;
        if (json)
            printf("%s{\"queue\":%u,\"offered\":%llu,\"answered\":%llu,"
                   "\"abandoned\":%llu,\"reroutes\":%llu,\"asa_s\":%.4f,"
                   "\"service_level\":%.5f,\"occupancy\":%.5f}",
                   nseen > 1 ? "," : "", q, (unsigned long long)st.offered,
                   (unsigned long long)st.answered,
                   (unsigned long long)st.abandoned,
                   (unsigned long long)st.reroutes, st.asa_ms / 1000,
                   st.service_level, st.occupancy);
        else
            printf("%-8u %9llu %9llu %9llu %9llu %9.2f %9.4f %9.4f\n", q,
                   (unsigned long long)st.offered,
                   (unsigned long long)st.answered,
                   (unsigned long long)st.abandoned,
                   (unsigned long long)st.reroutes, st.asa_ms / 1000,
                   st.service_level, st.occupancy);
    }
    if (json)
        printf("]}\n");
}

static void compare(sim *base, int json)
{
    const char *names[2] = {"longest_idle_any_agent", "skill_based_relaxation"};
    if (json)
        printf("{");
    for (int k = 0; k < 2; k++) {
        sim s = *base;
        est pw, sl, asa;
        double total;
        s.compare = 1;
        s.skill_based = k;
        run(&s);
        pw = ratio(&s, OFF(waited), OFF(offered));
        sl = ratio(&s, OFF(in_sl), OFF(offered));
        asa = ratio(&s, OFF(wait_sum), OFF(answered));
        total = s.specialist_share[0] + s.specialist_share[1];
        if (json)
            printf("%s\"%s\":{\"p_wait\":%.5f,\"asa_s\":%.3f,\"asa_s_hw\":%.3f,"
                   "\"service_level\":%.5f,\"service_level_hw\":%.5f,"
                   "\"specialist_share\":%.4f}",
                   k ? "," : "", names[k], pw.mean, asa.mean, asa.hw, sl.mean,
                   sl.hw, total > 0 ? s.specialist_share[1] / total : 0);
        else
            printf("%-24s p_wait %.4f  asa %7.2f s (+-%.2f)  SL %.4f (+-%.4f)  "
                   "handled by a specialist %.1f%%\n",
                   names[k], pw.mean, asa.mean, asa.hw, sl.mean, sl.hw,
                   total > 0 ? 100 * s.specialist_share[1] / total : 0);
        kefu_router_free(s.r);
        free(s.convs);
        free(s.ev.v);
        free(s.agent_skill);
    }
    if (json)
        printf("}\n");
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kefu-sim --agents N --arrival-rate PER_S --aht S "
            "[--patience S]\n"
            "                [--sl-target S] [--hours H] [--seed K] [--json] "
            "[--svg FILE]\n"
            "                [--service exp|lognormal] [--cv X]\n"
            "       kefu-sim --compare [--agents N] [--arrival-rate PER_S] "
            "[--aht S] [--hours H] [--json]\n"
            "       kefu-sim --scenario FILE.yaml [--hours H] [--seed K] "
            "[--json] [--svg FILE]\n");
}

/* The value of option argv[*i], a number from 0 to hi (exit 2 otherwise:
 * a cast of a larger value to the option's integer type, or a run of
 * years of simulated traffic, is not what anyone asked for). */
static double num_arg(int argc, char **argv, int *i, double hi)
{
    char *end;
    double v;
    if (*i + 1 >= argc) {
        fprintf(stderr, "kefu-sim: %s needs a value\n", argv[*i]);
        exit(2);
    }
    v = strtod(argv[++*i], &end);
    if (!*argv[*i] || *end || !isfinite(v) || v < 0 || v > hi) {
        fprintf(stderr, "kefu-sim: bad value '%s' for %s (0 to %g)\n", argv[*i],
                argv[*i - 1], hi);
        exit(2);
    }
    return v;
}

#define MAX_SIM_AGENTS 100000
#define MAX_SIM_HOURS 8760 /* a year */

int main(int argc, char **argv)
{
    sim s;
    int json = 0, cmp = 0, hours_given = 0, seed_given = 0;
    const char *svg = NULL, *scenario = NULL;
    memset(&s, 0, sizeof s);
    s.sl_target = 20;
    s.hours = 24;
    s.seed = 1;
    s.cv = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--agents"))
            s.agents = (uint32_t)num_arg(argc, argv, &i, MAX_SIM_AGENTS);
        else if (!strcmp(a, "--arrival-rate"))
            s.lambda = num_arg(argc, argv, &i, 1e6);
        else if (!strcmp(a, "--aht"))
            s.aht = num_arg(argc, argv, &i, 1e6);
        else if (!strcmp(a, "--patience"))
            s.patience = num_arg(argc, argv, &i, 1e6);
        else if (!strcmp(a, "--sl-target"))
            s.sl_target = num_arg(argc, argv, &i, 1e6);
        else if (!strcmp(a, "--hours"))
            s.hours = num_arg(argc, argv, &i, MAX_SIM_HOURS), hours_given = 1;
        else if (!strcmp(a, "--seed"))
            s.seed = (uint64_t)num_arg(argc, argv, &i, 9007199254740992.0), seed_given = 1;
        else if (!strcmp(a, "--scenario") && i + 1 < argc)
            scenario = argv[++i];
        else if (!strcmp(a, "--cv"))
            s.cv = num_arg(argc, argv, &i, 100);
        else if (!strcmp(a, "--json"))
            json = 1;
        else if (!strcmp(a, "--compare"))
            cmp = 1;
        else if (!strcmp(a, "--svg") && i + 1 < argc)
            svg = argv[++i];
        else if (!strcmp(a, "--service") && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(v, "lognormal"))
                s.lognormal = 1;
            else if (strcmp(v, "exp")) {
                fprintf(stderr, "kefu-sim: --service is exp or lognormal\n");
                return 2;
            }
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "kefu-sim: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (scenario) {
        if (load_scenario(&s, scenario, hours_given, seed_given))
            return 1;
        run(&s);
        report_scenario(&s, json);
        if (svg)
            write_svg(&s, svg, ratio(&s, OFF(in_sl), OFF(offered)));
        kefu_router_free(s.r);
        free(s.convs);
        free(s.ev.v);
        free(s.streams);
        return 0;
    }
    if (cmp) {
        if (!s.agents)
            s.agents = 60;
        if (s.lambda <= 0)
            s.lambda = 0.15;
        if (s.aht <= 0)
            s.aht = 240;
        if (s.hours <= 0) {
            fprintf(stderr, "kefu-sim: --hours must be positive\n");
            return 2;
        }
        compare(&s, json);
        return 0;
    }
    if (!s.agents || s.lambda <= 0 || s.aht <= 0 || s.hours <= 0) {
        usage(stderr);
        return 2;
    }
    run(&s);
    report(&s, json, svg);
    kefu_router_free(s.r);
    free(s.convs);
    free(s.ev.v);
    return 0;
}
