/*
 * model.c - loading a model: the YAML framework (top-level keys, version,
 * includes) and the table of engine sections.  Engines own their sections;
 * this file only dispatches to them and runs their `finish` steps in a fixed
 * order once every file has been read.
 */
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "emotion.h"
#include "entity.h"
#include "redact.h"
#include "rules.h"
#include "intent.h"
#include "router.h"
#include "text.h"

#define KEFU_MODEL_FORMAT 1
#define KEFU_MAX_INCLUDE_DEPTH 8
#define KEFU_MAX_MODEL_FILE (64u << 20)

/* ---- the section table: each engine registers its keys here ---- */

typedef struct section {
    const char *key;
    kefu_section_parse_fn parse;
} section;

typedef struct engine_step {
    kefu_section_finish_fn finish;
    kefu_section_free_fn release;
} engine_step;

static int parse_text_section(struct kefu_model *m, const kefu_ynode *n,
                              kefu_load_ctx *ctx);

static const section sections[] = {
    {"text", parse_text_section},
    {"facts", kefu_facts_parse_section},
    {"rules", kefu_rules_parse_section},
    {"emotion", kefu_emotion_parse},
    {"skills", kefu_floor_parse_skills},
    {"queues", kefu_floor_parse_queues},
    {"agents", kefu_floor_parse_agents},
    {"entities", kefu_entity_parse_section},
    {"redaction", kefu_redact_parse_section},
    {"intents", kefu_intent_parse_section},
    {"classifier", kefu_classifier_parse_section},
};

/* Run in this order after all files are read; released in reverse. */
static const engine_step engines[] = {
    {NULL, NULL},
    {kefu_emotion_finish, kefu_emotion_release},
    {kefu_floor_finish, kefu_floor_release},
    {kefu_entity_finish, kefu_entity_release},
    {kefu_redact_finish, kefu_redact_release},
    {kefu_intent_finish, kefu_intent_release}, /* after entities: slots */
    {kefu_emoclf_finish, kefu_emoclf_release}, /* after emotion: lexicon */
    {kefu_rules_finish, kefu_rules_release},
};

/* ---- text settings ---- */

static int parse_text_section(struct kefu_model *m, const kefu_ynode *n,
                              kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"max_bytes", "traditional_to_simplified",
                                       NULL};
    const kefu_ynode *v;
    int rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys);
    if (rc)
        return rc;
    if ((v = kefu_ymap_get(n, "max_bytes"))) {
        int64_t x;
        if ((rc = kefu_y_int(ctx->diag, ctx->doc, v, 1, (int64_t)1 << 30, &x)))
            return rc;
        m->max_bytes = x;
    }
    if ((v = kefu_ymap_get(n, "traditional_to_simplified"))) {
        bool b;
        if ((rc = kefu_y_bool(ctx->diag, ctx->doc, v, &b)))
            return rc;
        m->t2s = b;
    }
    return KEFU_OK;
}

void kefu_model_text_init(const struct kefu_model *m, kefu_text *t)
{
    kefu_text_init(t, &m->alloc);
    t->max_bytes = m->max_bytes;
    t->t2s = m->t2s;
}

/* ---- files ---- */

