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
#include <math.h>
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

#define MAX_LIST 256  /* items of a list fact */
#define MAX_RISK 32   /* customer risk flags */
#define EXACT 9007199254740992.0 /* 2^53: whole numbers a double holds */

static char errbuf[400];

/*
 * Sets the facts of a "facts" object (numbers, booleans, strings, lists
 * of strings or of numbers; null unsets).  KEFU_OK, or a status with the
 * message in msg: the library's own (unknown fact, wrong type ...), or
 * for JSON the library cannot be given (a mixed list, a duration beyond
 * int64_t) this host's.
 */
static int set_host_facts(kefu_facts *f, const kefu_ruleset *rs,
                          const jval *facts, char *msg, size_t cap)
{
    for (size_t i = 0; i < facts->n; i++) {
        const char *k = facts->keys[i];
        size_t klen = strlen(k);
        const jval *v = facts->items[i];
        int rc;
        if (v->type == J_NULL) {
            rc = kefu_facts_unset(f, k, klen);
        } else if (v->type == J_BOOL) {
            rc = kefu_facts_set_bool(f, k, klen, v->num != 0);
        } else if (v->type == J_STR) {
            rc = kefu_facts_set_string(f, k, klen, v->str, v->len);
        } else if (v->type == J_NUM &&
                   kefu_ruleset_fact_type(rs, k, klen) == KEFU_FACT_DURATION) {
            if (!(v->num >= -EXACT && v->num <= EXACT)) {
                snprintf(msg, cap, "fact '%s': %g ms is out of range", k, v->num);
                return KEFU_E_TYPE;
            }
            rc = kefu_facts_set_duration(f, k, klen, (int64_t)v->num);
        } else if (v->type == J_NUM) {
            rc = kefu_facts_set_number(f, k, klen, v->num);
        } else if (v->type == J_ARR && v->n <= MAX_LIST) {
            const char *items[MAX_LIST];
            double nums[MAX_LIST];
            size_t nstr = 0, nnum = 0;
            for (size_t j = 0; j < v->n; j++) {
                if (v->items[j]->type == J_STR)
                    items[nstr++] = v->items[j]->str;
                else if (v->items[j]->type == J_NUM)
                    nums[nnum++] = v->items[j]->num;
            }
            if (nnum != v->n && nstr != v->n) {
                snprintf(msg, cap, "fact '%s': a list of strings or of numbers "
                         "is expected", k);
                return KEFU_E_TYPE;
            }
            rc = nnum == v->n && nnum
                     ? kefu_facts_set_numbers(f, k, klen, nums, nnum)
                     : kefu_facts_set_strings(f, k, klen, items, NULL, nstr);
        } else {
            snprintf(msg, cap, "fact '%s': a number, boolean, string, list "
                     "(at most %d items) or null is expected", k, MAX_LIST);
            return KEFU_E_TYPE;
        }
        if (rc) { /* the library's message when it left one */
            const kefu_diag *d = kefu_facts_diag(f);
            if (kefu_diag_status(d) == rc && kefu_diag_message(d)[0])
                snprintf(msg, cap, "%s", kefu_diag_message(d));
            else
                snprintf(msg, cap, "fact '%s': %s", k, kefu_strerror(rc));
            return rc;
        }
    }
    return KEFU_OK;
}

/* A number field of `o` in [lo, hi] into *out (left alone when absent);
 * 0 or an error message. */
static const char *num_field(const jval *o, const char *key, double lo,
                             double hi, double *out)
{
    const jval *x = json_get(o, key);
    if (!x)
        return NULL;
    if (x->type != J_NUM || !(x->num >= lo && x->num <= hi)) {
        snprintf(errbuf, sizeof errbuf, "\"%s\" must be a number from %.16g to %.16g",
                 key, lo, hi);
        return errbuf;
    }
    *out = x->num;
    return NULL;
}

static const char *str_field(const jval *o, const char *key, const char **out)
{
    const jval *x = json_get(o, key);
    if (!x)
        return NULL;
    if (x->type != J_STR) {
        snprintf(errbuf, sizeof errbuf, "\"%s\" must be a string", key);
        return errbuf;
    }
    *out = x->str;
    return NULL;
}

/*
 * The turn's fields of a line into *turn (risk flags into risk[MAX_RISK]):
 * an error message for a field of the wrong type or out of range, so that
 * no value is silently read as 0.
 */
