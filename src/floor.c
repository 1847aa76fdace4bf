/*
 * floor.c - the contact-center floor in the model file: `skills`, `queues`
 * and `agents` sections, and applying them to a new router.
 *
 *   skills: {billing: 1, refunds: 2}          # name: id
 *   queues:
 *     billing:
 *       id: 10
 *       strategy: longest_idle   # least_loaded, best_proficiency, round_robin
 *       skill: billing           # ranked by best_proficiency
 *       sl_target_s: 20
 *       steps:
 *         - {after_s: 30, level_drop: 1}
 *         - {after_s: 60, tier: junior}
 *         - {after_s: 90, any_agent: true}
 *         - {after_s: 120, overflow: general}
 *   agents:
 *     alice:
 *       id: 1001
 *       tier: senior             # junior, senior, expert
 *       capacity: 3
 *       channels: {voice: 3, chat: 1}   # cost per conversation
 *       languages: [zh, en]
 *       skills: {billing: 5, refunds: 3}
 *       queues: [billing]
 *       state: available         # offline (default), available, away
 *
 * Sections may come in any order and from several files, so names are
 * resolved in the finish step, which reports unknown names at the place
 * they were written.
 */
#include "router.h"

#include "model.h"

typedef struct where {
    char *file;
    uint32_t line, column;
} where;

typedef struct ref {
    char *name;
    where at;
    uint32_t value;   /* level or cost, depending on the list */
} ref;

typedef struct bqueue {
    char *name;
    where at;
    kefu_floor_queue q;
    ref skill;              /* name NULL when none */
    ref overflow[KEFU_ROUTER_MAX_STEPS];
} bqueue;

typedef struct bagent {
    char *name;
    where at;
    kefu_floor_agent a;
    ref *skills;
    ref *queues;
    size_t nskill, nqueue, skcap, qcap;
} bagent;

typedef struct builder {
    ref *skills;            /* name -> id in value */
    size_t nskill, skcap;
    bqueue *queues;
    size_t nqueue, qcap;
    bagent *agents;
    size_t nagent, acap;
} builder;

static void free_where(const kefu_mem *mem, where *w)
{
    kefu_dealloc(mem, w->file);
}

static void free_ref(const kefu_mem *mem, ref *r)
{
    kefu_dealloc(mem, r->name);
    free_where(mem, &r->at);
}

static void builder_free(const kefu_mem *mem, builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nskill; i++)
        free_ref(mem, &b->skills[i]);
    for (size_t i = 0; i < b->nqueue; i++) {
        kefu_dealloc(mem, b->queues[i].name);
        free_where(mem, &b->queues[i].at);
        free_ref(mem, &b->queues[i].skill);
        for (int j = 0; j < KEFU_ROUTER_MAX_STEPS; j++)
            free_ref(mem, &b->queues[i].overflow[j]);
    }
    for (size_t i = 0; i < b->nagent; i++) {
        bagent *a = &b->agents[i];
        kefu_dealloc(mem, a->name);
        free_where(mem, &a->at);
        for (size_t j = 0; j < a->nskill; j++)
            free_ref(mem, &a->skills[j]);
        for (size_t j = 0; j < a->nqueue; j++)
            free_ref(mem, &a->queues[j]);
        kefu_dealloc(mem, a->skills);
        kefu_dealloc(mem, a->queues);
    }
    kefu_dealloc(mem, b->skills);
    kefu_dealloc(mem, b->queues);
    kefu_dealloc(mem, b->agents);
    kefu_dealloc(mem, b);
}

static int nomem(kefu_load_ctx *ctx)
{
    return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
}

static builder *get_builder(struct kefu_model *m)
{
    if (!m->building[KEFU_BUILD_FLOOR])
        m->building[KEFU_BUILD_FLOOR] = kefu_zalloc(&m->mem, sizeof(builder));
    return m->building[KEFU_BUILD_FLOOR];
}

