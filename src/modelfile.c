/*
 * modelfile.c - binary model files: what `kefu train` writes and production
 * hosts load many times (a Kamailio gateway loads the model in every worker
 * process), so loading is one read, a checksum and no training.
 *
 * Layout (all integers little-endian; doc/model.md has the table):
 *   0  magic    "KEFUMDL\x01"
 *   8  u32      format version (1)
 *  12  u32      byte-order mark 0x0A0B0C0D (as written, little-endian)
 *  16  u64      payload length
 *  24  u32      CRC-32 of the payload
 *  28  u32      number of sections
 *  32  payload: sections, each u32 tag, u32 0, u64 length, bytes
 * Tags: 1 = the YAML sources (count, then name and text of each, the main
 * file first), 2 = the trained intent classifier (intent.c), 3 = the
 * trained emotion classifier (same form).
 */
#include <stdio.h>
#include <errno.h>

#include "intent.h"
#include "model.h"

#define FORMAT_VERSION 1u
#define BOM 0x0A0B0C0Du
#define HEADER 32u
enum { TAG_SOURCES = 1, TAG_INTENT = 2, TAG_EMOTION_CLF = 3 };

bool kefu_modelfile_is(const char *data, size_t len)
{
    return len >= 8 && !memcmp(data, KEFU_MODELFILE_MAGIC, 8);
}

static void le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static int put32(kefu_buf *b, const kefu_mem *mem, uint32_t v)
{
    unsigned char p[4];
    le32(p, v);
    return kefu_buf_append(mem, b, p, 4);
}

static int section(kefu_buf *out, const kefu_mem *mem, uint32_t tag,
                   const kefu_buf *body)
{
    uint64_t len = body->len;
    return put32(out, mem, tag) || put32(out, mem, 0) ||
           put32(out, mem, (uint32_t)len) || put32(out, mem, (uint32_t)(len >> 32)) ||
           kefu_buf_append(mem, out, body->data ? body->data : "", body->len);
}

KEFU_API int kefu_model_save(const kefu_model *m, const char *path,
                             kefu_diag *diag)
{
    const kefu_mem *mem;
    kefu_buf payload = {0}, body = {0};
    unsigned char head[HEADER];
    uint32_t nsec = 0;
    FILE *f;
    int rc = KEFU_OK;

    if (diag)
        kefu_diag_clear(diag);
    if (!m || !path)
        return kefu_diag_msg(diag, KEFU_E_ARG, "model or path is NULL");
    mem = &m->mem;
    /* sources */
    rc = put32(&body, mem, (uint32_t)m->nsources);
    for (size_t i = 0; !rc && i < m->nsources; i++) {
        uint32_t nl = (uint32_t)strlen(m->sources[i].name);
        rc = put32(&body, mem, nl) ||
             kefu_buf_append(mem, &body, m->sources[i].name, nl) ||
             put32(&body, mem, (uint32_t)m->sources[i].len) ||
             kefu_buf_append(mem, &body, m->sources[i].text, m->sources[i].len);
    }
    if (!rc && !(rc = section(&payload, mem, TAG_SOURCES, &body)))
        nsec++;
    if (!rc && m->intent) {
        body.len = 0;
        rc = kefu_intent_serialize(m->intent, &body, mem);
        if (!rc && !(rc = section(&payload, mem, TAG_INTENT, &body)))
            nsec++;
    }
    if (!rc && m->emotion_clf) {
        body.len = 0;
        rc = kefu_intent_serialize(m->emotion_clf, &body, mem);
        if (!rc && !(rc = section(&payload, mem, TAG_EMOTION_CLF, &body)))
            nsec++;
    }
    kefu_buf_release(mem, &body);
    if (rc) {
        kefu_buf_release(mem, &payload);
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    }
    memcpy(head, KEFU_MODELFILE_MAGIC, 8);
    le32(head + 8, FORMAT_VERSION);
    le32(head + 12, BOM);
    le32(head + 16, (uint32_t)payload.len);
    le32(head + 20, (uint32_t)((uint64_t)payload.len >> 32));
    le32(head + 24, kefu_crc32(0, payload.data, payload.len));
    le32(head + 28, nsec);
    f = fopen(path, "wb");
    if (!f) {
        kefu_buf_release(mem, &payload);
        return kefu_diag_setf(diag, KEFU_E_IO, path, 0, 0, UINT64_MAX,
                              "cannot create: %s", strerror(errno));
    }
    if (fwrite(head, 1, HEADER, f) != HEADER ||
        fwrite(payload.data, 1, payload.len, f) != payload.len)
        rc = KEFU_E_IO;
    if (fclose(f) != 0)
        rc = KEFU_E_IO;
    kefu_buf_release(mem, &payload);
    if (rc)
        return kefu_diag_setf(diag, KEFU_E_IO, path, 0, 0, UINT64_MAX,
                              "write error");
    return KEFU_OK;
}

