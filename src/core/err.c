/* Descriptions of the ERR_* codes (see err.h). */
#include "core/err.h"

const char *err_str(int err)
{
    switch (err) {
    case ERR_OK:
        return "ok";
    case ERR_NOMEM:
        return "out of memory";
    case ERR_INVALID:
        return "invalid input";
    case ERR_NOTFOUND:
        return "not found";
    case ERR_CONFLICT:
        return "conflict";
    case ERR_DB:
        return "database error";
    case ERR_UNAVAILABLE:
        return "service unavailable";
    case ERR_TOOBIG:
        return "too large";
    case ERR_IO:
        return "i/o error";
    case ERR_AUTH:
        return "not authenticated";
    case ERR_FORBIDDEN:
        return "forbidden";
    case ERR_LIMIT:
        return "too many requests";
    case ERR_RANGE:
        return "out of range";
    case ERR_TIMEOUT:
        return "timed out";
    case ERR_CANCELED:
        return "canceled";
    default:
        return "internal error";
    }
}
