/*
 * kefu.c - the Lua module `kefu` (luaopen_kefu): one source for the Lua 5.1
 * ABI (Lua 5.1, LuaJIT 2.1: nginx's Lua module, Kamailio's app_lua) and for
 * Lua 5.2-5.4.  Uses the public header only.
 *
 * Rules this file keeps (doc/lua.md says more):
 *  - One metatable per handle type, checked with luaL_checkudata; each has
 *    __gc and an idempotent close().
 *  - Run-time failures return nil, message, code (code: the negative kefu
 *    status; kefu.E_* names them).  Wrong argument types raise, as usual.
 *  - No malloc'd memory is live while a Lua call can raise (longjmp): every
 *    kefu object is created into a userdata box that already has its __gc,
 *    diagnostics are formatted into a stack buffer and freed before the
 *    message is pushed, and byte buffers are Lua userdata.
 *  - luaopen_kefu only builds tables (Kamailio runs it in every process);
 *    the text scratch is created on first use.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "kefu.h"

/* ------------------------------------------------------------ compat */

#if LUA_VERSION_NUM < 502
#  define lua_rawlen lua_objlen
static void compat_setfuncs(lua_State *L, const luaL_Reg *l)
{
    luaL_register(L, NULL, l);
}
#else
static void compat_setfuncs(lua_State *L, const luaL_Reg *l)
{
    luaL_setfuncs(L, l, 0);
}
#endif
/* A userdata box for a C handle (Lua 5.4: with one user value). */
#define newbox(L, sz) lua_newuserdata(L, sz)

/* Makes the userdata at idx keep the value on top alive (and pops it):
 * its environment table in 5.1, its user value in 5.2+. */
static void keep_ref(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
#if LUA_VERSION_NUM < 502
    lua_createtable(L, 1, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_setfenv(L, idx);
#elif LUA_VERSION_NUM < 504
    lua_setuservalue(L, idx);
#else
    lua_setiuservalue(L, idx, 1);
#endif
}

/* Whether the C cast of v to int64_t is defined (its fraction dropped):
 * not for NaN or beyond the range. */
static int fits_i64(double v)
{
    return v > -9223372036854775809.0 && v < 9223372036854775808.0;
}

static int64_t check_i64(lua_State *L, int idx)
{
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, idx))
        return (int64_t)lua_tointeger(L, idx);
#endif
    {
        double v = luaL_checknumber(L, idx);
        if (!fits_i64(v))
            return luaL_argerror(L, idx, "a number in the int64 range expected");
        return (int64_t)v;
    }
}

static int64_t opt_i64(lua_State *L, int idx, int64_t def)
{
    return lua_isnoneornil(L, idx) ? def : check_i64(L, idx);
}

static void push_i64(lua_State *L, int64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
}

/* ----------------------------------------------------------- errors */

#define MT_MODEL "kefu.model"
#define MT_RULES "kefu.ruleset"
#define MT_ROUTER "kefu.router"
#define MT_TRACK "kefu.emotion_track"
#define MT_TEXT "kefu.text"
#define MT_DIAG "kefu.diag"

/* Pushes nil, "file:line:column: message", status. */
static int push_diag_error(lua_State *L, int status, const kefu_diag *d)
{
    char buf[1024];
    if (d && kefu_diag_status(d) != KEFU_OK)
        kefu_diag_format(d, buf, sizeof buf);
    else
        snprintf(buf, sizeof buf, "%s", kefu_strerror(status));
    lua_pushnil(L);
    lua_pushstring(L, buf);
    lua_pushinteger(L, status);
    return 3;
}

static int push_error(lua_State *L, int status, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg ? msg : kefu_strerror(status));
    lua_pushinteger(L, status);
    return 3;
}

static int closed_error(lua_State *L, const char *what)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s is closed", what);
    return push_error(L, KEFU_E_STATE, buf);
}

/* A caller-owned diag in a box, so a raise cannot leak it. */
typedef struct diag_box { kefu_diag *d; } diag_box;

static int diag_gc(lua_State *L)
{
    diag_box *b = luaL_checkudata(L, 1, MT_DIAG);
    kefu_diag_free(b->d);
    b->d = NULL;
    return 0;
}

/* Pushes the box; returns the diag (NULL when out of memory: loaders
 * accept a NULL diag). */
static kefu_diag *new_diag(lua_State *L)
{
    diag_box *b = newbox(L, sizeof *b);
    b->d = NULL;
    luaL_getmetatable(L, MT_DIAG);
    lua_setmetatable(L, -2);
    b->d = kefu_diag_new(NULL);
    return b->d;
}

static void free_diag(lua_State *L, int idx)
{
    diag_box *b = luaL_checkudata(L, idx, MT_DIAG);
    kefu_diag_free(b->d);
    b->d = NULL;
}

/* ------------------------------------------------------------- model */

/* A model and the scratch the module classifies with (a Lua state is one
 * thread).  Sessions count as users: a model closed (or collected) while
 * sessions use it is freed with the last of them. */
typedef struct model_box {
    kefu_model *m;
    kefu_scratch *s;
    uint32_t users;   /* live sessions */
    int closed;
    uint32_t top;     /* top-k set on the scratch; 0 = the default */
} model_box;

static model_box *check_model(lua_State *L)
{
    return luaL_checkudata(L, 1, MT_MODEL);
}

static int model_dead(const model_box *b)
{
    return !b->m || b->closed;
}

static void model_release(model_box *b)
{
    kefu_scratch_free(b->s);
    b->s = NULL;
    b->closed = 1;
    if (b->users == 0) {
        kefu_model_free(b->m);
        b->m = NULL;
    }
}

static void model_unuse(model_box *b)
{
    if (--b->users == 0 && b->closed) {
        kefu_model_free(b->m);
        b->m = NULL;
    }
}

static int model_close(lua_State *L)
{
    model_release(check_model(L));
    return 0;
}

static model_box *new_model_box(lua_State *L)
{
    model_box *b = newbox(L, sizeof *b);
    memset(b, 0, sizeof *b);
    luaL_getmetatable(L, MT_MODEL);
    lua_setmetatable(L, -2);
    return b;
}

/* Stack on entry: ... box diagbox.  Leaves the model or nil,msg,code. */
static int finish_load(lua_State *L, model_box *b, int rc, kefu_diag *d)
{
    if (rc == KEFU_OK)
        rc = kefu_scratch_new(&b->s, b->m, NULL);
    if (rc != KEFU_OK) {
        char buf[1024];
        if (d && kefu_diag_status(d) != KEFU_OK)
            kefu_diag_format(d, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%s", kefu_strerror(rc));
        free_diag(L, -1);
        model_release(b);
        return push_error(L, rc, buf);
    }
    free_diag(L, -1);
    lua_pop(L, 1);
    return 1;
}

/* kefu.load(path) -> model | nil, message, code */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    model_box *b = new_model_box(L);
    kefu_diag *d = new_diag(L);
    return finish_load(L, b, kefu_model_load(&b->m, path, NULL, d), d);
}

/* kefu.load_buffer(data [, name [, base_dir]]) */
static int l_load_buffer(lua_State *L)
{
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, NULL);
    const char *base = luaL_optstring(L, 3, NULL);
    model_box *b = new_model_box(L);
    kefu_diag *d = new_diag(L);
    return finish_load(L, b, kefu_model_load_buffer(&b->m, data, len, name,
                                                    base, NULL, d), d);
}

/* Training progress calls back into Lua under lua_pcall so that an error
 * in the callback cannot longjmp across libkefu's frames. */
typedef struct train_ctx {
    lua_State *L;
    int fn;          /* stack index of the callback */
    int failed;      /* the callback raised; its error is kept */
} train_ctx;

static void train_progress(uint32_t epoch, uint32_t epochs, double loss,
                           double acc, void *user)
{
    train_ctx *c = user;
    lua_State *L = c->L;
    if (c->failed)
        return;
    if (!lua_checkstack(L, 6)) {
        c->failed = 1;
        return;
    }
    lua_pushvalue(L, c->fn);
    lua_pushinteger(L, epoch);
    lua_pushinteger(L, epochs);
    lua_pushnumber(L, loss);
    if (acc >= 0)
        lua_pushnumber(L, acc);
    else
        lua_pushnil(L);
    if (lua_pcall(L, 4, 0, 0) != 0)
        c->failed = 1;  /* error message left on the stack */
}

static const char *opt_field_string(lua_State *L, int t, const char *k)
{
    const char *s = NULL;
    lua_getfield(L, t, k);
    if (!lua_isnil(L, -1))
        s = luaL_checkstring(L, -1);
    lua_pop(L, 1);  /* still referenced by the options table */
    return s;
}

