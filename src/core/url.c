/*
 * URL validation for configuration (see url.h). http(s) URLs are parsed by libcurl's URL
 * API and PostgreSQL URLs by libpq's PQconninfoParse, so no URL grammar is written here.
 */
#include "core/url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/util.h"

/* Longest database URL accepted. */
#define DB_URL_MAX 4096

static bool http_parts(const char *s, char **scheme, char **host, char **port, char **path,
                       char **query)
{
    CURLU *h = curl_url();
    if (!h)
        return false;
    bool ok = curl_url_set(h, CURLUPART_URL, s, 0) == CURLUE_OK &&
              curl_url_get(h, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
              curl_url_get(h, CURLUPART_HOST, host, 0) == CURLUE_OK;
    if (ok) {
        *port = NULL;
        *path = NULL;
        *query = NULL;
        /* Browsers omit default ports in Origin; so do we. */
        curl_url_get(h, CURLUPART_PORT, port, CURLU_NO_DEFAULT_PORT);
        curl_url_get(h, CURLUPART_PATH, path, 0);
        curl_url_get(h, CURLUPART_QUERY, query, 0);
    }
    curl_url_cleanup(h);
    return ok;
}

static void free_parts(char *a, char *b, char *c, char *d, char *e)
{
    curl_free(a);
    curl_free(b);
    curl_free(c);
    curl_free(d);
    curl_free(e);
}

bool url_host_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr v4;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    size_t len = strlen(host);
    char v6text[INET6_ADDRSTRLEN];
    if (len < 3 || host[0] != '[' || host[len - 1] != ']' || len - 2 >= sizeof(v6text))
        return false;
    memcpy(v6text, host + 1, len - 2);
    v6text[len - 2] = '\0';
    struct in6_addr v6;
    return inet_pton(AF_INET6, v6text, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

int url_outbound(const char *s, bool *https, bool *loopback)
{
    /* libcurl would guess a scheme for "example.com"; require it to be written. */
    if (!s || !(strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0))
        return ERR_INVALID;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    if (!http_parts(s, &scheme, &host, &port, &path, &query))
        return ERR_INVALID;
    int rc = ERR_INVALID;
    if (host[0] != '\0' && (strcmp(scheme, "https") == 0 || strcmp(scheme, "http") == 0)) {
        *https = strcmp(scheme, "https") == 0;
        *loopback = url_host_is_loopback(host);
        rc = ERR_OK;
    }
    free_parts(scheme, host, port, path, query);
    return rc;
}

bool url_is_http(const char *s)
{
    /* curl would guess a scheme for "example.com"; require it to be written. */
    if (!s || !(str_starts(s, "http://") || str_starts(s, "https://")))
        return false;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    if (!http_parts(s, &scheme, &host, &port, &path, &query))
        return false;
    bool ok = host[0] != '\0';
    free_parts(scheme, host, port, path, query);
    return ok;
}

/* Builds scheme://host[:port]; with bare_only, refuses URLs that carry a path or query. */
static bool origin(const char *s, bool bare_only, char *out, size_t out_size)
{
    if (!url_is_http(s))
        return false;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    if (!http_parts(s, &scheme, &host, &port, &path, &query))
        return false;
    bool ok = !bare_only || ((!path || strcmp(path, "/") == 0) && !query);
    if (ok) {
        int n = port ? snprintf(out, out_size, "%s://%s:%s", scheme, host, port)
                     : snprintf(out, out_size, "%s://%s", scheme, host);
        ok = n > 0 && (size_t)n < out_size;
    }
    free_parts(scheme, host, port, path, query);
    return ok;
}

bool url_origin_canonical(const char *s, char *out, size_t out_size)
{
    return origin(s, true, out, out_size);
}

bool url_origin_of(const char *s, char *out, size_t out_size)
{
    return origin(s, false, out, out_size);
}

/* Prefixes accepted for each kind; SQLAlchemy driver suffixes are ignored. */
static const char *sqlite_prefixes[] = {"sqlite:///", "sqlite+aiosqlite:///",
                                        "sqlite+pysqlite:///"};
static const char *pg_prefixes[] = {"postgresql://", "postgres://", "postgresql+asyncpg://",
                                    "postgresql+psycopg://", "postgresql+psycopg2://"};

/* Rewrites asyncpg's "ssl=" query parameters to libpq's "sslmode=" ("ssl=true" becomes
 * "sslmode=require") from in into out (size bytes). Returns false when the result does not
 * fit (each rewrite makes the text longer). */
static bool map_ssl_param(const char *in, char *out, size_t size)
{
    struct dynbuf d;
    dyn_init_fixed(&d, out, size);
    const char *q = strchr(in, '?');
    dyn_addn(&d, in, q ? (size_t)(q - in) + 1 : strlen(in));
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        size_t len = strcspn(p, "&");
        if (len >= 4 && strncmp(p, "ssl=", 4) == 0) {
            bool is_true = len == 8 && strncmp(p + 4, "true", 4) == 0;
            dyn_add(&d, "sslmode=");
            if (is_true)
                dyn_add(&d, "require");
            else
                dyn_addn(&d, p + 4, len - 4);
        } else {
            dyn_addn(&d, p, len);
        }
        p += len;
        if (*p == '&') {
            dyn_addc(&d, '&');
            p++;
        }
    }
    return dyn_err(&d) == ERR_OK;
}

int db_url_parse(const char *s, struct db_url *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s) {
        snprintf(why, why_size, "must not be empty");
        return ERR_INVALID;
    }
    if (strlen(s) >= DB_URL_MAX) {
        snprintf(why, why_size, "must be shorter than %d characters", DB_URL_MAX);
        return ERR_INVALID;
    }
    for (size_t i = 0; i < ARRAY_LEN(sqlite_prefixes); i++) {
        if (str_starts(s, sqlite_prefixes[i])) {
            const char *path = s + strlen(sqlite_prefixes[i]);
            if (!*path || strchr(path, '?')) {
                snprintf(why, why_size,
                         "sqlite URL needs a file path: sqlite:///relative.db "
                         "or sqlite:////absolute.db");
                return ERR_INVALID;
            }
            out->kind = DB_SQLITE;
            out->sqlite_path = strdup(path);
            return out->sqlite_path ? ERR_OK : ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(pg_prefixes); i++) {
        if (!str_starts(s, pg_prefixes[i]))
            continue;
        char given[DB_URL_MAX + 16], buf[DB_URL_MAX + 16];
        snprintf(given, sizeof(given), "postgresql://%s", s + strlen(pg_prefixes[i]));
        if (!map_ssl_param(given, buf, sizeof(buf))) {
            snprintf(why, why_size, "must be shorter than %d characters", DB_URL_MAX);
            return ERR_INVALID;
        }
        char *err = NULL;
        PQconninfoOption *opts = PQconninfoParse(buf, &err);
        PQfreemem(err); /* libpq's message may quote the password: never shown */
        if (!opts) {
            snprintf(why, why_size,
                     "not a valid PostgreSQL URL (check its host, port, "
                     "percent-encoding and query parameters)");
            return ERR_INVALID;
        }
        bool port_ok = true;
        for (PQconninfoOption *o = opts; o->keyword; o++) {
            if (strcmp(o->keyword, "port") != 0 || !o->val)
                continue;
            /* libpq accepts a comma-separated list, one port per host. */
            const char *p = o->val;
            while (*p && port_ok) {
                char one[8];
                size_t len = strcspn(p, ",");
                int64_t n;
                port_ok = len > 0 && len < sizeof(one);
                if (port_ok) {
                    memcpy(one, p, len);
                    one[len] = '\0';
                    port_ok = parse_int64(one, 1, 65535, &n) == ERR_OK;
                }
                p += len + (p[len] == ',');
            }
        }
        PQconninfoFree(opts);
        if (!port_ok) {
            snprintf(why, why_size, "the port must be a number from 1 to 65535");
            return ERR_INVALID;
        }
        out->kind = DB_POSTGRES;
        out->pg_url = strdup(buf);
        return out->pg_url ? ERR_OK : ERR_NOMEM;
    }
    snprintf(why, why_size, "must start with sqlite:/// or postgresql://");
    return ERR_INVALID;
}

void db_url_free(struct db_url *u)
{
    free(u->sqlite_path);
    free(u->pg_url);
    u->sqlite_path = u->pg_url = NULL;
}

/* Returns r (freed) rebuilt with the value of every "password=" query parameter replaced
 * by "***". Takes ownership of r; the caller frees the result. NULL in gives NULL out. */
static char *redact_query(char *r)
{
    if (!r)
        return NULL;
    char *q = strchr(r, '?');
    if (!q)
        return r;
    struct dynbuf out;
    dyn_init_heap(&out, strlen(r) * 2 + 8); /* "=***" never doubles a parameter */
    dyn_addn(&out, r, (size_t)(q - r) + 1);
    const char *p = q + 1;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        /* libpq decodes keys, so compare the decoded key ("pass%77ord" is "password"). */
        size_t klen = strcspn(p, "=&");
        char *key =
            klen < len || p[klen] == '=' ? curl_easy_unescape(NULL, p, (int)klen, NULL) : NULL;
        bool secret = key && strcmp(key, "password") == 0;
        curl_free(key);
        dyn_addn(&out, p, secret ? klen : len);
        if (secret)
            dyn_add(&out, "=***");
        p += len;
        if (*p == '&') {
            dyn_addc(&out, '&');
            p++;
        }
    }
    free(r);
    return dyn_take(&out); /* NULL when out of memory */
}

char *db_url_redact(const char *s)
{
    if (!s)
        return strdup("");
    const char *scheme_end = strstr(s, "://");
    if (!scheme_end)
        return strdup("***");
    const char *auth = scheme_end + 3;
    /* The user information ends at the first '@' before any '/' (as libpq reads it); the
     * password is what follows its first ':'. A password with an '@' of its own, not
     * percent-encoded ("u:p@ss@db/todo"), still parses (host "ss@db") and is what its owner
     * meant: mask up to the last '@' before the host's end too, never part of it. */
    const char *at = strchr(auth, '@');
    const char *slash = strchr(auth, '/');
    const char *colon =
        at && !(slash && slash < at) ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon)
        return redact_query(strdup(s));
    const char *host_end = at + strcspn(at, "/?#");
    for (const char *p = at; p < host_end; p++)
        if (*p == '@')
            at = p;
    struct dynbuf r;
    dyn_init_heap(&r, strlen(s) + 4);
    dyn_addn(&r, s, (size_t)(colon + 1 - s));
    dyn_add(&r, "***");
    dyn_add(&r, at);
    return redact_query(dyn_take(&r));
}
