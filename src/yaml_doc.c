/*
 * yaml_doc.c - builds a position-carrying tree from libyaml's event stream.
 * libyaml allocates with plain malloc; the tree uses the host's allocator.
 */
#include "yaml_doc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <yaml.h>

#include "text.h"

#define YDOC_MAX_DEPTH 64
#define YDOC_MAX_NODES (4u << 20)

/* The last mark turned into a byte offset (see byte_offset_from). */
typedef struct pos_cache {
    size_t line, col, off;
} pos_cache;

typedef struct builder {
    kefu_ydoc *doc;
    kefu_diag *diag;
    size_t nodes;
    pos_cache pos;
    yaml_parser_t parser;
} builder;

/*
 * libyaml's marks count characters: index from the start of the input,
 * column from the start of the line (both 0-based).  Diagnostics report a
 * 1-based character column and a byte offset, found from the line.
 */
/*
 * Byte offset of a (line, column) mark.  Nodes arrive in document order, so
 * the walk starts from the previous answer when it can: linear in the file
 * overall instead of quadratic.
 */
static uint64_t byte_offset_from(const kefu_ydoc *doc, pos_cache *pc,
                                 size_t line0, size_t col0)
{
    size_t i = 0, line = 0, col = 0;
    if (!doc->src)
        return UINT64_MAX;
    if (pc && (pc->line < line0 || (pc->line == line0 && pc->col <= col0))) {
        i = pc->off;
        line = pc->line;
        col = pc->col;
    }
    while (i < doc->src_len && line < line0) {
        if (doc->src[i++] == '\n') {
            line++;
            col = 0;
        }
    }
    while (i < doc->src_len && col < col0) {
        i++;
        while (i < doc->src_len && ((unsigned char)doc->src[i] & 0xC0) == 0x80)
            i++;
        col++;
    }
    if (pc) {
        pc->line = line0;
        pc->col = col;
        pc->off = i;
    }
    return i;
}

static uint64_t byte_offset(const kefu_ydoc *doc, size_t line0, size_t col0)
{
    return byte_offset_from(doc, NULL, line0, col0);
}

#define MARK_OFFSET(b, m) byte_offset_from((b)->doc, &(b)->pos, (m).line, (m).column)

static void node_free(const kefu_mem *mem, kefu_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            node_free(mem, n->keys[i]);
        node_free(mem, n->items[i]);
    }
    kefu_dealloc(mem, n->keys);
    kefu_dealloc(mem, n->items);
    kefu_dealloc(mem, n->str);
    kefu_dealloc(mem, n);
}

static kefu_ynode *node_new(builder *b, kefu_ytype type, yaml_mark_t mark)
{
    kefu_ynode *n;
    if (b->nodes >= YDOC_MAX_NODES) {
        kefu_diag_setf(b->diag, KEFU_E_LIMIT, b->doc->file,
                       (uint32_t)mark.line + 1,
                       (uint32_t)mark.column + 1,
                       MARK_OFFSET(b, mark), "too many YAML nodes (limit %u)",
                       YDOC_MAX_NODES);
        return NULL;
    }
    n = kefu_zalloc(&b->doc->mem, sizeof *n);
    if (!n) {
        kefu_diag_msg(b->diag, KEFU_E_NOMEM, "out of memory");
        return NULL;
    }
    b->nodes++;
    n->type = type;
    n->line = (uint32_t)mark.line + 1;
    n->column = (uint32_t)mark.column + 1;
    n->offset = MARK_OFFSET(b, mark);
    return n;
}

static int node_push(builder *b, kefu_ynode *parent, kefu_ynode *key,
                     kefu_ynode *item)
{
    const kefu_mem *mem = &b->doc->mem;
    if (parent->n == parent->cap) {
        size_t cap = parent->cap;
        if (kefu_grow(mem, (void **)&parent->items, &cap, parent->n + 1,
                      sizeof *parent->items))
            return kefu_diag_msg(b->diag, KEFU_E_NOMEM, "out of memory");
        if (parent->type == KEFU_Y_MAP) {
            size_t kcap = parent->cap;
            if (kefu_grow(mem, (void **)&parent->keys, &kcap, parent->n + 1,
                          sizeof *parent->keys))
                return kefu_diag_msg(b->diag, KEFU_E_NOMEM, "out of memory");
        }
        parent->cap = cap;
    }
    if (parent->type == KEFU_Y_MAP)
        parent->keys[parent->n] = key;
    parent->items[parent->n++] = item;
    return KEFU_OK;
}

