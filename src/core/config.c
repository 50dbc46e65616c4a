/*
 * Environment configuration (see config.h): defaults, one rule per variable, and the
 * development secret kept under DATA_DIR.
 */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <sodium.h>

#include "core/err.h"
#include "core/util.h"

/* Bounds of the numeric settings. */
#define MAX_POOL             1000
#define MAX_EXPIRATION_DAYS  365
#define MAX_RATE_LIMIT       1000000
#define MAX_SHUTDOWN_S       3600
#define MIN_BODY_BYTES       1024
#define MAX_BODY_BYTES_LIMIT (64 * 1024 * 1024)
#define MAX_WORKERS          64
#define SECRET_FILE_NAME     "jwt-secret"
#define SECRET_MAX           4096

static const char *env_names[] = {"development", "staging", "production"};
static const char *role_names[] = {"all", "web", "api"};

const char *config_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static void add_error(struct config_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_error(struct config_errors *errs, const char *fmt, ...)
{
    if (errs->n >= CONFIG_MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errs->lines[errs->n++], CONFIG_ERROR_LINE, fmt, ap);
    va_end(ap);
}

/* Returns the variable, or NULL when unset or empty. */
static const char *get(config_get_fn fn, void *ctx, const char *name)
{
    const char *v = fn(ctx, name);
    return v && *v ? v : NULL;
}

static void load_int(config_get_fn fn, void *ctx, struct config_errors *errs, const char *name,
                     int64_t min, int64_t max, int64_t def, int64_t *out)
{
    const char *v = get(fn, ctx, name);
    *out = def;
    if (v && parse_int64(v, min, max, out) != ERR_OK)
        add_error(errs, "%s: must be an integer from %lld to %lld", name, (long long)min,
                  (long long)max);
}

static char *dup_or(const char *v, const char *def)
{
    return strdup(v ? v : def);
}

int config_role_parse(const char *s, enum role *out)
{
    for (size_t i = 0; s && i < ARRAY_LEN(role_names); i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum role)i;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

const char *config_role_name(enum role r)
{
    return role_names[r];
}

const char *config_env_name(enum environment e)
{
    return env_names[e];
}

bool config_ip_canonical(const char *s, char out[CONFIG_IP_TEXT_MAX])
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, s, buf) == 1)
        return inet_ntop(AF_INET, buf, out, CONFIG_IP_TEXT_MAX) != NULL;
    if (inet_pton(AF_INET6, s, buf) == 1)
        return inet_ntop(AF_INET6, buf, out, CONFIG_IP_TEXT_MAX) != NULL;
    return false;
}

bool config_proxy_trusted(const struct config *c, const char *ip)
{
    if (c->trust_any_proxy)
        return true;
    for (size_t i = 0; i < c->n_trusted_proxies; i++)
        if (strcmp(c->trusted_proxies[i], ip) == 0)
            return true;
    return false;
}

/* FORWARDED_ALLOW_IPS: "*" or a comma-separated list of IP addresses (uvicorn's name). */
static void load_trusted_proxies(struct config *c, const char *list, struct config_errors *errs)
{
    const char *p = list;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && *p == ' ') {
            p++;
            len--;
        }
        while (len && p[len - 1] == ' ')
            len--;
        char item[CONFIG_IP_TEXT_MAX];
        if (len == 1 && *p == '*') {
            c->trust_any_proxy = true;
        } else if (len) {
            if (len >= sizeof(item) || c->n_trusted_proxies >= CONFIG_MAX_TRUSTED_PROXIES) {
                add_error(errs, "FORWARDED_ALLOW_IPS: at most %d addresses, or \"*\"",
                          CONFIG_MAX_TRUSTED_PROXIES);
                return;
            }
            memcpy(item, p, len);
            item[len] = '\0';
            if (!config_ip_canonical(item, c->trusted_proxies[c->n_trusted_proxies])) {
                add_error(errs, "FORWARDED_ALLOW_IPS: \"%s\" is not an IP address (or \"*\")",
                          item);
                return;
            }
            c->n_trusted_proxies++;
        }
        p = comma ? comma + 1 : NULL;
    }
}

