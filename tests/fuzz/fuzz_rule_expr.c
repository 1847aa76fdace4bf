/* fuzz_rule_expr.c - the rule expression compiler and evaluator on
 * arbitrary expressions: a compile error with a position inside the rule
 * file, or a rule set whose plain and traced evaluations agree (state and
 * status); never a crash, a leak or a hang (the cost bound and the regex
 * limits hold). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kefu.h"

static void set_facts(kefu_facts *f)
{
    static const char *slots[] = {"order_id", "phone", "投诉"};
    static const double nums[] = {1, 2, 3.5};
    kefu_facts_set_string(f, "text", 4, "我要投诉 refund now aaaaaaaaaaaaaaaaaaaaaaaa!", 47);
    kefu_facts_set_string(f, "intent", 6, "refund", 6);
    kefu_facts_set_number(f, "emotion.anger", 13, 85);
    kefu_facts_set_number(f, "confidence", 10, 0.5);
    kefu_facts_set_duration(f, "wait", 4, 95000);
    kefu_facts_set_strings(f, "slots", 5, slots, NULL, 3);
    kefu_facts_set_numbers(f, "scores", 6, nums, 3);
    kefu_facts_set_bool(f, "vip", 3, 1);
    kefu_facts_set_string(f, "entities.order_id", 17, "A1", 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char head[] =
        "facts: {vip: bool, amount: number, scores: list<number>}\n"
        "rules:\n  - name: fuzz\n    then: {tag: x}\n    when: |-\n      ";
    kefu_model *m = NULL;
    kefu_ruleset *rs = NULL;
    kefu_facts *f = NULL;
    kefu_rules_result *r = NULL;
    kefu_diag *d;
    char *yaml, *w;
    int rc;
    if (size > 20000 || kefu_utf8_check((const char *)data, size, NULL))
        return 0;
    for (size_t i = 0; i < size; i++)   /* YAML refuses control characters */
        if ((data[i] < 0x20 && data[i] != '\n') || data[i] == 0x7f)
            return 0;
    yaml = malloc(sizeof head + size * 8 + 2);
    if (!yaml)
        return 0;
    memcpy(yaml, head, sizeof head - 1);
    w = yaml + sizeof head - 1;
    for (size_t i = 0; i < size; i++) {
        *w++ = (char)data[i];
        if (data[i] == '\n') {
            memcpy(w, "      ", 6);
            w += 6;
        }
    }
    *w++ = '\n';
    d = kefu_diag_new(NULL);
    if (kefu_model_load_buffer(&m, "kefu: 1\n", 8, "m", NULL, NULL, NULL))
        abort();
    rc = kefu_ruleset_compile(&rs, m, yaml, (size_t)(w - yaml), "fuzz.yaml", NULL, d);
    if (rc != KEFU_OK) {
        if (rs || kefu_diag_status(d) != rc)
            abort();
        /* errors inside the expression point at line 5 or below */
        if (kefu_diag_line(d) != 0 && kefu_diag_line(d) < 5 &&
            rc != KEFU_E_SYNTAX && rc != KEFU_E_MODEL)
            abort();
    } else {
        uint32_t plain, traced;
        kefu_rule_outcome po = {.size = sizeof po}, to = {.size = sizeof to};
        char why[512];
        if (kefu_facts_new(&f, rs, NULL) || kefu_rules_result_new(&r, NULL))
            abort();
        set_facts(f);
        if (kefu_rules_eval(r, rs, f, 0) || kefu_rules_result_rule(r, 0, &po))
            abort();
        plain = kefu_rules_result_fired_count(r);
        if (kefu_rules_eval(r, rs, f, KEFU_RULES_TRACE) ||
            kefu_rules_result_rule(r, 0, &to))
            abort();
        traced = kefu_rules_result_fired_count(r);
        /* the same outcome, failures included (the plain evaluation runs
         * cheap tests in the flat form, the traced one runs programs) */
        if (plain != traced || po.state != to.state || po.status != to.status)
            abort();
        kefu_rules_result_explain(r, 0, why, sizeof why);
        for (uint32_t i = 0; i < kefu_rules_result_trace_count(r); i++) {
            kefu_trace_entry t = {.size = sizeof t};
            if (kefu_rules_result_trace(r, i, &t))
                abort();
        }
    }
    kefu_rules_result_free(r);
    kefu_facts_free(f);
    kefu_ruleset_free(rs);
    kefu_model_free(m);
    kefu_diag_free(d);
    free(yaml);
    return 0;
}