static double opt_field_number(lua_State *L, int t, const char *k, double def)
{
    double v = def;
    lua_getfield(L, t, k);
    if (!lua_isnil(L, -1))
        v = luaL_checknumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* An optional integer field of table t, its fraction dropped (as a C
 * cast does); outside [lo, hi] or NaN a Lua error naming it, instead of a
 * C cast of an out-of-range double (undefined behaviour). */
static int64_t opt_field_int(lua_State *L, int t, const char *k, int64_t def,
                             double lo, double hi)
{
    double v = opt_field_number(L, t, k, (double)def);
    if (!(v > lo - 1 && v < hi + 1)) {
        char msg[160]; /* luaL_error's format has no precision */
        snprintf(msg, sizeof msg, "%s must be a number from %.0f to %.0f, not %g",
                 k, lo, hi, v);
        return (int64_t)luaL_error(L, "%s", msg);
    }
    return (int64_t)v;
}
/* An optional number field for a float: beyond float's range an error
 * (the cast would be undefined), NaN passed on for the library to refuse. */
static float opt_field_float(lua_State *L, int t, const char *k, double def)
{
    double v = opt_field_number(L, t, k, def);
    if (v < -FLT_MAX || v > FLT_MAX)
        return (float)luaL_error(L, "%s is beyond the range of a float", k);
    return (float)v;
}
#define U32_RANGE 0.0, 4294967295.0
#define I32_RANGE -2147483648.0, 2147483647.0
#define EXACT_RANGE -9007199254740992.0, 9007199254740992.0 /* +-2^53 */

/* The kefu_task named "intent" or "emotion" into *out; 0 for another name. */
static int task_of(const char *name, uint32_t *out)
{
    if (!strcmp(name, "intent"))
        *out = KEFU_TASK_INTENT;
    else if (!strcmp(name, "emotion"))
        *out = KEFU_TASK_EMOTION;
    else
        return 0;
    return 1;
}

/* kefu.train(train_tsv [, {val=, config=, epochs=, learning_rate=, seed=,
 *   task="intent"|"emotion", progress=function(epoch, epochs, loss, acc)}]) */
static int l_train(lua_State *L)
{
    const char *tsv = luaL_checkstring(L, 1);
    const char *val = NULL, *config = NULL, *task = "intent";
    kefu_train_options o;
    train_ctx ctx = { L, 0, 0 };
    int top, rc;

    kefu_train_options_init(&o);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        val = opt_field_string(L, 2, "val");
        config = opt_field_string(L, 2, "config");
        o.epochs = (uint32_t)opt_field_int(L, 2, "epochs", 0, U32_RANGE);
        o.learning_rate = opt_field_float(L, 2, "learning_rate", 0);
        o.seed = (uint64_t)opt_field_int(L, 2, "seed", 0, 0.0, 9007199254740992.0);
        const char *t = opt_field_string(L, 2, "task");
        if (t)
            task = t;
        lua_getfield(L, 2, "progress");
        if (lua_isfunction(L, -1)) {
            ctx.fn = lua_gettop(L);
            o.progress = train_progress;
            o.user = &ctx;
        } else {
            lua_pop(L, 1);
        }
    }
    if (!task_of(task, &o.task))
        return push_error(L, KEFU_E_ARG, "task must be \"intent\" or \"emotion\"");
    model_box *b = new_model_box(L);
    kefu_diag *d = new_diag(L);
    top = lua_gettop(L);
    rc = kefu_model_train(&b->m, config, tsv, val, &o, NULL, d);
    if (ctx.failed) {
        /* the callback's error message is above the diag box */
        char msg[512];
        const char *e = lua_gettop(L) > top ? lua_tostring(L, -1) : NULL;
        snprintf(msg, sizeof msg, "progress callback failed: %s",
                 e ? e : "(no message)");
        lua_settop(L, top);
        free_diag(L, -1);
        model_release(b);
        return push_error(L, KEFU_E_STATE, msg);
    }
    return finish_load(L, b, rc, d);
}