static int make_ref(struct kefu_model *m, kefu_load_ctx *ctx,
                    const kefu_ynode *n, uint32_t value, ref *out)
{
    const char *s;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = kefu_y_string(ctx->diag, ctx->doc, n, &s, NULL)))
        return rc;
    out->name = kefu_strdup(&m->mem, s);
    out->at.file = kefu_strdup(&m->mem, ctx->doc->file ? ctx->doc->file : "");
    out->at.line = n->line;
    out->at.column = n->column;
    out->value = value;
    if (!out->name || !out->at.file) {
        free_ref(&m->mem, out);
        memset(out, 0, sizeof *out);
        return nomem(ctx);
    }
    return KEFU_OK;
}

static int ref_error(kefu_diag *d, const ref *r, int status, const char *what)
{
    return kefu_diag_setf(d, status, r->at.file, r->at.line, r->at.column,
                          UINT64_MAX, "unknown %s '%s'", what, r->name);
}

static int get_u32(kefu_load_ctx *ctx, const kefu_ynode *n, int64_t lo,
                   int64_t hi, uint32_t *out)
{
    int64_t v;
    int rc = kefu_y_int(ctx->diag, ctx->doc, n, lo, hi, &v);
    if (!rc)
        *out = (uint32_t)v;
    return rc;
}

/* ---- skills ---- */

static int parse_skills(struct kefu_model *m, const kefu_ynode *n,
                        kefu_load_ctx *ctx)
{
    builder *b = get_builder(m);
    int rc;
    if (!b)
        return nomem(ctx);
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP,
                            "a mapping of skill names to ids")))
        return rc;
    for (size_t i = 0; i < n->n; i++) {
        uint32_t id;
        if ((rc = get_u32(ctx, n->items[i], 1, UINT32_MAX - 1, &id)))
            return rc;
        for (size_t j = 0; j < b->nskill; j++)
            if (!strcmp(b->skills[j].name, n->keys[i]->str))
                return kefu_yerr(ctx->diag, ctx->doc, n->keys[i], KEFU_E_EXISTS,
                                 "skill '%s' defined twice", n->keys[i]->str);
        if (kefu_grow(&m->mem, (void **)&b->skills, &b->skcap, b->nskill + 1,
                      sizeof *b->skills))
            return nomem(ctx);
        if ((rc = make_ref(m, ctx, n->keys[i], id, &b->skills[b->nskill])))
            return rc;
        b->nskill++;
    }
    return KEFU_OK;
}

/* ---- queues ---- */

static int parse_strategy(kefu_load_ctx *ctx, const kefu_ynode *n,
                          uint32_t *out)
{
    static const char *const names[] = {"longest_idle", "least_loaded",
                                        "best_proficiency", "round_robin"};
    if (n->type == KEFU_Y_SCALAR)
        for (uint32_t i = 0; i < 4; i++)
            if (!strcmp(n->str, names[i])) {
                *out = i + 1;
                return KEFU_OK;
            }
    return kefu_yerr(ctx->diag, ctx->doc, n, KEFU_E_MODEL,
                     "strategy is one of longest_idle, least_loaded, "
                     "best_proficiency, round_robin");
}

static int parse_tier(kefu_load_ctx *ctx, const kefu_ynode *n, uint32_t *out)
{
    static const char *const names[] = {"any", "junior", "senior", "expert"};
    if (n->type == KEFU_Y_SCALAR)
        for (uint32_t i = 0; i < 4; i++)
            if (!strcmp(n->str, names[i])) {
                *out = i;
                return KEFU_OK;
            }
    return kefu_yerr(ctx->diag, ctx->doc, n, KEFU_E_MODEL,
                     "tier is one of junior, senior, expert (or any)");
}

static int parse_ms(kefu_load_ctx *ctx, const kefu_ynode *n, double lo,
                    int64_t *out)
{
    double s;
    int rc = kefu_y_number(ctx->diag, ctx->doc, n, lo, 7 * 86400.0, &s);
    if (!rc)
        *out = (int64_t)(s * 1000.0 + 0.5);
    return rc;
}

