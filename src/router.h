/*
 * router.h - the router's internals, shared by router.c (the state
 * machine), router_snap.c (snapshots) and floor.c (the model's `skills`,
 * `queues` and `agents` sections).  Needs only core (and the YAML tree for
 * the floor sections).
 */
#ifndef KEFU_ROUTER_H
#define KEFU_ROUTER_H

#include "core.h"

#define RT_NONE UINT32_MAX
#define RT_MAX_PRIORITY 1000000
#define RT_MAX_TIME ((int64_t)1 << 53)
#define RT_MAX_AGENT_SKILLS 256
#define RT_MAX_AGENT_QUEUES 64

/* ---- id -> index map (open addressing, linear probing, key 0 = empty) ---- */

typedef struct rt_map {
    uint32_t *keys;
    uint32_t *vals;
    size_t cap;     /* power of two or 0 */
    size_t n;
} rt_map;

/* ---- heaps of 64-bit elements; what they order depends on `kind` ---- */

enum { RT_H_AGENTS, RT_H_PRIO, RT_H_ARR };

typedef struct rt_heap {
    uint64_t *v;
    size_t n, cap;
} rt_heap;

typedef struct rt_timer {
    int64_t due;
    uint32_t kind;  /* RT_T_* */
    uint32_t id;    /* host id of the conversation or agent */
    uint64_t gen;
} rt_timer;

enum { RT_T_WRAP = 1, RT_T_OFFER = 2, RT_T_STEP = 3 };

typedef struct rt_skill {
    uint32_t skill;
    uint32_t level;
} rt_skill;

typedef struct rt_member {
    uint32_t queue;     /* queue index */
    uint32_t pos;       /* position in the queue's agent heap, RT_NONE */
} rt_member;

typedef struct rt_agent {
    uint32_t id;        /* 0 = free slot */
    uint32_t tier, capacity, load, presence, misses, nconv;
    uint32_t cost[KEFU_ROUTER_CHANNELS];
    uint32_t nlang;
    uint32_t lang[KEFU_ROUTER_MAX_LANGUAGES];
    uint32_t nskill, nmem;
    size_t skcap, memcap;
    rt_skill *skills;   /* sorted by skill id */
    rt_member *mem;     /* queues joined, in join order */
    int64_t idle_since;
    int64_t wrapup_until; /* 0 = not in wrap-up */
    uint64_t rr;        /* last offer sequence number (round robin) */
    uint64_t gen;       /* wrap-up timer generation */
} rt_agent;

enum { RT_C_WAITING = KEFU_CONV_WAITING, RT_C_RESERVED = KEFU_CONV_RESERVED,
       RT_C_ASSIGNED = KEFU_CONV_ASSIGNED };

typedef struct rt_conv {
    uint32_t id;        /* 0 = free slot */
    uint32_t state, queue, channel, language, tier, preferred, nskill;
    uint32_t step;      /* relaxation steps reached in the current queue */
    uint32_t agent;     /* agent index when reserved or assigned */
    uint32_t skip_agent;/* host id of the agent that last declined/missed */
    uint32_t transferred;
    int32_t priority;
    int64_t arrival, queued_at, offer_at, deadline;
    uint64_t seq;       /* arrival order, tie-break */
    uint64_t gen;       /* timer generation */
    uint32_t hpos, apos;/* positions in the queue's heaps */
    rt_skill skills[KEFU_ROUTER_MAX_REQ_SKILLS];
} rt_conv;

typedef struct rt_step {
    int64_t after;
    uint32_t drop, tier, any, overflow; /* overflow: queue host id or 0 */
} rt_step;

typedef struct rt_bucket {
    int64_t start;      /* bucket start time; -1 = empty */
    uint64_t offered, answered, in_target, abandoned, transfers, reroutes;
    uint64_t wait_ms;   /* sum of answered waits */
    uint64_t staffed_ms, busy_ms; /* router-wide buckets only */
} rt_bucket;

typedef struct rt_queue {
    uint32_t id;
    uint32_t strategy, skill, nstep;
    int64_t sl_target;
    rt_step steps[KEFU_ROUTER_MAX_STEPS];
    rt_heap agents;     /* offerable members: agent index << 32 | member slot */
    rt_heap prio;       /* waiting conversations by priority with aging */
    rt_heap arr;        /* waiting conversations by arrival */
    uint32_t members;
    rt_bucket *stats;
} rt_queue;

