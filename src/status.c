/* status.c - version and status strings. */
#include "core.h"

KEFU_API const char *kefu_version_string(void)
{
    return KEFU_VERSION_STRING;
}

KEFU_API uint32_t kefu_version_number(void)
{
    return KEFU_VERSION_NUMBER;
}

KEFU_API const char *kefu_strerror(int status)
{
    switch (status) {
    case KEFU_OK: return "success";
    case KEFU_E_NOMEM: return "out of memory";
    case KEFU_E_ARG: return "invalid argument";
    case KEFU_E_UTF8: return "invalid UTF-8";
    case KEFU_E_TOO_LONG: return "text too long";
    case KEFU_E_IO: return "input/output error";
    case KEFU_E_SYNTAX: return "syntax error";
    case KEFU_E_MODEL: return "invalid model";
    case KEFU_E_CORRUPT: return "corrupt data";
    case KEFU_E_VERSION: return "unsupported version";
    case KEFU_E_PATTERN: return "bad regular expression";
    case KEFU_E_TYPE: return "type error";
    case KEFU_E_UNKNOWN: return "unknown name";
    case KEFU_E_LIMIT: return "limit exceeded";
    case KEFU_E_STATE: return "invalid state";
    case KEFU_E_EXISTS: return "already exists";
    case KEFU_E_BUFFER: return "buffer too small";
    case KEFU_E_EMPTY: return "no data";
    default: return "unknown status";
    }
}
