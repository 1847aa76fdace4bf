/*
 * case_emotion.c - area "emotion".  A case directory holds:
 *   input.txt    one message (a trailing newline is ignored), or input.bin
 *                used byte for byte, or turns.txt for a conversation:
 *                one turn a line, "time_ms<TAB>external<TAB>text"
 *                (external -1 = none);
 *   model.yaml   optional; with expected_error ("line col message") the
 *                model must fail to load there and nothing else is checked;
 *   expected     one check a line ('#' starts a comment):
 *                  NAME OP NUMBER        OP one of < <= > >= ==
 *                  NAME in LO..HI        inclusive
 *                  status CODE           e.g. "status -4" (default 0)
 *                  dominant CATEGORY     the highest negative category
 *                  set OPTION VALUE      tracker option before the turns
 *                                        (half_life_turns, half_life_ms,
 *                                        external_weight, external_mask,
 *                                        trend_turns, trend_threshold)
 *                NAME is a category, negativity or matched for a message;
 *                for turns.txt: level.X, peak.X, trend.X, last.X (X a
 *                category or negativity), turns, peak_turn, direction.
 */
#include "case_runner.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cat_index(const char *name)
{
    for (int c = 0; c < KEFU_EMOTION_COUNT; c++)
        if (!strcmp(name, kefu_emotion_category_name(c)))
            return c;
    if (!strcmp(name, "negativity"))
        return KEFU_EMOTION_COUNT;
    return -1;
}

static int emo_value(const kefu_emotion *e, const char *name, double *v)
{
    int c = cat_index(name);
    if (c >= 0) {
        *v = c < KEFU_EMOTION_COUNT ? e->score[c] : e->negativity;
        return 0;
    }
    if (!strcmp(name, "matched")) {
        *v = e->matched;
        return 0;
    }
    return -1;
}

static int level_value(const kefu_emotion_level *l, const kefu_emotion *last,
                       const char *name, double *v)
{
    const char *dot = strchr(name, '.');
    if (!strcmp(name, "turns")) {
        *v = l->turns;
        return 0;
    }
    if (!strcmp(name, "peak_turn")) {
        *v = l->peak_turn;
        return 0;
    }
    if (!strcmp(name, "direction")) {
        *v = l->direction;
        return 0;
    }
    if (dot) {
        int c = cat_index(dot + 1);
        size_t n = (size_t)(dot - name);
        bool neg = c == KEFU_EMOTION_COUNT;
        if (c < 0)
            return -1;
        if (!strncmp(name, "level", n) && n == 5)
            *v = neg ? l->level_negativity : l->level[c];
        else if (!strncmp(name, "peak", n) && n == 4)
            *v = neg ? l->peak_negativity : l->peak[c];
        else if (!strncmp(name, "trend", n) && n == 5)
            *v = neg ? l->trend_negativity : l->trend[c];
        else if (!strncmp(name, "last", n) && n == 4)
            return emo_value(last, dot + 1, v);
        else
            return -1;
        return 0;
    }
    return -1;
}

static int check_op(double v, const char *op, const char *arg, char *why,
                    size_t cap, const char *name)
{
    double lo, hi;
    int ok;
    if (!strcmp(op, "in")) {
        const char *dots = strstr(arg, "..");
        if (!dots || sscanf(arg, "%lf", &lo) != 1 || sscanf(dots + 2, "%lf", &hi) != 1) {
            snprintf(why, cap, "bad range '%s'", arg);
            return 1;
        }
        ok = v >= lo && v <= hi;
    } else {
        double x = atof(arg);
        if (!strcmp(op, "<"))
            ok = v < x;
        else if (!strcmp(op, "<="))
            ok = v <= x;
        else if (!strcmp(op, ">"))
            ok = v > x;
        else if (!strcmp(op, ">="))
            ok = v >= x;
        else if (!strcmp(op, "=="))
            ok = v == x;
        else {
            snprintf(why, cap, "unknown operator '%s'", op);
            return 1;
        }
    }
    if (!ok)
        snprintf(why, cap, "%s is %.1f, expected %s %s", name, v, op, arg);
    return !ok;
}

static int dominant(const kefu_emotion *e)
{
    int best = 0;
    for (int c = 1; c < KEFU_EMOTION_JOY; c++)
        if (e->score[c] > e->score[best])
            best = c;
    return best;
}

