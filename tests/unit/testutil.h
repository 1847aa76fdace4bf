/* testutil.h - shared helpers for the cmocka suites. */
#ifndef KEFU_TESTUTIL_H
#define KEFU_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kefu.h"

#ifndef KEFU_SOURCE_DIR
#define KEFU_SOURCE_DIR "."
#endif

/* Reads a whole file into a malloc'd NUL-terminated buffer. */
static inline char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

/* An allocator that fails after `budget` allocations (for OOM tests). */
typedef struct tu_failing_alloc {
    long budget;
    long count;
} tu_failing_alloc;

static inline void *tu_fail_malloc(size_t n, void *u)
{
    tu_failing_alloc *f = u;
    if (f->budget >= 0 && f->count++ >= f->budget)
        return NULL;
    return malloc(n);
}

static inline void *tu_fail_realloc(void *p, size_t n, void *u)
{
    tu_failing_alloc *f = u;
    if (f->budget >= 0 && f->count++ >= f->budget)
        return NULL;
    return realloc(p, n);
}

static inline void tu_fail_free(void *p, void *u)
{
    (void)u;
    free(p);
}

static inline kefu_allocator tu_failing_allocator(tu_failing_alloc *f)
{
    kefu_allocator a = {tu_fail_malloc, tu_fail_realloc, tu_fail_free, f};
    return a;
}

#endif