int kefu_read_file(const kefu_mem *mem, const char *path, char **out,
                     size_t *len, kefu_diag *diag)
{
    FILE *f = fopen(path, "rb");
    kefu_buf b = {0};
    char chunk[65536];
    size_t n;
    long size;
    if (!f)
        return kefu_diag_setf(diag, KEFU_E_IO, path, 0, 0, UINT64_MAX,
                              "cannot open: %s", strerror(errno));
    /* a regular file is read straight into a buffer of its size (one
     * read, no copies); pipes and the like fall back to chunks */
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (unsigned long)size <= KEFU_MAX_MODEL_FILE) {
        if (kefu_buf_reserve(mem, &b, (size_t)size + 1)) {
            fclose(f);
            return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
        }
        b.len = fread(b.data, 1, (size_t)size, f);
        b.data[b.len] = '\0';
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > KEFU_MAX_MODEL_FILE) {
            fclose(f);
            kefu_buf_release(mem, &b);
            return kefu_diag_setf(diag, KEFU_E_LIMIT, path, 0, 0, UINT64_MAX,
                                  "file larger than %u bytes",
                                  KEFU_MAX_MODEL_FILE);
        }
        if (kefu_buf_append(mem, &b, chunk, n)) {
            fclose(f);
            kefu_buf_release(mem, &b);
            return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
        }
    }
    if (ferror(f)) {
        fclose(f);
        kefu_buf_release(mem, &b);
        return kefu_diag_setf(diag, KEFU_E_IO, path, 0, 0, UINT64_MAX,
                              "read error");
    }
    fclose(f);
    if (!b.data && kefu_buf_reserve(mem, &b, 0))
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    *out = b.data;
    *len = b.len;
    return KEFU_OK;
}

/* Directory part of a path ("." when none), into buf. */
void kefu_dir_of(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, cap, ".");
    else if (slash == path)
        snprintf(buf, cap, "/");
    else
        snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

static int load_yaml(struct kefu_model *m, const char *data, size_t len,
                     const char *name, const char *base_dir, int depth,
                     kefu_diag *diag);

static int load_include(struct kefu_model *m, const kefu_ynode *item,
                        kefu_load_ctx *ctx)
{
    char path[4096], dir[4096];
    char *data = NULL;
    size_t len = 0;
    int rc;
    if (item->type != KEFU_Y_SCALAR || item->len == 0)
        return kefu_yerr(ctx->diag, ctx->doc, item, KEFU_E_MODEL,
                         "include entries are file names");
    if (!ctx->base_dir)
        return kefu_yerr(ctx->diag, ctx->doc, item, KEFU_E_MODEL,
                         "include is not available for a model loaded from "
                         "memory without a base directory");
    if (ctx->depth >= KEFU_MAX_INCLUDE_DEPTH)
        return kefu_yerr(ctx->diag, ctx->doc, item, KEFU_E_LIMIT,
                         "includes nested deeper than %d (a cycle?)",
                         KEFU_MAX_INCLUDE_DEPTH);
    if (item->str[0] == '/')
        snprintf(path, sizeof path, "%s", item->str);
    else
        snprintf(path, sizeof path, "%s/%s", ctx->base_dir, item->str);
    if (m->vfs) {
        size_t i;
        for (i = 0; i < m->nvfs; i++)
            if (!strcmp(m->vfs[i].name, path))
                break;
        if (i == m->nvfs)
            return kefu_yerr(ctx->diag, ctx->doc, item, KEFU_E_CORRUPT,
                             "binary model lacks included file '%s'", path);
        kefu_dir_of(path, dir, sizeof dir);
        return load_yaml(m, m->vfs[i].text, m->vfs[i].len, path, dir,
                         ctx->depth + 1, ctx->diag);
    }
    rc = kefu_read_file(&m->mem, path, &data, &len, ctx->diag);
    if (rc) {
        /* point at the include line, keep the reason */
        char why[512];
        snprintf(why, sizeof why, "%s", kefu_diag_message(ctx->diag));
        kefu_dealloc(&m->mem, data);
        return kefu_yerr(ctx->diag, ctx->doc, item, rc,
                         "cannot include '%s': %s", path, why);
    }
    kefu_dir_of(path, dir, sizeof dir);
    rc = load_yaml(m, data, len, path, dir, ctx->depth + 1, ctx->diag);
    kefu_dealloc(&m->mem, data);
    return rc;
}