static int parse_error(builder *b)
{
    yaml_parser_t *p = &b->parser;
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_MEMORY_ERROR)
        return kefu_diag_msg(b->diag, KEFU_E_NOMEM, "out of memory");
    if (p->error == YAML_READER_ERROR) {
        size_t off = p->problem_offset;
        return kefu_diag_setf(b->diag, KEFU_E_UTF8, b->doc->file, 0, 0, off,
                              "%s at byte %zu",
                              p->problem ? p->problem : "invalid input", off);
    }
    if (p->context)
        return kefu_diag_setf(
            b->diag, KEFU_E_SYNTAX, b->doc->file, (uint32_t)m.line + 1,
            (uint32_t)m.column + 1, MARK_OFFSET(b, m), "%s %s",
            p->problem ? p->problem : "syntax error", p->context);
    return kefu_diag_setf(b->diag, KEFU_E_SYNTAX, b->doc->file,
                          (uint32_t)m.line + 1,
                          (uint32_t)m.column + 1, MARK_OFFSET(b, m),
                          "%s", p->problem ? p->problem : "syntax error");
}

/* Parses one node whose first event is `ev` (already taken). */
static int parse_node(builder *b, yaml_event_t *ev, int depth,
                      kefu_ynode **out)
{
    kefu_ynode *n = NULL;
    int rc = KEFU_OK;
    *out = NULL;
    if (depth > YDOC_MAX_DEPTH)
        return kefu_diag_setf(b->diag, KEFU_E_LIMIT, b->doc->file,
                              (uint32_t)ev->start_mark.line + 1,
                              (uint32_t)ev->start_mark.column + 1,
                              MARK_OFFSET(b, ev->start_mark),
                              "YAML nested deeper than %d levels",
                              YDOC_MAX_DEPTH);
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return kefu_diag_setf(b->diag, KEFU_E_MODEL, b->doc->file,
                              (uint32_t)ev->start_mark.line + 1,
                              (uint32_t)ev->start_mark.column + 1,
                              MARK_OFFSET(b, ev->start_mark),
                              "YAML aliases are not allowed in a model");
    case YAML_SCALAR_EVENT:
        n = node_new(b, KEFU_Y_SCALAR, ev->start_mark);
        if (!n)
            return b->diag ? b->diag->status : KEFU_E_NOMEM;
        n->str = kefu_strndup(&b->doc->mem, (const char *)ev->data.scalar.value,
                              ev->data.scalar.length);
        if (!n->str) {
            node_free(&b->doc->mem, n);
            return kefu_diag_msg(b->diag, KEFU_E_NOMEM, "out of memory");
        }
        n->len = ev->data.scalar.length;
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
            ((ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
              ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) &&
             ev->start_mark.line == ev->end_mark.line)) {
            n->value_line = n->line;
            n->value_column = n->column + (n->quoted ? 1 : 0);
        }
        *out = n;
        return KEFU_OK;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT
                                    : YAML_SEQUENCE_END_EVENT;
        n = node_new(b, map ? KEFU_Y_MAP : KEFU_Y_SEQ, ev->start_mark);
        if (!n)
            return b->diag ? b->diag->status : KEFU_E_NOMEM;
        for (;;) {
            yaml_event_t e1, e2;
            kefu_ynode *k = NULL, *v = NULL;
            if (!yaml_parser_parse(&b->parser, &e1)) {
                rc = parse_error(b);
                break;
            }
            if (e1.type == end) {
                yaml_event_delete(&e1);
                break;
            }
            rc = parse_node(b, &e1, depth + 1, map ? &k : &v);
            yaml_event_delete(&e1);
            if (rc)
                break;
            if (map) {
                if (k->type != KEFU_Y_SCALAR) {
                    rc = kefu_yerr(b->diag, b->doc, k, KEFU_E_MODEL,
                                   "mapping keys must be plain strings");
                    node_free(&b->doc->mem, k);
                    break;
                }
                for (size_t i = 0; i < n->n; i++)
                    if (!strcmp(n->keys[i]->str, k->str)) {
                        rc = kefu_yerr(b->diag, b->doc, k, KEFU_E_MODEL,
                                       "duplicate key '%s' (first at line %u)",
                                       k->str, n->keys[i]->line);
                        break;
                    }
                if (rc) {
                    node_free(&b->doc->mem, k);
                    break;
                }
                if (!yaml_parser_parse(&b->parser, &e2)) {
                    node_free(&b->doc->mem, k);
                    rc = parse_error(b);
                    break;
                }
                rc = parse_node(b, &e2, depth + 1, &v);
                yaml_event_delete(&e2);
                if (rc) {
                    node_free(&b->doc->mem, k);
                    break;
                }
            }
            rc = node_push(b, n, k, v);
            if (rc) {
                node_free(&b->doc->mem, k);
                node_free(&b->doc->mem, v);
                break;
            }
        }
        if (rc) {
            node_free(&b->doc->mem, n);
            return rc;
        }
        *out = n;
        return KEFU_OK;
    }
    default:
        return kefu_diag_setf(b->diag, KEFU_E_SYNTAX, b->doc->file,
                              (uint32_t)ev->start_mark.line + 1,
                              (uint32_t)ev->start_mark.column + 1,
                              MARK_OFFSET(b, ev->start_mark), "unexpected YAML event");
    }
}

