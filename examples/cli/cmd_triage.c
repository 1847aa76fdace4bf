/*
 * cmd_triage.c - `kefu triage -m MODEL [--rules RULES.yaml] [--trace]
 * [FILE|-]`: JSON lines in, one per message:
 *   {"conversation": id, "text": ..., "time_ms": ..., "channel": ...,
 *    "customer": {"tier": ..., "value": ..., "risk": [...] or "..."},
 *    "wait_ms": ..., "external_emotion": ..., "contacts_7d": ...,
 *    "bot_failed": true, "facts": {"name": value, ...}}
 * JSON lines out with the stable keys conversation, intent, confidence,
 * out_of_scope, emotion, rules, actions, escalated, locked, route (and
 * entities, missing_slots, negativity, level, trend, turn; trace with
 * --trace: one line per rule saying why it fired or did not).  Sessions
 * are kept per conversation id.  A bad line gets {"error": ...} and the
 * run goes on; the exit status is then 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"

typedef struct conv {
    char *id;
    kefu_session *s;
    struct conv *next;
} conv;

#define NBUCKETS 1024

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % NBUCKETS;
}

static const char *action_name(uint32_t t)
{
    switch (t) {
    case KEFU_ACTION_ESCALATE: return "escalate";
    case KEFU_ACTION_PRIORITY: return "priority";
    case KEFU_ACTION_SUGGEST: return "suggest";
    case KEFU_ACTION_FLAG: return "flag";
    case KEFU_ACTION_LOCK: return "lock";
    case KEFU_ACTION_TAG: return "tag";
    default: return "stop";
    }
}

static void js(const char *s)
{
    cli_json_string(stdout, s, strlen(s));
}

/* Sets the host facts of a "facts" object (numbers, booleans, strings,
 * lists of strings); returns 0 or an error message. */
static const char *set_host_facts(kefu_facts *f, const jval *facts)
{
    static char msg[300];
    for (size_t i = 0; facts && i < facts->n; i++) {
        const char *k = facts->keys[i];
        const jval *v = facts->items[i];
        int rc;
        switch (v->type) {
        case J_NUM: rc = kefu_facts_set_number(f, k, strlen(k), v->num); break;
        case J_BOOL: rc = kefu_facts_set_bool(f, k, strlen(k), v->num != 0); break;
        case J_STR: rc = kefu_facts_set_string(f, k, strlen(k), v->str, v->len); break;
        case J_NULL: rc = kefu_facts_unset(f, k, strlen(k)); break;
        case J_ARR: {
            const char *items[256];
            size_t n = 0;
            for (size_t j = 0; j < v->n && n < 256; j++)
                if (v->items[j]->type == J_STR)
                    items[n++] = v->items[j]->str;
            rc = kefu_facts_set_strings(f, k, strlen(k), items, NULL, n);
            break;
        }
        default: rc = KEFU_E_TYPE;
        }
        if (rc) {
            snprintf(msg, sizeof msg, "fact '%s': %s", k,
                     kefu_diag_message(kefu_facts_diag(f))[0]
                         ? kefu_diag_message(kefu_facts_diag(f))
                         : kefu_strerror(rc));
            return msg;
        }
    }
    return NULL;
}

static void print_error(const jval *id, const char *msg, int status)
{
    printf("{");
    if (id && id->type == J_STR) {
        printf("\"conversation\":");
        cli_json_string(stdout, id->str, id->len);
        printf(",");
    }
    printf("\"error\":");
    js(msg);
    printf(",\"status\":%d}\n", status);
}