static int l_model_save(lua_State *L)
{
    model_box *b = check_model(L);
    const char *path = luaL_checkstring(L, 2);
    if (model_dead(b))
        return closed_error(L, "model");
    kefu_diag *d = new_diag(L);
    int rc = kefu_model_save(b->m, path, d);
    if (rc != KEFU_OK) {
        char buf[1024];
        if (d)
            kefu_diag_format(d, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%s", kefu_strerror(rc));
        free_diag(L, -1);
        return push_error(L, rc, buf);
    }
    free_diag(L, -1);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_model_name(lua_State *L)
{
    model_box *b = check_model(L);
    if (model_dead(b))
        return closed_error(L, "model");
    lua_pushstring(L, kefu_model_name(b->m));
    return 1;
}

/* Pushes a list of the model's names (intents, entities, labels). */
static int push_model_names(lua_State *L, const kefu_model *m,
                            size_t (*count)(const kefu_model *),
                            const char *(*name)(const kefu_model *, size_t))
{
    size_t n = count(m);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, name(m, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static int l_model_intents(lua_State *L)
{
    model_box *b = check_model(L);
    if (model_dead(b))
        return closed_error(L, "model");
    return push_model_names(L, b->m, kefu_model_intent_count, kefu_model_intent_name);
}

static int l_model_intent_skills(lua_State *L)
{
    model_box *b = check_model(L);
    const char *name = luaL_checkstring(L, 2);
    if (model_dead(b))
        return closed_error(L, "model");
    size_t n = kefu_model_intent_count(b->m), i;
    for (i = 0; i < n; i++)
        if (!strcmp(kefu_model_intent_name(b->m, i), name))
            break;
    if (i == n)
        return push_error(L, KEFU_E_UNKNOWN, "no such intent");
    lua_newtable(L);
    const char *s;
    for (size_t j = 0; (s = kefu_model_intent_skill(b->m, i, j)); j++) {
        lua_pushstring(L, s);
        lua_rawseti(L, -2, (int)j + 1);
    }
    return 1;
}

static int l_model_entity_names(lua_State *L)
{
    model_box *b = check_model(L);
    if (model_dead(b))
        return closed_error(L, "model");
    return push_model_names(L, b->m, kefu_model_entity_count, kefu_model_entity_name);
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v ? v : "");
    lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

/* Pushes the entities of the scratch's last extraction as an array. */
static void push_entities(lua_State *L, kefu_scratch *s)
{
    size_t n = kefu_entity_count(s);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        kefu_entity e;
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        if (kefu_entity_get(s, i, &e) != KEFU_OK)
            continue;
        lua_createtable(L, 0, 6);
        set_str(L, "name", e.name);
        lua_pushlstring(L, e.value, e.value_len);
        lua_setfield(L, -2, "value");
        set_int(L, "byte_start", e.byte_start);
        set_int(L, "byte_end", e.byte_end);
        set_int(L, "char_start", e.char_start);
        set_int(L, "char_end", e.char_end);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

static int scratch_error(lua_State *L, model_box *b, int rc)
{
    return push_diag_error(L, rc, kefu_scratch_diag(b->s));
}

/* m:classify(text [, {top=k, entities=false}]) */
static int l_model_classify(lua_State *L)
{
    model_box *b = check_model(L);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    int want_entities = 1;
    kefu_intent_result r;
    int rc;

    if (model_dead(b))
        return closed_error(L, "model");
    uint32_t top = 5;   /* the library's default, unless asked */
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "top");
        if (!lua_isnil(L, -1))
            top = (uint32_t)luaL_checkinteger(L, -1);
        lua_getfield(L, 3, "entities");
        if (lua_isboolean(L, -1))
            want_entities = lua_toboolean(L, -1);
        lua_pop(L, 2);
    }
    if (top != (b->top ? b->top : 5)) {
        rc = kefu_classify_set_top(b->s, top);
        if (rc != KEFU_OK)
            return scratch_error(L, b, rc);
        b->top = top;
    }
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    rc = kefu_classify(b->s, text, len, &r);
    if (rc != KEFU_OK)
        return scratch_error(L, b, rc);
    lua_createtable(L, 0, 9);
    set_str(L, "intent", r.intent);
    set_num(L, "confidence", r.confidence);
    set_num(L, "margin", r.margin);
    set_bool(L, "out_of_scope", r.out_of_scope != 0);
    set_int(L, "pattern", r.pattern);
    size_t n = kefu_classify_top_count(b->s);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        float conf = 0;
        if (kefu_classify_top(b->s, i, &name, &conf) != KEFU_OK)
            break;
        lua_createtable(L, 0, 2);
        set_str(L, "intent", name);
        set_num(L, "confidence", conf);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "top");
    lua_newtable(L);
    const char *slot;
    for (size_t i = 0; (slot = kefu_classify_missing_slot(b->s, i)); i++) {
        lua_pushstring(L, slot);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "missing_slots");
    if (want_entities) {
        rc = kefu_entities_extract(b->s, text, len);
        if (rc != KEFU_OK)
            return scratch_error(L, b, rc);
        push_entities(L, b->s);
        lua_setfield(L, -2, "entities");
    }
    return 1;
}

static int l_model_entities(lua_State *L)
{
    model_box *b = check_model(L);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    if (model_dead(b))
        return closed_error(L, "model");
    int rc = kefu_entities_extract(b->s, text, len);
    if (rc != KEFU_OK)
        return scratch_error(L, b, rc);
    push_entities(L, b->s);
    return 1;
}

/* m:explain(text [, limit=20]) -> {{kind=, text=, weight=}, ...} */
static int l_model_explain(lua_State *L)
{
    model_box *b = check_model(L);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    lua_Integer limit = luaL_optinteger(L, 3, 20);
    kefu_explain_item items[64];
    kefu_intent_result r;

    if (model_dead(b))
        return closed_error(L, "model");
    if (limit < 1 || limit > 64)
        return push_error(L, KEFU_E_ARG, "limit must be 1..64");
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    int rc = kefu_classify(b->s, text, len, &r);
    if (rc != KEFU_OK)
        return scratch_error(L, b, rc);
    for (int i = 0; i < limit; i++) {
        memset(&items[i], 0, sizeof items[i]);
        items[i].size = sizeof items[i];
    }
    size_t n = kefu_classify_explain(b->s, items, (size_t)limit);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        set_str(L, "kind", items[i].kind == KEFU_EXPLAIN_PATTERN ? "pattern"
                                                                  : "feature");
        lua_pushlstring(L, items[i].text, items[i].text_len);
        lua_setfield(L, -2, "text");
        set_num(L, "weight", items[i].weight);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static void push_emotion(lua_State *L, const float *score, float neg)
{
    lua_createtable(L, 0, KEFU_EMOTION_COUNT + 1);
    for (int c = 0; c < KEFU_EMOTION_COUNT; c++)
        set_num(L, kefu_emotion_category_name(c), score[c]);
    set_num(L, "negativity", neg);
}

/* m:emotion(text) -> {anger=, anxiety=, ..., negativity=} */
static int l_model_emotion(lua_State *L)
{
    model_box *b = check_model(L);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    kefu_emotion e;
    if (model_dead(b))
        return closed_error(L, "model");
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    int rc = kefu_emotion_score(b->s, text, len, &e);
    if (rc != KEFU_OK)
        return scratch_error(L, b, rc);
    push_emotion(L, e.score, e.negativity);
    return 1;
}

/* m:redact(text) -> redacted, {{kind=, name=, byte_start=, ...}, ...} */
static int l_model_redact(lua_State *L)
{
    static const char *const kinds[] = { "", "email", "id_card",
                                         "bank_card", "phone", "custom" };
    model_box *b = check_model(L);
    size_t len, rlen = 0;
    const char *text = luaL_checklstring(L, 2, &len);
    if (model_dead(b))
        return closed_error(L, "model");
    int rc = kefu_redact(b->s, text, len);
    if (rc != KEFU_OK)
        return scratch_error(L, b, rc);
    const char *red = kefu_redacted(b->s, &rlen);
    lua_pushlstring(L, red, rlen);
    size_t n = kefu_redaction_count(b->s);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        kefu_redaction r;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        if (kefu_redaction_get(b->s, i, &r) != KEFU_OK)
            continue;
        lua_createtable(L, 0, 6);
        set_str(L, "kind", r.kind <= 5 ? kinds[r.kind] : "");
        set_str(L, "name", r.name);
        set_int(L, "byte_start", r.byte_start);
        set_int(L, "byte_end", r.byte_end);
        set_int(L, "char_start", r.char_start);
        set_int(L, "char_end", r.char_end);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 2;
}

/* m:classifier_info([task]) -> {classes=, features=, examples=,
 * temperature=, threshold=, margin=, oos_index= (1-based, or absent)}: what
 * training chose for the intents ("intent", the default) or the trained
 * emotion labels ("emotion") */
static int l_model_classifier_info(lua_State *L)
{
    model_box *b = check_model(L);
    const char *task = luaL_optstring(L, 2, "intent");
    kefu_classifier_info ci;
    uint32_t t;
    int rc;
    if (model_dead(b))
        return closed_error(L, "model");
    if (!task_of(task, &t))
        return push_error(L, KEFU_E_ARG, "task must be \"intent\" or \"emotion\"");
    ci.size = sizeof ci;
    rc = kefu_model_classifier_info(b->m, t, &ci);
    if (rc != KEFU_OK)
        return push_error(L, rc, rc == KEFU_E_STATE ? "the model has no such classifier" : NULL);
    lua_createtable(L, 0, 7);
    set_int(L, "classes", ci.classes);
    set_int(L, "features", ci.features);
    set_int(L, "examples", ci.examples);
    set_num(L, "temperature", ci.temperature);
    set_num(L, "threshold", ci.threshold);
    set_num(L, "margin", ci.margin);
    if (ci.oos_index >= 0)
        set_int(L, "oos_index", (lua_Integer)ci.oos_index + 1);
    return 1;
}

/* m:emotion_labels() -> the labels of a model trained on emotion data */
static int l_model_emotion_label_names(lua_State *L)
{
    model_box *b = check_model(L);
    if (model_dead(b))
        return closed_error(L, "model");
    return push_model_names(L, b->m, kefu_model_emotion_label_count, kefu_model_emotion_label_name);
}

/* m:classify_emotion(text) -> {labels={...}, probs={label=p, ...}} */
static int l_model_classify_emotion(lua_State *L)
{
    enum { MAXL = 64 };
    model_box *b = check_model(L);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    float probs[MAXL];
    if (model_dead(b))
        return closed_error(L, "model");
    size_t n = kefu_model_emotion_label_count(b->m);
    if (n > MAXL)
        n = MAXL;
    int rc = kefu_emotion_classify(b->s, text, len, probs, n);
    if (rc != KEFU_OK)
        return scratch_error(L, b, rc);
    lua_createtable(L, 0, 2);
    size_t k = kefu_emotion_label_count(b->s);
    lua_createtable(L, (int)k, 0);
    for (size_t i = 0; i < k; i++) {
        lua_pushstring(L, kefu_emotion_label(b->s, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "labels");
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++)
        set_num(L, kefu_model_emotion_label_name(b->m, i), probs[i]);
    lua_setfield(L, -2, "probs");
    return 1;
}

static int l_model_tostring(lua_State *L)
{
    model_box *b = check_model(L);
    if (model_dead(b))
        lua_pushstring(L, "kefu.model (closed)");
    else
        lua_pushfstring(L, "kefu.model (%s, %d intents)", kefu_model_name(b->m),
                        (int)kefu_model_intent_count(b->m));
    return 1;
}

/* ------------------------------------------------------------- text */

typedef struct text_box { kefu_text *t; } text_box;

static int text_gc(lua_State *L)
{
    text_box *b = luaL_checkudata(L, 1, MT_TEXT);
    kefu_text_free(b->t);
    b->t = NULL;
    return 0;
}

/* The module's text scratch, made on first use and kept in the registry. */
static kefu_text *get_text(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, MT_TEXT ".shared");
    text_box *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (b && b->t)
        return b->t;
    b = newbox(L, sizeof *b);
    b->t = NULL;
    luaL_getmetatable(L, MT_TEXT);
    lua_setmetatable(L, -2);
    if (kefu_text_new(&b->t, NULL) != KEFU_OK) {
        lua_pop(L, 1);
        return NULL;
    }
    lua_setfield(L, LUA_REGISTRYINDEX, MT_TEXT ".shared");
    return b->t;
}

static int l_normalize(lua_State *L)
{
    size_t len, n = 0;
    const char *s = luaL_checklstring(L, 1, &len);
    kefu_text *t = get_text(L);
    if (!t)
        return push_error(L, KEFU_E_NOMEM, NULL);
    int rc = kefu_text_run(t, s, len);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_text_diag(t));
    const char *out = kefu_text_normalized(t, &n);
    lua_pushlstring(L, out ? out : "", n);
    return 1;
}

static int l_tokenize(lua_State *L)
{
    static const char *const kinds[] = { "", "word", "cjk", "number",
                                         "emoji", "punct", "symbol" };
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    kefu_text *t = get_text(L);
    if (!t)
        return push_error(L, KEFU_E_NOMEM, NULL);
    int rc = kefu_text_run(t, s, len);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_text_diag(t));
    size_t n = kefu_text_token_count(t);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        kefu_token k;
        memset(&k, 0, sizeof k);
        k.size = sizeof k;
        if (kefu_text_token(t, i, &k) != KEFU_OK)
            continue;
        lua_createtable(L, 0, 6);
        lua_pushlstring(L, k.text, k.text_len);
        lua_setfield(L, -2, "text");
        set_str(L, "kind", k.kind <= 6 ? kinds[k.kind] : "");
        set_int(L, "byte_start", k.byte_start);
        set_int(L, "byte_end", k.byte_end);
        set_int(L, "char_start", k.char_start);
        set_int(L, "char_end", k.char_end);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static int l_version(lua_State *L)
{
    lua_pushstring(L, kefu_version_string());
    return 1;
}

static int l_version_number(lua_State *L)
{
    lua_pushinteger(L, kefu_version_number());
    return 1;
}

static int l_strerror(lua_State *L)
{
    lua_pushstring(L, kefu_strerror((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* ------------------------------------------------------------ rules */

typedef struct rules_box {
    kefu_ruleset *rs;
    kefu_facts *facts;        /* reused by evaluate */
    kefu_rules_result *res;
} rules_box;

static rules_box *check_rules(lua_State *L)
{
    return luaL_checkudata(L, 1, MT_RULES);
}

static int rules_close(lua_State *L)
{
    rules_box *b = check_rules(L);
    kefu_rules_result_free(b->res);
    b->res = NULL;
    kefu_facts_free(b->facts);
    b->facts = NULL;
    kefu_ruleset_free(b->rs);
    b->rs = NULL;
    return 0;
}

static rules_box *new_rules_box(lua_State *L)
{
    rules_box *b = newbox(L, sizeof *b);
    memset(b, 0, sizeof *b);
    luaL_getmetatable(L, MT_RULES);
    lua_setmetatable(L, -2);
    return b;
}

/* Stack: ... rulesbox diagbox */
static int finish_rules(lua_State *L, rules_box *b, int rc, kefu_diag *d)
{
    if (rc == KEFU_OK)
        rc = kefu_facts_new(&b->facts, b->rs, NULL);
    if (rc == KEFU_OK)
        rc = kefu_rules_result_new(&b->res, NULL);
    if (rc != KEFU_OK) {
        char buf[1024];
        if (d && kefu_diag_status(d) != KEFU_OK)
            kefu_diag_format(d, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%s", kefu_strerror(rc));
        free_diag(L, -1);
        lua_pop(L, 1);
        lua_pushcfunction(L, rules_close);
        lua_pushvalue(L, -2);
        lua_call(L, 1, 0);
        return push_error(L, rc, buf);
    }
    free_diag(L, -1);
    lua_pop(L, 1);
    return 1;
}

/* m:rules() -> the model's rule set */
static int l_model_rules(lua_State *L)
{
    model_box *m = check_model(L);
    if (model_dead(m))
        return closed_error(L, "model");
    rules_box *b = new_rules_box(L);
    kefu_ruleset *rs = kefu_model_rules(m->m);
    if (!rs)
        return push_error(L, KEFU_E_STATE, "model has no rule set");
    b->rs = kefu_ruleset_ref(rs);
    kefu_diag *d = new_diag(L);
    return finish_rules(L, b, KEFU_OK, d);
}

/* kefu.rules_load(model, path), kefu.rules_compile(model, yaml [, name]) */
static int l_rules_load(lua_State *L)
{
    model_box *m = check_model(L);
    const char *path = luaL_checkstring(L, 2);
    if (model_dead(m))
        return closed_error(L, "model");
    rules_box *b = new_rules_box(L);
    kefu_diag *d = new_diag(L);
    return finish_rules(L, b, kefu_ruleset_load(&b->rs, m->m, path, NULL, d),
                        d);
}

static int l_rules_compile(lua_State *L)
{
    model_box *m = check_model(L);
    size_t len;
    const char *yaml = luaL_checklstring(L, 2, &len);
    const char *name = luaL_optstring(L, 3, NULL);
    if (model_dead(m))
        return closed_error(L, "model");
    rules_box *b = new_rules_box(L);
    kefu_diag *d = new_diag(L);
    return finish_rules(L, b, kefu_ruleset_compile(&b->rs, m->m, yaml, len,
                                                   name, NULL, d), d);
}

static int l_rules_names(lua_State *L)
{
    rules_box *b = check_rules(L);
    if (!b->rs)
        return closed_error(L, "rule set");
    uint32_t n = kefu_ruleset_rule_count(b->rs);
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        lua_pushstring(L, kefu_ruleset_rule_name(b->rs, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static int l_rules_mode(lua_State *L)
{
    rules_box *b = check_rules(L);
    if (!b->rs)
        return closed_error(L, "rule set");
    lua_pushstring(L, kefu_ruleset_mode(b->rs) == KEFU_RULES_FIRST ? "first" : "all");
    return 1;
}

/* rs:rule_when(i) -> the source of rule i's `when` (1-based) */
static int l_rules_when(lua_State *L)
{
    rules_box *b = check_rules(L);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (!b->rs)
        return closed_error(L, "rule set");
    if (i < 1 || i > (lua_Integer)kefu_ruleset_rule_count(b->rs))
        return push_error(L, KEFU_E_ARG, "no such rule");
    lua_pushstring(L, kefu_ruleset_rule_when(b->rs, (uint32_t)(i - 1)));
    return 1;
}

static const char *const fact_types[] = { "", "bool", "number", "string",
                                          "duration", "string_list",
                                          "number_list" };

static int l_rules_fact_type(lua_State *L)
{
    rules_box *b = check_rules(L);
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    if (!b->rs)
        return closed_error(L, "rule set");
    int t = kefu_ruleset_fact_type(b->rs, name, len);
    if (t < 0)
        return push_error(L, t, "unknown fact");
    lua_pushstring(L, t <= 6 ? fact_types[t] : "");
    return 1;
}

/* Sets one fact from the value at the top of the stack; the type comes
 * from the value, and from the rule set's schema (rs may be NULL) where a
 * Lua value fits two fact types (number/duration, the two lists). */
static int set_fact(lua_State *L, kefu_facts *facts, const kefu_ruleset *rs,
                    const char *k, size_t klen)
{
    int ft = rs ? kefu_ruleset_fact_type(rs, k, klen) : 0;
    switch (lua_type(L, -1)) {
    case LUA_TBOOLEAN:
        return kefu_facts_set_bool(facts, k, klen, lua_toboolean(L, -1));
    case LUA_TNUMBER:
        if (ft == KEFU_FACT_DURATION) {
            double ms = lua_tonumber(L, -1);
            if (!fits_i64(ms))
                return KEFU_E_ARG;
            return kefu_facts_set_duration(facts, k, klen, (int64_t)ms);
        }
        return kefu_facts_set_number(facts, k, klen, lua_tonumber(L, -1));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        return kefu_facts_set_string(facts, k, klen, s, n);
    }
    case LUA_TTABLE: {
        enum { MAXN = 64 };
        const char *items[MAXN];
        size_t lens[MAXN];
        double nums[MAXN];
        size_t n = lua_rawlen(L, -1), i;
        int strings = ft == KEFU_FACT_STRING_LIST;
        if (n > MAXN)
            return KEFU_E_LIMIT;
        if (ft != KEFU_FACT_STRING_LIST && ft != KEFU_FACT_NUMBER_LIST && n) {
            lua_rawgeti(L, -1, 1);
            strings = lua_type(L, -1) == LUA_TSTRING;
            lua_pop(L, 1);
        }
        for (i = 0; i < n; i++) {
            lua_rawgeti(L, -1, (int)i + 1);
            if (strings) {
                if (lua_type(L, -1) != LUA_TSTRING) {
                    lua_pop(L, 1);
                    return KEFU_E_TYPE;
                }
                /* the string stays referenced by the table */
                items[i] = lua_tolstring(L, -1, &lens[i]);
            } else {
                if (lua_type(L, -1) != LUA_TNUMBER) {
                    lua_pop(L, 1);
                    return KEFU_E_TYPE;
                }
                nums[i] = lua_tonumber(L, -1);
            }
            lua_pop(L, 1);
        }
        if (strings)
            return kefu_facts_set_strings(facts, k, klen, items, lens, n);
        return kefu_facts_set_numbers(facts, k, klen, nums, n);
    }
    default:
        return KEFU_E_TYPE;
    }
}

static void push_trace_value(lua_State *L, const kefu_trace_entry *t)
{
    switch (t->type) {
    case KEFU_FACT_BOOL:
        lua_pushboolean(L, t->boolean);
        break;
    case KEFU_FACT_NUMBER:
    case KEFU_FACT_DURATION:
        lua_pushnumber(L, t->number);
        break;
    case KEFU_FACT_STRING:
        lua_pushlstring(L, t->string ? t->string : "", t->length);
        break;
    default:
        lua_pushnil(L);  /* lists: the trace keeps only the length */
    }
}

/* rs:evaluate(facts_table [, trace]) -> {fired={...}, actions={...},
 *   states={name=state}, trace={...}, explain={name=line}} */
static int l_rules_evaluate(lua_State *L)
{
    static const char *const actions[] = { "", "escalate", "priority",
                                           "suggest", "flag", "lock", "tag",
                                           "stop" };
    static const char *const states[] = { "skipped", "false", "fired",
                                          "error" };
    rules_box *b = check_rules(L);
    int trace = lua_toboolean(L, 3);
    int rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!b->rs)
        return closed_error(L, "rule set");
    kefu_facts_clear(b->facts);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            return push_error(L, KEFU_E_ARG, "fact names must be strings");
        }
        size_t klen;
        const char *k = lua_tolstring(L, -2, &klen);
        rc = set_fact(L, b->facts, b->rs, k, klen);
        if (rc != KEFU_OK) {
            char buf[512];
            const kefu_diag *d = kefu_facts_diag(b->facts);
            if (d && kefu_diag_status(d) == rc)
                kefu_diag_format(d, buf, sizeof buf);
            else
                snprintf(buf, sizeof buf, "fact '%s': %s", k,
                         kefu_strerror(rc));
            lua_pop(L, 2);
            return push_error(L, rc, buf);
        }
        lua_pop(L, 1);
    }
    rc = kefu_rules_eval(b->res, b->rs, b->facts, trace ? KEFU_RULES_TRACE : 0);
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);

    uint32_t nrules = kefu_ruleset_rule_count(b->rs);
    lua_createtable(L, 0, 5);
    uint32_t n = kefu_rules_result_fired_count(b->res);
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        lua_pushstring(L, kefu_ruleset_rule_name(
                              b->rs, kefu_rules_result_fired(b->res, i)));
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "fired");

    n = kefu_rules_result_action_count(b->res);
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        kefu_rule_action a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        if (kefu_rules_result_action(b->res, i, &a) != KEFU_OK)
            continue;
        lua_createtable(L, 0, 8);
        set_str(L, "type", a.type <= 7 ? actions[a.type] : "");
        set_str(L, "rule", kefu_ruleset_rule_name(b->rs, a.rule));
        if (a.type == KEFU_ACTION_PRIORITY) {
            set_int(L, "value", a.value);
            set_bool(L, "raise", a.raise != 0);
        }
        if (a.queue && *a.queue) set_str(L, "queue", a.queue);
        if (a.skill && *a.skill) set_str(L, "skill", a.skill);
        if (a.tier && *a.tier) set_str(L, "tier", a.tier);
        if (a.arg && *a.arg) set_str(L, "arg", a.arg);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "actions");

    lua_createtable(L, 0, (int)nrules);
    for (uint32_t i = 0; i < nrules; i++) {
        kefu_rule_outcome o;
        memset(&o, 0, sizeof o);
        o.size = sizeof o;
        if (kefu_rules_result_rule(b->res, i, &o) != KEFU_OK)
            continue;
        set_str(L, kefu_ruleset_rule_name(b->rs, i),
                o.state <= 3 ? states[o.state] : "");
    }
    lua_setfield(L, -2, "states");

    if (trace) {
        n = kefu_rules_result_trace_count(b->res);
        lua_createtable(L, (int)n, 0);
        for (uint32_t i = 0; i < n; i++) {
            kefu_trace_entry t;
            memset(&t, 0, sizeof t);
            t.size = sizeof t;
            if (kefu_rules_result_trace(b->res, i, &t) != KEFU_OK)
                continue;
            lua_createtable(L, 0, 5);
            set_str(L, "rule", kefu_ruleset_rule_name(b->rs, t.rule));
            set_str(L, "kind", t.kind == KEFU_TRACE_FACT ? "fact" : "expr");
            set_str(L, "type", t.type <= 6 ? fact_types[t.type] : "");
            lua_pushlstring(L, t.expr, t.expr_len);
            lua_setfield(L, -2, "expr");
            push_trace_value(L, &t);
            lua_setfield(L, -2, "value");
            lua_rawseti(L, -2, (int)i + 1);
        }
        lua_setfield(L, -2, "trace");
        lua_createtable(L, 0, (int)nrules);
        for (uint32_t i = 0; i < nrules; i++) {
            char buf[2048];
            size_t need = kefu_rules_result_explain(b->res, i, buf, sizeof buf);
            if (need >= sizeof buf) {
                /* long explanation: a Lua-owned buffer, nothing to leak */
                char *big = newbox(L, need + 1);
                kefu_rules_result_explain(b->res, i, big, need + 1);
                lua_pushlstring(L, big, need);
                lua_remove(L, -2);
            } else {
                lua_pushlstring(L, buf, need);
            }
            lua_setfield(L, -2, kefu_ruleset_rule_name(b->rs, i));
        }
        lua_setfield(L, -2, "explain");
    }
    return 1;
}

/* ---------------------------------------------------------- sessions */

#define MT_SESSION "kefu.session"

typedef struct session_box {
    kefu_session *s;
    model_box *mb;            /* kept alive by the user value */
    kefu_rules_slot *slot;    /* the session's rules, NULL: the model's */
    kefu_facts *scratch;      /* where a turn's facts are tried first */
    const kefu_ruleset *scratch_rs; /* its rule set (it holds a reference) */
} session_box;

static int session_close(lua_State *L)
{
    session_box *b = luaL_checkudata(L, 1, MT_SESSION);
    if (b->s) {
        kefu_session_free(b->s);
        b->s = NULL;
        kefu_rules_slot_free(b->slot);
        b->slot = NULL;
        kefu_facts_free(b->scratch);
        b->scratch = NULL;
        model_unuse(b->mb);
        b->mb = NULL;
    }
    return 0;
}

#define SESSION_OR_CLOSED(L, b)                                       \
    session_box *b = luaL_checkudata(L, 1, MT_SESSION);                \
    if (!b->s)                                                         \
        return closed_error(L, "session")

/* Uses the rule set of the rules box at idx (nil: the model's rules). */
static int session_rules(lua_State *L, session_box *b, int idx)
{
    kefu_rules_slot *slot = NULL;
    if (!lua_isnoneornil(L, idx)) {
        rules_box *r = luaL_checkudata(L, idx, MT_RULES);
        if (!r->rs)
            return KEFU_E_STATE;
        int rc = kefu_rules_slot_new(&slot, r->rs, NULL);
        if (rc != KEFU_OK)
            return rc;
    }
    int rc = kefu_session_use_rules(b->s, slot);
    if (rc != KEFU_OK) {
        kefu_rules_slot_free(slot);
        return rc;
    }
    kefu_rules_slot_free(b->slot);
    b->slot = slot;
    return KEFU_OK;
}

/* Pushes a new session of the model at index 1; nil, msg, code on error. */
static int new_session(lua_State *L, int rules_idx)
{
    model_box *mb = check_model(L);
    if (model_dead(mb))
        return closed_error(L, "model");
    session_box *b = newbox(L, sizeof *b);
    memset(b, 0, sizeof *b);
    luaL_getmetatable(L, MT_SESSION);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, 1);
    keep_ref(L, -2);
    int rc = kefu_session_new(&b->s, mb->m, NULL);
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);
    b->mb = mb;
    mb->users++;
    if (rules_idx && (rc = session_rules(L, b, rules_idx)) != KEFU_OK) {
        lua_pushcfunction(L, session_close);
        lua_pushvalue(L, -2);
        lua_call(L, 1, 0);
        return push_error(L, rc, NULL);
    }
    return 1;
}

/* m:session([{rules = ruleset}]) */
static int l_model_session(lua_State *L)
{
    int rules_idx = 0;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "rules");
        rules_idx = lua_isnil(L, -1) ? 0 : lua_gettop(L);
    }
    return new_session(L, rules_idx);
}