int kefu_ydoc_parse(kefu_ydoc *doc, const char *data, size_t len,
                    const char *file, const kefu_allocator *alloc,
                    kefu_diag *diag)
{
    builder b;
    yaml_event_t ev;
    int rc = KEFU_OK;
    bool have_root = false;

    memset(doc, 0, sizeof *doc);
    kefu_mem_init(&doc->mem, alloc);
    doc->file = file;
    doc->src = data;
    doc->src_len = len;
    memset(&b, 0, sizeof b);
    b.doc = doc;
    b.diag = diag;
    {
        size_t bad;
        if (kefu_utf8_validate(data, len, &bad) != KEFU_OK) {
            /* report line and column of the bad byte */
            uint32_t line = 1, col = 1;
            for (size_t i = 0; i < bad; i++) {
                if (data[i] == '\n') {
                    line++;
                    col = 1;
                } else if (((unsigned char)data[i] & 0xC0) != 0x80) {
                    col++;
                }
            }
            return kefu_diag_setf(diag, KEFU_E_UTF8, file, line, col, bad,
                                  "invalid UTF-8 at byte %zu", bad);
        }
    }
    if (!yaml_parser_initialize(&b.parser))
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)data, len);
    yaml_parser_set_encoding(&b.parser, YAML_UTF8_ENCODING);
    for (;;) {
        if (!yaml_parser_parse(&b.parser, &ev)) {
            rc = parse_error(&b);
            break;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT && have_root) {
            rc = kefu_diag_setf(diag, KEFU_E_MODEL, file,
                                (uint32_t)ev.start_mark.line + 1,
                                (uint32_t)ev.start_mark.column + 1,
                                byte_offset(doc, ev.start_mark.line,
                                            ev.start_mark.column),
                                "a model file holds one YAML document");
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_STREAM_START_EVENT ||
            ev.type == YAML_DOCUMENT_START_EVENT ||
            ev.type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        rc = parse_node(&b, &ev, 0, &doc->root);
        have_root = true;
        yaml_event_delete(&ev);
        if (rc)
            break;
    }
    yaml_parser_delete(&b.parser);
    if (rc) {
        kefu_ydoc_free(doc);
        return rc;
    }
    return KEFU_OK;
}

void kefu_ydoc_free(kefu_ydoc *doc)
{
    if (!doc)
        return;
    node_free(&doc->mem, doc->root);
    doc->root = NULL;
}

const kefu_ynode *kefu_ymap_get(const kefu_ynode *map, const char *key)
{
    if (!map || map->type != KEFU_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i]->str, key))
            return map->items[i];
    return NULL;
}