static void load_cors(struct config *c, const char *list, const char *name,
                      struct config_errors *errs)
{
    /* Walk the comma-separated list without modifying it; each item is bounded. */
    const char *p = list;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len) {
            char item[CONFIG_ORIGIN_MAX];
            if (len >= sizeof(item)) {
                add_error(errs, "%s: each origin must be shorter than %d characters", name,
                          CONFIG_ORIGIN_MAX);
                return;
            }
            memcpy(item, p, len);
            item[len] = '\0';
            if (c->n_cors_origins >= CONFIG_MAX_CORS_ORIGINS) {
                add_error(errs, "%s: at most %d origins", name, CONFIG_MAX_CORS_ORIGINS);
                return;
            }
            if (!url_origin_canonical(item, c->cors_origins[c->n_cors_origins],
                                      CONFIG_ORIGIN_MAX)) {
                add_error(errs, "%s: \"%s\" is not an http(s) origin like https://example.com",
                          name, item);
                return;
            }
            c->n_cors_origins++;
        }
        p = comma ? comma + 1 : NULL;
    }
}

/* True when ROLE names the web role (read early: other rules depend on it). */
static bool role_is_web(config_get_fn fn, void *ctx)
{
    const char *v = get(fn, ctx, "ROLE");
    return v && strcmp(v, "web") == 0;
}

