/*
 * bench_rules.c - rule evaluation throughput.
 *
 *   bench_rules gen DIR       writes the shared inputs: facts.tsv (the same
 *                             facts for every engine), the 200-rule
 *                             synthetic pack as kefu YAML, json-rules-engine
 *                             JSON and CEL expressions (one per line)
 *   bench_rules run PACK.yaml FACTS.tsv [SECONDS]
 *                             evaluates the pack over the facts; prints
 *                             "evals_per_sec ns_per_eval fired_checksum"
 *
 * Facts objects are filled before timing (as the peers' contexts are);
 * the timed loop is kefu_rules_eval alone.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kefu.h"

/* ---- deterministic inputs ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *intents[] = {"order_status", "refund", "complaint",
                                "human_agent", "transfer_money", "fraud_report",
                                "billing_dispute", "cancel_order", "greeting",
                                "delivery_delay", "password_reset", "oos"};
static const char *tiers[] = {"standard", "standard", "silver", "gold", "vip",
                              "platinum"};
static const char *flags[] = {"fraud", "suspected_fraud", "disputed_charge",
                              "aml", "vip_watch", "chargeback"};
static const char *texts[] = {
    "where is my order 20231105",
    "我的快递三天了还没到",
    "我要投诉你们的客服",
    "必须赔偿我的损失",
    "i want to talk to a human",
    "转人工 转人工",
    "my card was used for an unauthorized payment",
    "有人盗刷了我的信用卡",
    "i will report you to the regulator",
    "thanks, that solved it",
    "how do i reset my password",
    "refund me now or i will sue you",
    "你好",
    "the app keeps crashing when i pay",
    "what is the shipping fee to shanghai",
    "i want compensation for the late delivery",
    "the caller said my account will be frozen unless i pay",
};

#define N_INT (sizeof intents / sizeof *intents)
#define N_TIER (sizeof tiers / sizeof *tiers)
#define N_FLAG (sizeof flags / sizeof *flags)
#define N_TEXT (sizeof texts / sizeof *texts)

static int gen_facts(const char *dir, int n)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/facts.tsv", dir);
    if (!(f = fopen(path, "w")))
        return 1;
    fprintf(f, "intent\ttext\tanger\tnegativity\ttrend\tpeak\ttier\tvalue\trisk\t"
               "human_requests\tcontacts_7d\tfailed_answers\trepeat_issue\t"
               "turns\twait_ms\ttransfer_amount\n");
    for (int i = 0; i < n; i++) {
        char risk[128] = "";
        int nr = rnd(4) == 0 ? 1 + (int)rnd(2) : 0;
        for (int r = 0; r < nr; r++)
            snprintf(risk + strlen(risk), sizeof risk - strlen(risk), "%s%s",
                     r ? "," : "", flags[rnd(N_FLAG)]);
        fprintf(f, "%s\t%s\t%u\t%u\t%d\t%u\t%s\t%u\t%s\t%u\t%u\t%u\t%u\t%u\t%u\t%u\n",
                intents[rnd(N_INT)], texts[rnd(N_TEXT)], rnd(101), rnd(101),
                (int)rnd(41) - 20, rnd(101), tiers[rnd(N_TIER)],
                rnd(4) == 0 ? rnd(50000) : rnd(3000), risk, rnd(5), rnd(5),
                rnd(4), rnd(5) == 0, rnd(30), rnd(180) * 1000,
                rnd(3) == 0 ? rnd(120000) : 0);
    }
    return fclose(f) != 0;
}

/* A synthetic condition rendered in the three syntaxes. */
typedef struct cond {
    char kefu[256], cel[256], jre[512];
} cond;

static const struct {
    const char *kefu, *flat;
    uint32_t lo, span;
} nums[] = {
    {"emotion.anger", "emotion_anger", 20, 80},
    {"negativity", "negativity", 20, 80},
    {"customer.value", "customer_value", 500, 40000},
    {"session.turns", "session_turns", 1, 25},
    {"session.human_requests", "session_human_requests", 1, 4},
    {"session.contacts_7d", "session_contacts_7d", 1, 4},
    {"session.failed_answers", "session_failed_answers", 1, 3},
};