static int parse_step(struct kefu_model *m, kefu_load_ctx *ctx,
                      const kefu_ynode *n, bqueue *q)
{
    static const char *const keys[] = {"after_s", "level_drop", "tier",
                                       "any_agent", "overflow", NULL};
    rt_step *s = &q->q.steps[q->q.nstep];
    const kefu_ynode *v;
    int rc;
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP, "a step")) ||
        (rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys)))
        return rc;
    if (!(v = kefu_ymap_get(n, "after_s")))
        return kefu_yerr(ctx->diag, ctx->doc, n, KEFU_E_MODEL,
                         "a step needs after_s");
    if ((rc = parse_ms(ctx, v, 0.001, &s->after)))
        return rc;
    if (q->q.nstep && s->after <= q->q.steps[q->q.nstep - 1].after)
        return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                         "steps must come later than the one before");
    if ((v = kefu_ymap_get(n, "level_drop")) &&
        (rc = get_u32(ctx, v, 0, KEFU_ROUTER_MAX_LEVEL, &s->drop)))
        return rc;
    if ((v = kefu_ymap_get(n, "tier")) && (rc = parse_tier(ctx, v, &s->tier)))
        return rc;
    if ((v = kefu_ymap_get(n, "any_agent"))) {
        bool any;
        if ((rc = kefu_y_bool(ctx->diag, ctx->doc, v, &any)))
            return rc;
        s->any = any;
    }
    if ((v = kefu_ymap_get(n, "overflow")) &&
        (rc = make_ref(m, ctx, v, 0, &q->overflow[q->q.nstep])))
        return rc;
    q->q.nstep++;
    return KEFU_OK;
}

static int parse_queue(struct kefu_model *m, kefu_load_ctx *ctx,
                       const kefu_ynode *key, const kefu_ynode *n, bqueue *q)
{
    static const char *const keys[] = {"id", "strategy", "skill",
                                       "sl_target_s", "steps", NULL};
    const kefu_ynode *v;
    int rc;
    q->q.strategy = KEFU_STRATEGY_LONGEST_IDLE;
    q->q.sl_target = 20000;
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP, "a queue")) ||
        (rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys)))
        return rc;
    if (!(v = kefu_ymap_get(n, "id")))
        return kefu_yerr(ctx->diag, ctx->doc, key, KEFU_E_MODEL,
                         "queue '%s' needs an id", key->str);
    if ((rc = get_u32(ctx, v, 1, UINT32_MAX - 1, &q->q.id)))
        return rc;
    if ((v = kefu_ymap_get(n, "strategy")) &&
        (rc = parse_strategy(ctx, v, &q->q.strategy)))
        return rc;
    if ((v = kefu_ymap_get(n, "skill")) &&
        (rc = make_ref(m, ctx, v, 0, &q->skill)))
        return rc;
    if ((v = kefu_ymap_get(n, "sl_target_s")) &&
        (rc = parse_ms(ctx, v, 0, &q->q.sl_target)))
        return rc;
    if (q->q.sl_target > 86400000)
        return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                         "sl_target_s is at most one day");
    if ((v = kefu_ymap_get(n, "steps"))) {
        if ((rc = kefu_y_expect(ctx->diag, ctx->doc, v, KEFU_Y_SEQ,
                                "a list of steps")))
            return rc;
        if (v->n > KEFU_ROUTER_MAX_STEPS)
            return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_LIMIT,
                             "at most %d steps", KEFU_ROUTER_MAX_STEPS);
        for (size_t i = 0; i < v->n; i++)
            if ((rc = parse_step(m, ctx, v->items[i], q)))
                return rc;
    }
    return KEFU_OK;
}

static int parse_queues(struct kefu_model *m, const kefu_ynode *n,
                        kefu_load_ctx *ctx)
{
    builder *b = get_builder(m);
    int rc;
    if (!b)
        return nomem(ctx);
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP,
                            "a mapping of queue names to queues")))
        return rc;
    for (size_t i = 0; i < n->n; i++) {
        bqueue *q;
        for (size_t j = 0; j < b->nqueue; j++)
            if (!strcmp(b->queues[j].name, n->keys[i]->str))
                return kefu_yerr(ctx->diag, ctx->doc, n->keys[i],
                                 KEFU_E_EXISTS, "queue '%s' defined twice",
                                 n->keys[i]->str);
        if (kefu_grow(&m->mem, (void **)&b->queues, &b->qcap, b->nqueue + 1,
                      sizeof *b->queues))
            return nomem(ctx);
        q = &b->queues[b->nqueue];
        memset(q, 0, sizeof *q);
        b->nqueue++; /* owned by the builder from here, even half-parsed */
        {
            ref tmp;
            if ((rc = make_ref(m, ctx, n->keys[i], 0, &tmp)))
                return rc;
            q->name = tmp.name;
            q->at = tmp.at;
        }
        if ((rc = parse_queue(m, ctx, n->keys[i], n->items[i], q)))
            return rc;
    }
    return KEFU_OK;
}

