/*
 * Validation errors in FastAPI's shape: a list of {loc, msg, type}, collected while
 * checking one input so the client learns every problem at once. Bounded.
 */
#ifndef TODO_VERROR_H
#define TODO_VERROR_H

#include <stddef.h>

#include "yyjson.h"

#define VERROR_MAX 16

struct verror {
    const char *where; /* "body", "query" or "path" */
    const char *field; /* may be NULL for the whole body */
    const char *msg;   /* static text */
    const char *type;  /* FastAPI-style type, e.g. "value_error", "missing" */
};

struct verrors {
    struct verror e[VERROR_MAX];
    size_t n;
};

/* Records one error (ignored past VERROR_MAX). Strings must outlive the collector. */
void verr_add(struct verrors *v, const char *where, const char *field, const char *msg,
              const char *type);

/* Builds {"detail":[{"loc":[where, field], "msg":…, "type":…}, …]} in doc. */
yyjson_mut_val *verr_to_json(const struct verrors *v, yyjson_mut_doc *doc);

#endif
