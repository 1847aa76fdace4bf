/*
 * train.c - kefu_model_train: a model from TSV examples (`label<TAB>text`)
 * and an optional YAML model for everything else.  The YAML's own examples
 * are trained on as well.
 */
#include <stdio.h>

#include "intent.h"
#include "model.h"
#include "text.h"

/*
 * The caller says how big its struct is: a program built against an older
 * header, whose struct is smaller, is never written past its end.  When
 * the struct grows, kefu_model_train must accept the older size and read
 * the new fields only when opts->size covers them (kefu_turn: the same in
 * session.c).
 */
KEFU_API void kefu_train_options_init_size(kefu_train_options *o, uint32_t size)
{
    if (!o || size < sizeof o->size)
        return;
    memset(o, 0, size);
    o->size = size;
    if (KEFU_COVERS(size, kefu_train_options, task))
        o->task = KEFU_TASK_INTENT;
}

/* (parenthesised: the header's macro of that name passes the caller's
 * size; this symbol serves programs built before the macro existed) */
KEFU_API void(kefu_train_options_init)(kefu_train_options *o)
{
    kefu_train_options_init_size(o, offsetof(kefu_train_options, user) +
                                        sizeof o->user);
}

/* Adds every line of a TSV file as an example; a file without any is
 * KEFU_E_EMPTY (a mistake, not a model without these examples). */
static int read_tsv(struct kefu_model *m, uint32_t kind, const char *path,
                    bool validation, kefu_diag *diag)
{
    char *data = NULL;
    size_t len = 0, bad, added = 0;
    uint32_t line = 0;
    int rc = kefu_read_file(&m->mem, path, &data, &len, diag);
    const char *p, *end;
    if (rc)
        return rc;
    if (kefu_utf8_validate(data, len, &bad)) {
        size_t start = 0;
        uint32_t col = 1; /* in characters, as YAML positions are */
        for (size_t i = 0; i < bad; i++)
            if (data[i] == '\n') {
                line++;
                start = i + 1;
            }
        for (size_t i = start; i < bad; i++)
            col += ((unsigned char)data[i] & 0xC0) != 0x80;
        kefu_dealloc(&m->mem, data);
        return kefu_diag_setf(diag, KEFU_E_UTF8, path, line + 1, col, bad,
                              "invalid UTF-8 at byte %zu", bad);
    }
    for (p = data, end = data + len; p < end && !rc;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end, *tab;
        size_t n;
        line++;
        n = (size_t)(eol - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0) {
            p = eol + 1;
            continue;
        }
        tab = memchr(p, '\t', n);
        if (!tab || tab == p || tab == p + n - 1)
            rc = kefu_diag_setf(diag, KEFU_E_SYNTAX, path, line, 1, UINT64_MAX,
                                "expected 'label<TAB>text'");
        else {
            rc = kefu_clf_add_example(m, kind, p, (size_t)(tab - p), tab + 1,
                                      (size_t)(p + n - tab - 1), validation);
            added += !rc;
            if (rc == KEFU_E_NOMEM)
                kefu_diag_msg(diag, rc, "out of memory");
            else if (rc == KEFU_E_SYNTAX)
                kefu_diag_setf(diag, rc, path, line, 1, UINT64_MAX,
                               "bad label list (empty label or more than %d labels)",
                               KEFU_CLF_MAX_LABELS);
        }
        p = eol + 1;
    }
    kefu_dealloc(&m->mem, data);
    if (!rc && !added)
        rc = kefu_diag_setf(diag, KEFU_E_EMPTY, path, 0, 0, UINT64_MAX,
                            "no 'label<TAB>text' lines");
    return rc;
}

static void bridge(const kefu_learn_progress *p, void *user)
{
    const kefu_train_options *o = user;
    o->progress(p->epoch, p->epochs, p->loss, p->val_accuracy, o->user);
}

KEFU_API int kefu_model_train(kefu_model **out, const char *config,
                              const char *train_tsv, const char *val_tsv,
                              const kefu_train_options *opts,
                              const kefu_allocator *alloc, kefu_diag *diag)
{
    struct kefu_model *m;
    kefu_intent_builder *b;
    kefu_train_options defaults;
    uint32_t kind;
    int rc = KEFU_OK;

    if (diag)
        kefu_diag_clear(diag);
    if (!out || (!config && !train_tsv))
        return kefu_diag_msg(diag, KEFU_E_ARG, "nothing to train on");
    *out = NULL;
    if (!opts) {
        kefu_train_options_init(&defaults);
        opts = &defaults;
    }
    if (opts->size < sizeof(kefu_train_options) - sizeof(void *) * 2)
        return kefu_diag_msg(diag, KEFU_E_ARG, "kefu_train_options.size is too small");
    if (opts->task != KEFU_TASK_INTENT && opts->task != KEFU_TASK_EMOTION)
        return kefu_diag_msg(diag, KEFU_E_ARG, "unknown task %u", opts->task);
    if (opts->epochs > KEFU_EPOCHS_MAX)
        return kefu_diag_msg(diag, KEFU_E_ARG, "epochs %u is more than %d",
                             opts->epochs, KEFU_EPOCHS_MAX);
    if (opts->learning_rate != 0 && !(opts->learning_rate >= KEFU_LR_MIN &&
                                      opts->learning_rate <= KEFU_LR_MAX))
        return kefu_diag_msg(diag, KEFU_E_ARG, "learning_rate %g is not 0 "
                             "(the default) or %g to %g", opts->learning_rate,
                             KEFU_LR_MIN, (double)KEFU_LR_MAX);
    kind = opts->task == KEFU_TASK_EMOTION ? KEFU_CLF_EMOTION : KEFU_CLF_INTENT;
    m = kefu_model_begin(alloc);
    if (!m)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    if (config) {
        char *data = NULL, dir[4096];
        size_t len = 0;
        rc = kefu_read_file(&m->mem, config, &data, &len, diag);
        if (!rc) {
            kefu_dir_of(config, dir, sizeof dir);
            rc = kefu_model_add_yaml(m, data, len, config, dir, diag);
        }
        kefu_dealloc(&m->mem, data);
    }
    if (!rc && train_tsv)
        rc = read_tsv(m, kind, train_tsv, false, diag);
    if (!rc && val_tsv)
        rc = read_tsv(m, kind, val_tsv, true, diag);
    if (!rc && !(b = kefu_clf_builder_get(m, kind)))
        rc = kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    if (!rc) {
        if (opts->epochs) {
            b->cfg.learn.epochs = opts->epochs;
            b->cfg.epochs_set = 1;
        }
        if (opts->learning_rate != 0)
            b->cfg.learn.lr = opts->learning_rate;
        if (opts->seed)
            b->cfg.learn.seed = opts->seed;
        /* a caller's struct may end before progress and user (the
         * smallest size accepted above): they are read only if it holds them */
        if (KEFU_COVERS(opts->size, kefu_train_options, user) && opts->progress) {
            b->progress = bridge;
            b->progress_user = (void *)opts;
        }
        rc = kefu_model_end(m, diag);
    }
    if (rc) {
        kefu_model_free(m);
        return rc;
    }
    *out = m;
    return KEFU_OK;
}