/* s:use_rules(ruleset | nil) */
static int l_session_use_rules(lua_State *L)
{
    SESSION_OR_CLOSED(L, b);
    int rc = session_rules(L, b, 2);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_session_diag(b->s));
    lua_pushboolean(L, 1);
    return 1;
}

/* Sets every fact of the table at index ft on f: KEFU_OK, or the first
 * failure's status (KEFU_E_ARG for a name that is not a string), the
 * message in f's diagnostic. */
static int set_facts_table(lua_State *L, kefu_facts *f, const kefu_ruleset *schema,
                           int ft)
{
    lua_pushnil(L);
    while (lua_next(L, ft)) {
        size_t klen;
        const char *k;
        int rc;
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            return KEFU_E_ARG;
        }
        k = lua_tolstring(L, -2, &klen);
        rc = set_fact(L, f, schema, k, klen);
        lua_pop(L, 1);
        if (rc != KEFU_OK) {
            lua_pop(L, 1); /* the key */
            return rc;
        }
    }
    return KEFU_OK;
}

static const kefu_ruleset *session_schema(session_box *b)
{
    const kefu_ruleset *rs = kefu_session_ruleset(b->s);
    return rs ? rs : kefu_model_rules(b->mb->m);
}

/* s:set_fact(name, value) for host-declared facts; nil unsets */
static int l_session_set_fact(lua_State *L)
{
    SESSION_OR_CLOSED(L, b);
    size_t klen;
    const char *k = luaL_checklstring(L, 2, &klen);
    kefu_facts *f = kefu_session_facts(b->s);
    int rc;
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    if (!f)
        return push_error(L, KEFU_E_STATE, "session has no facts");
    rc = lua_isnil(L, 3) ? kefu_facts_unset(f, k, klen)
                         : set_fact(L, f, session_schema(b), k, klen);
    if (rc != KEFU_OK) {
        const kefu_diag *d = kefu_facts_diag(f);
        return push_diag_error(L, rc, d && kefu_diag_status(d) == rc ? d : NULL);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const char *action_name(uint32_t t)
{
    static const char *const names[] = { "", "escalate", "priority",
                                         "suggest", "flag", "lock", "tag",
                                         "stop" };
    return t <= 7 ? names[t] : "";
}

/* Pushes the actions of a rules result as `kefu triage` prints them. */
static void push_actions(lua_State *L, const kefu_rules_result *res,
                         const kefu_ruleset *rs)
{
    uint32_t n = rs ? kefu_rules_result_action_count(res) : 0;
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        kefu_rule_action a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        if (kefu_rules_result_action(res, i, &a) != KEFU_OK)
            continue;
        lua_createtable(L, 0, 5);
        set_str(L, "type", action_name(a.type));
        set_str(L, "rule", kefu_ruleset_rule_name(rs, a.rule));
        switch (a.type) {
        case KEFU_ACTION_ESCALATE:
            set_str(L, "queue", a.queue);
            set_str(L, "skill", a.skill);
            set_str(L, "tier", a.tier);
            break;
        case KEFU_ACTION_PRIORITY:
            set_int(L, a.raise ? "raise" : "set", a.value);
            break;
        case KEFU_ACTION_SUGGEST: set_str(L, "script", a.arg); break;
        case KEFU_ACTION_FLAG: set_str(L, "reason", a.arg); break;
        case KEFU_ACTION_TAG: set_str(L, "tag", a.arg); break;
        default: break;
        }
        lua_rawseti(L, -2, (int)i + 1);
    }
}

static void push_slots(lua_State *L, const kefu_session *s)
{
    const char *name, *value;
    lua_newtable(L);
    for (size_t i = 0; kefu_session_slot(s, i, &name, &value) == KEFU_OK; i++)
        set_str(L, name, value);
}

/* s:turn(text [, {time_ms=, channel=, customer={tier=, value=, risk=},
 *   external_emotion=, wait_ms=, contacts_7d=, bot_failed=, trace=,
 *   facts={...}}]) -> the fields of a `kefu triage` output line */
static int l_session_turn(lua_State *L)
{
    enum { MAXRISK = 32 };
    SESSION_OR_CLOSED(L, b);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    const char *risk[MAXRISK];
    kefu_turn t;
    kefu_triage r;
    int rc, trace = 0;

    kefu_turn_init(&t);
    if (lua_istable(L, 3)) {
        t.time_ms = opt_field_int(L, 3, "time_ms", 0, EXACT_RANGE);
        t.channel = opt_field_string(L, 3, "channel");
        t.external_emotion = (int32_t)opt_field_int(L, 3, "external_emotion", -1, I32_RANGE);
        t.wait_ms = opt_field_int(L, 3, "wait_ms", -1, EXACT_RANGE);
        t.contacts_7d = (uint32_t)opt_field_int(L, 3, "contacts_7d", 0, U32_RANGE);
        lua_getfield(L, 3, "bot_failed");
        t.bot_failed = lua_toboolean(L, -1) ? 1 : 0;
        lua_getfield(L, 3, "trace");
        trace = lua_toboolean(L, -1);
        lua_pop(L, 2);
        t.flags = trace ? KEFU_TURN_TRACE : 0;
        lua_getfield(L, 3, "customer");   /* stays on the stack */
        if (lua_istable(L, -1)) {
            int c = lua_gettop(L);
            t.customer_tier = opt_field_string(L, c, "tier");
            t.customer_value = opt_field_number(L, c, "value", 0);
            lua_getfield(L, c, "risk");   /* stays on the stack */
            if (lua_type(L, -1) == LUA_TSTRING) {
                risk[0] = lua_tostring(L, -1);
                t.customer_risk_count = 1;
            } else if (lua_istable(L, -1)) {
                size_t n = lua_rawlen(L, -1);
                for (size_t i = 0; i < n && i < MAXRISK; i++) {
                    lua_rawgeti(L, -1, (int)i + 1);
                    if (lua_type(L, -1) == LUA_TSTRING)
                        risk[t.customer_risk_count++] = lua_tostring(L, -1);
                    lua_pop(L, 1);  /* still referenced by the table */
                }
            }
            t.customer_risk = risk;
        }
        lua_getfield(L, 3, "facts");
        if (lua_istable(L, -1) && kefu_session_facts(b->s)) {
            /* tried on scratch facts first: a table with one bad fact
             * sets none of them */
            const kefu_ruleset *schema = session_schema(b);
            int ft = lua_gettop(L);
            rc = KEFU_OK;
            if (b->scratch && b->scratch_rs == schema) {
                kefu_facts_clear(b->scratch);
            } else { /* first use, or the session's rules were swapped */
                kefu_facts_free(b->scratch);
                b->scratch = NULL;
                /* (kefu_facts_new takes a reference; the set is not changed) */
                rc = kefu_facts_new(&b->scratch, (kefu_ruleset *)schema, NULL);
                b->scratch_rs = schema;
            }
            if (rc == KEFU_OK &&
                (rc = set_facts_table(L, b->scratch, schema, ft)) == KEFU_OK)
                rc = set_facts_table(L, kefu_session_facts(b->s), schema, ft);
            if (rc != KEFU_OK) {
                const kefu_diag *d = b->scratch ? kefu_facts_diag(b->scratch) : NULL;
                return d && kefu_diag_status(d) == rc ? push_diag_error(L, rc, d)
                       : rc == KEFU_E_ARG ? push_error(L, rc, "fact names must be strings")
                                          : push_diag_error(L, rc, NULL);
            }
        }
    }
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    rc = kefu_session_turn(b->s, text, len, &t, &r);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_session_diag(b->s));

    lua_createtable(L, 0, 20);
    set_int(L, "turn", r.turn);
    set_str(L, "intent", r.intent);
    set_num(L, "confidence", r.confidence);
    set_num(L, "margin", r.margin);
    set_bool(L, "out_of_scope", r.out_of_scope != 0);
    push_entities(L, kefu_session_scratch(b->s));
    lua_setfield(L, -2, "entities");
    set_int(L, "missing_slots", r.missing_slots);
    push_emotion(L, r.emotion, r.negativity);
    lua_pushnil(L);
    lua_setfield(L, -2, "negativity");  /* kept at the top level, as kefu triage */
    lua_setfield(L, -2, "emotion");
    set_num(L, "negativity", r.negativity);
    set_num(L, "level", r.level);
    set_num(L, "trend", r.trend);
    const kefu_rules_result *res = kefu_session_rules(b->s);
    const kefu_ruleset *rs = kefu_session_ruleset(b->s);
    uint32_t n = rs ? kefu_rules_result_fired_count(res) : 0;
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        lua_pushstring(L, kefu_ruleset_rule_name(rs, kefu_rules_result_fired(res, i)));
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "rules");
    push_actions(L, res, rs);
    lua_setfield(L, -2, "actions");
    set_bool(L, "escalated", r.escalated != 0);
    set_bool(L, "locked", r.locked != 0);
    lua_createtable(L, 0, 4);
    lua_newtable(L);
    const char *sk;
    for (size_t i = 0; (sk = kefu_session_route_skill(b->s, i)); i++) {
        lua_pushstring(L, sk);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "skills");
    set_str(L, "queue", r.route_queue);
    set_str(L, "tier", r.route_tier);
    set_int(L, "priority", r.route_priority);
    lua_setfield(L, -2, "route");
    push_slots(L, b->s);
    lua_setfield(L, -2, "slots");
    if (trace && rs) {
        uint32_t nr = kefu_ruleset_rule_count(rs);
        lua_createtable(L, (int)nr, 0);
        for (uint32_t i = 0; i < nr; i++) {
            char buf[2048];
            size_t need = kefu_rules_result_explain(res, i, buf, sizeof buf);
            if (need >= sizeof buf) {
                char *big = newbox(L, need + 1);
                kefu_rules_result_explain(res, i, big, need + 1);
                lua_pushlstring(L, big, need);
                lua_remove(L, -2);
            } else {
                lua_pushlstring(L, buf, need);
            }
            lua_rawseti(L, -2, (int)i + 1);
        }
        lua_setfield(L, -2, "trace");
    }
    return 1;
}

