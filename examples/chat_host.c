/*
 * chat_host.c - kefu inside a multi-threaded chat server, the way existing
 * call-center software links it (public header only, `pkg-config kefu`).
 *
 *   chat_host -m MODEL [-w WORKERS] [FILE|-]
 *
 * Input, one message per line, tab-separated:
 *   conversation TAB time_ms TAB text
 *   conversation TAB time_ms TAB channel TAB tier TAB value TAB risk TAB text
 * Output, one JSON object per message (conversation, turn, worker, intent,
 * confidence, out_of_scope, escalated, locked, route, router), in input
 * order within a conversation; conversations interleave as workers run.
 *
 * The threading contract in practice:
 *   - ONE kefu_model, loaded once, shared read-only by every worker;
 *   - one kefu_session per conversation; a conversation is owned by one
 *     worker (the conversation id is hashed to a worker), so a session is
 *     only ever touched by that worker's thread;
 *   - ONE kefu_router for the floor, behind a mutex; a session's routing
 *     request is submitted to it when the conversation escalates to a
 *     human.  The router's clock must never go backwards, so the host
 *     passes max(last time seen, message time).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kefu.h>

/* ---- a small growable output buffer ------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t len)
{
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;
        while (cap < b->n + len + 1)
            cap *= 2;
        if (!(np = realloc(b->p, cap))) {
            fprintf(stderr, "chat_host: out of memory\n");
            exit(1);
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_fmt_num(sbuf *b, const char *fmt, double v)
{
    char tmp[64];
    int k = snprintf(tmp, sizeof tmp, fmt, v);
    sb_put(b, tmp, (size_t)k);
}

/* A JSON string literal. */
static void sb_json(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            sb_put(b, e, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* ---- the floor: one router shared by all workers ----------------------- */

/* The host names queues and skills; the router only sees ids. */
static const char *const queue_names[] = { "", "human", "priority", "risk" };
#define NQUEUES (sizeof queue_names / sizeof queue_names[0])
static const char *const skill_names[] = {
    "general", "orders", "logistics", "returns", "billing", "complaints",
    "payments", "accounts", "security", "telecom", "technical", "sales",
    "cards", "fraud", "risk_review",
};
#define NSKILLS (sizeof skill_names / sizeof skill_names[0])

static uint32_t queue_id(const char *name)
{
    for (uint32_t i = 0; i < NQUEUES; i++)
        if (!strcmp(queue_names[i], name))
            return i + 1;
    return 1; /* unknown queue names go to the default queue */
}

static uint32_t skill_id(const char *name)
{
    for (uint32_t i = 0; i < NSKILLS; i++)
        if (!strcmp(skill_names[i], name))
            return i + 1;
    return 0;
}

static uint32_t tier_id(const char *name)
{
    if (!strcmp(name, "junior")) return KEFU_TIER_JUNIOR;
    if (!strcmp(name, "senior")) return KEFU_TIER_SENIOR;
    if (!strcmp(name, "expert")) return KEFU_TIER_EXPERT;
    return KEFU_TIER_ANY;
}

typedef struct floor_ {
    pthread_mutex_t lock;
    kefu_router *router;
    int64_t now;             /* the router's clock: never goes backwards */
    uint32_t next_conv;      /* router conversation ids handed out */
    uint64_t submitted, offers, accepted;
} floor_;

/* Eight agents (two junior, four senior, two expert) with every skill,
 * three chats, e-mails or messages (or one call) each, members of every queue, all available. */
static int floor_init(floor_ *f)
{
    static const uint32_t tiers[] = { KEFU_TIER_JUNIOR, KEFU_TIER_JUNIOR,
        KEFU_TIER_SENIOR, KEFU_TIER_SENIOR, KEFU_TIER_SENIOR,
        KEFU_TIER_SENIOR, KEFU_TIER_EXPERT, KEFU_TIER_EXPERT };
    int rc;
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    if ((rc = kefu_router_new(&f->router, NULL, NULL)))
        return rc;
    for (uint32_t q = 1; q <= NQUEUES; q++)
        if ((rc = kefu_router_queue_add(f->router, 0, q, KEFU_STRATEGY_LONGEST_IDLE)))
            return rc;
    for (uint32_t a = 0; a < sizeof tiers / sizeof tiers[0]; a++) {
        uint32_t id = 101 + a;
        if ((rc = kefu_router_agent_add(f->router, 0, id, tiers[a], 3)) ||
            (rc = kefu_router_agent_channel(f->router, 0, id, KEFU_CHANNEL_CHAT, 1)) ||
            (rc = kefu_router_agent_channel(f->router, 0, id, KEFU_CHANNEL_EMAIL, 1)) ||
            (rc = kefu_router_agent_channel(f->router, 0, id, KEFU_CHANNEL_MESSAGING, 1)) ||
            (rc = kefu_router_agent_channel(f->router, 0, id, KEFU_CHANNEL_VOICE, 3)))
            return rc;
        for (uint32_t s = 1; s <= NSKILLS; s++)
            if ((rc = kefu_router_agent_skill(f->router, 0, id, s, 5)))
                return rc;
        for (uint32_t q = 1; q <= NQUEUES; q++)
            if ((rc = kefu_router_agent_queue(f->router, 0, id, q, 1)))
                return rc;
        if ((rc = kefu_router_agent_state(f->router, 0, id, KEFU_AGENT_AVAILABLE)))
            return rc;
    }
    return 0;
}

static uint32_t channel_id(const char *name)
{
    if (!name || !strcmp(name, "chat") || !name[0]) return KEFU_CHANNEL_CHAT;
    if (!strcmp(name, "voice")) return KEFU_CHANNEL_VOICE;
    if (!strcmp(name, "email")) return KEFU_CHANNEL_EMAIL;
    if (!strcmp(name, "messaging")) return KEFU_CHANNEL_MESSAGING;
    return KEFU_CHANNEL_CHAT;
}

/* Submits a conversation's routing request (the first time it escalates)
 * and plays the agent desktop: every offer is accepted at once.  Reports
 * the conversation's state and agent.  Called with nothing locked. */
static int floor_route(floor_ *f, kefu_session *s, const kefu_triage *t,
                       const char *channel, int64_t time_ms, uint32_t *conv,
                       kefu_conversation_info *info)
{
    uint32_t skills[KEFU_ROUTER_MAX_REQ_SKILLS], levels[KEFU_ROUTER_MAX_REQ_SKILLS];
    kefu_route_request req;
    kefu_route_event ev;
    const char *name;
    int rc = 0;

    memset(&req, 0, sizeof req);
    req.size = sizeof req;
    req.queue = queue_id(t->route_queue);
    req.channel = channel_id(channel);
    req.priority = t->route_priority;
    req.tier = tier_id(t->route_tier);
    for (size_t i = 0; (name = kefu_session_route_skill(s, i)) &&
                       req.nskills < KEFU_ROUTER_MAX_REQ_SKILLS; i++) {
        uint32_t id = skill_id(name);
        if (!id)
            continue;
        skills[req.nskills] = id;
        levels[req.nskills++] = 1;
    }
    req.skills = skills;
    req.levels = levels;

    pthread_mutex_lock(&f->lock);
    if (time_ms > f->now)
        f->now = time_ms;
    if (!*conv) {
        *conv = ++f->next_conv;
        rc = kefu_router_submit(f->router, f->now, *conv, &req);
        if (rc == 0)
            f->submitted++;
    }
    if (rc == 0)
        rc = kefu_router_tick(f->router, f->now);
    memset(&ev, 0, sizeof ev);
    ev.size = sizeof ev;
    while (rc == 0 && kefu_router_poll(f->router, &ev) == 0) {
        if (ev.kind == KEFU_ROUTE_OFFER) {
            f->offers++;
            if (kefu_router_accept(f->router, f->now, ev.conversation, ev.agent) == 0)
                f->accepted++;
        }
    }
    memset(info, 0, sizeof *info);
    info->size = sizeof *info;
    if (rc == 0)
        rc = kefu_router_conversation_info(f->router, *conv, info);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* ---- workers and their queues ------------------------------------------ */

typedef struct item {
    char *line;              /* owned; the fields point into it */
    struct item *next;
} item;

typedef struct conv {
    char *id;
    kefu_session *session;
    uint32_t router_id;      /* 0 until submitted to the router */
    struct conv *next;
} conv;

#define CONV_BUCKETS 256
#define QUEUE_MAX 1024

typedef struct worker {
    pthread_t thread;
    int index;
    const kefu_model *model;
    floor_ *floor;
    pthread_mutex_t *out_lock;
    /* the inbox: a bounded FIFO filled by the reader thread */
    pthread_mutex_t lock;
    pthread_cond_t more, room;
    item *head, *tail;
    size_t count;
    int closed;
    /* conversations this worker owns (touched by its thread only) */
    conv *convs[CONV_BUCKETS];
    uint64_t messages, errors;
} worker;

/* FNV-1a over the first len bytes of s. */
static uint32_t hash_mem(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    while (len--)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void inbox_push(worker *w, item *it)
{
    pthread_mutex_lock(&w->lock);
    while (w->count >= QUEUE_MAX)
        pthread_cond_wait(&w->room, &w->lock);
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    w->count++;
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&w->lock);
}

static item *inbox_pop(worker *w)
{
    item *it;
    pthread_mutex_lock(&w->lock);
    while (!w->head && !w->closed)
        pthread_cond_wait(&w->more, &w->lock);
    it = w->head;
    if (it) {
        w->head = it->next;
        if (!w->head)
            w->tail = NULL;
        w->count--;
        pthread_cond_signal(&w->room);
    }
    pthread_mutex_unlock(&w->lock);
    return it;
}

static conv *find_conv(worker *w, const char *id)
{
    uint32_t b = hash_mem(id, strlen(id)) % CONV_BUCKETS;
    conv *c;
    for (c = w->convs[b]; c; c = c->next)
        if (!strcmp(c->id, id))
            return c;
    if (!(c = calloc(1, sizeof *c)) || !(c->id = strdup(id)) ||
        kefu_session_new(&c->session, w->model, NULL)) {
        if (c)
            free(c->id);
        free(c);
        return NULL;
    }
    c->next = w->convs[b];
    w->convs[b] = c;
    return c;
}

/* Splits a line at tabs into at most max fields; returns the count. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = 0;
            f[n++] = p + 1;
        }
    return n;
}

static void handle(worker *w, char *line, sbuf *out)
{
    char *f[7];
    const char *id, *text, *channel = "chat";
    const char *risk[1];
    kefu_turn turn;
    kefu_triage t;
    kefu_conversation_info info;
    conv *c;
    int n = split_tabs(line, f, 7), rc;
    char *end1 = NULL, *end2 = NULL;

    kefu_turn_init(&turn);
    if (n == 3) {
        id = f[0];
        text = f[2];
    } else if (n == 7) {
        id = f[0];
        channel = f[2];
        turn.customer_tier = f[3][0] ? f[3] : NULL;
        turn.customer_value = strtod(f[4], &end2);
        if (f[5][0]) {
            risk[0] = f[5];
            turn.customer_risk = risk;
            turn.customer_risk_count = 1;
        }
        text = f[6];
    } else {
        out->n = 0;
        sb_str(out, "{\"error\":\"expected 3 or 7 tab-separated fields\"}\n");
        w->errors++;
        return;
    }
    turn.time_ms = strtoll(f[1], &end1, 10);
    turn.channel = channel;
    if (!f[1][0] || *end1 || (end2 && (!f[4][0] || *end2))) {
        out->n = 0;
        sb_str(out, "{\"error\":\"time_ms and value must be numbers\"}\n");
        w->errors++;
        return;
    }

    out->n = 0;
    if (!(c = find_conv(w, id))) {
        sb_str(out, "{\"conversation\":");
        sb_json(out, id);
        sb_str(out, ",\"error\":\"out of memory\"}\n");
        w->errors++;
        return;
    }
    memset(&t, 0, sizeof t);
    t.size = sizeof t;
    rc = kefu_session_turn(c->session, text, strlen(text), &turn, &t);
    sb_str(out, "{\"conversation\":");
    sb_json(out, id);
    if (rc) {
        char msg[512];
        kefu_diag_format(kefu_session_diag(c->session), msg, sizeof msg);
        sb_str(out, ",\"error\":");
        sb_json(out, msg);
        sb_fmt_num(out, ",\"status\":%.0f}\n", rc);
        w->errors++;
        return;
    }
    w->messages++;
    sb_fmt_num(out, ",\"turn\":%.0f", t.turn);
    sb_fmt_num(out, ",\"worker\":%.0f,\"intent\":", w->index);
    sb_json(out, t.intent);
    sb_fmt_num(out, ",\"confidence\":%.4f", t.confidence);
    sb_str(out, t.out_of_scope ? ",\"out_of_scope\":true" : ",\"out_of_scope\":false");
    sb_str(out, t.escalated ? ",\"escalated\":true" : ",\"escalated\":false");
    sb_str(out, t.locked ? ",\"locked\":true" : ",\"locked\":false");
    sb_str(out, ",\"route\":{\"skills\":[");
    for (size_t i = 0; kefu_session_route_skill(c->session, i); i++) {
        if (i)
            sb_str(out, ",");
        sb_json(out, kefu_session_route_skill(c->session, i));
    }
    sb_str(out, "],\"queue\":");
    sb_json(out, t.route_queue);
    sb_str(out, ",\"tier\":");
    sb_json(out, t.route_tier);
    sb_fmt_num(out, ",\"priority\":%.0f}", t.route_priority);
    /* A human is needed: the floor's router finds one. */
    if (t.escalated) {
        rc = floor_route(w->floor, c->session, &t, channel, turn.time_ms,
                         &c->router_id, &info);
        if (rc) {
            sb_str(out, ",\"router\":{\"error\":");
            sb_json(out, kefu_strerror(rc));
            sb_str(out, "}");
        } else {
            static const char *const states[] = { "?", "waiting", "reserved", "assigned" };
            sb_fmt_num(out, ",\"router\":{\"id\":%.0f,\"state\":", c->router_id);
            sb_json(out, states[info.state <= 3 ? info.state : 0]);
            sb_fmt_num(out, ",\"queue\":%.0f", info.queue);
            sb_fmt_num(out, ",\"agent\":%.0f}", info.agent);
        }
    }
    sb_str(out, "}\n");
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    sbuf out = { 0 };
    item *it;
    while ((it = inbox_pop(w))) {
        handle(w, it->line, &out);
        pthread_mutex_lock(w->out_lock);
        fwrite(out.p, 1, out.n, stdout);
        pthread_mutex_unlock(w->out_lock);
        free(it->line);
        free(it);
    }
    free(out.p);
    return NULL;
}

static void worker_release(worker *w)
{
    for (int b = 0; b < CONV_BUCKETS; b++)
        for (conv *c = w->convs[b], *nx; c; c = nx) {
            nx = c->next;
            kefu_session_free(c->session);
            free(c->id);
            free(c);
        }
    pthread_cond_destroy(&w->more);
    pthread_cond_destroy(&w->room);
    pthread_mutex_destroy(&w->lock);
}

#define MAX_WORKERS 64

int main(int argc, char **argv)
{
    const char *model_path = NULL, *path = NULL;
    int nworkers = 4, status = 0;
    kefu_model *model = NULL;
    kefu_diag *diag;
    floor_ fl;
    worker *workers;
    pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
    FILE *in = stdin;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t messages = 0, errors = 0;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            model_path = argv[++i];
        else if (!strcmp(argv[i], "-w") && i + 1 < argc)
            nworkers = atoi(argv[++i]);
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "usage: chat_host -m MODEL [-w WORKERS] [FILE|-]\n");
            return 2;
        } else
            path = argv[i];
    }
    if (!model_path || nworkers < 1 || nworkers > MAX_WORKERS) {
        fprintf(stderr, "usage: chat_host -m MODEL [-w WORKERS 1..%d] [FILE|-]\n",
                MAX_WORKERS);
        return 2;
    }

    /* One model for the whole process. */
    if (!(diag = kefu_diag_new(NULL)))
        return 1;
    if ((rc = kefu_model_load(&model, model_path, NULL, diag))) {
        char msg[512];
        kefu_diag_format(diag, msg, sizeof msg);
        fprintf(stderr, "chat_host: %s\n", msg);
        kefu_diag_free(diag);
        return 1;
    }
    kefu_diag_free(diag);
    if ((rc = floor_init(&fl))) {
        fprintf(stderr, "chat_host: router: %s\n", kefu_strerror(rc));
        kefu_router_free(fl.router);
        kefu_model_free(model);
        return 1;
    }
    if (path && strcmp(path, "-") && !(in = fopen(path, "rb"))) {
        perror(path);
        kefu_router_free(fl.router);
        kefu_model_free(model);
        return 1;
    }

    workers = calloc((size_t)nworkers, sizeof *workers);
    if (!workers)
        return 1;
    for (int i = 0; i < nworkers; i++) {
        worker *w = &workers[i];
        w->index = i;
        w->model = model;
        w->floor = &fl;
        w->out_lock = &out_lock;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->more, NULL);
        pthread_cond_init(&w->room, NULL);
        if (pthread_create(&w->thread, NULL, worker_main, w)) {
            fprintf(stderr, "chat_host: cannot start worker %d\n", i);
            return 1;
        }
    }

    /* The reader: each line goes to the worker owning its conversation. */
    while ((n = getline(&line, &cap, in)) >= 0) {
        item *it;
        size_t idlen;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0 || line[0] == '#')
            continue;
        idlen = strcspn(line, "\t");
        if (!(it = calloc(1, sizeof *it)) || !(it->line = strdup(line))) {
            fprintf(stderr, "chat_host: out of memory\n");
            return 1;
        }
        inbox_push(&workers[hash_mem(line, idlen) % (uint32_t)nworkers], it);
    }
    free(line);
    if (in != stdin)
        fclose(in);
    for (int i = 0; i < nworkers; i++) {
        pthread_mutex_lock(&workers[i].lock);
        workers[i].closed = 1;
        pthread_cond_signal(&workers[i].more);
        pthread_mutex_unlock(&workers[i].lock);
    }
    for (int i = 0; i < nworkers; i++) {
        pthread_join(workers[i].thread, NULL);
        messages += workers[i].messages;
        errors += workers[i].errors;
        worker_release(&workers[i]);
    }
    {
        kefu_route_stats st;
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        kefu_router_stats(fl.router, fl.now, 0, 3600000, &st);
        fprintf(stderr,
                "chat_host: %d workers, %llu messages, %llu errors; router: "
                "%llu submitted, %llu offers, %llu accepted, %llu waiting\n",
                nworkers, (unsigned long long)messages,
                (unsigned long long)errors, (unsigned long long)fl.submitted,
                (unsigned long long)fl.offers, (unsigned long long)fl.accepted,
                (unsigned long long)st.waiting);
    }
    if (errors)
        status = 1;
    free(workers);
    kefu_router_free(fl.router);
    pthread_mutex_destroy(&fl.lock);
    kefu_model_free(model);
    return status;
}