static void make_cond(cond *c)
{
    switch (rnd(7)) {
    case 0:
    case 1: {
        int k = (int)rnd(sizeof nums / sizeof *nums);
        uint32_t v = nums[k].lo + rnd(nums[k].span);
        int ge = (int)rnd(2);
        snprintf(c->kefu, sizeof c->kefu, "%s %s %u", nums[k].kefu, ge ? ">=" : ">", v);
        snprintf(c->cel, sizeof c->cel, "%s %s %u.0", nums[k].flat, ge ? ">=" : ">", v);
        snprintf(c->jre, sizeof c->jre,
                 "{\"fact\":\"%s\",\"operator\":\"%s\",\"value\":%u}", nums[k].flat,
                 ge ? "greaterThanInclusive" : "greaterThan", v);
        break;
    }
    case 2: {
        uint32_t s = 10 + rnd(160);
        snprintf(c->kefu, sizeof c->kefu, "wait > %us", s);
        snprintf(c->cel, sizeof c->cel, "wait_ms > %u.0", s * 1000);
        snprintf(c->jre, sizeof c->jre,
                 "{\"fact\":\"wait_ms\",\"operator\":\"greaterThan\",\"value\":%u}",
                 s * 1000);
        break;
    }
    case 3: {
        const char *x = intents[rnd(N_INT)];
        snprintf(c->kefu, sizeof c->kefu, "intent == \"%s\"", x);
        snprintf(c->cel, sizeof c->cel, "intent == \"%s\"", x);
        snprintf(c->jre, sizeof c->jre,
                 "{\"fact\":\"intent\",\"operator\":\"equal\",\"value\":\"%s\"}", x);
        break;
    }
    case 4: {
        const char *a = intents[rnd(N_INT)], *b = intents[rnd(N_INT)],
                   *d = intents[rnd(N_INT)];
        snprintf(c->kefu, sizeof c->kefu, "intent in [\"%s\", \"%s\", \"%s\"]", a, b, d);
        snprintf(c->cel, sizeof c->cel, "intent in [\"%s\", \"%s\", \"%s\"]", a, b, d);
        snprintf(c->jre, sizeof c->jre,
                 "{\"fact\":\"intent\",\"operator\":\"in\",\"value\":[\"%s\",\"%s\",\"%s\"]}",
                 a, b, d);
        break;
    }
    case 5: {
        const char *t = tiers[rnd(N_TIER)];
        snprintf(c->kefu, sizeof c->kefu, "customer.tier == \"%s\"", t);
        snprintf(c->cel, sizeof c->cel, "customer_tier == \"%s\"", t);
        snprintf(c->jre, sizeof c->jre,
                 "{\"fact\":\"customer_tier\",\"operator\":\"equal\",\"value\":\"%s\"}", t);
        break;
    }
    default: {
        const char *fl = flags[rnd(N_FLAG)];
        snprintf(c->kefu, sizeof c->kefu, "\"%s\" in customer.risk", fl);
        snprintf(c->cel, sizeof c->cel, "\"%s\" in customer_risk", fl);
        snprintf(c->jre, sizeof c->jre,
                 "{\"fact\":\"customer_risk\",\"operator\":\"contains\",\"value\":\"%s\"}", fl);
    }
    }
}

/* Rule i: (c1 and c2 [and c3]) or c4 */
static int gen_synthetic(const char *dir, int n)
{
    char p1[4096], p2[4096], p3[4096];
    FILE *y, *j, *c;
    snprintf(p1, sizeof p1, "%s/synthetic.yaml", dir);
    snprintf(p2, sizeof p2, "%s/synthetic-jre.json", dir);
    snprintf(p3, sizeof p3, "%s/synthetic-cel.txt", dir);   /* one per line */
    y = fopen(p1, "w");
    j = fopen(p2, "w");
    c = fopen(p3, "w");
    if (!y || !j || !c)
        return 1;
    fprintf(y, "kefu: 1\nrules:\n  mode: all\n  list:\n");
    fprintf(j, "[\n");
    for (int i = 0; i < n; i++) {
        cond a, b, d, e;
        int three = (int)rnd(2);
        make_cond(&a);
        make_cond(&b);
        make_cond(&d);
        make_cond(&e);
        fprintf(y, "    - name: r%03d\n      priority: %d\n      when: '(%s and %s%s%s) or %s'\n"
                   "      then: {tag: t%03d}\n",
                i, n - i, a.kefu, b.kefu, three ? " and " : "", three ? d.kefu : "",
                e.kefu, i);
        fprintf(j, "%s{\"name\":\"r%03d\",\"priority\":%d,\"conditions\":{\"any\":[{\"all\":[%s,%s%s%s]},%s]},"
                   "\"event\":{\"type\":\"r%03d\"}}\n",
                i ? "," : "", i, n - i, a.jre, b.jre, three ? "," : "", three ? d.jre : "",
                e.jre, i);
        fprintf(c, "(%s && %s%s%s) || %s\n", a.cel, b.cel,
                three ? " && " : "", three ? d.cel : "", e.cel);
    }
    fprintf(j, "]\n");
    return (fclose(y) | fclose(j) | fclose(c)) != 0;
}