static int l_session_slots(lua_State *L)
{
    SESSION_OR_CLOSED(L, b);
    push_slots(L, b->s);
    return 1;
}

/* s:dump() -> blob (a string; the buffer is Lua memory) */
static int l_session_dump(lua_State *L)
{
    SESSION_OR_CLOSED(L, b);
    size_t need = 0;
    int rc = kefu_session_dump(b->s, NULL, 0, &need);
    if (rc != KEFU_OK && rc != KEFU_E_BUFFER)
        return push_diag_error(L, rc, kefu_session_diag(b->s));
    uint8_t *buf = lua_newuserdata(L, need ? need : 1);
    rc = kefu_session_dump(b->s, buf, need, &need);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_session_diag(b->s));
    lua_pushlstring(L, (const char *)buf, need);
    return 1;
}

/* s:restore(blob) -> true | nil, msg, code (the session is unchanged) */
static int l_session_restore(lua_State *L)
{
    SESSION_OR_CLOSED(L, b);
    size_t len;
    const char *blob = luaL_checklstring(L, 2, &len);
    int rc = kefu_session_restore(b->s, (const uint8_t *)blob, len);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_session_diag(b->s));
    lua_pushboolean(L, 1);
    return 1;
}

/* kefu.restore(model, blob [, {rules = ruleset}]) -> a new session */
static int l_restore(lua_State *L)
{
    size_t len;
    luaL_checkudata(L, 1, MT_MODEL);
    const char *blob = luaL_checklstring(L, 2, &len);
    int rules_idx = 0;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "rules");
        rules_idx = lua_isnil(L, -1) ? 0 : lua_gettop(L);
    }
    int n = new_session(L, rules_idx);
    if (n != 1)
        return n;
    session_box *b = lua_touserdata(L, -1);
    int rc = kefu_session_restore(b->s, (const uint8_t *)blob, len);
    if (rc != KEFU_OK) {
        char buf[1024];
        const kefu_diag *d = kefu_session_diag(b->s);
        if (d && kefu_diag_status(d) != KEFU_OK)
            kefu_diag_format(d, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%s", kefu_strerror(rc));
        lua_pushcfunction(L, session_close);
        lua_pushvalue(L, -2);
        lua_call(L, 1, 0);
        return push_error(L, rc, buf);
    }
    return 1;
}