int config_load(struct config *c, config_get_fn fn, void *ctx, struct config_errors *errs)
{
    memset(c, 0, sizeof(*c));
    errs->n = 0;
    const char *v;
    int64_t n;

    v = get(fn, ctx, "ENVIRONMENT");
    c->environment = ENV_DEVELOPMENT;
    if (v) {
        size_t i;
        for (i = 0; i < ARRAY_LEN(env_names); i++)
            if (str_ieq(v, env_names[i]))
                break;
        if (i == ARRAY_LEN(env_names))
            add_error(errs, "ENVIRONMENT: must be one of development, staging, production");
        else
            c->environment = (enum environment)i;
    }

    c->host = dup_or(get(fn, ctx, "HOST"), "127.0.0.1");
    load_int(fn, ctx, errs, "PORT", 1, 65535, 8000, &n);
    c->port = (int)n;
    c->data_dir = dup_or(get(fn, ctx, "DATA_DIR"), "./var");

    v = get(fn, ctx, "DATABASE_URL");
    if (v) {
        c->database_url = strdup(v);
    } else {
        size_t size = strlen(c->data_dir) + 32;
        c->database_url = malloc(size);
        if (c->database_url)
            snprintf(c->database_url, size, "sqlite:///%s/todo.db", c->data_dir);
    }
    char why[CONFIG_ERROR_LINE - 32];
    if (c->database_url && db_url_parse(c->database_url, &c->db, why, sizeof(why)) != ERR_OK)
        add_error(errs, "DATABASE_URL: %s", why);

    load_int(fn, ctx, errs, "DATABASE_POOL_SIZE", 1, MAX_POOL, 5, &n);
    c->pool_size = (int)n;
    load_int(fn, ctx, errs, "DATABASE_MAX_OVERFLOW", 0, MAX_POOL, 10, &n);
    c->max_overflow = (int)n;

    v = get(fn, ctx, "JWT_SECRET");
    const char *secret_name = "JWT_SECRET";
    if (!v) {
        v = get(fn, ctx, "BETTER_AUTH_SECRET");
        secret_name = "BETTER_AUTH_SECRET";
    }
    if (v) {
        size_t len = strlen(v);
        if (len < CONFIG_SECRET_MIN || len > SECRET_MAX)
            add_error(errs, "%s: must be %d to %d characters long", secret_name, CONFIG_SECRET_MIN,
                      SECRET_MAX);
        c->jwt_secret = strdup(v);
        c->secret_source = SECRET_ENV;
    } else if (c->environment != ENV_DEVELOPMENT && !role_is_web(fn, ctx)) {
        /* The web role neither issues nor checks tokens: it needs no secret. */
        add_error(errs,
                  "JWT_SECRET: required outside development (at least %d characters; "
                  "BETTER_AUTH_SECRET is accepted as an alias)",
                  CONFIG_SECRET_MIN);
    }

    c->jwt_algorithm = dup_or(get(fn, ctx, "JWT_ALGORITHM"), "HS256");
    if (c->jwt_algorithm && strcmp(c->jwt_algorithm, "HS256") != 0)
        add_error(errs, "JWT_ALGORITHM: must be HS256 (asymmetric tokens are verified via "
                        "BETTER_AUTH_URL's JWKS)");
    load_int(fn, ctx, errs, "JWT_EXPIRATION_DAYS", 1, MAX_EXPIRATION_DAYS, 7, &n);
    c->jwt_expiration_days = (int)n;

    v = get(fn, ctx, "LOG_LEVEL");
    c->log_level = LOG_INFO;
    if (v && log_level_parse(v, &c->log_level) != ERR_OK)
        add_error(errs, "LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR");

    v = get(fn, ctx, "FRONTEND_URL");
    if (v) {
        c->frontend_url = strdup(v);
        if (!url_is_http(v))
            add_error(errs, "FRONTEND_URL: must be an http(s) URL");
    }
    v = get(fn, ctx, "CORS_ORIGINS");
    if (v)
        load_cors(c, v, "CORS_ORIGINS", errs);
    else if (c->environment == ENV_DEVELOPMENT)
        load_cors(c, "http://localhost:3000,http://127.0.0.1:3000", "CORS_ORIGINS", errs);
    /* The seeds configure CORS through FRONTEND_URL alone; honour it as an origin too. */
    char origin[CONFIG_ORIGIN_MAX];
    if (c->frontend_url && url_origin_of(c->frontend_url, origin, sizeof(origin)))
        load_cors(c, origin, "FRONTEND_URL", errs);

    load_int(fn, ctx, errs, "RATE_LIMIT_PER_MINUTE", 1, MAX_RATE_LIMIT, 60, &n);
    c->rate_limit_per_minute = (int)n;
    load_int(fn, ctx, errs, "SHUTDOWN_TIMEOUT_SECONDS", 0, MAX_SHUTDOWN_S, 20, &n);
    c->shutdown_timeout_s = (int)n;
    load_int(fn, ctx, errs, "MAX_BODY_BYTES", MIN_BODY_BYTES, MAX_BODY_BYTES_LIMIT, 1048576,
             &c->max_body_bytes);

    v = get(fn, ctx, "MIGRATE_ON_START");
    c->migrate_on_start = true;
    if (v && parse_bool(v, &c->migrate_on_start) != ERR_OK)
        add_error(errs, "MIGRATE_ON_START: must be true or false");

    v = get(fn, ctx, "ROLE");
    c->role = ROLE_ALL;
    if (v && config_role_parse(v, &c->role) != ERR_OK)
        add_error(errs, "ROLE: must be one of all, web, api");

    v = get(fn, ctx, "API_URL");
    c->api_url = dup_or(v, "http://127.0.0.1:8000");
    if (v && !url_is_http(v))
        add_error(errs, "API_URL: must be an http(s) URL");

    v = get(fn, ctx, "BETTER_AUTH_JWKS_URL");
    const char *base = get(fn, ctx, "BETTER_AUTH_URL");
    if (v) {
        c->jwks_url = strdup(v);
        if (!url_is_http(v))
            add_error(errs, "BETTER_AUTH_JWKS_URL: must be an http(s) URL");
    } else if (base) {
        size_t size = strlen(base) + sizeof("/api/auth/jwks");
        c->jwks_url = malloc(size);
        if (c->jwks_url) {
            size_t blen = strlen(base);
            while (blen && base[blen - 1] == '/')
                blen--;
            snprintf(c->jwks_url, size, "%.*s/api/auth/jwks", (int)blen, base);
        }
        if (!url_is_http(base))
            add_error(errs, "BETTER_AUTH_URL: must be an http(s) URL");
    }

    v = get(fn, ctx, "FORWARDED_ALLOW_IPS");
    load_trusted_proxies(c, v ? v : "127.0.0.1", errs);

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t def_workers = cpus < 2 ? 2 : (cpus > 16 ? 16 : cpus);
    load_int(fn, ctx, errs, "WORKERS", 1, MAX_WORKERS, def_workers, &n);
    c->workers = (int)n;

    if (!c->host || !c->database_url || !c->data_dir || !c->jwt_algorithm || !c->api_url)
        add_error(errs, "out of memory while reading the configuration");
    return errs->n ? ERR_INVALID : ERR_OK;
}

/* Creates dir (one level) with mode 0700 when missing. */
static int ensure_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return ERR_OK;
    return ERR_IO;
}