/* ---- running ---- */

static char *field(char **s)
{
    char *f = *s, *t = strchr(f, '\t');
    if (t) {
        *t = '\0';
        *s = t + 1;
    } else {
        f[strcspn(f, "\n")] = '\0';
        *s = f + strlen(f);
    }
    return f;
}

#define NUM(name, v) kefu_facts_set_number(f, name, strlen(name), atof(v))

static int fill(kefu_facts *f, char *line)
{
    char *s = line, *risk, *items[8];
    const char *cols[16];
    size_t n = 0;
    for (int i = 0; i < 16; i++)
        cols[i] = field(&s);
    kefu_facts_set_string(f, "intent", 6, cols[0], strlen(cols[0]));
    kefu_facts_set_string(f, "text", 4, cols[1], strlen(cols[1]));
    NUM("emotion.anger", cols[2]);
    NUM("negativity", cols[3]);
    NUM("emotion.trend", cols[4]);
    NUM("emotion.peak", cols[5]);
    kefu_facts_set_string(f, "customer.tier", 13, cols[6], strlen(cols[6]));
    NUM("customer.value", cols[7]);
    risk = (char *)cols[8];
    while (*risk && n < 8) {
        items[n++] = risk;
        risk += strcspn(risk, ",");
        if (*risk)
            *risk++ = '\0';
    }
    kefu_facts_set_strings(f, "customer.risk", 13, (const char *const *)items, NULL, n);
    NUM("session.human_requests", cols[9]);
    NUM("session.contacts_7d", cols[10]);
    NUM("session.failed_answers", cols[11]);
    kefu_facts_set_bool(f, "session.repeat_issue", 20, atoi(cols[12]));
    NUM("session.turns", cols[13]);
    kefu_facts_set_duration(f, "wait", 4, atoll(cols[14]));
    /* KEFU_E_UNKNOWN for packs that do not declare it */
    kefu_facts_set_number(f, "transfer_amount", 15, atof(cols[15]));
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);   /* CPU time: the machine may be shared */
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int run(const char *pack, const char *facts_path, double seconds)
{
    kefu_model *m = NULL;
    kefu_ruleset *rs = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    kefu_rules_result *r = NULL;
    kefu_facts **fs = NULL;
    size_t nf = 0, cap = 0;
    char line[4096], msg[1024];
    FILE *in;
    uint64_t evals = 0, checksum = 0;
    double t0, t;
    if (kefu_model_load_buffer(&m, "kefu: 1\n", 8, "empty", NULL, NULL, d) ||
        kefu_ruleset_load(&rs, m, pack, NULL, d)) {
        kefu_diag_format(d, msg, sizeof msg);
        fprintf(stderr, "bench_rules: %s\n", msg);
        return 1;
    }
    if (!(in = fopen(facts_path, "r"))) {
        fprintf(stderr, "bench_rules: cannot open %s\n", facts_path);
        return 1;
    }
    if (!fgets(line, sizeof line, in)) {   /* header */
        fclose(in);
        return 1;
    }
    while (fgets(line, sizeof line, in)) {
        if (nf == cap) {
            cap = cap ? cap * 2 : 1024;
            fs = realloc(fs, cap * sizeof *fs);
            if (!fs)
                return 1;
        }
        if (kefu_facts_new(&fs[nf], rs, NULL))
            return 1;
        fill(fs[nf++], line);
    }
    fclose(in);
    kefu_rules_result_new(&r, NULL);
    for (size_t i = 0; i < nf; i++) {   /* warm up; checksum once */
        kefu_rules_eval(r, rs, fs[i], 0);
        checksum += kefu_rules_result_fired_count(r);
    }
    t0 = now();
    do {
        for (size_t i = 0; i < nf; i++)
            kefu_rules_eval(r, rs, fs[i], 0);
        evals += nf;
        t = now() - t0;
    } while (t < seconds);
    printf("%.0f %.1f %llu %u\n", evals / t, t * 1e9 / evals,
           (unsigned long long)checksum, kefu_ruleset_rule_count(rs));
    for (size_t i = 0; i < nf; i++)
        kefu_facts_free(fs[i]);
    free(fs);
    kefu_rules_result_free(r);
    kefu_ruleset_free(rs);
    kefu_model_free(m);
    kefu_diag_free(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "gen"))
        return gen_facts(argv[2], 2000) || gen_synthetic(argv[2], 200);
    if (argc >= 4 && !strcmp(argv[1], "run"))
        return run(argv[2], argv[3], argc > 4 ? atof(argv[4]) : 1.0);
    fprintf(stderr, "usage: bench_rules gen DIR | run PACK FACTS [SECONDS]\n");
    return 2;
}
