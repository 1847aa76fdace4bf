/*
 * cmd_info.c - `kefu info -m MODEL`: what a model holds, as one JSON
 * object: its name, intents (with their routing skills), entities, trained
 * emotion labels, what training chose for each classifier
 * (kefu_model_classifier_info) and its rules by name.  For checking which
 * model a host runs, and how it decides out-of-scope, without reading
 * the YAML it was built from.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void string_list(cli_buf *b, const kefu_model *m, size_t n,
                        const char *(*name)(const kefu_model *, size_t))
{
    cli_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        const char *s = name(m, i);
        if (i)
            cli_buf_puts(b, ",");
        cli_buf_json_string(b, s, strlen(s));
    }
    cli_buf_puts(b, "]");
}

static void classifier(cli_buf *b, const kefu_model *m, uint32_t task)
{
    kefu_classifier_info ci;
    char num[64];
    ci.size = sizeof ci;
    if (kefu_model_classifier_info(m, task, &ci) != KEFU_OK) {
        cli_buf_puts(b, "null");
        return;
    }
    snprintf(num, sizeof num, "{\"classes\":%u,\"features\":%u,\"examples\":%u,",
             ci.classes, ci.features, ci.examples);
    cli_buf_puts(b, num);
    cli_buf_puts(b, "\"temperature\":");
    cli_buf_fixed4(b, ci.temperature);
    if (task == KEFU_TASK_INTENT) {
        cli_buf_puts(b, ",\"threshold\":");
        cli_buf_fixed4(b, ci.threshold);
        cli_buf_puts(b, ",\"margin\":");
        cli_buf_fixed4(b, ci.margin);
        cli_buf_puts(b, ",\"oos\":");
        if (ci.oos_index >= 0) {
            const char *s = kefu_model_intent_name(m, (size_t)ci.oos_index);
            cli_buf_json_string(b, s, strlen(s));
        } else {
            cli_buf_puts(b, "null");
        }
    }
    cli_buf_puts(b, "}");
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    kefu_model *m;
    kefu_ruleset *rs;
    cli_buf b = {0};
    size_t n;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: kefu info -m MODEL\n"
                   "One JSON object: name, intents (with skills), entities, trained\n"
                   "emotion labels, what training chose for each classifier\n"
                   "(temperature, out-of-scope threshold and margin), rules.\n");
            return 0;
        } else if (!strcmp(argv[i], "-m") && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "kefu info: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: kefu info -m MODEL\n");
        return 2;
    }
    if (!(m = cli_load_model(path)))
        return 1;
    cli_buf_puts(&b, "{\"name\":");
    cli_buf_json_string(&b, kefu_model_name(m), strlen(kefu_model_name(m)));
    cli_buf_puts(&b, ",\"intents\":[");
    n = kefu_model_intent_count(m);
    for (size_t i = 0; i < n; i++) {
        const char *s = kefu_model_intent_name(m, i);
        cli_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        cli_buf_json_string(&b, s, strlen(s));
        cli_buf_puts(&b, ",\"skills\":[");
        for (size_t j = 0; (s = kefu_model_intent_skill(m, i, j)); j++) {
            if (j)
                cli_buf_puts(&b, ",");
            cli_buf_json_string(&b, s, strlen(s));
        }
        cli_buf_puts(&b, "]}");
    }
    cli_buf_puts(&b, "],\"entities\":");
    string_list(&b, m, kefu_model_entity_count(m), kefu_model_entity_name);
    cli_buf_puts(&b, ",\"emotion_labels\":");
    string_list(&b, m, kefu_model_emotion_label_count(m), kefu_model_emotion_label_name);
    cli_buf_puts(&b, ",\"intent_classifier\":");
    classifier(&b, m, KEFU_TASK_INTENT);
    cli_buf_puts(&b, ",\"emotion_classifier\":");
    classifier(&b, m, KEFU_TASK_EMOTION);
    cli_buf_puts(&b, ",\"rules\":[");
    rs = kefu_model_rules(m);
    for (uint32_t i = 0; rs && i < kefu_ruleset_rule_count(rs); i++) {
        const char *s = kefu_ruleset_rule_name(rs, i);
        if (i)
            cli_buf_puts(&b, ",");
        cli_buf_json_string(&b, s, strlen(s));
    }
    cli_buf_puts(&b, "]}\n");
    cli_buf_write(&b, stdout);
    cli_buf_free(&b);
    kefu_model_free(m);
    return 0;
}
