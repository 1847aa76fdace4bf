/*
 * cmd_erlang.c - `kefu erlang`: Erlang C (or Erlang A with --patience)
 * for one skill, and the agents needed for a service-level goal.
 *
 *   kefu erlang --arrival-rate PER_S --aht S --agents N --sl-target S
 *               [--patience S] [--goal FRACTION] [--json]
 *
 * JSON keys match kefu-sim's: p_wait, asa_s, service_level, abandon_rate,
 * plus occupancy, load_erlangs and agents_needed (for --goal, default 0.8).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: kefu erlang --arrival-rate PER_S --aht S --agents N "
                 "--sl-target S\n"
                 "                   [--patience S] [--goal FRACTION] [--json]\n"
                 "Erlang C (Erlang A with --patience): probability of waiting, "
                 "average speed of\nanswer, service level, abandonment, and the "
                 "agents needed to reach --goal.\n");
}

int cmd_erlang(int argc, char **argv)
{
    double lambda = -1, aht = -1, agents = -1, target = -1, patience = 0;
    double goal = 0.8;
    int json = 0, rc;
    uint32_t need = 0;
    int need_rc;
    kefu_erlang_result r;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double *dst = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(a, "--arrival-rate"))
            dst = &lambda;
        else if (!strcmp(a, "--aht"))
            dst = &aht;
        else if (!strcmp(a, "--agents"))
            dst = &agents;
        else if (!strcmp(a, "--sl-target"))
            dst = &target;
        else if (!strcmp(a, "--patience"))
            dst = &patience;
        else if (!strcmp(a, "--goal"))
            dst = &goal;
        if (!dst) {
            fprintf(stderr, "kefu erlang: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "kefu erlang: %s needs a value\n", a);
            return 2;
        }
        if (cli_number("erlang", a, argv[++i], 0, INFINITY, dst))
            return 2;
    }
    if (lambda <= 0 || aht <= 0 || agents < 1 || target < 0 ||
        agents != floor(agents) || goal >= 1) {
        usage(stderr);
        return 2;
    }
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    rc = patience > 0
             ? kefu_erlang_a(&r, lambda, aht, patience, (uint32_t)agents, target)
             : kefu_erlang_c(&r, lambda, aht, (uint32_t)agents, target);
    if (rc != KEFU_OK && rc != KEFU_E_LIMIT) {
        fprintf(stderr, "kefu erlang: %s\n", kefu_strerror(rc));
        return 1;
    }
    need_rc = kefu_erlang_agents(&need, lambda, aht, patience, target, goal);
    if (json) {
        printf("{\"model\":\"%s\",\"agents\":%u,\"load_erlangs\":%.6g,",
               patience > 0 ? "erlang_a" : "erlang_c", r.agents, r.load_erlangs);
        if (rc == KEFU_E_LIMIT)
            printf("\"stable\":false,\"p_wait\":1,\"asa_s\":null,"
                   "\"service_level\":0,\"abandon_rate\":0,\"occupancy\":1");
        else
            printf("\"stable\":true,\"p_wait\":%.6f,\"asa_s\":%.6f,"
                   "\"service_level\":%.6f,\"abandon_rate\":%.6f,"
                   "\"occupancy\":%.6f",
                   r.p_wait, r.asa_s, r.service_level, r.abandon_rate,
                   r.occupancy);
        if (need_rc == KEFU_OK)
            printf(",\"goal\":%.6g,\"agents_needed\":%u}\n", goal, need);
        else
            printf(",\"goal\":%.6g,\"agents_needed\":null}\n", goal);
        return 0;
    }
    printf("%s, %.4g Erlangs on %u agents\n",
           patience > 0 ? "Erlang A" : "Erlang C", r.load_erlangs, r.agents);
    if (rc == KEFU_E_LIMIT) {
        printf("unstable: the load needs more than %u agents; the queue grows "
               "without bound\n", r.agents);
    } else {
        printf("p_wait         %.4f\n", r.p_wait);
        printf("asa_s          %.2f\n", r.asa_s);
        printf("service_level  %.4f  (answered within %.4g s)\n",
               r.service_level, target);
        if (patience > 0)
            printf("abandon_rate   %.4f\n", r.abandon_rate);
        printf("occupancy      %.4f\n", r.occupancy);
    }
    if (need_rc == KEFU_OK)
        printf("agents needed for %.1f%% within %.4g s: %u\n", 100 * goal,
               target, need);
    return 0;
}
