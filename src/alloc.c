/* alloc.c - allocation through the host's hooks, and growable buffers. */
#include "core.h"

#include <stdlib.h>

static void *std_malloc(size_t size, void *user)
{
    KEFU_UNUSED(user);
    return malloc(size);
}

static void *std_realloc(void *ptr, size_t size, void *user)
{
    KEFU_UNUSED(user);
    return realloc(ptr, size);
}

static void std_free(void *ptr, void *user)
{
    KEFU_UNUSED(user);
    free(ptr);
}

void kefu_mem_init(kefu_mem *mem, const kefu_allocator *alloc)
{
    if (alloc && alloc->malloc_fn && alloc->realloc_fn && alloc->free_fn) {
        mem->a = *alloc;
    } else {
        mem->a.malloc_fn = std_malloc;
        mem->a.realloc_fn = std_realloc;
        mem->a.free_fn = std_free;
        mem->a.user = NULL;
    }
}

void *kefu_alloc(const kefu_mem *mem, size_t size)
{
    return mem->a.malloc_fn(size ? size : 1, mem->a.user);
}

void *kefu_zalloc(const kefu_mem *mem, size_t size)
{
    void *p = kefu_alloc(mem, size);
    if (p)
        memset(p, 0, size ? size : 1);
    return p;
}

void *kefu_realloc(const kefu_mem *mem, void *ptr, size_t size)
{
    return mem->a.realloc_fn(ptr, size ? size : 1, mem->a.user);
}

void kefu_dealloc(const kefu_mem *mem, void *ptr)
{
    if (ptr)
        mem->a.free_fn(ptr, mem->a.user);
}

void *kefu_alloc_array(const kefu_mem *mem, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return kefu_zalloc(mem, n * size);
}

char *kefu_strndup(const kefu_mem *mem, const char *s, size_t len)
{
    char *p;
    if (len == SIZE_MAX)
        return NULL;
    p = kefu_alloc(mem, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *kefu_strdup(const kefu_mem *mem, const char *s)
{
    return kefu_strndup(mem, s, strlen(s));
}

int kefu_grow(const kefu_mem *mem, void **ptr, size_t *cap, size_t need,
              size_t elem)
{
    size_t ncap;
    void *np;
    if (need <= *cap)
        return KEFU_OK;
    ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return KEFU_E_NOMEM;
        ncap *= 2;
    }
    if (elem && ncap > SIZE_MAX / elem)
        return KEFU_E_NOMEM;
    np = kefu_realloc(mem, *ptr, ncap * elem);
    if (!np)
        return KEFU_E_NOMEM;
    *ptr = np;
    *cap = ncap;
    return KEFU_OK;
}

int kefu_buf_reserve(const kefu_mem *mem, kefu_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return KEFU_E_NOMEM;
    return kefu_grow(mem, (void **)&b->data, &b->cap, b->len + extra + 1, 1);
}

int kefu_buf_append(const kefu_mem *mem, kefu_buf *b, const void *p, size_t n)
{
    int rc = kefu_buf_reserve(mem, b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return KEFU_OK;
}

int kefu_buf_putc(const kefu_mem *mem, kefu_buf *b, char c)
{
    return kefu_buf_append(mem, b, &c, 1);
}

void kefu_buf_release(const kefu_mem *mem, kefu_buf *b)
{
    kefu_dealloc(mem, b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
