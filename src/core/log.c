/*
 * JSON-lines logger (see log.h). Each line is built with yyjson in a fixed stack buffer
 * and written with a single write(2), so lines from different threads never interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "yyjson.h"

#include "core/err.h"
#include "core/util.h"

/* Upper bounds for one line: the message and the pool that holds the JSON document. */
#define LOG_MSG_MAX    1024
#define LOG_POOL_BYTES 16384
#define LOG_MAX_FIELDS 16

static atomic_int min_level = LOG_INFO;

static const char *level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void log_set_level(enum log_level level)
{
    atomic_store(&min_level, (int)level);
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

int log_level_parse(const char *s, enum log_level *out)
{
    if (!s)
        return ERR_INVALID;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return ERR_OK;
        }
    }
    if (strcasecmp(s, "WARN") == 0) {
        *out = LOG_WARNING;
        return ERR_OK;
    }
    return ERR_INVALID;
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
    if (!log_enabled(level))
        return;
    _Alignas(16) char pool[LOG_POOL_BYTES];
    yyjson_alc alc;
    if (!yyjson_alc_pool_init(&alc, pool, sizeof(pool)))
        return;
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    if (!doc)
        return;
    yyjson_mut_val *root = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, root);
    char ts[32];
    now_rfc3339_ms(ts, sizeof(ts));
    yyjson_mut_obj_add_strcpy(doc, root, "ts", ts);
    yyjson_mut_obj_add_str(doc, root, "level", level_names[level]);
    yyjson_mut_obj_add_strn(doc, root, "msg", msg, strnlen(msg, LOG_MSG_MAX));
    if (n > LOG_MAX_FIELDS)
        n = LOG_MAX_FIELDS;
    for (size_t i = 0; i < n; i++) {
        const struct log_field *f = &fields[i];
        switch (f->type) {
        case LF_STR:
            if (f->s)
                yyjson_mut_obj_add_strn(doc, root, f->key, f->s, strnlen(f->s, LOG_MSG_MAX));
            break;
        case LF_INT:
            yyjson_mut_obj_add_int(doc, root, f->key, f->i);
            break;
        case LF_DBL:
            yyjson_mut_obj_add_real(doc, root, f->key, f->d);
            break;
        }
    }
    char line[LOG_POOL_BYTES / 2];
    size_t len = 0;
    /* Write into a second pool-backed buffer: no malloc on the logging path. */
    _Alignas(16) char outpool[LOG_POOL_BYTES];
    yyjson_alc outalc;
    if (!yyjson_alc_pool_init(&outalc, outpool, sizeof(outpool)))
        return;
    char *json =
        yyjson_mut_write_opts(doc, YYJSON_WRITE_ALLOW_INVALID_UNICODE, &outalc, &len, NULL);
    if (!json || len + 1 > sizeof(line))
        return;
    memcpy(line, json, len);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nothing sensible to do when stderr is gone */
}

void log_printf(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_fields(level, msg, NULL, 0);
}