/* ---- agents ---- */

static int channel_of(const char *s, uint32_t *ch)
{
    static const char *const names[] = {"voice", "chat", "email", "messaging",
                                        "video"};
    for (uint32_t i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) {
            *ch = i + 1;
            return 0;
        }
    if (s[0] >= '1' && s[0] <= '8' && !s[1]) {
        *ch = (uint32_t)(s[0] - '0');
        return 0;
    }
    return -1;
}

static int parse_agent(struct kefu_model *m, kefu_load_ctx *ctx,
                       const kefu_ynode *key, const kefu_ynode *n, bagent *a)
{
    static const char *const keys[] = {"id", "tier", "capacity", "channels",
                                       "languages", "skills", "queues",
                                       "state", NULL};
    const kefu_ynode *v;
    int rc;
    a->a.capacity = 1;
    for (int i = 0; i < KEFU_ROUTER_CHANNELS; i++)
        a->a.cost[i] = 1;
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP, "an agent")) ||
        (rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys)))
        return rc;
    if (!(v = kefu_ymap_get(n, "id")))
        return kefu_yerr(ctx->diag, ctx->doc, key, KEFU_E_MODEL,
                         "agent '%s' needs an id", key->str);
    if ((rc = get_u32(ctx, v, 1, UINT32_MAX - 1, &a->a.id)))
        return rc;
    if ((v = kefu_ymap_get(n, "tier")) && (rc = parse_tier(ctx, v, &a->a.tier)))
        return rc;
    if ((v = kefu_ymap_get(n, "capacity")) &&
        (rc = get_u32(ctx, v, 1, KEFU_ROUTER_MAX_CAPACITY, &a->a.capacity)))
        return rc;
    if ((v = kefu_ymap_get(n, "state"))) {
        if (v->type == KEFU_Y_SCALAR && !strcmp(v->str, "offline"))
            a->a.presence = KEFU_AGENT_OFFLINE;
        else if (v->type == KEFU_Y_SCALAR && !strcmp(v->str, "available"))
            a->a.presence = KEFU_AGENT_AVAILABLE;
        else if (v->type == KEFU_Y_SCALAR && !strcmp(v->str, "away"))
            a->a.presence = KEFU_AGENT_AWAY;
        else
            return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                             "state is offline, available or away");
    }
    if ((v = kefu_ymap_get(n, "channels"))) {
        if ((rc = kefu_y_expect(ctx->diag, ctx->doc, v, KEFU_Y_MAP,
                                "a mapping of channel names to costs")))
            return rc;
        /* listing channels means the others are not taken */
        for (int i = 0; i < KEFU_ROUTER_CHANNELS; i++)
            a->a.cost[i] = 0;
        for (size_t i = 0; i < v->n; i++) {
            uint32_t ch;
            if (channel_of(v->keys[i]->str, &ch))
                return kefu_yerr(ctx->diag, ctx->doc, v->keys[i],
                                 KEFU_E_UNKNOWN, "unknown channel '%s' "
                                 "(voice, chat, email, messaging, video or "
                                 "1..8)", v->keys[i]->str);
            if ((rc = get_u32(ctx, v->items[i], 0, KEFU_ROUTER_MAX_CAPACITY,
                              &a->a.cost[ch - 1])))
                return rc;
        }
    }
    if ((v = kefu_ymap_get(n, "languages"))) {
        if ((rc = kefu_y_expect(ctx->diag, ctx->doc, v, KEFU_Y_SEQ,
                                "a list of language codes")))
            return rc;
        if (v->n > KEFU_ROUTER_MAX_LANGUAGES)
            return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_LIMIT,
                             "at most %d languages", KEFU_ROUTER_MAX_LANGUAGES);
        for (size_t i = 0; i < v->n; i++) {
            const kefu_ynode *l = v->items[i];
            uint32_t code = 0;
            if (l->type != KEFU_Y_SCALAR || l->len < 1 || l->len > 4)
                return kefu_yerr(ctx->diag, ctx->doc, l, KEFU_E_MODEL,
                                 "a language code is 1 to 4 ASCII letters");
            for (size_t j = 0; j < l->len; j++) {
                unsigned char ch = (unsigned char)l->str[j];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
                    return kefu_yerr(ctx->diag, ctx->doc, l, KEFU_E_MODEL,
                                     "a language code is 1 to 4 ASCII letters");
                code = code << 8 | ch;
            }
            a->a.lang[a->a.nlang++] = code;
        }
    }
    if ((v = kefu_ymap_get(n, "skills"))) {
        if ((rc = kefu_y_expect(ctx->diag, ctx->doc, v, KEFU_Y_MAP,
                                "a mapping of skill names to levels")))
            return rc;
        for (size_t i = 0; i < v->n; i++) {
            uint32_t level;
            if ((rc = get_u32(ctx, v->items[i], 1, KEFU_ROUTER_MAX_LEVEL,
                              &level)))
                return rc;
            if (kefu_grow(&m->mem, (void **)&a->skills, &a->skcap,
                          a->nskill + 1, sizeof *a->skills))
                return nomem(ctx);
            if ((rc = make_ref(m, ctx, v->keys[i], level,
                               &a->skills[a->nskill])))
                return rc;
            a->nskill++;
        }
    }
    if ((v = kefu_ymap_get(n, "queues"))) {
        if ((rc = kefu_y_expect(ctx->diag, ctx->doc, v, KEFU_Y_SEQ,
                                "a list of queue names")))
            return rc;
        for (size_t i = 0; i < v->n; i++) {
            if (kefu_grow(&m->mem, (void **)&a->queues, &a->qcap,
                          a->nqueue + 1, sizeof *a->queues))
                return nomem(ctx);
            if ((rc = make_ref(m, ctx, v->items[i], 0, &a->queues[a->nqueue])))
                return rc;
            a->nqueue++;
        }
    }
    return KEFU_OK;
}