static int load_root(struct kefu_model *m, const kefu_ynode *root,
                     kefu_load_ctx *ctx)
{
    const kefu_ynode *ver = kefu_ymap_get(root, "kefu");
    int rc;
    if (!root || root->type != KEFU_Y_MAP)
        return kefu_yerr(ctx->diag, ctx->doc, root, KEFU_E_MODEL,
                         "a model file is a YAML mapping (start with 'kefu: 1')");
    if (!ver)
        return kefu_yerr(ctx->diag, ctx->doc, root, KEFU_E_MODEL,
                         "missing the format version key 'kefu: %d'",
                         KEFU_MODEL_FORMAT);
    {
        int64_t v;
        if ((rc = kefu_y_int(ctx->diag, ctx->doc, ver, 0, INT32_MAX, &v)))
            return rc;
        if (v != KEFU_MODEL_FORMAT)
            return kefu_yerr(ctx->diag, ctx->doc, ver, KEFU_E_VERSION,
                             "model format %lld is not supported (this is "
                             "kefu %s, format %d)",
                             (long long)v, KEFU_VERSION_STRING,
                             KEFU_MODEL_FORMAT);
    }
    for (size_t i = 0; i < root->n; i++) {
        const kefu_ynode *key = root->keys[i], *val = root->items[i];
        size_t s;
        if (!strcmp(key->str, "kefu"))
            continue;
        if (!strcmp(key->str, "name")) {
            const char *str;
            if ((rc = kefu_y_string(ctx->diag, ctx->doc, val, &str, NULL)))
                return rc;
            if (ctx->depth == 0) {
                kefu_dealloc(&m->mem, m->name);
                if (!(m->name = kefu_strdup(&m->mem, str)))
                    return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
            }
            continue;
        }
        if (!strcmp(key->str, "include")) {
            if (val->type == KEFU_Y_SCALAR) {
                rc = load_include(m, val, ctx);
            } else if (val->type == KEFU_Y_SEQ) {
                rc = KEFU_OK;
                for (size_t j = 0; j < val->n && !rc; j++)
                    rc = load_include(m, val->items[j], ctx);
            } else {
                rc = kefu_yerr(ctx->diag, ctx->doc, val, KEFU_E_MODEL,
                               "include takes a file name or a list of them");
            }
            if (rc)
                return rc;
            continue;
        }
        for (s = 0; s < KEFU_ARRAY_LEN(sections); s++)
            if (!strcmp(key->str, sections[s].key))
                break;
        if (s == KEFU_ARRAY_LEN(sections)) {
            char list[400] = "kefu, name, include";
            size_t used = strlen(list);
            for (size_t j = 0; j < KEFU_ARRAY_LEN(sections); j++)
                used += (size_t)snprintf(list + used, sizeof list - used,
                                         ", %s", sections[j].key);
            return kefu_yerr(ctx->diag, ctx->doc, key, KEFU_E_UNKNOWN,
                             "unknown key '%s' (expected one of: %s)",
                             key->str, list);
        }
        if ((rc = sections[s].parse(m, val, ctx)))
            return rc;
    }
    return KEFU_OK;
}

static int load_yaml(struct kefu_model *m, const char *data, size_t len,
                     const char *name, const char *base_dir, int depth,
                     kefu_diag *diag)
{
    kefu_ydoc doc;
    kefu_load_ctx ctx;
    struct kefu_model_source *src;
    int rc = kefu_ydoc_parse(&doc, data, len, name, &m->alloc, diag);
    if (rc)
        return rc;
    if (kefu_grow(&m->mem, (void **)&m->sources, &m->cap_sources,
                  m->nsources + 1, sizeof *m->sources)) {
        kefu_ydoc_free(&doc);
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    }
    src = &m->sources[m->nsources];
    src->name = kefu_strdup(&m->mem, name);
    src->text = kefu_strndup(&m->mem, data, len);
    src->len = len;
    if (!src->name || !src->text) {
        kefu_dealloc(&m->mem, src->name);
        kefu_dealloc(&m->mem, src->text);
        kefu_ydoc_free(&doc);
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    }
    m->nsources++;
    if (!doc.root) {
        kefu_ydoc_free(&doc);
        return kefu_diag_setf(diag, KEFU_E_MODEL, name, 1, 1, 0,
                              "empty model file (start with 'kefu: %d')",
                              KEFU_MODEL_FORMAT);
    }
    ctx.doc = &doc;
    ctx.diag = diag;
    ctx.base_dir = base_dir;
    ctx.depth = depth;
    rc = load_root(m, doc.root, &ctx);
    kefu_ydoc_free(&doc);
    return rc;
}