static int corrupt(kefu_diag *diag, const char *name, const char *why)
{
    return kefu_diag_setf(diag, KEFU_E_CORRUPT, name, 0, 0, UINT64_MAX,
                          "not a valid kefu binary model: %s", why);
}

static void free_sources(const kefu_mem *mem, struct kefu_model_source *srcs,
                         size_t n)
{
    for (size_t i = 0; i < n; i++)
        kefu_dealloc(mem, srcs[i].name);
    kefu_dealloc(mem, srcs);
}

/* Reads the sources section: the names are copied (NUL-terminated), the
 * texts point into the file. */
static int read_sources(const kefu_mem *mem, const unsigned char *q,
                        uint64_t slen, struct kefu_model_source **out,
                        size_t *count)
{
    const unsigned char *qe = q + slen;
    struct kefu_model_source *srcs;
    uint32_t n;
    if (slen < 4)
        return KEFU_E_CORRUPT;
    n = rd32(q);
    q += 4;
    if (n > slen / 8)
        return KEFU_E_CORRUPT;
    srcs = kefu_alloc_array(mem, n ? n : 1, sizeof *srcs);
    if (!srcs)
        return KEFU_E_NOMEM;
    *out = srcs;
    *count = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t nl, tl;
        if (qe - q < 4 || (nl = rd32(q)) > (size_t)(qe - q) - 4 ||
            (size_t)(qe - q) - 4 - nl < 4)
            return KEFU_E_CORRUPT;
        srcs[i].name = kefu_strndup(mem, (const char *)q + 4, nl);
        if (!srcs[i].name)
            return KEFU_E_NOMEM;
        *count = i + 1;
        q += 4 + nl;
        tl = rd32(q);
        if (tl > (size_t)(qe - q) - 4)
            return KEFU_E_CORRUPT;
        srcs[i].text = (char *)q + 4;
        srcs[i].len = tl;
        q += 4 + tl;
    }
    return q == qe ? KEFU_OK : KEFU_E_CORRUPT;
}

