/*
 * core.h - what every stage may use: allocation through the host's hooks,
 * diagnostics and small growable buffers.  Imports nothing else of kefu.
 */
#ifndef KEFU_CORE_H
#define KEFU_CORE_H

#include "kefu.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KEFU_UNUSED(x) ((void)(x))
#define KEFU_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Whether the first `size` bytes of a public struct (a caller's sizeof,
 * perhaps of an older header's struct) hold `field`. */
#define KEFU_COVERS(size, type, field) \
    ((size) >= offsetof(type, field) + sizeof(((type *)0)->field))

/* ---- allocation ---- */

typedef struct kefu_mem {
    kefu_allocator a;
} kefu_mem;

/* Fills `mem` from the host's allocator or the C library's. */
void kefu_mem_init(kefu_mem *mem, const kefu_allocator *alloc);
void *kefu_alloc(const kefu_mem *mem, size_t size);
void *kefu_zalloc(const kefu_mem *mem, size_t size);
void *kefu_realloc(const kefu_mem *mem, void *ptr, size_t size);
void kefu_dealloc(const kefu_mem *mem, void *ptr);
/* Overflow-checked n * size allocation; NULL on overflow. */
void *kefu_alloc_array(const kefu_mem *mem, size_t n, size_t size);
char *kefu_strndup(const kefu_mem *mem, const char *s, size_t len);
char *kefu_strdup(const kefu_mem *mem, const char *s);

/*
 * Grows *ptr (an array of elem-sized items with capacity *cap) to hold at
 * least `need` items.  Returns KEFU_OK or KEFU_E_NOMEM (array unchanged).
 */
int kefu_grow(const kefu_mem *mem, void **ptr, size_t *cap, size_t need,
              size_t elem);

/* A byte buffer. */
typedef struct kefu_buf {
    char *data;
    size_t len;
    size_t cap;
} kefu_buf;

int kefu_buf_reserve(const kefu_mem *mem, kefu_buf *b, size_t extra);
int kefu_buf_append(const kefu_mem *mem, kefu_buf *b, const void *p, size_t n);
int kefu_buf_putc(const kefu_mem *mem, kefu_buf *b, char c);
void kefu_buf_release(const kefu_mem *mem, kefu_buf *b);

/* ---- diagnostics ---- */

struct kefu_diag {
    kefu_mem mem;
    int status;
    uint32_t line, column;
    uint64_t offset;
    char file[256];
    char message[512];
};

void kefu_diag_init(kefu_diag *d, const kefu_allocator *alloc);
void kefu_diag_clear(kefu_diag *d);
/*
 * Records an error and returns `status`, so callers can write
 * `return kefu_diag_set(d, KEFU_E_ARG, ...)`.  `d` may be NULL.
 * `file` may be NULL; line/column 0 and offset UINT64_MAX mean unknown.
 */
int kefu_diag_setf(kefu_diag *d, int status, const char *file, uint32_t line,
                   uint32_t column, uint64_t offset, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;
/* Message only, no position. */
int kefu_diag_msg(kefu_diag *d, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void kefu_diag_copy(kefu_diag *dst, const kefu_diag *src);

/* ---- hashing (stable across platforms and versions: stored in models) ---- */

uint64_t kefu_hash64(const void *data, size_t len, uint64_t seed);
/* kefu_hash64 of a and b as 16 little-endian bytes, computed directly. */
uint64_t kefu_hash64_pair(uint64_t a, uint64_t b, uint64_t seed);
uint32_t kefu_crc32(uint32_t crc, const void *data, size_t len);

/* ---- UTF-8 ---- */

/*
 * Decodes one code point at s[*i] (i < len, input already validated) and
 * advances *i.
 */
static inline uint32_t kefu_utf8_next(const unsigned char *s, size_t len,
                                      size_t *i)
{
    size_t p = *i;
    uint32_t c = s[p];
    if (c < 0x80) {
        *i = p + 1;
        return c;
    }
    if (c < 0xE0 && p + 1 < len) {
        *i = p + 2;
        return ((c & 0x1F) << 6) | (s[p + 1] & 0x3F);
    }
    if (c < 0xF0 && p + 2 < len) {
        *i = p + 3;
        return ((c & 0x0F) << 12) | ((uint32_t)(s[p + 1] & 0x3F) << 6) |
               (s[p + 2] & 0x3F);
    }
    if (p + 3 < len) {
        *i = p + 4;
        return ((c & 0x07) << 18) | ((uint32_t)(s[p + 1] & 0x3F) << 12) |
               ((uint32_t)(s[p + 2] & 0x3F) << 6) | (s[p + 3] & 0x3F);
    }
    *i = len;
    return 0xFFFD;
}

/* Encodes c into out (>= 4 bytes); returns the number of bytes. */
size_t kefu_utf8_encode(uint32_t c, char *out);

#endif /* KEFU_CORE_H */
