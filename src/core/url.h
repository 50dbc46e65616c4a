/*
 * URL rules used by configuration: http(s) URLs and origins (parsed with libcurl's URL
 * API) and database URLs (sqlite:///path or a PostgreSQL URL checked by libpq itself).
 */
#ifndef TODO_URL_H
#define TODO_URL_H

#include <stdbool.h>
#include <stddef.h>

enum db_kind { DB_SQLITE = 0, DB_POSTGRES = 1 };

/* True when s is an absolute http or https URL with a host. */
bool url_is_http(const char *s);

/* True when s is a browser origin: http(s)://host[:port] with at most a trailing "/".
 * On success writes the canonical origin (no trailing slash) into out. */
bool url_origin_canonical(const char *s, char *out, size_t out_size);

/* Writes the origin (scheme://host[:port], default ports dropped) of any http(s) URL into
 * out. Returns false when s is not an http(s) URL or out is too small. */
bool url_origin_of(const char *s, char *out, size_t out_size);

/* True when host (as libcurl's URL API returns it, an IPv6 address in brackets) is
 * localhost, in 127.0.0.0/8 or ::1. */
bool url_host_is_loopback(const char *host);

/* Checks a URL an outbound request may use: written with an http:// or https:// scheme and
 * with a host. Sets *https and whether the host is loopback. ERR_OK or ERR_INVALID. */
int url_outbound(const char *s, bool *https, bool *loopback);

/* A parsed DATABASE_URL. Strings are heap-allocated and owned by the struct. */
struct db_url {
    enum db_kind kind;
    char *sqlite_path; /* DB_SQLITE: file path or ":memory:" */
    char *pg_url;      /* DB_POSTGRES: a URL libpq accepts (driver suffixes and ssl= mapped) */
};

/* Parses s. On failure returns ERR_INVALID and writes a reason (never the URL, which may
 * hold a password) into why. The caller frees the result with db_url_free. */
int db_url_parse(const char *s, struct db_url *out, char *why, size_t why_size);

void db_url_free(struct db_url *u);

/* Returns a heap copy of a database URL with any password replaced by "***"; the caller
 * frees it. Never returns the password, even for URLs it cannot parse. */
char *db_url_redact(const char *s);

#endif