int kefu_yerr(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
              int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kefu_diag_setf(d, status, doc ? doc->file : NULL, n ? n->line : 0,
                          n ? n->column : 0, n ? n->offset : UINT64_MAX, "%s",
                          msg);
}

static const char *type_name(kefu_ytype t)
{
    return t == KEFU_Y_SCALAR ? "a scalar" : t == KEFU_Y_SEQ ? "a list" : "a mapping";
}

int kefu_y_expect(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
                  kefu_ytype type, const char *what)
{
    if (n->type != type)
        return kefu_yerr(d, doc, n, KEFU_E_MODEL, "%s must be %s, not %s",
                         what, type_name(type), type_name(n->type));
    return KEFU_OK;
}

int kefu_y_number(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
                  double lo, double hi, double *out)
{
    char *end;
    double v;
    if (n->type != KEFU_Y_SCALAR || n->len == 0)
        return kefu_yerr(d, doc, n, KEFU_E_MODEL, "expected a number");
    errno = 0;
    v = strtod(n->str, &end);
    if (*end || errno || isnan(v))
        return kefu_yerr(d, doc, n, KEFU_E_MODEL,
                         "expected a number, got '%s'", n->str);
    if (v < lo || v > hi)
        return kefu_yerr(d, doc, n, KEFU_E_MODEL,
                         "%s is outside [%g, %g]", n->str, lo, hi);
    *out = v;
    return KEFU_OK;
}

int kefu_y_int(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
               int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;
    if (n->type != KEFU_Y_SCALAR || n->len == 0)
        return kefu_yerr(d, doc, n, KEFU_E_MODEL, "expected an integer");
    errno = 0;
    v = strtoll(n->str, &end, 10);
    if (*end || errno)
        return kefu_yerr(d, doc, n, KEFU_E_MODEL,
                         "expected an integer, got '%s'", n->str);
    if (v < lo || v > hi)
        return kefu_yerr(d, doc, n, KEFU_E_MODEL,
                         "%s is outside [%lld, %lld]", n->str, (long long)lo,
                         (long long)hi);
    *out = v;
    return KEFU_OK;
}

int kefu_y_bool(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
                bool *out)
{
    if (n->type == KEFU_Y_SCALAR && !n->quoted) {
        if (!strcasecmp(n->str, "true") || !strcasecmp(n->str, "yes") ||
            !strcasecmp(n->str, "on")) {
            *out = true;
            return KEFU_OK;
        }
        if (!strcasecmp(n->str, "false") || !strcasecmp(n->str, "no") ||
            !strcasecmp(n->str, "off")) {
            *out = false;
            return KEFU_OK;
        }
    }
    return kefu_yerr(d, doc, n, KEFU_E_MODEL, "expected true or false");
}

int kefu_y_string(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
                  const char **out, size_t *len)
{
    if (n->type != KEFU_Y_SCALAR)
        return kefu_yerr(d, doc, n, KEFU_E_MODEL, "expected a string, not %s",
                         type_name(n->type));
    if (n->len == 0)
        return kefu_yerr(d, doc, n, KEFU_E_MODEL, "empty string");
    if (strlen(n->str) != n->len)
        return kefu_yerr(d, doc, n, KEFU_E_MODEL, "string contains a NUL byte");
    *out = n->str;
    if (len)
        *len = n->len;
    return KEFU_OK;
}

int kefu_y_keys(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *map,
                const char *const *allowed)
{
    if (map->type != KEFU_Y_MAP)
        return kefu_yerr(d, doc, map, KEFU_E_MODEL, "expected a mapping");
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i]->str;
        size_t j;
        for (j = 0; allowed[j]; j++)
            if (!strcmp(allowed[j], k))
                break;
        if (!allowed[j]) {
            char list[300] = "";
            size_t used = 0;
            for (j = 0; allowed[j] && used < sizeof list - 40; j++)
                used += (size_t)snprintf(list + used, sizeof list - used,
                                         "%s%s", j ? ", " : "", allowed[j]);
            return kefu_yerr(d, doc, map->keys[i], KEFU_E_UNKNOWN,
                             "unknown key '%s' (expected one of: %s)", k, list);
        }
    }
    return KEFU_OK;
}