static void print_result(kefu_session *s, const char *conv_id,
                         const kefu_triage *t, int trace)
{
    const kefu_rules_result *res = kefu_session_rules(s);
    const kefu_ruleset *rs = kefu_session_ruleset(s);
    kefu_scratch *sc = kefu_session_scratch(s);
    printf("{\"conversation\":");
    js(conv_id);
    printf(",\"turn\":%u,\"intent\":", t->turn);
    js(t->intent);
    printf(",\"confidence\":%.4f,\"out_of_scope\":%s", t->confidence,
           t->out_of_scope ? "true" : "false");
    {
        cli_buf b = {0};
        cli_entities_json(&b, sc);
        cli_buf_write(&b, stdout);
        cli_buf_free(&b);
    }
    printf(",\"missing_slots\":%u,\"emotion\":{", t->missing_slots);
    for (int c = 0; c < KEFU_EMOTION_COUNT; c++)
        printf("%s\"%s\":%.1f", c ? "," : "", kefu_emotion_category_name(c),
               t->emotion[c]);
    printf("},\"negativity\":%.1f,\"level\":%.1f,\"trend\":%.2f,\"rules\":[",
           t->negativity, t->level, t->trend);
    for (uint32_t i = 0; rs && i < kefu_rules_result_fired_count(res); i++) {
        printf("%s", i ? "," : "");
        js(kefu_ruleset_rule_name(rs, kefu_rules_result_fired(res, i)));
    }
    printf("],\"actions\":[");
    for (uint32_t i = 0; rs && i < kefu_rules_result_action_count(res); i++) {
        kefu_rule_action a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        kefu_rules_result_action(res, i, &a);
        printf("%s{\"type\":\"%s\",\"rule\":", i ? "," : "", action_name(a.type));
        js(kefu_ruleset_rule_name(rs, a.rule));
        switch (a.type) {
        case KEFU_ACTION_ESCALATE:
            printf(",\"queue\":");
            js(a.queue ? a.queue : "");
            printf(",\"skill\":");
            js(a.skill ? a.skill : "");
            printf(",\"tier\":");
            js(a.tier ? a.tier : "");
            break;
        case KEFU_ACTION_PRIORITY:
            printf(",\"%s\":%d", a.raise ? "raise" : "set", a.value);
            break;
        case KEFU_ACTION_SUGGEST:
            printf(",\"script\":");
            js(a.arg ? a.arg : "");
            break;
        case KEFU_ACTION_FLAG:
            printf(",\"reason\":");
            js(a.arg ? a.arg : "");
            break;
        case KEFU_ACTION_TAG:
            printf(",\"tag\":");
            js(a.arg ? a.arg : "");
            break;
        default:
            break;
        }
        printf("}");
    }
    printf("],\"escalated\":%s,\"locked\":%s,\"route\":{\"skills\":[",
           t->escalated ? "true" : "false", t->locked ? "true" : "false");
    for (size_t i = 0; kefu_session_route_skill(s, i); i++) {
        printf("%s", i ? "," : "");
        js(kefu_session_route_skill(s, i));
    }
    printf("],\"queue\":");
    js(t->route_queue);
    printf(",\"tier\":");
    js(t->route_tier);
    printf(",\"priority\":%d}", t->route_priority);
    if (trace && rs) {
        printf(",\"trace\":[");
        for (uint32_t r = 0; r < kefu_ruleset_rule_count(rs); r++) {
            char buf[2048];
            kefu_rules_result_explain(res, r, buf, sizeof buf);
            printf("%s", r ? "," : "");
            js(buf);
        }
        printf("]");
    }
    printf("}\n");
}