static int parse_agents(struct kefu_model *m, const kefu_ynode *n,
                        kefu_load_ctx *ctx)
{
    builder *b = get_builder(m);
    int rc;
    if (!b)
        return nomem(ctx);
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP,
                            "a mapping of agent names to agents")))
        return rc;
    for (size_t i = 0; i < n->n; i++) {
        bagent *a;
        for (size_t j = 0; j < b->nagent; j++)
            if (!strcmp(b->agents[j].name, n->keys[i]->str))
                return kefu_yerr(ctx->diag, ctx->doc, n->keys[i],
                                 KEFU_E_EXISTS, "agent '%s' defined twice",
                                 n->keys[i]->str);
        if (kefu_grow(&m->mem, (void **)&b->agents, &b->acap, b->nagent + 1,
                      sizeof *b->agents))
            return nomem(ctx);
        a = &b->agents[b->nagent];
        memset(a, 0, sizeof *a);
        b->nagent++;
        {
            ref tmp;
            if ((rc = make_ref(m, ctx, n->keys[i], 0, &tmp)))
                return rc;
            a->name = tmp.name;
            a->at = tmp.at;
        }
        if ((rc = parse_agent(m, ctx, n->keys[i], n->items[i], a)))
            return rc;
    }
    return KEFU_OK;
}

/* ---- finish: resolve names into the floor ---- */

static const ref *find_ref(const ref *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i].name, name))
            return &list[i];
    return NULL;
}

static int find_queue_name(const builder *b, const ref *r, uint32_t *id)
{
    for (size_t i = 0; i < b->nqueue; i++)
        if (!strcmp(b->queues[i].name, r->name)) {
            *id = b->queues[i].q.id;
            return 0;
        }
    return -1;
}

static void floor_free(const kefu_mem *mem, struct kefu_floor *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nagent; i++) {
        kefu_dealloc(mem, f->agents[i].skills);
        kefu_dealloc(mem, f->agents[i].queues);
    }
    kefu_dealloc(mem, f->queues);
    kefu_dealloc(mem, f->agents);
    kefu_dealloc(mem, f);
}