struct kefu_model *kefu_model_begin(const kefu_allocator *alloc)
{
    kefu_mem mem;
    struct kefu_model *m;
    kefu_mem_init(&mem, alloc);
    m = kefu_zalloc(&mem, sizeof *m);
    if (!m)
        return NULL;
    m->mem = mem;
    m->alloc = mem.a;
    m->max_bytes = 65536;
    m->t2s = 1;
    return m;
}

int kefu_model_end(struct kefu_model *m, kefu_diag *diag)
{
    for (size_t i = 0; i < KEFU_ARRAY_LEN(engines); i++)
        if (engines[i].finish) {
            int rc = engines[i].finish(m, diag);
            if (rc)
                return rc;
        }
    return KEFU_OK;
}

int kefu_model_add_yaml(struct kefu_model *m, const char *data, size_t len,
                        const char *name, const char *base_dir,
                        kefu_diag *diag)
{
    return load_yaml(m, data, len, name, base_dir, 0, diag);
}

KEFU_API void kefu_model_free(kefu_model *m)
{
    kefu_mem mem;
    if (!m)
        return;
    mem = m->mem;
    for (size_t i = KEFU_ARRAY_LEN(engines); i-- > 0;)
        if (engines[i].release)
            engines[i].release(m);
    for (size_t i = 0; i < m->nsources; i++) {
        kefu_dealloc(&mem, m->sources[i].name);
        kefu_dealloc(&mem, m->sources[i].text);
    }
    kefu_dealloc(&mem, m->sources);
    kefu_dealloc(&mem, m->file_buf);
    kefu_dealloc(&mem, m->name);
    kefu_dealloc(&mem, m);
}

static int load_any(kefu_model **out, const char *data, size_t len,
                    const char *name, const char *base_dir,
                    const kefu_allocator *alloc, kefu_diag *diag, char **take)
{
    struct kefu_model *m;
    int rc;
    if (kefu_modelfile_is(data, len))
        return kefu_modelfile_load(out, data, len, name, alloc, diag, take);
    m = kefu_model_begin(alloc);
    if (!m)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    rc = load_yaml(m, data, len, name, base_dir, 0, diag);
    if (rc == KEFU_OK)
        rc = kefu_model_end(m, diag);
    if (rc) {
        kefu_model_free(m);
        return rc;
    }
    *out = m;
    return KEFU_OK;
}

KEFU_API int kefu_model_load_buffer(kefu_model **out, const char *data,
                                    size_t len, const char *name,
                                    const char *base_dir,
                                    const kefu_allocator *alloc,
                                    kefu_diag *diag)
{
    if (diag)
        kefu_diag_clear(diag);
    if (!out || (!data && len))
        return kefu_diag_msg(diag, KEFU_E_ARG, "model output or data is NULL");
    *out = NULL;
    return load_any(out, data ? data : "", len, name ? name : "", base_dir,
                    alloc, diag, NULL);
}

KEFU_API int kefu_model_load(kefu_model **out, const char *path,
                             const kefu_allocator *alloc, kefu_diag *diag)
{
    kefu_mem mem;
    char *data = NULL;
    size_t len = 0;
    char dir[4096];
    int rc;
    if (diag)
        kefu_diag_clear(diag);
    if (!out || !path)
        return kefu_diag_msg(diag, KEFU_E_ARG, "model output or path is NULL");
    *out = NULL;
    kefu_mem_init(&mem, alloc);
    rc = kefu_read_file(&mem, path, &data, &len, diag);
    if (rc)
        return rc;
    kefu_dir_of(path, dir, sizeof dir);
    rc = load_any(out, data, len, path, dir, alloc, diag, &data);
    kefu_dealloc(&mem, data);
    return rc;
}

KEFU_API const char *kefu_model_name(const kefu_model *m)
{
    return m && m->name ? m->name : "";
}