int config_resolve_secret(struct config *c, char *why, size_t why_size)
{
    if (c->jwt_secret)
        return ERR_OK;
    if (c->environment != ENV_DEVELOPMENT) {
        snprintf(why, why_size, "JWT_SECRET: required outside development");
        return ERR_INVALID;
    }
    if (ensure_dir(c->data_dir) != ERR_OK) {
        snprintf(why, why_size, "DATA_DIR: cannot create %s: %s", c->data_dir, strerror(errno));
        return ERR_IO;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", c->data_dir, SECRET_FILE_NAME);
    char buf[SECRET_MAX + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t len = read(fd, buf, SECRET_MAX);
        close(fd);
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            len--;
        if (len < CONFIG_SECRET_MIN) {
            snprintf(why, why_size, "%s: too short; delete it to generate a new one", path);
            return ERR_INVALID;
        }
        buf[len] = '\0';
        c->jwt_secret = strdup(buf);
        c->secret_source = SECRET_FILE;
        return c->jwt_secret ? ERR_OK : ERR_NOMEM;
    }
    /* 32 random bytes as 64 hex characters; O_EXCL so two starts never race. */
    random_hex(buf, 64);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, why_size, "cannot create %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    ssize_t w = write(fd, buf, 64);
    int rc = close(fd);
    if (w != 64 || rc != 0) {
        unlink(path);
        snprintf(why, why_size, "cannot write %s", path);
        return ERR_IO;
    }
    c->jwt_secret = strdup(buf);
    c->secret_source = SECRET_GENERATED;
    sodium_memzero(buf, sizeof(buf));
    return c->jwt_secret ? ERR_OK : ERR_NOMEM;
}

void config_print(const struct config *c, FILE *out)
{
    static const char *secret_desc[] = {"(unset)", "(set, redacted)", "(from DATA_DIR, redacted)",
                                        "(generated, redacted)"};
    char *db = db_url_redact(c->database_url);
    fprintf(out, "ENVIRONMENT=%s\n", env_names[c->environment]);
    fprintf(out, "ROLE=%s\n", role_names[c->role]);
    fprintf(out, "HOST=%s\nPORT=%d\n", c->host, c->port);
    fprintf(out, "DATA_DIR=%s\n", c->data_dir);
    fprintf(out, "DATABASE_URL=%s\n", db ? db : "***");
    fprintf(out, "DATABASE_POOL_SIZE=%d\nDATABASE_MAX_OVERFLOW=%d\n", c->pool_size,
            c->max_overflow);
    fprintf(out, "JWT_SECRET=%s\n", secret_desc[c->secret_source]);
    fprintf(out, "JWT_ALGORITHM=%s\nJWT_EXPIRATION_DAYS=%d\n", c->jwt_algorithm,
            c->jwt_expiration_days);
    fprintf(out, "LOG_LEVEL=%s\n",
            (const char *[]){"DEBUG", "INFO", "WARNING", "ERROR"}[c->log_level]);
    fprintf(out, "CORS_ORIGINS=");
    for (size_t i = 0; i < c->n_cors_origins; i++)
        fprintf(out, "%s%s", i ? "," : "", c->cors_origins[i]);
    fprintf(out, "\nFRONTEND_URL=%s\n", c->frontend_url ? c->frontend_url : "");
    fprintf(out, "RATE_LIMIT_PER_MINUTE=%d\n", c->rate_limit_per_minute);
    fprintf(out, "SHUTDOWN_TIMEOUT_SECONDS=%d\n", c->shutdown_timeout_s);
    fprintf(out, "MAX_BODY_BYTES=%lld\n", (long long)c->max_body_bytes);
    fprintf(out, "MIGRATE_ON_START=%s\n", c->migrate_on_start ? "true" : "false");
    fprintf(out, "API_URL=%s\n", c->api_url);
    fprintf(out, "WORKERS=%d\n", c->workers);
    fprintf(out, "FORWARDED_ALLOW_IPS=%s", c->trust_any_proxy ? "*" : "");
    for (size_t i = 0; i < c->n_trusted_proxies; i++)
        fprintf(out, "%s%s", i || c->trust_any_proxy ? "," : "", c->trusted_proxies[i]);
    fprintf(out, "\n");
    fprintf(out, "BETTER_AUTH_JWKS_URL=%s\n", c->jwks_url ? c->jwks_url : "");
    free(db);
}

void config_free(struct config *c)
{
    free(c->host);
    free(c->database_url);
    db_url_free(&c->db);
    if (c->jwt_secret) {
        sodium_memzero(c->jwt_secret, strlen(c->jwt_secret));
        free(c->jwt_secret);
    }
    free(c->jwt_algorithm);
    free(c->frontend_url);
    free(c->data_dir);
    free(c->api_url);
    free(c->jwks_url);
    memset(c, 0, sizeof(*c));
}
