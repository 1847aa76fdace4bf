/* diag.c - diagnostics: status, message and position of a failure. */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>

void kefu_diag_init(kefu_diag *d, const kefu_allocator *alloc)
{
    memset(d, 0, sizeof *d);
    kefu_mem_init(&d->mem, alloc);
    d->offset = UINT64_MAX;
}

void kefu_diag_clear(kefu_diag *d)
{
    if (!d)
        return;
    d->status = KEFU_OK;
    d->line = d->column = 0;
    d->offset = UINT64_MAX;
    d->file[0] = '\0';
    d->message[0] = '\0';
}

static void diag_vset(kefu_diag *d, int status, const char *file,
                      uint32_t line, uint32_t column, uint64_t offset,
                      const char *fmt, va_list ap)
{
    d->status = status;
    d->line = line;
    d->column = column;
    d->offset = offset;
    if (file)
        snprintf(d->file, sizeof d->file, "%s", file);
    else
        d->file[0] = '\0';
    vsnprintf(d->message, sizeof d->message, fmt, ap);
}

int kefu_diag_setf(kefu_diag *d, int status, const char *file, uint32_t line,
                   uint32_t column, uint64_t offset, const char *fmt, ...)
{
    va_list ap;
    if (!d)
        return status;
    va_start(ap, fmt);
    diag_vset(d, status, file, line, column, offset, fmt, ap);
    va_end(ap);
    return status;
}

int kefu_diag_msg(kefu_diag *d, int status, const char *fmt, ...)
{
    va_list ap;
    if (!d)
        return status;
    va_start(ap, fmt);
    diag_vset(d, status, NULL, 0, 0, UINT64_MAX, fmt, ap);
    va_end(ap);
    return status;
}

void kefu_diag_copy(kefu_diag *dst, const kefu_diag *src)
{
    kefu_mem mem;
    if (!dst || !src || dst == src)
        return;
    mem = dst->mem;
    *dst = *src;
    dst->mem = mem;
}

KEFU_API kefu_diag *kefu_diag_new(const kefu_allocator *alloc)
{
    kefu_mem mem;
    kefu_diag *d;
    kefu_mem_init(&mem, alloc);
    d = kefu_alloc(&mem, sizeof *d);
    if (d)
        kefu_diag_init(d, alloc);
    return d;
}

KEFU_API void kefu_diag_free(kefu_diag *d)
{
    if (d)
        kefu_dealloc(&d->mem, d);
}

KEFU_API int kefu_diag_status(const kefu_diag *d)
{
    return d ? d->status : KEFU_E_ARG;
}

KEFU_API const char *kefu_diag_message(const kefu_diag *d)
{
    return d ? d->message : "";
}

KEFU_API const char *kefu_diag_file(const kefu_diag *d)
{
    return d ? d->file : "";
}

KEFU_API uint32_t kefu_diag_line(const kefu_diag *d)
{
    return d ? d->line : 0;
}

KEFU_API uint32_t kefu_diag_column(const kefu_diag *d)
{
    return d ? d->column : 0;
}

KEFU_API uint64_t kefu_diag_offset(const kefu_diag *d)
{
    return d ? d->offset : UINT64_MAX;
}

KEFU_API size_t kefu_diag_format(const kefu_diag *d, char *buf, size_t cap)
{
    int n;
    char pos[300] = "";
    if (!d) {
        if (cap)
            buf[0] = '\0';
        return 0;
    }
    if (d->file[0] && d->line)
        snprintf(pos, sizeof pos, "%s:%u:%u: ", d->file, (unsigned)d->line,
                 (unsigned)d->column);
    else if (d->line)
        snprintf(pos, sizeof pos, "%u:%u: ", (unsigned)d->line,
                 (unsigned)d->column);
    else if (d->file[0])
        snprintf(pos, sizeof pos, "%s: ", d->file);
    n = snprintf(cap ? buf : NULL, cap, "%s%s", pos,
                 d->message[0] ? d->message : kefu_strerror(d->status));
    return n < 0 ? 0 : (size_t)n;
}
