/*
 * yaml_doc.h - a YAML document as a small tree with positions, built from
 * libyaml's events.  Section parsers walk this tree and report errors at
 * the node's line and column.  Aliases are refused (they make no sense in a
 * model and are a denial-of-service vector).
 */
#ifndef KEFU_YAML_DOC_H
#define KEFU_YAML_DOC_H

#include "core.h"

typedef enum kefu_ytype { KEFU_Y_SCALAR, KEFU_Y_SEQ, KEFU_Y_MAP } kefu_ytype;

typedef struct kefu_ynode kefu_ynode;
struct kefu_ynode {
    kefu_ytype type;
    uint32_t line, column;      /* 1-based */
    uint64_t offset;            /* byte offset in the file */
    bool quoted;                /* scalar was written quoted or as a block */
    char *str;                  /* scalar value, NUL-terminated */
    size_t len;
    /* SEQ: items; MAP: keys[i] -> items[i] */
    kefu_ynode **keys;
    kefu_ynode **items;
    size_t n, cap;
    /* For block scalars and quoted scalars the content does not start at
     * (line, column); value_line/value_column give where the first byte of
     * `str` sits in the file when it can be known (plain and single-line
     * quoted scalars), else 0. */
    uint32_t value_line, value_column;
};

typedef struct kefu_ydoc {
    kefu_mem mem;
    kefu_ynode *root;
    const char *file;   /* name for diagnostics (borrowed) */
    const char *src;    /* the source text (borrowed) */
    size_t src_len;
} kefu_ydoc;

/* Parses `len` bytes; on error fills diag (file:line:column) and returns a
 * status; doc is then empty.  Limits: depth 64, 4 Mi nodes. */
int kefu_ydoc_parse(kefu_ydoc *doc, const char *data, size_t len,
                    const char *file, const kefu_allocator *alloc,
                    kefu_diag *diag);
void kefu_ydoc_free(kefu_ydoc *doc);

/* Looks up a key in a mapping; NULL if absent or `map` is not a mapping. */
const kefu_ynode *kefu_ymap_get(const kefu_ynode *map, const char *key);

/* Error at a node: "file:line:column: message". Returns status. */
int kefu_yerr(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
              int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Typed scalar readers: each reports a KEFU_E_MODEL error at the node. */
int kefu_y_expect(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
                  kefu_ytype type, const char *what);
int kefu_y_number(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
                  double lo, double hi, double *out);
int kefu_y_int(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
               int64_t lo, int64_t hi, int64_t *out);
int kefu_y_bool(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
                bool *out);
/* A non-empty string scalar that is valid UTF-8. */
int kefu_y_string(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *n,
                  const char **out, size_t *len);
/*
 * Checks that every key of `map` is in `allowed` (NULL-terminated); an
 * unknown key is a KEFU_E_UNKNOWN error at the key, naming the allowed ones.
 */
int kefu_y_keys(kefu_diag *d, const kefu_ydoc *doc, const kefu_ynode *map,
                const char *const *allowed);

#endif