/* ----------------------------------------------------------- router */

typedef struct router_box { kefu_router *r; } router_box;

static kefu_router *check_router(lua_State *L, router_box **out)
{
    router_box *b = luaL_checkudata(L, 1, MT_ROUTER);
    if (out)
        *out = b;
    return b->r;
}

static int router_close(lua_State *L)
{
    router_box *b = luaL_checkudata(L, 1, MT_ROUTER);
    kefu_router_free(b->r);
    b->r = NULL;
    return 0;
}

/* kefu.router([model]) */
static int l_router(lua_State *L)
{
    const kefu_model *m = NULL;
    if (!lua_isnoneornil(L, 1)) {
        model_box *mb = check_model(L);
        if (model_dead(mb))
            return closed_error(L, "model");
        m = mb->m;
    }
    router_box *b = newbox(L, sizeof *b);
    b->r = NULL;
    luaL_getmetatable(L, MT_ROUTER);
    lua_setmetatable(L, -2);
    int rc = kefu_router_new(&b->r, m, NULL);
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);
    return 1;
}

typedef struct name_val { const char *name; uint32_t val; } name_val;

static const name_val strategies[] = {
    { "longest_idle", 1 }, { "least_loaded", 2 }, { "best_proficiency", 3 },
    { "round_robin", 4 }, { NULL, 0 } };
static const name_val agent_states[] = {
    { "offline", 0 }, { "available", 1 }, { "away", 2 }, { "busy", 3 },
    { "wrapup", 4 }, { NULL, 0 } };
static const name_val tiers[] = {
    { "any", 0 }, { "junior", 1 }, { "senior", 2 }, { "expert", 3 },
    { NULL, 0 } };
static const name_val channels[] = {
    { "voice", 1 }, { "chat", 2 }, { "email", 3 }, { "messaging", 4 },
    { "video", 5 }, { NULL, 0 } };
static const name_val router_opts[] = {
    { "aging_ms", 1 }, { "offer_timeout_ms", 2 }, { "max_misses", 3 },
    { "stats_bucket_ms", 4 }, { "stats_buckets", 5 }, { NULL, 0 } };
static const name_val queue_opts[] = {
    { "strategy", 1 }, { "skill", 2 }, { "sl_target_ms", 3 }, { NULL, 0 } };
static const name_val track_opts[] = {
    { "half_life_turns", 1 }, { "half_life_ms", 2 }, { "external_weight", 3 },
    { "external_mask", 4 }, { "trend_turns", 5 }, { "trend_threshold", 6 },
    { NULL, 0 } };

/* A name from the table or a number; raises on an unknown name. */
static uint32_t check_enum(lua_State *L, int idx, const name_val *t,
                           uint32_t def)
{
    if (lua_isnoneornil(L, idx))
        return def;
    if (lua_type(L, idx) == LUA_TNUMBER)
        return (uint32_t)lua_tointeger(L, idx);
    const char *s = luaL_checkstring(L, idx);
    for (; t->name; t++)
        if (!strcmp(t->name, s))
            return t->val;
    return (uint32_t)luaL_argerror(L, idx, "unknown name");
}

static const char *enum_name(const name_val *t, uint32_t v)
{
    for (; t->name; t++)
        if (t->val == v)
            return t->name;
    return "";
}

/* KEFU_LANG of a string code ("zh"), or a number. */
static uint32_t check_lang(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    if (lua_type(L, idx) == LUA_TNUMBER)
        return (uint32_t)lua_tointeger(L, idx);
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    uint32_t v = 0;
    for (size_t i = 0; i < n && i < 4; i++)
        v = v << 8 | (unsigned char)s[i];
    return v;
}

static int router_result(lua_State *L, kefu_router *r, int rc)
{
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_router_diag(r));
    lua_pushboolean(L, 1);
    return 1;
}

#define ROUTER_OR_CLOSED(L, r)                        \
    kefu_router *r = check_router(L, NULL);           \
    if (!r)                                           \
        return closed_error(L, "router")

static uint32_t check_u32(lua_State *L, int idx)
{
    return (uint32_t)luaL_checkinteger(L, idx);
}

static int l_router_set(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_set(
        r, (kefu_router_option)check_enum(L, 2, router_opts, 0),
        check_i64(L, 3)));
}

static int l_router_get(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    int64_t v = 0;
    int rc = kefu_router_get(r, (kefu_router_option)check_enum(L, 2, router_opts, 0), &v);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_router_diag(r));
    push_i64(L, v);
    return 1;
}

static int l_router_queue_add(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_queue_add(
        r, check_i64(L, 2), check_u32(L, 3), check_enum(L, 4, strategies, 1)));
}

static int l_router_queue_set(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    uint32_t opt = check_enum(L, 4, queue_opts, 0);
    int64_t v = opt == KEFU_QUEUE_STRATEGY ? check_enum(L, 5, strategies, 1)
                                           : check_i64(L, 5);
    return router_result(L, r, kefu_router_queue_set(
        r, check_i64(L, 2), check_u32(L, 3), (kefu_queue_option)opt, v));
}

/* r:queue_step(now, queue, after_ms [, {level_drop=, min_tier=,
 *   any_agent=, overflow_queue=}]) */
static int l_router_queue_step(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    int64_t now = check_i64(L, 2), after = check_i64(L, 4);
    uint32_t q = check_u32(L, 3), drop = 0, tier = 0, any = 0, over = 0;
    if (lua_istable(L, 5)) {
        drop = (uint32_t)opt_field_int(L, 5, "level_drop", 0, U32_RANGE);
        lua_getfield(L, 5, "min_tier");
        tier = check_enum(L, -1, tiers, 0);
        lua_pop(L, 1);
        lua_getfield(L, 5, "any_agent");
        any = lua_toboolean(L, -1);
        lua_pop(L, 1);
        over = (uint32_t)opt_field_int(L, 5, "overflow_queue", 0, U32_RANGE);
    }
    return router_result(L, r, kefu_router_queue_step(r, now, q, after, drop,
                                                      tier, any, over));
}

