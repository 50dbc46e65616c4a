/*
 * Structured logging: one JSON object per line on stderr with ts, level and msg, plus the
 * fields a caller adds. Messages must never carry secrets or Authorization values.
 */
#ifndef TODO_LOG_H
#define TODO_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARNING, LOG_ERROR };

/* One extra field of a log line. Use the LF_* helpers to build them. */
struct log_field {
    const char *key;
    enum { LF_STR, LF_INT, LF_DBL } type;
    const char *s;
    int64_t i;
    double d;
};

#define LF_S(k, v) ((struct log_field){.key = (k), .type = LF_STR, .s = (v)})
#define LF_I(k, v) ((struct log_field){.key = (k), .type = LF_INT, .i = (int64_t)(v)})
#define LF_D(k, v) ((struct log_field){.key = (k), .type = LF_DBL, .d = (double)(v)})

/* Sets the minimum level written. */
void log_set_level(enum log_level level);

/* True when a line at this level would be written (to skip building costly fields). */
bool log_enabled(enum log_level level);

/* Parses DEBUG|INFO|WARNING|ERROR (case-insensitive; WARN accepted). ERR_OK or ERR_INVALID. */
int log_level_parse(const char *s, enum log_level *out);

/* Writes one line: msg plus n fields. */
void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n);

/* printf-style convenience wrappers for lines without extra fields. */
void log_printf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_printf(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_printf(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_printf(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_printf(LOG_ERROR, __VA_ARGS__)

#endif