static int resolve(const kefu_mem *mem, const builder *b,
                   struct kefu_floor *f, kefu_diag *d)
{
    f->queues = kefu_alloc_array(mem, b->nqueue + 1, sizeof *f->queues);
    f->agents = kefu_alloc_array(mem, b->nagent + 1, sizeof *f->agents);
    if (!f->queues || !f->agents)
        return kefu_diag_msg(d, KEFU_E_NOMEM, "out of memory");
    for (size_t i = 0; i < b->nqueue; i++) {
        const bqueue *q = &b->queues[i];
        kefu_floor_queue *fq = &f->queues[f->nqueue];
        for (size_t j = 0; j < i; j++)
            if (b->queues[j].q.id == q->q.id)
                return kefu_diag_setf(d, KEFU_E_EXISTS, q->at.file, q->at.line,
                                      q->at.column, UINT64_MAX,
                                      "queue id %u is used by '%s' too",
                                      q->q.id, b->queues[j].name);
        *fq = q->q;
        if (q->skill.name) {
            const ref *s = find_ref(b->skills, b->nskill, q->skill.name);
            if (!s)
                return ref_error(d, &q->skill, KEFU_E_UNKNOWN, "skill");
            fq->skill = s->value;
        }
        for (uint32_t k = 0; k < q->q.nstep; k++) {
            if (!q->overflow[k].name)
                continue;
            if (find_queue_name(b, &q->overflow[k], &fq->steps[k].overflow))
                return ref_error(d, &q->overflow[k], KEFU_E_UNKNOWN, "queue");
            if (fq->steps[k].overflow == q->q.id)
                return kefu_diag_setf(d, KEFU_E_MODEL, q->overflow[k].at.file,
                                      q->overflow[k].at.line,
                                      q->overflow[k].at.column, UINT64_MAX,
                                      "queue '%s' overflows to itself",
                                      q->name);
        }
        f->nqueue++;
    }
    for (size_t i = 0; i < b->nagent; i++) {
        const bagent *a = &b->agents[i];
        kefu_floor_agent *fa = &f->agents[f->nagent];
        for (size_t j = 0; j < i; j++)
            if (b->agents[j].a.id == a->a.id)
                return kefu_diag_setf(d, KEFU_E_EXISTS, a->at.file, a->at.line,
                                      a->at.column, UINT64_MAX,
                                      "agent id %u is used by '%s' too",
                                      a->a.id, b->agents[j].name);
        *fa = a->a;
        fa->skills = kefu_alloc_array(mem, a->nskill + 1, sizeof *fa->skills);
        fa->queues = kefu_alloc_array(mem, a->nqueue + 1, sizeof *fa->queues);
        f->nagent++;
        if (!fa->skills || !fa->queues)
            return kefu_diag_msg(d, KEFU_E_NOMEM, "out of memory");
        for (size_t j = 0; j < a->nskill; j++) {
            const ref *s = find_ref(b->skills, b->nskill, a->skills[j].name);
            if (!s)
                return ref_error(d, &a->skills[j], KEFU_E_UNKNOWN, "skill");
            fa->skills[j].skill = s->value;
            fa->skills[j].level = a->skills[j].value;
        }
        fa->nskill = (uint32_t)a->nskill;
        for (size_t j = 0; j < a->nqueue; j++)
            if (find_queue_name(b, &a->queues[j], &fa->queues[j]))
                return ref_error(d, &a->queues[j], KEFU_E_UNKNOWN, "queue");
        fa->nqueue = (uint32_t)a->nqueue;
    }
    return KEFU_OK;
}

static int finish_floor(struct kefu_model *m, kefu_diag *diag)
{
    builder *b = m->building[KEFU_BUILD_FLOOR];
    struct kefu_floor *f;
    int rc;
    if (!b)
        return KEFU_OK;
    f = kefu_zalloc(&m->mem, sizeof *f);
    if (!f)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    rc = resolve(&m->mem, b, f, diag);
    if (rc == KEFU_OK) {
        /* a dry run catches what only the router checks (ids of skills,
         * per-agent limits) while the file positions are still known */
        kefu_router *r;
        rc = kefu_router_new(&r, NULL, &m->alloc);
        if (rc == KEFU_OK) {
            rc = rt_apply_floor(r, f);
            if (rc)
                kefu_diag_copy(diag, kefu_router_diag(r));
            kefu_router_free(r);
        } else {
            kefu_diag_msg(diag, rc, "out of memory");
        }
    }
    builder_free(&m->mem, b);
    m->building[KEFU_BUILD_FLOOR] = NULL;
    if (rc) {
        floor_free(&m->mem, f);
        return rc;
    }
    m->floor = f;
    return KEFU_OK;
}