static int l_router_agent_add(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_agent_add(
        r, check_i64(L, 2), check_u32(L, 3), check_enum(L, 4, tiers, 1),
        (uint32_t)luaL_optinteger(L, 5, 1)));
}

static int l_router_agent_remove(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_agent_remove(r, check_i64(L, 2),
                                                        check_u32(L, 3)));
}

static int l_router_agent_skill(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_agent_skill(
        r, check_i64(L, 2), check_u32(L, 3), check_u32(L, 4),
        check_u32(L, 5)));
}

static int l_router_agent_channel(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_agent_channel(
        r, check_i64(L, 2), check_u32(L, 3), check_enum(L, 4, channels, 0),
        (uint32_t)luaL_optinteger(L, 5, 1)));
}

static int l_router_agent_language(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    int on = lua_isnoneornil(L, 5) ? 1 : lua_toboolean(L, 5);
    return router_result(L, r, kefu_router_agent_language(
        r, check_i64(L, 2), check_u32(L, 3), check_lang(L, 4), (uint32_t)on));
}

static int l_router_agent_queue(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    int on = lua_isnoneornil(L, 5) ? 1 : lua_toboolean(L, 5);
    return router_result(L, r, kefu_router_agent_queue(
        r, check_i64(L, 2), check_u32(L, 3), check_u32(L, 4), (uint32_t)on));
}

static int l_router_agent_state(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_agent_state(
        r, check_i64(L, 2), check_u32(L, 3), check_enum(L, 4, agent_states, 1)));
}

static int l_router_agent_info(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    kefu_agent_info i;
    memset(&i, 0, sizeof i);
    i.size = sizeof i;
    int rc = kefu_router_agent_info(r, check_u32(L, 2), &i);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_router_diag(r));
    lua_createtable(L, 0, 10);
    set_str(L, "state", enum_name(agent_states, i.state));
    set_str(L, "presence", enum_name(agent_states, i.presence));
    set_int(L, "load", i.load);
    set_int(L, "capacity", i.capacity);
    set_int(L, "conversations", i.conversations);
    set_int(L, "misses", i.misses);
    set_str(L, "tier", enum_name(tiers, i.tier));
    set_int(L, "idle_since_ms", (lua_Integer)i.idle_since_ms);
    set_int(L, "wrapup_until_ms", (lua_Integer)i.wrapup_until_ms);
    return 1;
}

/* r:submit(now, conversation, {queue=, channel=, priority=, language=,
 *   tier=, preferred_agent=, skills={[skill]=level, ...}}) */
static int l_router_submit(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    int64_t now = check_i64(L, 2);
    uint32_t conv = check_u32(L, 3);
    uint32_t skills[KEFU_ROUTER_MAX_REQ_SKILLS], levels[KEFU_ROUTER_MAX_REQ_SKILLS];
    kefu_route_request q;
    luaL_checktype(L, 4, LUA_TTABLE);
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.queue = (uint32_t)opt_field_int(L, 4, "queue", 0, U32_RANGE);
    lua_getfield(L, 4, "channel");
    q.channel = check_enum(L, -1, channels, KEFU_CHANNEL_CHAT);
    lua_getfield(L, 4, "language");
    q.language = check_lang(L, -1);
    lua_getfield(L, 4, "tier");
    q.tier = check_enum(L, -1, tiers, 0);
    lua_pop(L, 3);
    q.priority = (int32_t)opt_field_int(L, 4, "priority", 0, I32_RANGE);
    q.preferred_agent = (uint32_t)opt_field_int(L, 4, "preferred_agent", 0, U32_RANGE);
    lua_getfield(L, 4, "skills");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (q.nskills == KEFU_ROUTER_MAX_REQ_SKILLS) {
                lua_pop(L, 3);
                return push_error(L, KEFU_E_LIMIT, "too many skills");
            }
            skills[q.nskills] = (uint32_t)lua_tointeger(L, -2);
            levels[q.nskills] = (uint32_t)lua_tointeger(L, -1);
            q.nskills++;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    q.skills = skills;
    q.levels = levels;
    return router_result(L, r, kefu_router_submit(r, now, conv, &q));
}

static int l_router_accept(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_accept(r, check_i64(L, 2),
                                                  check_u32(L, 3),
                                                  check_u32(L, 4)));
}

static int l_router_reject(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_reject(r, check_i64(L, 2),
                                                  check_u32(L, 3),
                                                  check_u32(L, 4)));
}

static int l_router_complete(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_complete(r, check_i64(L, 2),
                                                    check_u32(L, 3),
                                                    opt_i64(L, 4, 0)));
}

static int l_router_cancel(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_cancel(r, check_i64(L, 2),
                                                  check_u32(L, 3)));
}

static int l_router_transfer(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_transfer(r, check_i64(L, 2),
                                                    check_u32(L, 3),
                                                    check_u32(L, 4)));
}

static int l_router_tick(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    return router_result(L, r, kefu_router_tick(r, check_i64(L, 2)));
}

/* r:poll() -> {kind=, conversation=, agent=, queue=, time_ms=} | nil */
static int l_router_poll(lua_State *L)
{
    static const char *const kinds[] = { "", "offer", "timeout", "overflow",
                                         "agent_away" };
    ROUTER_OR_CLOSED(L, r);
    kefu_route_event e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    int rc = kefu_router_poll(r, &e);
    if (rc == KEFU_E_EMPTY) {
        lua_pushnil(L);
        return 1;
    }
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_router_diag(r));
    lua_createtable(L, 0, 5);
    set_str(L, "kind", e.kind <= 4 ? kinds[e.kind] : "");
    set_int(L, "conversation", e.conversation);
    set_int(L, "agent", e.agent);
    set_int(L, "queue", e.queue);
    set_int(L, "time_ms", (lua_Integer)e.time_ms);
    return 1;
}

static int l_router_conversation_info(lua_State *L)
{
    static const char *const st[] = { "", "waiting", "reserved", "assigned" };
    ROUTER_OR_CLOSED(L, r);
    kefu_conversation_info i;
    memset(&i, 0, sizeof i);
    i.size = sizeof i;
    int rc = kefu_router_conversation_info(r, check_u32(L, 2), &i);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_router_diag(r));
    lua_createtable(L, 0, 6);
    set_str(L, "state", i.state <= 3 ? st[i.state] : "");
    set_int(L, "queue", i.queue);
    set_int(L, "agent", i.agent);
    set_int(L, "step", i.step);
    set_int(L, "priority", i.priority);
    set_int(L, "arrival_ms", (lua_Integer)i.arrival_ms);
    return 1;
}

static int l_router_stats(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    kefu_route_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    int rc = kefu_router_stats(r, check_i64(L, 2),
                               (uint32_t)luaL_optinteger(L, 3, 0),
                               opt_i64(L, 4, 3600000), &s);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_router_diag(r));
    lua_createtable(L, 0, 14);
    set_int(L, "queue", s.queue);
    set_num(L, "offered", (double)s.offered);
    set_num(L, "answered", (double)s.answered);
    set_num(L, "answered_in_target", (double)s.answered_in_target);
    set_num(L, "abandoned", (double)s.abandoned);
    set_num(L, "transfers", (double)s.transfers);
    set_num(L, "reroutes", (double)s.reroutes);
    set_num(L, "waiting", (double)s.waiting);
    set_num(L, "longest_wait_ms", (double)s.longest_wait_ms);
    set_num(L, "service_level", s.service_level);
    set_num(L, "asa_ms", s.asa_ms);
    set_num(L, "abandon_rate", s.abandon_rate);
    set_num(L, "occupancy", s.occupancy);
    set_num(L, "transfer_rate", s.transfer_rate);
    return 1;
}

/* r:snapshot() -> string (the buffer is a Lua userdata: nothing to leak) */
static int l_router_snapshot(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    size_t need = 0;
    int rc = kefu_router_snapshot(r, NULL, 0, &need);
    if (rc != KEFU_OK && rc != KEFU_E_BUFFER)
        return push_diag_error(L, rc, kefu_router_diag(r));
    void *buf = lua_newuserdata(L, need ? need : 1);
    rc = kefu_router_snapshot(r, buf, need, &need);
    if (rc != KEFU_OK)
        return push_diag_error(L, rc, kefu_router_diag(r));
    lua_pushlstring(L, buf, need);
    return 1;
}

static int l_router_restore(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    return router_result(L, r, kefu_router_restore(r, data, len));
}

/* r:reload(now, model): the model's floor, applied without logging anyone out */
static int l_router_reload(lua_State *L)
{
    ROUTER_OR_CLOSED(L, r);
    int64_t now = check_i64(L, 2);
    model_box *mb = luaL_checkudata(L, 3, MT_MODEL);
    if (model_dead(mb))
        return closed_error(L, "model");
    return router_result(L, r, kefu_router_reload(r, now, mb->m));
}

/* --------------------------------------------------- emotion tracker */

typedef struct track_box { kefu_emotion_track *t; } track_box;

static int track_close(lua_State *L)
{
    track_box *b = luaL_checkudata(L, 1, MT_TRACK);
    kefu_emotion_track_free(b->t);
    b->t = NULL;
    return 0;
}

#define TRACK_OR_CLOSED(L, t)                                              \
    kefu_emotion_track *t = ((track_box *)luaL_checkudata(L, 1, MT_TRACK))->t; \
    if (!t)                                                                \
        return closed_error(L, "emotion track")

static int l_track_set(lua_State *L)
{
    TRACK_OR_CLOSED(L, t);
    int rc = kefu_emotion_track_set(
        t, (kefu_emotion_track_option)check_enum(L, 2, track_opts, 0),
        check_i64(L, 3));
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);
    lua_pushboolean(L, 1);
    return 1;
}

/* kefu.emotion_track([{option=value, ...}]) */
static int l_emotion_track(lua_State *L)
{
    track_box *b = newbox(L, sizeof *b);
    b->t = NULL;
    luaL_getmetatable(L, MT_TRACK);
    lua_setmetatable(L, -2);
    int rc = kefu_emotion_track_new(&b->t, NULL);
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);
    if (lua_istable(L, 1)) {
        for (const name_val *o = track_opts; o->name; o++) {
            lua_getfield(L, 1, o->name);
            if (!lua_isnil(L, -1)) {
                rc = kefu_emotion_track_set(b->t, (kefu_emotion_track_option)o->val,
                                            check_i64(L, -1));
                if (rc != KEFU_OK)
                    return push_error(L, rc, o->name);
            }
            lua_pop(L, 1);
        }
    }
    return 1;
}