struct kefu_router {
    kefu_mem mem;
    kefu_diag diag;
    /* options */
    int64_t aging, offer_timeout, max_misses, bucket_ms, nbuckets;
    int64_t now;
    uint64_t seq, rr, gen;  /* arrival, offer and timer-generation counters */
    rt_agent *agents;
    size_t nagents, agcap;  /* slots used (incl. free ones) */
    uint32_t agfree;        /* free slot list head (RT_NONE) */
    uint32_t live_agents;
    rt_conv *convs;
    size_t nconvs, cvcap;
    uint32_t cvfree;
    uint32_t live_convs;
    rt_queue *queues;
    size_t nqueues, qcap;
    rt_map agent_ix, conv_ix, queue_ix;
    rt_timer *timers;       /* min-heap */
    size_t ntimers, tcap;
    kefu_route_event *events; /* FIFO: [ev_head, nevents) pending */
    size_t ev_head, nevents, evcap;
    uint64_t *aux;          /* traversal scratch */
    size_t auxcap;
    rt_bucket *total;       /* router-wide statistics */
    uint32_t staffed, busy; /* agents logged in / working (occupancy) */
};

/* ---- router.c internals used by the snapshot and floor code ---- */

void rt_router_init(struct kefu_router *r, const kefu_allocator *alloc);
void rt_router_release(struct kefu_router *r);
int rt_map_put(const kefu_mem *mem, rt_map *m, uint32_t key, uint32_t val);
uint32_t rt_map_get(const rt_map *m, uint32_t key);
/* Rebuilds heaps, counters and timers from agents, conversations and
 * queues (after a restore). */
int rt_rebuild(struct kefu_router *r);
int rt_alloc_stats(struct kefu_router *r, rt_bucket **out);
/* Reload helpers: drop a queue's steps (its conversations start over from
 * step 0, their step timers void), and change an agent's tier and
 * capacity (not below its load). */
void rt_queue_clear_steps(struct kefu_router *r, uint32_t qi);
int rt_agent_set_limits(struct kefu_router *r, uint32_t id, uint32_t tier,
                        uint32_t capacity);
/* Checks every invariant; returns KEFU_OK or KEFU_E_CORRUPT with a
 * message in the diag.  Used by tests and after a restore. */
int kefu_router_verify(struct kefu_router *r);

/* ---- the floor: skills, queues and agents from the model ---- */

typedef struct kefu_floor_agent {
    uint32_t id, tier, capacity, presence;
    uint32_t cost[KEFU_ROUTER_CHANNELS];
    uint32_t nlang;
    uint32_t lang[KEFU_ROUTER_MAX_LANGUAGES];
    uint32_t nskill, nqueue;
    rt_skill *skills;
    uint32_t *queues;   /* queue ids */
} kefu_floor_agent;

typedef struct kefu_floor_queue {
    uint32_t id, strategy, skill, nstep;
    int64_t sl_target;
    rt_step steps[KEFU_ROUTER_MAX_STEPS];
} kefu_floor_queue;

struct kefu_floor {
    size_t nqueue, nagent, qcap, acap;
    kefu_floor_queue *queues;
    kefu_floor_agent *agents;
};

/* model.c's section table entries (floor.c). */
struct kefu_model;
struct kefu_load_ctx;
struct kefu_ynode;
int kefu_floor_parse_skills(struct kefu_model *m, const struct kefu_ynode *n,
                            struct kefu_load_ctx *ctx);
int kefu_floor_parse_queues(struct kefu_model *m, const struct kefu_ynode *n,
                            struct kefu_load_ctx *ctx);
int kefu_floor_parse_agents(struct kefu_model *m, const struct kefu_ynode *n,
                            struct kefu_load_ctx *ctx);
int kefu_floor_finish(struct kefu_model *m, kefu_diag *diag);
void kefu_floor_release(struct kefu_model *m);

/* Applies the model's floor to an empty router at time 0. */
int rt_apply_floor(struct kefu_router *r, const struct kefu_floor *f);

#endif