static void release_floor(struct kefu_model *m)
{
    builder_free(&m->mem, m->building[KEFU_BUILD_FLOOR]);
    m->building[KEFU_BUILD_FLOOR] = NULL;
    floor_free(&m->mem, m->floor);
    m->floor = NULL;
}

/* Entry points for model.c's tables. */
int kefu_floor_parse_skills(struct kefu_model *m, const kefu_ynode *n,
                            kefu_load_ctx *ctx)
{
    return parse_skills(m, n, ctx);
}

int kefu_floor_parse_queues(struct kefu_model *m, const kefu_ynode *n,
                            kefu_load_ctx *ctx)
{
    return parse_queues(m, n, ctx);
}

int kefu_floor_parse_agents(struct kefu_model *m, const kefu_ynode *n,
                            kefu_load_ctx *ctx)
{
    return parse_agents(m, n, ctx);
}

int kefu_floor_finish(struct kefu_model *m, kefu_diag *diag)
{
    return finish_floor(m, diag);
}

void kefu_floor_release(struct kefu_model *m)
{
    release_floor(m);
}

/* ---- applying a floor to a router ---- */

static int apply_queue(struct kefu_router *r, int64_t now,
                       const kefu_floor_queue *q)
{
    int rc;
    if (rt_map_get(&r->queue_ix, q->id) == RT_NONE &&
        (rc = kefu_router_queue_add(r, now, q->id, q->strategy)))
        return rc;
    if ((rc = kefu_router_queue_set(r, now, q->id, KEFU_QUEUE_STRATEGY,
                                    q->strategy)) ||
        (rc = kefu_router_queue_set(r, now, q->id, KEFU_QUEUE_SKILL,
                                    q->skill)) ||
        (rc = kefu_router_queue_set(r, now, q->id, KEFU_QUEUE_SL_TARGET_MS,
                                    q->sl_target)))
        return rc;
    return KEFU_OK;
}

static int apply_steps(struct kefu_router *r, int64_t now,
                       const kefu_floor_queue *q)
{
    int rc;
    rt_queue_clear_steps(r, rt_map_get(&r->queue_ix, q->id));
    for (uint32_t k = 0; k < q->nstep; k++) {
        const rt_step *s = &q->steps[k];
        if ((rc = kefu_router_queue_step(r, now, q->id, s->after, s->drop,
                                         s->tier, s->any, s->overflow)))
            return rc;
    }
    return KEFU_OK;
}

static bool has_u32(const uint32_t *v, uint32_t n, uint32_t x)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* Sets an agent's static description to the floor's; a new agent also
 * gets the floor's presence, an existing one keeps its own. */
