/* json.h - a small JSON reader for the command line's JSON-lines input. */
#ifndef KEFU_CLI_JSON_H
#define KEFU_CLI_JSON_H

#include <stddef.h>

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval jval;
struct jval {
    jtype type;
    double num;        /* J_NUM, J_BOOL (0/1) */
    char *str;         /* J_STR (NUL-terminated, may contain no NUL) */
    size_t len;
    char **keys;       /* J_OBJ */
    jval **items;      /* J_ARR, J_OBJ */
    size_t n;
};

/* Parses one JSON value (the whole of s); NULL with *err set on error. */
jval *json_parse(const char *s, size_t len, const char **err);
void json_free(jval *v);
/* Member of an object, or NULL. */
const jval *json_get(const jval *obj, const char *key);

#endif