int cmd_triage(int argc, char **argv)
{
    const char *model = NULL, *rules = NULL, *path = NULL;
    int trace = 0, failed = 0;
    kefu_model *m = NULL;
    kefu_ruleset *rs = NULL;
    kefu_rules_slot *slot = NULL;
    kefu_diag *d;
    conv *table[NBUCKETS] = {0};
    FILE *in = stdin;
    char *line = NULL;
    size_t cap = 0;
    long n;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: kefu triage -m MODEL [--rules RULES.yaml] [--trace] [FILE|-]\n"
                   "JSON lines in ({\"conversation\", \"text\", \"time_ms\", \"channel\", "
                   "\"customer\": {...}}),\nJSON lines out (intent, emotion, rules, "
                   "actions, escalated, locked, route).\n");
            return 0;
        } else if (!strcmp(a, "-m") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(a, "--rules") && i + 1 < argc) {
            rules = argv[++i];
        } else if (!strcmp(a, "--trace")) {
            trace = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "kefu triage: unknown option '%s'\n", a);
            return 2;
        } else {
            path = a;
        }
    }
    if (!model) {
        fprintf(stderr, "kefu triage: -m MODEL is required\n");
        return 2;
    }
    if (!(m = cli_load_model(model)))
        return 1;
    d = kefu_diag_new(NULL);
    if (rules) {
        if (kefu_ruleset_load(&rs, m, rules, NULL, d) ||
            kefu_rules_slot_new(&slot, rs, NULL)) {
            cli_report("rules", kefu_diag_status(d), d);
            kefu_ruleset_free(rs);
            kefu_model_free(m);
            kefu_diag_free(d);
            return 1;
        }
        kefu_ruleset_free(rs);
    }
    if (path && strcmp(path, "-") && !(in = fopen(path, "rb"))) {
        perror(path);
        kefu_rules_slot_free(slot);
        kefu_model_free(m);
        kefu_diag_free(d);
        return 1;
    }
    while ((n = cli_getline(&line, &cap, in)) >= 0) {
        const char *err = NULL;
        jval *v;
        const jval *id, *text, *cust, *x;
        char idbuf[64];
        const char *conv_id;
        conv *c;
        kefu_turn turn;
        kefu_triage t;
        const char *risk[32];
        int rc;
        if (n == 0)
            continue;
        v = json_parse(line, (size_t)n, &err);
        if (!v || v->type != J_OBJ) {
            print_error(NULL, v ? "a line must be a JSON object" : err, KEFU_E_SYNTAX);
            json_free(v);
            failed = 1;
            continue;
        }
        id = json_get(v, "conversation");
        text = json_get(v, "text");
        if (!text || text->type != J_STR) {
            print_error(id, "\"text\" (a string) is required", KEFU_E_ARG);
            json_free(v);
            failed = 1;
            continue;
        }
        if (id && id->type == J_NUM) {
            snprintf(idbuf, sizeof idbuf, "%.0f", id->num);
            conv_id = idbuf;
        } else {
            conv_id = id && id->type == J_STR ? id->str : "";
        }
        for (c = table[hash_str(conv_id)]; c && strcmp(c->id, conv_id); c = c->next)
            ;
        if (!c) {
            c = calloc(1, sizeof *c);
            if (!c || !(c->id = strdup(conv_id)) ||
                kefu_session_new(&c->s, m, NULL) ||
                (slot && kefu_session_use_rules(c->s, slot))) {
                fprintf(stderr, "kefu triage: out of memory\n");
                return 1;
            }
            c->next = table[hash_str(conv_id)];
            table[hash_str(conv_id)] = c;
        }
        kefu_turn_init(&turn);
        if (trace)
            turn.flags |= KEFU_TURN_TRACE;
        if ((x = json_get(v, "time_ms")) && x->type == J_NUM)
            turn.time_ms = (int64_t)x->num;
        if ((x = json_get(v, "channel")) && x->type == J_STR)
            turn.channel = x->str;
        if ((x = json_get(v, "wait_ms")) && x->type == J_NUM)
            turn.wait_ms = (int64_t)x->num;
        if ((x = json_get(v, "external_emotion")) && x->type == J_NUM)
            turn.external_emotion = (int32_t)x->num;
        if ((x = json_get(v, "contacts_7d")) && x->type == J_NUM)
            turn.contacts_7d = (uint32_t)x->num;
        if ((x = json_get(v, "bot_failed")) && x->type == J_BOOL)
            turn.bot_failed = x->num != 0;
        if ((cust = json_get(v, "customer"))) {
            if ((x = json_get(cust, "tier")) && x->type == J_STR)
                turn.customer_tier = x->str;
            if ((x = json_get(cust, "value")) && x->type == J_NUM)
                turn.customer_value = x->num;
            if ((x = json_get(cust, "risk"))) {
                if (x->type == J_STR) {
                    risk[0] = x->str;
                    turn.customer_risk_count = 1;
                } else if (x->type == J_ARR) {
                    for (size_t j = 0; j < x->n && turn.customer_risk_count < 32; j++)
                        if (x->items[j]->type == J_STR)
                            risk[turn.customer_risk_count++] = x->items[j]->str;
                }
                turn.customer_risk = risk;
            }
        }
        if ((x = json_get(v, "facts")) && x->type == J_OBJ &&
            (err = set_host_facts(kefu_session_facts(c->s), x))) {
            print_error(id, err, KEFU_E_TYPE);
            json_free(v);
            failed = 1;
            continue;
        }
        memset(&t, 0, sizeof t);
        t.size = sizeof t;
        rc = kefu_session_turn(c->s, text->str, text->len, &turn, &t);
        if (rc) {
            char msg[700];
            kefu_diag_format(kefu_session_diag(c->s), msg, sizeof msg);
            print_error(id, msg, rc);
            failed = 1;
        } else {
            print_result(c->s, conv_id, &t, trace);
        }
        fflush(stdout);
        json_free(v);
    }
    for (int b = 0; b < NBUCKETS; b++)
        for (conv *c = table[b], *nx; c; c = nx) {
            nx = c->next;
            kefu_session_free(c->s);
            free(c->id);
            free(c);
        }
    free(line);
    if (in != stdin)
        fclose(in);
    kefu_rules_slot_free(slot);
    kefu_model_free(m);
    kefu_diag_free(d);
    return failed;
}