static int run_turns(kefu_scratch *s, kefu_emotion_track *tr, char *turns,
                     kefu_emotion *last, char *why, size_t cap)
{
    char *save = NULL;
    for (char *ln = strtok_r(turns, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        long long ms;
        int ext, used = 0, rc;
        if (ln[0] == '#' || !ln[0])
            continue;
        if (sscanf(ln, "%lld\t%d\t%n", &ms, &ext, &used) < 2 || !used) {
            snprintf(why, cap, "bad turn line '%s'", ln);
            return 1;
        }
        memset(last, 0, sizeof *last);
        last->size = sizeof *last;
        if ((rc = kefu_emotion_score(s, ln + used, strlen(ln + used), last)) ||
            (rc = kefu_emotion_track_update(tr, last, ms, ext))) {
            snprintf(why, cap, "turn '%s' failed: %d", ln + used, rc);
            return 1;
        }
    }
    return 0;
}

static int set_option(kefu_emotion_track *tr, const char *name, long long v)
{
    static const struct {
        const char *name;
        kefu_emotion_track_option opt;
    } opts[] = {
        {"half_life_turns", KEFU_EMOTION_TRACK_HALF_LIFE_TURNS},
        {"half_life_ms", KEFU_EMOTION_TRACK_HALF_LIFE_MS},
        {"external_weight", KEFU_EMOTION_TRACK_EXTERNAL_WEIGHT},
        {"external_mask", KEFU_EMOTION_TRACK_EXTERNAL_MASK},
        {"trend_turns", KEFU_EMOTION_TRACK_TREND_TURNS},
        {"trend_threshold", KEFU_EMOTION_TRACK_TREND_THRESHOLD},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!strcmp(name, opts[i].name))
            return kefu_emotion_track_set(tr, opts[i].opt, v);
    return -1;
}

int case_emotion(const char *dir, char *why, size_t why_cap)
{
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    kefu_emotion_track *tr = NULL;
    kefu_emotion e, last;
    kefu_emotion_level lv;
    size_t len = 0;
    char *in = NULL, *turns = NULL, *exp = NULL, *save = NULL;
    int fail = 0, rc = 0, bin = case_has(dir, "input.bin");
    long want_status = 0;

    memset(&e, 0, sizeof e);
    memset(&last, 0, sizeof last);
    memset(&lv, 0, sizeof lv);
    if (case_has(dir, "model.yaml")) {
        fail = case_load_model(dir, &m, why, why_cap);
        if (fail || case_has(dir, "expected_error"))
            goto out;
    } else if (kefu_model_load_buffer(&m, "kefu: 1\n", 8, "built-in", NULL,
                                      NULL, NULL)) {
        snprintf(why, why_cap, "cannot load the minimal model");
        fail = 1;
        goto out;
    }
    exp = case_read(dir, "expected", NULL);
    turns = case_read(dir, "turns.txt", NULL);
    in = turns ? NULL : case_read(dir, bin ? "input.bin" : "input.txt", &len);
    if (!exp || (!in && !turns) || kefu_scratch_new(&s, m, NULL) ||
        kefu_emotion_track_new(&tr, NULL)) {
        snprintf(why, why_cap, "needs expected and input.txt, input.bin or turns.txt");
        fail = 1;
        goto out;
    }
    /* options first, then the message or the turns, then the checks */
    {
        char *copy = strdup(exp), *sv = NULL;
        for (char *ln = strtok_r(copy, "\n", &sv); ln && !fail;
             ln = strtok_r(NULL, "\n", &sv)) {
            char name[64];
            long long v;
            if (sscanf(ln, "set %63s %lld", name, &v) == 2 &&
                set_option(tr, name, v)) {
                snprintf(why, why_cap, "cannot set option '%s' to %lld", name, v);
                fail = 1;
            }
            if (sscanf(ln, "status %ld", &want_status) == 1)
                continue;
        }
        free(copy);
        if (fail)
            goto out;
    }
    if (turns) {
        if ((fail = run_turns(s, tr, turns, &last, why, why_cap)))
            goto out;
        lv.size = sizeof lv;
        kefu_emotion_track_get(tr, &lv);
    } else {
        if (!bin && len && in[len - 1] == '\n')
            in[--len] = '\0';
        e.size = sizeof e;
        rc = kefu_emotion_score(s, in, len, &e);
        if (rc != want_status) {
            snprintf(why, why_cap, "status %d (%s), expected %ld", rc,
                     kefu_diag_message(kefu_scratch_diag(s)), want_status);
            fail = 1;
            goto out;
        }
    }
    for (char *ln = strtok_r(exp, "\n", &save); ln && !fail;
         ln = strtok_r(NULL, "\n", &save)) {
        char name[64], op[64], arg[64];
        double v;
        int got;
        if (ln[0] == '#' || !strncmp(ln, "set ", 4) || !strncmp(ln, "status ", 7))
            continue;
        got = sscanf(ln, "%63s %63s %63s", name, op, arg);
        if (got == 2 && !strcmp(name, "dominant")) {
            int c = cat_index(op);
            if (c < 0 || dominant(turns ? &last : &e) != c) {
                snprintf(why, why_cap, "dominant is %s, expected %s",
                         kefu_emotion_category_name(dominant(turns ? &last : &e)), op);
                fail = 1;
            }
            continue;
        }
        if (got == 2 && !strcmp(name, "direction")) {
            int d = !strcmp(op, "rising") ? 1 : !strcmp(op, "falling") ? -1 : 0;
            if (lv.direction != d) {
                snprintf(why, why_cap, "direction is %d, expected %s",
                         lv.direction, op);
                fail = 1;
            }
            continue;
        }
        if (got != 3) {
            if (got > 0) {
                snprintf(why, why_cap, "bad check '%s'", ln);
                fail = 1;
            }
            continue;
        }
        if ((turns ? level_value(&lv, &last, name, &v) : emo_value(&e, name, &v))) {
            snprintf(why, why_cap, "unknown name '%s'", name);
            fail = 1;
            continue;
        }
        fail = check_op(v, op, arg, why, why_cap, name);
    }
    if (fail && !turns) {
        size_t used = strlen(why);
        snprintf(why + used, why_cap - used,
                 " [anger %.1f anxiety %.1f disappointment %.1f sadness %.1f "
                 "fear %.1f joy %.1f negativity %.1f]",
                 e.score[0], e.score[1], e.score[2], e.score[3], e.score[4],
                 e.score[5], e.negativity);
    }
out:
    free(in);
    free(turns);
    free(exp);
    kefu_emotion_track_free(tr);
    kefu_scratch_free(s);
    kefu_model_free(m);
    return fail;
}