/* t:update(scores [, time_ms [, external]]) with scores from m:emotion */
static int l_track_update(lua_State *L)
{
    TRACK_OR_CLOSED(L, t);
    kefu_emotion e;
    luaL_checktype(L, 2, LUA_TTABLE);
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    for (int c = 0; c < KEFU_EMOTION_COUNT; c++)
        e.score[c] = opt_field_float(L, 2, kefu_emotion_category_name(c), 0);
    e.negativity = opt_field_float(L, 2, "negativity", 0);
    int rc = kefu_emotion_track_update(t, &e, opt_i64(L, 3, 0),
                                       (int32_t)luaL_optinteger(L, 4, -1));
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_track_get(lua_State *L)
{
    TRACK_OR_CLOSED(L, t);
    kefu_emotion_level lv;
    memset(&lv, 0, sizeof lv);
    lv.size = sizeof lv;
    int rc = kefu_emotion_track_get(t, &lv);
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);
    lua_createtable(L, 0, 6);
    set_int(L, "turns", lv.turns);
    push_emotion(L, lv.level, lv.level_negativity);
    lua_setfield(L, -2, "level");
    push_emotion(L, lv.peak, lv.peak_negativity);
    lua_setfield(L, -2, "peak");
    push_emotion(L, lv.trend, lv.trend_negativity);
    lua_setfield(L, -2, "trend");
    set_int(L, "direction", lv.direction);
    set_int(L, "peak_turn", lv.peak_turn);
    return 1;
}

static int l_track_reset(lua_State *L)
{
    TRACK_OR_CLOSED(L, t);
    kefu_emotion_track_reset(t);
    return 0;
}

/* ---------------------------------------------------------- staffing */

static void push_erlang(lua_State *L, const kefu_erlang_result *r)
{
    lua_createtable(L, 0, 8);
    set_int(L, "agents", r->agents);
    set_num(L, "load_erlangs", r->load_erlangs);
    set_num(L, "occupancy", r->occupancy);
    set_num(L, "p_wait", r->p_wait);
    set_num(L, "asa_s", r->asa_s);
    set_num(L, "service_level", r->service_level);
    set_num(L, "abandon_rate", r->abandon_rate);
    set_num(L, "mean_queue", r->mean_queue);
}

/* kefu.erlang_c(arrival_rate, aht_s, agents, sl_target_s) */
static int l_erlang_c(lua_State *L)
{
    kefu_erlang_result r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    int rc = kefu_erlang_c(&r, luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                           check_u32(L, 3), luaL_checknumber(L, 4));
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);
    push_erlang(L, &r);
    return 1;
}

/* kefu.erlang_a(arrival_rate, aht_s, patience_s, agents, sl_target_s) */
static int l_erlang_a(lua_State *L)
{
    kefu_erlang_result r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    int rc = kefu_erlang_a(&r, luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                           luaL_checknumber(L, 3), check_u32(L, 4),
                           luaL_checknumber(L, 5));
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);
    push_erlang(L, &r);
    return 1;
}

/* kefu.erlang_agents(arrival_rate, aht_s, sl_target_s, sl_goal [, patience_s]) */
static int l_erlang_agents(lua_State *L)
{
    uint32_t n = 0;
    int rc = kefu_erlang_agents(&n, luaL_checknumber(L, 1),
                                luaL_checknumber(L, 2),
                                luaL_optnumber(L, 5, 0),
                                luaL_checknumber(L, 3),
                                luaL_checknumber(L, 4));
    if (rc != KEFU_OK)
        return push_error(L, rc, NULL);
    lua_pushinteger(L, n);
    return 1;
}

/* ------------------------------------------------------------ module */

static const luaL_Reg model_methods[] = {
    { "classify", l_model_classify },
    { "explain", l_model_explain },
    { "entities", l_model_entities },
    { "emotion", l_model_emotion },
    { "emotion_labels", l_model_emotion_label_names },
    { "classifier_info", l_model_classifier_info },
    { "classify_emotion", l_model_classify_emotion },
    { "redact", l_model_redact },
    { "intents", l_model_intents },
    { "intent_skills", l_model_intent_skills },
    { "entity_names", l_model_entity_names },
    { "name", l_model_name },
    { "save", l_model_save },
    { "rules", l_model_rules },
    { "session", l_model_session },
    { "close", model_close },
    { NULL, NULL }
};

static const luaL_Reg rules_methods[] = {
    { "evaluate", l_rules_evaluate },
    { "rule_names", l_rules_names },
    { "fact_type", l_rules_fact_type },
    { "mode", l_rules_mode },
    { "rule_when", l_rules_when },
    { "close", rules_close },
    { NULL, NULL }
};

static const luaL_Reg session_methods[] = {
    { "turn", l_session_turn },
    { "dump", l_session_dump },
    { "restore", l_session_restore },
    { "slots", l_session_slots },
    { "set_fact", l_session_set_fact },
    { "use_rules", l_session_use_rules },
    { "close", session_close },
    { NULL, NULL }
};

static const luaL_Reg router_methods[] = {
    { "set", l_router_set },
    { "get", l_router_get },
    { "queue_add", l_router_queue_add },
    { "queue_set", l_router_queue_set },
    { "queue_step", l_router_queue_step },
    { "agent_add", l_router_agent_add },
    { "agent_remove", l_router_agent_remove },
    { "agent_skill", l_router_agent_skill },
    { "agent_channel", l_router_agent_channel },
    { "agent_language", l_router_agent_language },
    { "agent_queue", l_router_agent_queue },
    { "agent_state", l_router_agent_state },
    { "agent_info", l_router_agent_info },
    { "submit", l_router_submit },
    { "accept", l_router_accept },
    { "reject", l_router_reject },
    { "complete", l_router_complete },
    { "cancel", l_router_cancel },
    { "transfer", l_router_transfer },
    { "tick", l_router_tick },
    { "poll", l_router_poll },
    { "conversation_info", l_router_conversation_info },
    { "stats", l_router_stats },
    { "snapshot", l_router_snapshot },
    { "restore", l_router_restore },
    { "reload", l_router_reload },
    { "close", router_close },
    { NULL, NULL }
};

static const luaL_Reg track_methods[] = {
    { "update", l_track_update },
    { "get", l_track_get },
    { "reset", l_track_reset },
    { "set", l_track_set },
    { "close", track_close },
    { NULL, NULL }
};

static const luaL_Reg functions[] = {
    { "version", l_version },
    { "version_number", l_version_number },
    { "strerror", l_strerror },
    { "normalize", l_normalize },
    { "tokenize", l_tokenize },
    { "load", l_load },
    { "load_buffer", l_load_buffer },
    { "train", l_train },
    { "rules_load", l_rules_load },
    { "rules_compile", l_rules_compile },
    { "restore", l_restore },
    { "router", l_router },
    { "emotion_track", l_emotion_track },
    { "erlang_c", l_erlang_c },
    { "erlang_a", l_erlang_a },
    { "erlang_agents", l_erlang_agents },
    { NULL, NULL }
};

/* One metatable per handle type: methods in __index, __gc = close. */
static void new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                      lua_CFunction gc, lua_CFunction tostring)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    compat_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
#endif
    if (tostring) {
        lua_pushcfunction(L, tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}

static const struct { const char *name; int code; } status_names[] = {
    { "OK", KEFU_OK }, { "E_NOMEM", KEFU_E_NOMEM }, { "E_ARG", KEFU_E_ARG },
    { "E_UTF8", KEFU_E_UTF8 }, { "E_TOO_LONG", KEFU_E_TOO_LONG },
    { "E_IO", KEFU_E_IO }, { "E_SYNTAX", KEFU_E_SYNTAX },
    { "E_MODEL", KEFU_E_MODEL }, { "E_CORRUPT", KEFU_E_CORRUPT },
    { "E_VERSION", KEFU_E_VERSION }, { "E_PATTERN", KEFU_E_PATTERN },
    { "E_TYPE", KEFU_E_TYPE }, { "E_UNKNOWN", KEFU_E_UNKNOWN },
    { "E_LIMIT", KEFU_E_LIMIT }, { "E_STATE", KEFU_E_STATE },
    { "E_EXISTS", KEFU_E_EXISTS }, { "E_BUFFER", KEFU_E_BUFFER },
    { "E_EMPTY", KEFU_E_EMPTY }
};

__attribute__((visibility("default"))) int luaopen_kefu(lua_State *L);

int luaopen_kefu(lua_State *L)
{
    if (kefu_version_number() / 10000 != KEFU_VERSION_MAJOR)
        return luaL_error(L, "kefu: libkefu %s does not match the module's "
                             "major version %d", kefu_version_string(),
                          KEFU_VERSION_MAJOR);
    new_class(L, MT_MODEL, model_methods, model_close, l_model_tostring);
    new_class(L, MT_RULES, rules_methods, rules_close, NULL);
    new_class(L, MT_SESSION, session_methods, session_close, NULL);
    new_class(L, MT_ROUTER, router_methods, router_close, NULL);
    new_class(L, MT_TRACK, track_methods, track_close, NULL);
    luaL_newmetatable(L, MT_TEXT);
    lua_pushcfunction(L, text_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, MT_DIAG);
    lua_pushcfunction(L, diag_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    lua_newtable(L);
    compat_setfuncs(L, functions);
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++) {
        lua_pushinteger(L, status_names[i].code);
        lua_setfield(L, -2, status_names[i].name);
    }
    lua_createtable(L, KEFU_EMOTION_COUNT, 0);
    for (int c = 0; c < KEFU_EMOTION_COUNT; c++) {
        lua_pushstring(L, kefu_emotion_category_name(c));
        lua_rawseti(L, -2, c + 1);
    }
    lua_setfield(L, -2, "emotions");
    lua_pushstring(L, KEFU_VERSION_STRING);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