static int apply_agent(struct kefu_router *r, int64_t now,
                       const kefu_floor_agent *a)
{
    uint32_t ai = rt_map_get(&r->agent_ix, a->id);
    bool fresh = ai == RT_NONE;
    int rc;
    if (fresh) {
        if ((rc = kefu_router_agent_add(r, now, a->id, a->tier, a->capacity)))
            return rc;
        ai = rt_map_get(&r->agent_ix, a->id);
    } else if ((rc = rt_agent_set_limits(r, a->id, a->tier, a->capacity))) {
        return rc;
    }
    for (uint32_t c = 0; c < KEFU_ROUTER_CHANNELS; c++)
        if (r->agents[ai].cost[c] != a->cost[c] &&
            (rc = kefu_router_agent_channel(r, now, a->id, c + 1, a->cost[c])))
            return rc;
    /* languages, skills and queues: drop what the floor no longer lists */
    for (uint32_t k = r->agents[ai].nlang; k-- > 0;) {
        uint32_t lang = r->agents[ai].lang[k];
        if (!has_u32(a->lang, a->nlang, lang) &&
            (rc = kefu_router_agent_language(r, now, a->id, lang, 0)))
            return rc;
    }
    for (uint32_t k = r->agents[ai].nskill; k-- > 0;) {
        uint32_t skill = r->agents[ai].skills[k].skill;
        bool keep = false;
        for (uint32_t j = 0; j < a->nskill; j++)
            keep |= a->skills[j].skill == skill;
        if (!keep && (rc = kefu_router_agent_skill(r, now, a->id, skill, 0)))
            return rc;
    }
    for (uint32_t k = r->agents[ai].nmem; k-- > 0;) {
        uint32_t qid = r->queues[r->agents[ai].mem[k].queue].id;
        if (!has_u32(a->queues, a->nqueue, qid) &&
            (rc = kefu_router_agent_queue(r, now, a->id, qid, 0)))
            return rc;
    }
    for (uint32_t k = 0; k < a->nlang; k++)
        if ((rc = kefu_router_agent_language(r, now, a->id, a->lang[k], 1)))
            return rc;
    for (uint32_t k = 0; k < a->nskill; k++)
        if ((rc = kefu_router_agent_skill(r, now, a->id, a->skills[k].skill,
                                          a->skills[k].level)))
            return rc;
    for (uint32_t k = 0; k < a->nqueue; k++)
        if ((rc = kefu_router_agent_queue(r, now, a->id, a->queues[k], 1)))
            return rc;
    if (fresh && a->presence != KEFU_AGENT_OFFLINE &&
        (rc = kefu_router_agent_state(r, now, a->id, a->presence)))
        return rc;
    return KEFU_OK;
}

static int apply_floor_at(struct kefu_router *r, int64_t now,
                          const struct kefu_floor *f)
{
    int rc;
    for (size_t i = 0; i < f->nqueue; i++)
        if ((rc = apply_queue(r, now, &f->queues[i])))
            return rc;
    /* steps after every queue exists (overflow targets) */
    for (size_t i = 0; i < f->nqueue; i++)
        if ((rc = apply_steps(r, now, &f->queues[i])))
            return rc;
    for (size_t i = 0; i < f->nagent; i++)
        if ((rc = apply_agent(r, now, &f->agents[i])))
            return rc;
    return KEFU_OK;
}

int rt_apply_floor(struct kefu_router *r, const struct kefu_floor *f)
{
    return apply_floor_at(r, 0, f);
}

/* Works on a copy made through a snapshot, so that a reload that fails
 * half-way leaves the router exactly as it was. */
KEFU_API int kefu_router_reload(kefu_router *r, int64_t now,
                                const kefu_model *model)
{
    struct kefu_router *t = NULL;
    unsigned char *buf;
    size_t len = 0;
    int rc;
    if (!r)
        return KEFU_E_ARG;
    if (!model)
        return kefu_diag_msg(&r->diag, KEFU_E_ARG, "model is NULL");
    if ((rc = kefu_router_tick(r, now)))
        return rc;
    if (!model->floor)
        return KEFU_OK;
    if (kefu_router_snapshot(r, NULL, 0, &len) != KEFU_E_BUFFER ||
        !(buf = kefu_alloc(&r->mem, len)))
        return kefu_diag_msg(&r->diag, KEFU_E_NOMEM, "out of memory");
    rc = kefu_router_snapshot(r, buf, len, &len);
    if (rc == KEFU_OK)
        rc = kefu_router_new(&t, NULL, &r->mem.a);
    if (rc == KEFU_OK)
        rc = kefu_router_restore(t, buf, len);
    kefu_dealloc(&r->mem, buf);
    if (rc == KEFU_OK) {
        rc = apply_floor_at(t, now, model->floor);
        if (rc)
            kefu_diag_copy(&r->diag, &t->diag);
    } else if (rc == KEFU_E_NOMEM) {
        kefu_diag_msg(&r->diag, rc, "out of memory");
    } else {
        kefu_diag_msg(&r->diag, rc, "cannot copy the router: %s",
                      kefu_strerror(rc));
    }
    if (rc) {
        kefu_router_free(t);
        return rc;
    }
    /* swap: the copy's state becomes the router's */
    {
        kefu_mem mem = t->mem;
        rt_router_release(r);
        *r = *t;
        kefu_diag_init(&r->diag, &r->mem.a);
        kefu_dealloc(&mem, t);
    }
    return KEFU_OK;
}