static const char *read_turn(const jval *v, kefu_turn *turn, const char **risk)
{
    const jval *cust = json_get(v, "customer"), *x;
    const char *err;
    double time_ms = 0, wait_ms = -1, ext = -1, contacts = 0, value = 0;
    if ((err = num_field(v, "time_ms", -EXACT, EXACT, &time_ms)) ||
        (err = num_field(v, "wait_ms", -EXACT, EXACT, &wait_ms)) ||
        (err = num_field(v, "external_emotion", -1, 100, &ext)) ||
        (err = num_field(v, "contacts_7d", 0, 4294967295.0, &contacts)) ||
        (err = str_field(v, "channel", &turn->channel)))
        return err;
    turn->time_ms = (int64_t)time_ms;
    turn->wait_ms = (int64_t)wait_ms;
    turn->external_emotion = (int32_t)ext;
    turn->contacts_7d = (uint32_t)contacts;
    if ((x = json_get(v, "bot_failed"))) {
        if (x->type != J_BOOL)
            return "\"bot_failed\" must be true or false";
        turn->bot_failed = x->num != 0;
    }
    if (!cust)
        return NULL;
    if (cust->type != J_OBJ)
        return "\"customer\" must be an object";
    if ((err = str_field(cust, "tier", &turn->customer_tier)) ||
        (err = num_field(cust, "value", -1e300, 1e300, &value)))
        return err;
    turn->customer_value = value;
    if ((x = json_get(cust, "risk"))) {
        if (x->type == J_STR) {
            risk[0] = x->str;
            turn->customer_risk_count = 1;
        } else if (x->type == J_ARR && x->n <= MAX_RISK) {
            for (size_t j = 0; j < x->n; j++) {
                if (x->items[j]->type != J_STR)
                    return "\"risk\" must be a string or a list of strings";
                risk[turn->customer_risk_count++] = x->items[j]->str;
            }
        } else {
            return "\"risk\" must be a string or a list of at most 32 strings";
        }
        turn->customer_risk = risk;
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
    kefu_ruleset *rs = NULL, *frs;
    kefu_facts *scratch_facts = NULL; /* one for the run: frs is fixed */
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
    }
    /* the rule set of every session, kept for the scratch facts below */
    frs = rs ? rs : kefu_model_rules(m);
    if (path && strcmp(path, "-") && !(in = fopen(path, "rb"))) {
        perror(path);
        kefu_rules_slot_free(slot);
        kefu_ruleset_free(rs);
        kefu_model_free(m);
        kefu_diag_free(d);
        return 1;
    }
    while ((n = cli_getline(&line, &cap, in)) >= 0) {
        const char *err = NULL;
        jval *v;
        const jval *id, *text, *x;
        char idbuf[64];
        const char *conv_id;
        conv *c;
        kefu_turn turn;
        kefu_triage t;
        const char *risk[MAX_RISK];
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
        if (id && !(id->type == J_STR ||
                    (id->type == J_NUM && id->num == floor(id->num) &&
                     fabs(id->num) <= EXACT))) {
            /* an object, a fraction ... would otherwise join another
             * conversation */
            print_error(NULL, "\"conversation\" must be a string or a whole number",
                        KEFU_E_ARG);
            json_free(v);
            failed = 1;
            continue;
        }
        if (id && id->type == J_NUM) {
            snprintf(idbuf, sizeof idbuf, "%.0f", id->num);
            conv_id = idbuf;
        } else {
            conv_id = id ? id->str : ""; /* none: one unnamed conversation */
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
        if ((err = read_turn(v, &turn, risk))) {
            print_error(id, err, KEFU_E_ARG);
            json_free(v);
            failed = 1;
            continue;
        }
        /* facts: tried on a scratch facts object first, so that a line
         * with one bad fact changes none of the session's */
        if ((x = json_get(v, "facts"))) {
            char msg[400] = "";
            rc = x->type != J_OBJ ? KEFU_E_TYPE
                 : scratch_facts ? KEFU_OK
                                 : kefu_facts_new(&scratch_facts, frs, NULL);
            if (!rc) {
                kefu_facts_clear(scratch_facts);
                rc = set_host_facts(scratch_facts, frs, x, msg, sizeof msg);
            }
            if (!rc)
                rc = set_host_facts(kefu_session_facts(c->s), frs, x, msg, sizeof msg);
            if (rc) {
                print_error(id, msg[0] ? msg : x->type != J_OBJ
                                ? "\"facts\" must be an object" : kefu_strerror(rc), rc);
                json_free(v);
                failed = 1;
                continue;
            }
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
    kefu_facts_free(scratch_facts);
    kefu_rules_slot_free(slot);
    kefu_ruleset_free(rs);
    kefu_model_free(m);
    kefu_diag_free(d);
    return failed;
}
