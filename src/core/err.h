/*
 * The one error idiom of todo: functions that can fail return an int, ERR_OK (0) on
 * success or a negative ERR_* code. Callers propagate the code upward; only the HTTP
 * layer turns a code into a status, and only the log sees a backend's own message.
 */
#ifndef TODO_ERR_H
#define TODO_ERR_H

enum {
    ERR_OK = 0,
    ERR_NOMEM = -1,       /* allocation failed or a size limit was reached */
    ERR_INVALID = -2,     /* input broke a rule */
    ERR_NOTFOUND = -3,    /* no such row, route or object */
    ERR_CONFLICT = -4,    /* uniqueness or state conflict */
    ERR_DB = -5,          /* the database failed a statement */
    ERR_UNAVAILABLE = -6, /* a dependency is down or timed out */
    ERR_TOOBIG = -7,      /* input over a named limit */
    ERR_IO = -8,          /* file system or socket failure */
    ERR_AUTH = -9,        /* missing or bad credentials */
    ERR_FORBIDDEN = -10,  /* authenticated, but not allowed */
    ERR_LIMIT = -11,      /* rate limited */
    ERR_RANGE = -12,      /* a computed value would leave its range (a time past year 9999) */
    ERR_TIMEOUT = -13,    /* a peer did not answer within its deadline */
    ERR_CANCELED = -14,   /* the operation was canceled (client gone, shutdown) */
};

/* A short, static, client-safe description of an ERR_* code. */
const char *err_str(int err);

#endif