int kefu_modelfile_load(kefu_model **out, const char *data, size_t len,
                        const char *name, const kefu_allocator *alloc,
                        kefu_diag *diag, char **take)
{
    char *own = NULL;
    const unsigned char *p = (const unsigned char *)data;
    const unsigned char *pay, *end;
    uint64_t plen;
    uint32_t nsec;
    struct kefu_model_source *srcs = NULL;
    size_t nsrcs = 0;
    const unsigned char *intent_blob = NULL, *emo_blob = NULL;
    size_t intent_len = 0, emo_len = 0;
    struct kefu_model *m;
    kefu_mem mem;
    const char *why = NULL;
    int rc;

    *out = NULL;
    if (len < HEADER)
        return corrupt(diag, name, "file is truncated (no header)");
    if (rd32(p + 8) != FORMAT_VERSION)
        return kefu_diag_setf(diag, KEFU_E_VERSION, name, 0, 0, UINT64_MAX,
                              "binary model format %u is not supported "
                              "(this is kefu %s, format %u)",
                              rd32(p + 8), KEFU_VERSION_STRING, FORMAT_VERSION);
    if (rd32(p + 12) != BOM)
        return corrupt(diag, name, "byte-order mark is wrong");
    plen = rd64(p + 16);
    if (plen != len - HEADER)
        return corrupt(diag, name, plen > len - HEADER ? "file is truncated"
                                                       : "trailing bytes");
    pay = p + HEADER;
    end = pay + plen;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* (fuzzing builds skip the checksum so mutations reach the parsers) */
    if (kefu_crc32(0, pay, (size_t)plen) != rd32(p + 24))
        return corrupt(diag, name, "checksum mismatch");
#endif
    nsec = rd32(p + 28);
    kefu_mem_init(&mem, alloc);
    for (uint32_t s = 0; s < nsec && !why; s++) {
        uint32_t tag;
        uint64_t slen;
        if ((size_t)(end - pay) < 16) {
            why = "truncated section header";
            break;
        }
        tag = rd32(pay);
        slen = rd64(pay + 8);
        pay += 16;
        if (slen > (uint64_t)(end - pay)) {
            why = "section runs past the end";
            break;
        }
        if (tag == TAG_SOURCES && !srcs) {
            rc = read_sources(&mem, pay, slen, &srcs, &nsrcs);
            if (rc == KEFU_E_NOMEM) {
                free_sources(&mem, srcs, nsrcs);
                return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
            }
            if (rc)
                why = "bad sources section";
        } else if (tag == TAG_INTENT && !intent_blob) {
            intent_blob = pay;
            intent_len = (size_t)slen;
        } else if (tag == TAG_EMOTION_CLF && !emo_blob) {
            emo_blob = pay;
            emo_len = (size_t)slen;
        } else {
            why = "unknown or repeated section";
        }
        pay += slen;
    }
    if (!why && pay != end)
        why = "bytes after the last section";
    if (!why && !srcs)
        why = "no sources section";
    if (why) {
        free_sources(&mem, srcs, nsrcs);
        return corrupt(diag, name, why);
    }

    /* the model keeps the file's bytes (its weights are used in place):
     * take the caller's buffer when offered, else copy */
    if (take && *take == data) {
        own = *take;
    } else if (!(own = kefu_alloc(&mem, len))) {
        free_sources(&mem, srcs, nsrcs);
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    } else {
        memcpy(own, data, len);
    }
    if (intent_blob)
        intent_blob = (const unsigned char *)own + (intent_blob - p);
    if (emo_blob)
        emo_blob = (const unsigned char *)own + (emo_blob - p);
    for (size_t i = 0; i < nsrcs; i++)
        srcs[i].text = own + (srcs[i].text - data);
    m = kefu_model_begin(alloc);
    if (!m) {
        free_sources(&mem, srcs, nsrcs);
        if (!take || own != *take)
            kefu_dealloc(&mem, own);
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    }
    m->file_buf = own;
    if (take && own == *take)
        *take = NULL;
    m->vfs = srcs;
    m->nvfs = nsrcs;
    for (int k = 0; k < 2; k++) {
        const unsigned char *blob = k ? emo_blob : intent_blob;
        kefu_intent_builder *b;
        if (!blob)
            continue;
        b = kefu_clf_builder_get(m, k ? KEFU_CLF_EMOTION : KEFU_CLF_INTENT);
        if (!b) {
            kefu_model_free(m);
            free_sources(&mem, srcs, nsrcs);
            return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
        }
        b->trained = blob;
        b->trained_len = k ? emo_len : intent_len;
    }
    rc = KEFU_OK;
    if (nsrcs) { /* none for a model trained from TSV alone */
        char dir[4096];
        kefu_dir_of(srcs[0].name, dir, sizeof dir);
        rc = kefu_model_add_yaml(m, srcs[0].text, srcs[0].len, srcs[0].name,
                                 dir, diag);
    }
    /* the builder's `trained` points into data: finish while it lives */
    if (!rc)
        rc = kefu_model_end(m, diag);
    m->vfs = NULL;
    m->nvfs = 0;
    free_sources(&mem, srcs, nsrcs);
    if (rc) {
        kefu_model_free(m);
        return rc;
    }
    *out = m;
    return KEFU_OK;
}
