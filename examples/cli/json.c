/* json.c - a small recursive-descent JSON reader (depth-limited). */
#include "json.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *p, *end;
    const char *err;
    int depth;
} parser;

static void ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
                               *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static jval *mk(jtype t)
{
    jval *v = calloc(1, sizeof *v);
    if (v)
        v->type = t;
    return v;
}

void json_free(jval *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys)
            free(v->keys[i]);
        json_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->str);
    free(v);
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static char *string(parser *ps, size_t *len)
{
    size_t cap = 32, n = 0;
    char *out = malloc(cap);
    ps->p++; /* opening quote */
    while (out && ps->p < ps->end && *ps->p != '"') {
        unsigned c = (unsigned char)*ps->p++;
        char enc[4];
        size_t k = 1;
        if (c < 0x20) {
            ps->err = "control character in string";
            free(out);
            return NULL;
        }
        if (c == '\\') {
            if (ps->p >= ps->end)
                break;
            c = (unsigned char)*ps->p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case '"': case '\\': case '/': break;
            case 'u': {
                unsigned u;
                if (ps->end - ps->p < 4 || hex4(ps->p, &u)) {
                    ps->err = "bad \\u escape";
                    free(out);
                    return NULL;
                }
                ps->p += 4;
                if (u >= 0xD800 && u < 0xDC00 && ps->end - ps->p >= 6 &&
                    ps->p[0] == '\\' && ps->p[1] == 'u') {
                    unsigned lo;
                    if (!hex4(ps->p + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                        ps->p += 6;
                    }
                }
                if (u >= 0xD800 && u < 0xE000)
                    u = 0xFFFD;
                if (u < 0x80) { enc[0] = (char)u; k = 1; }
                else if (u < 0x800) { enc[0] = (char)(0xC0 | u >> 6); enc[1] = (char)(0x80 | (u & 0x3F)); k = 2; }
                else if (u < 0x10000) { enc[0] = (char)(0xE0 | u >> 12); enc[1] = (char)(0x80 | ((u >> 6) & 0x3F)); enc[2] = (char)(0x80 | (u & 0x3F)); k = 3; }
                else { enc[0] = (char)(0xF0 | u >> 18); enc[1] = (char)(0x80 | ((u >> 12) & 0x3F)); enc[2] = (char)(0x80 | ((u >> 6) & 0x3F)); enc[3] = (char)(0x80 | (u & 0x3F)); k = 4; }
                goto put;
            }
            default:
                ps->err = "bad escape";
                free(out);
                return NULL;
            }
        }
        enc[0] = (char)c;
        k = 1;
    put:
        if (n + k + 1 > cap) {
            char *o2 = realloc(out, cap *= 2);
            if (!o2) {
                free(out);
                return NULL;
            }
            out = o2;
        }
        memcpy(out + n, enc, k);
        n += k;
    }
    if (!out)
        return NULL;
    if (ps->p >= ps->end) {
        ps->err = "unterminated string";
        free(out);
        return NULL;
    }
    ps->p++;
    out[n] = '\0';
    *len = n;
    return out;
}

static jval *value(parser *ps);

static int push(jval *v, char *key, jval *item)
{
    char **nk = v->type == J_OBJ ? realloc(v->keys, (v->n + 1) * sizeof *nk) : NULL;
    jval **ni = realloc(v->items, (v->n + 1) * sizeof *ni);
    if (v->type == J_OBJ) {
        if (!nk)
            return -1;
        v->keys = nk;
        nk[v->n] = key;
    }
    if (!ni)
        return -1;
    v->items = ni;
    ni[v->n++] = item;
    return 0;
}

static jval *container(parser *ps, char close)
{
    jval *v = mk(close == '}' ? J_OBJ : J_ARR);
    if (!v || ++ps->depth > 64) {
        ps->err = "nested too deep";
        json_free(v);
        return NULL;
    }
    ps->p++;
    ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        size_t kl;
        jval *item;
        ws(ps);
        if (close == '}') {
            if (ps->p >= ps->end || *ps->p != '"') {
                ps->err = "expected a key";
                break;
            }
            if (!(key = string(ps, &kl)))
                break;
            ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                ps->err = "expected ':'";
                free(key);
                break;
            }
            ps->p++;
        }
        if (!(item = value(ps)) || push(v, key, item)) {
            free(key);
            json_free(item);
            break;
        }
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return v;
        }
        ps->err = "expected ',' or a closing bracket";
        break;
    }
    if (!ps->err)
        ps->err = "out of memory";
    json_free(v);
    return NULL;
}

static jval *value(parser *ps)
{
    jval *v;
    ws(ps);
    if (ps->p >= ps->end) {
        ps->err = "unexpected end";
        return NULL;
    }
    switch (*ps->p) {
    case '{': return container(ps, '}');
    case '[': return container(ps, ']');
    case '"':
        if (!(v = mk(J_STR)) || !(v->str = string(ps, &v->len))) {
            json_free(v);
            return NULL;
        }
        return v;
    case 't': case 'f': case 'n': {
        static const char *const words[] = {"true", "false", "null"};
        for (int i = 0; i < 3; i++) {
            size_t l = strlen(words[i]);
            if ((size_t)(ps->end - ps->p) >= l && !memcmp(ps->p, words[i], l)) {
                ps->p += l;
                v = mk(i == 2 ? J_NULL : J_BOOL);
                if (v)
                    v->num = i == 0;
                return v;
            }
        }
        ps->err = "unexpected word";
        return NULL;
    }
    default: {
        char buf[64], *endp;
        size_t n = 0;
        while (ps->p + n < ps->end && n < sizeof buf - 1 &&
               strchr("+-0123456789.eE", ps->p[n]))
            n++;
        memcpy(buf, ps->p, n);
        buf[n] = '\0';
        if (!n || !(v = mk(J_NUM))) {
            ps->err = "unexpected character";
            return NULL;
        }
        v->num = strtod(buf, &endp);
        if (*endp) {
            ps->err = "bad number";
            json_free(v);
            return NULL;
        }
        ps->p += n;
        return v;
    }
    }
}

jval *json_parse(const char *s, size_t len, const char **err)
{
    parser ps = {s, s + len, NULL, 0};
    jval *v = value(&ps);
    if (v) {
        ws(&ps);
        if (ps.p != ps.end) {
            ps.err = "trailing characters";
            json_free(v);
            v = NULL;
        }
    }
    if (!v && err)
        *err = ps.err ? ps.err : "invalid JSON";
    return v;
}

const jval *json_get(const jval *obj, const char *key)
{
    if (!obj || obj->type != J_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return obj->items[i];
    return NULL;
}
