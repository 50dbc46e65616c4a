/*
 * Environment configuration (see config.h) as one table, after Redis's standardConfig: each
 * setting is one row — name, alias, type, default, bounds or choices, flags (secret), where
 * it lives in struct config, and its help. Loading, the validation messages, `todo config
 * check` and the README's configuration table (`todo config table --markdown`) all come from
 * the rows. A plain setting is one line in the table; a setting with a rule of its own names
 * a parse function (and a print function when its value needs care to show). Rules between
 * settings (defaults that depend on others, the secret required outside development) are
 * applied after the rows, in config_finish.
 */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <sodium.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/provider.h"
#include "core/util.h"

#define SECRET_FILE_NAME "jwt-secret"
#define SECRET_MAX       4096
/* The longest MCP_SERVER_NAME. */
#define MCP_NAME_MAX 64
/* Longest text any setting takes (URLs, lists). */
#define VALUE_MAX 4096
/* WORKERS by default: the CPU count within these bounds. */
#define WORKERS_DEFAULT_MIN 2
#define WORKERS_DEFAULT_MAX 16

static const char *const env_names[] = {"development", "staging", "production", NULL};
static const char *const role_names[] = {"all", "web", "api", "mcp", "agent", NULL};
static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR", NULL};
static const char *const algorithms[] = {"HS256", NULL};
static const char *const email_providers[] = {"console", "smtp", NULL};
static const char *const smtp_tls_modes[] = {"starttls", "tls", "none", NULL};

enum cfg_type {
    CFG_INT,    /* an integer within [min, max] (int or int64_t field) */
    CFG_BOOL,   /* true/false/1/0/yes/no/on/off */
    CFG_STRING, /* text (char * field, owned) */
    CFG_URL,    /* an absolute http(s) URL (char * field, owned) */
    CFG_ENUM,   /* one of choices, stored as its index (an enum field) */
    CFG_CUSTOM, /* parse and print functions of its own */
};

enum cfg_flags {
    CFG_SECRET = 1u << 0, /* never printed: "(set, redacted)" */
    CFG_NOCASE = 1u << 1, /* enum choices match case-insensitively */
};

struct cfg_def;

/* Parses v (never NULL or empty) into c; on failure writes why (after "NAME: ") and returns
 * ERR_INVALID. */
typedef int (*cfg_parse_fn)(const struct cfg_def *d, struct config *c, const char *v,
                            struct dynbuf *why);
/* Writes the value of a setting as `config check` shows it. */
typedef void (*cfg_print_fn)(const struct cfg_def *d, const struct config *c, struct dynbuf *out);

struct cfg_def {
    const char *name;
    const char *alias; /* accepted when name is unset, or NULL */
    enum cfg_type type;
    const char *def;            /* the default as text, or NULL for none */
    const char *def_doc;        /* the default as documented when it is derived, or NULL */
    int64_t min, max;           /* CFG_INT */
    const char *const *choices; /* CFG_ENUM, NULL-terminated */
    unsigned flags;
    size_t offset, size; /* the field in struct config */
    cfg_parse_fn parse;  /* CFG_CUSTOM, or a rule replacing the type's */
    cfg_print_fn print;  /* CFG_CUSTOM, or NULL for the type's */
    const char *help;    /* the README's "rule / meaning" after the derived rule (Markdown) */
};

/* ---- parse and print by type ------------------------------------------------------------- */

static void *field(const struct cfg_def *d, struct config *c)
{
    return (char *)c + d->offset;
}

static const void *cfield(const struct cfg_def *d, const struct config *c)
{
    return (const char *)c + d->offset;
}

static int parse_int(const struct cfg_def *d, struct config *c, const char *v, struct dynbuf *why)
{
    int64_t n = 0;
    if (parse_int64(v, d->min, d->max, &n) != ERR_OK) {
        dyn_addf(why, "must be an integer from %lld to %lld", (long long)d->min, (long long)d->max);
        return ERR_INVALID;
    }
    if (d->size == sizeof(int64_t))
        *(int64_t *)field(d, c) = n;
    else
        *(int *)field(d, c) = (int)n;
    return ERR_OK;
}

static int parse_boolean(const struct cfg_def *d, struct config *c, const char *v,
                         struct dynbuf *why)
{
    if (parse_bool(v, (bool *)field(d, c)) != ERR_OK) {
        dyn_add(why, "must be true or false");
        return ERR_INVALID;
    }
    return ERR_OK;
}

static int parse_string(const struct cfg_def *d, struct config *c, const char *v,
                        struct dynbuf *why)
{
    char **f = field(d, c);
    if (d->type == CFG_URL && !url_is_http(v)) {
        dyn_add(why, "must be an http(s) URL");
        return ERR_INVALID;
    }
    free(*f);
    *f = strdup(v);
    if (!*f) {
        dyn_add(why, "out of memory");
        return ERR_INVALID;
    }
    return ERR_OK;
}

/* Appends "one of a, b, c". */
static void add_choices(struct dynbuf *out, const char *const *choices, const char *quote)
{
    for (size_t i = 0; choices[i]; i++)
        dyn_addf(out, "%s%s%s%s", i ? ", " : "", quote, choices[i], quote);
}

static int parse_enum(const struct cfg_def *d, struct config *c, const char *v, struct dynbuf *why)
{
    for (size_t i = 0; d->choices[i]; i++) {
        bool eq =
            (d->flags & CFG_NOCASE) ? str_ieq(v, d->choices[i]) : strcmp(v, d->choices[i]) == 0;
        if (eq) {
            *(int *)field(d, c) = (int)i;
            return ERR_OK;
        }
    }
    dyn_add(why, "must be one of ");
    add_choices(why, d->choices, "");
    return ERR_INVALID;
}

static void print_value(const struct cfg_def *d, const struct config *c, struct dynbuf *out)
{
    if (d->print) {
        d->print(d, c, out);
        return;
    }
    switch (d->type) {
    case CFG_INT:
        dyn_add_int(out, d->size == sizeof(int64_t) ? *(const int64_t *)cfield(d, c)
                                                    : *(const int *)cfield(d, c));
        break;
    case CFG_BOOL:
        dyn_add(out, *(const bool *)cfield(d, c) ? "true" : "false");
        break;
    case CFG_ENUM:
        dyn_add(out, d->choices[*(const int *)cfield(d, c)]);
        break;
    case CFG_STRING:
    case CFG_URL: {
        const char *v = *(char *const *)cfield(d, c);
        if (d->flags & CFG_SECRET) {
            dyn_add(out, v ? "(set, redacted)" : "(unset)");
        } else if (v && d->type == CFG_URL) {
            char *r = db_url_redact(v); /* a URL may carry a password */
            dyn_add(out, r ? r : "***");
            free(r);
        } else {
            dyn_add(out, v ? v : "");
        }
        break;
    }
    case CFG_CUSTOM:
        break;
    }
}

/* METRICS_TOKEN: long enough not to be guessed. */
static int parse_metrics_token(const struct cfg_def *d, struct config *c, const char *v,
                               struct dynbuf *why)
{
    size_t n = strlen(v);
    if (n < 16 || n > SECRET_MAX) {
        dyn_add(why, "must be 16 to 4096 characters");
        return ERR_INVALID;
    }
    return parse_string(d, c, v, why);
}

/* ---- settings with rules of their own ----------------------------------------------------- */

static int parse_database_url(const struct cfg_def *d, struct config *c, const char *v,
                              struct dynbuf *why)
{
    (void)d;
    free(c->database_url);
    c->database_url = strdup(v);
    char reason[CONFIG_ERROR_LINE - 32];
    if (c->database_url &&
        db_url_parse(c->database_url, &c->db, reason, sizeof(reason)) != ERR_OK) {
        dyn_add(why, reason);
        return ERR_INVALID;
    }
    return ERR_OK;
}

static void print_database_url(const struct cfg_def *d, const struct config *c, struct dynbuf *out)
{
    (void)d;
    char *r = db_url_redact(c->database_url);
    dyn_add(out, r ? r : "***");
    free(r);
}

static int parse_secret(const struct cfg_def *d, struct config *c, const char *v,
                        struct dynbuf *why)
{
    (void)d;
    size_t len = strnlen(v, SECRET_MAX + 1);
    c->jwt_secret = strdup(v);
    c->secret_source = SECRET_ENV;
    if (len < CONFIG_SECRET_MIN || len > SECRET_MAX) {
        dyn_addf(why, "must be %d to %d characters long", CONFIG_SECRET_MIN, SECRET_MAX);
        return ERR_INVALID;
    }
    return ERR_OK;
}

static void print_secret(const struct cfg_def *d, const struct config *c, struct dynbuf *out)
{
    (void)d;
    static const char *const desc[] = {"(unset)", "(set, redacted)", "(from DATA_DIR, redacted)",
                                       "(generated, redacted)"};
    dyn_add(out, desc[c->secret_source]);
}

static int parse_level(const struct cfg_def *d, struct config *c, const char *v, struct dynbuf *why)
{
    if (log_level_parse(v, &c->log_level) != ERR_OK) { /* WARN is accepted too */
        dyn_add(why, "must be one of ");
        add_choices(why, d->choices, "");
        return ERR_INVALID;
    }
    return ERR_OK;
}

/* Walks a comma-separated list, trimming each item; calls add for each non-empty one
 * (bounded: every item consumes input). Returns the first error add reports. */
static int each_item(const char *list, struct config *c, struct dynbuf *why,
                     int (*add)(struct config *c, const char *item, struct dynbuf *why))
{
    const char *p = list;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *start = p;
        while (len && (*start == ' ' || *start == '\t')) {
            start++;
            len--;
        }
        while (len && (start[len - 1] == ' ' || start[len - 1] == '\t'))
            len--;
        if (len) {
            char item[CONFIG_ORIGIN_MAX];
            if (len >= sizeof(item)) {
                dyn_addf(why, "each item must be shorter than %d characters", CONFIG_ORIGIN_MAX);
                return ERR_INVALID;
            }
            memcpy(item, start, len);
            item[len] = '\0';
            int rc = add(c, item, why);
            if (rc != ERR_OK)
                return rc;
        }
        p = comma ? comma + 1 : NULL;
    }
    return ERR_OK;
}

static int add_origin(struct config *c, const char *item, struct dynbuf *why)
{
    if (c->n_cors_origins >= CONFIG_MAX_CORS_ORIGINS) {
        dyn_addf(why, "at most %d origins", CONFIG_MAX_CORS_ORIGINS);
        return ERR_INVALID;
    }
    if (!url_origin_canonical(item, c->cors_origins[c->n_cors_origins], CONFIG_ORIGIN_MAX)) {
        dyn_addf(why, "\"%s\" is not an http(s) origin like https://example.com", item);
        return ERR_INVALID;
    }
    c->n_cors_origins++;
    return ERR_OK;
}

static int parse_origins(const struct cfg_def *d, struct config *c, const char *v,
                         struct dynbuf *why)
{
    (void)d;
    c->cors_set = true;
    return each_item(v, c, why, add_origin);
}

static void print_origins(const struct cfg_def *d, const struct config *c, struct dynbuf *out)
{
    (void)d;
    for (size_t i = 0; i < c->n_cors_origins; i++)
        dyn_addf(out, "%s%s", i ? "," : "", c->cors_origins[i]);
}

static int add_proxy(struct config *c, const char *item, struct dynbuf *why)
{
    if (strcmp(item, "*") == 0) {
        c->trust_any_proxy = true;
        return ERR_OK;
    }
    if (c->n_trusted_proxies >= CONFIG_MAX_TRUSTED_PROXIES || strlen(item) >= CONFIG_IP_TEXT_MAX) {
        dyn_addf(why, "at most %d addresses, or \"*\"", CONFIG_MAX_TRUSTED_PROXIES);
        return ERR_INVALID;
    }
    if (!config_ip_canonical(item, c->trusted_proxies[c->n_trusted_proxies])) {
        dyn_addf(why, "\"%s\" is not an IP address (or \"*\")", item);
        return ERR_INVALID;
    }
    c->n_trusted_proxies++;
    return ERR_OK;
}

static int parse_proxies(const struct cfg_def *d, struct config *c, const char *v,
                         struct dynbuf *why)
{
    (void)d;
    return each_item(v, c, why, add_proxy);
}

static void print_proxies(const struct cfg_def *d, const struct config *c, struct dynbuf *out)
{
    (void)d;
    dyn_add(out, c->trust_any_proxy ? "*" : "");
    for (size_t i = 0; i < c->n_trusted_proxies; i++)
        dyn_addf(out, "%s%s", i || c->trust_any_proxy ? "," : "", c->trusted_proxies[i]);
}

/* MCP_SERVER_NAME goes into JSON and logs as it is: printable ASCII, at most 64. */
static int parse_mcp_name(const struct cfg_def *d, struct config *c, const char *v,
                          struct dynbuf *why)
{
    size_t n = 0;
    for (; v[n]; n++)
        if (v[n] < 0x20 || v[n] > 0x7e || n >= MCP_NAME_MAX) {
            dyn_addf(why, "must be 1 to %d printable ASCII characters", MCP_NAME_MAX);
            return ERR_INVALID;
        }
    return parse_string(d, c, v, why);
}

static int parse_provider(const struct cfg_def *d, struct config *c, const char *v,
                          struct dynbuf *why)
{
    for (size_t i = 0; provider_names[i]; i++) {
        if (str_ieq(v, provider_names[i])) {
            c->llm_provider = (int)i + 1;
            return ERR_OK;
        }
    }
    dyn_add(why, "must be one of ");
    add_choices(why, d->choices, "");
    return ERR_INVALID;
}

static void print_provider(const struct cfg_def *d, const struct config *c, struct dynbuf *out)
{
    (void)d;
    dyn_add(out, provider_chosen(c));
}

/* An API key: it goes into a header, so printable ASCII without spaces (its shape per
 * provider is checked once all are read, in config_finish). */
static int parse_key(const struct cfg_def *d, struct config *c, const char *v, struct dynbuf *why)
{
    if (provider_key_ok(v) != ERR_OK) {
        dyn_add(why, "must be 8 to 512 printable characters without spaces");
        return ERR_INVALID;
    }
    return parse_string(d, c, v, why);
}

static int parse_temperature(const struct cfg_def *d, struct config *c, const char *v,
                             struct dynbuf *why)
{
    (void)d;
    char *end = NULL;
    double t = strtod(v, &end);
    if (!end || *end || end == v || !(t >= 0.0 && t <= 2.0)) {
        dyn_add(why, "must be a number from 0 to 2");
        return ERR_INVALID;
    }
    c->temperature = t;
    return ERR_OK;
}

static void print_temperature(const struct cfg_def *d, const struct config *c, struct dynbuf *out)
{
    (void)d;
    dyn_addf(out, "%g", c->temperature);
}

/* ---- the table ------------------------------------------------------------------------------ */

#define F(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)
/* One row per kind of setting: name, [alias,] default, bounds or choices, field, help. */
#define INT(name, def, min, max, fld, help)                                                        \
    {                                                                                              \
        name, NULL, CFG_INT, #def, NULL, min, max, NULL, 0, F(fld), NULL, NULL, help               \
    }
#define BOOL(name, def, fld, help)                                                                 \
    {                                                                                              \
        name, NULL, CFG_BOOL, def, NULL, 0, 0, NULL, 0, F(fld), NULL, NULL, help                   \
    }
#define STR(name, def, fld, help)                                                                  \
    {                                                                                              \
        name, NULL, CFG_STRING, def, NULL, 0, 0, NULL, 0, F(fld), NULL, NULL, help                 \
    }
#define URL(name, def, fld, help)                                                                  \
    {                                                                                              \
        name, NULL, CFG_URL, def, NULL, 0, 0, NULL, 0, F(fld), NULL, NULL, help                    \
    }
#define KEY(name, fld, help)                                                                       \
    {                                                                                              \
        name, NULL, CFG_STRING, NULL, NULL, 0, 0, NULL, CFG_SECRET, F(fld), parse_key, NULL, help  \
    }
#define ENUM(name, def, choices, flags, fld, help)                                                 \
    {                                                                                              \
        name, NULL, CFG_ENUM, def, NULL, 0, 0, choices, flags, F(fld), NULL, NULL, help            \
    }

/* clang-format off */
static const struct cfg_def defs[] = {
    STR("HOST", "127.0.0.1", host,
        "address to listen on (`0.0.0.0` in the container image)"),
    INT("PORT", 8000, 1, 65535, port, ""),
    ENUM("ROLE", "all", role_names, 0, role,
         "`web` serves the UI and proxies to `API_URL`; `mcp` only the MCP server, on "
         "`MCP_SERVER_PORT`; `--role` overrides"),
    URL("API_URL", "http://127.0.0.1:8000", api_url,
        "web role: where the API is (e.g. `http://todo-backend:8000`)"),
    URL("AGENT_URL", NULL, agent_url,
        "web role: where `/api/{user_id}/chat` and `/api/{user_id}/conversations…` go (the "
        "agent role, e.g. `http://todo-ai-agent:8002`); unset: to `API_URL`"),
    STR("DATA_DIR", "./var", data_dir,
        "where the default SQLite database and the development secret live"),
    {"DATABASE_URL", NULL, CFG_CUSTOM, NULL, "`sqlite:///$DATA_DIR/todo.db`", 0, 0, NULL,
     CFG_SECRET, F(database_url), parse_database_url, print_database_url,
     "`sqlite:///relative.db`, `sqlite:////absolute.db`, or "
     "`postgresql://user:pass@host:5432/db` (`postgres://`, `postgresql+asyncpg://` and "
     "asyncpg's `?ssl=require` accepted); the password is never printed"},
    INT("DATABASE_POOL_SIZE", 5, 1, 1000, pool_size, "PostgreSQL connections kept open"),
    INT("DATABASE_MAX_OVERFLOW", 10, 0, 1000, max_overflow, "extra connections under load"),
    BOOL("MIGRATE_ON_START", "true", migrate_on_start,
         "run migrations before serving (safe with several replicas)"),
    {"JWT_SECRET", "BETTER_AUTH_SECRET", CFG_CUSTOM, NULL, NULL, 0, 0, NULL, CFG_SECRET,
     F(jwt_secret), parse_secret, print_secret,
     "32–4096 characters; required outside development, except in the web role and `todo mcp "
     "--stdio` with a personal access token; in "
     "development one is generated into `$DATA_DIR/jwt-secret` (mode 0600) with a warning"},
    ENUM("JWT_ALGORITHM", "HS256", algorithms, 0, jwt_algorithm,
         "tokens we issue; Better Auth's EdDSA/ES256/RS256 tokens are verified through its "
         "JWKS"),
    INT("JWT_EXPIRATION_DAYS", 7, 1, 365, jwt_expiration_days, "lifetime of the tokens we issue"),
    INT("PASSWORD_HASH_MEMORY_MIB", 7, 7, 1024, password_memory_mib,
        "Argon2id's memory per password hash; the passes follow OWASP's pairs of equal "
        "defence (7 MiB × 5, 9 × 4, 12 × 3, 19 × 2, 46 × 1), and a login replaces a hash made "
        "with other settings. At most two hashes run at once: the process's peak is up to "
        "twice this above its usual size"),
    URL("BETTER_AUTH_URL", NULL, better_auth_url,
        "when set, also accept tokens signed by Better Auth's keys at "
        "`$BETTER_AUTH_URL/api/auth/jwks`"),
    URL("BETTER_AUTH_JWKS_URL", NULL, jwks_url,
        "explicit JWKS URL (https; http only for loopback)"),
    ENUM("ENVIRONMENT", "development", env_names, CFG_NOCASE, environment, ""),
    {"LOG_LEVEL", NULL, CFG_ENUM, "INFO", NULL, 0, 0, level_names, CFG_NOCASE, F(log_level),
     parse_level, NULL, ""},
    {"CORS_ORIGINS", NULL, CFG_CUSTOM, NULL,
     "`http://localhost:3000,http://127.0.0.1:3000` in development", 0, 0, NULL, 0,
     F(cors_origins), parse_origins, print_origins,
     "comma-separated http(s) origins; `FRONTEND_URL` is added"},
    URL("FRONTEND_URL", NULL, frontend_url,
        "the UI's URL (seed compatibility: also a CORS origin)"),
    INT("RATE_LIMIT_PER_MINUTE", 60, 1, 1000000, rate_limit_per_minute,
        "sign-up and login attempts per client address and per email"),
    {"FORWARDED_ALLOW_IPS", NULL, CFG_CUSTOM, "127.0.0.1", NULL, 0, 0, NULL, 0,
     F(trusted_proxies), parse_proxies, print_proxies,
     "proxies whose `X-Forwarded-For` names the client (comma-separated IPs, or `*` for any "
     "peer: the chart's default, where the API is only reached through the web role or the "
     "ingress)"},
    INT("LIST_CACHE_MIB", 8, 0, 1024, list_cache_mib,
        "task list bodies and listing users' task rows the process keeps, at most "
        "(validated per user, so never stale; a 50-task page is about 19 KB, a user's rows "
        "about 1 KB a task); 0: no cache"),
    INT("HTTP_CONN_LIMIT", 0, 0, 65536, http_conn_limit,
        "connections the server holds at once (beyond them new ones wait, not accepted, in "
        "the listen backlog of 1024 until one closes); 0: automatic, "
        "16384, or fewer when the process has a memory limit (its cgroup's, as a container's "
        "`resources.limits.memory`): as many as fit in half of it at 17 KiB each, what a "
        "connection holding a full request head costs (3855 for 128Mi), at least 256"),
    INT("MAX_CONNECTIONS_PER_IP", 64, 0, 16384, max_conns_per_ip,
        "connections one client address may hold open (beyond them a new one is closed at "
        "once; 0: no limit); the addresses in `FORWARDED_ALLOW_IPS` are exempt, as a proxy "
        "carries many clients' connections (the web role in front of the API, an ingress)"),
    INT("SHUTDOWN_TIMEOUT_SECONDS", 20, 0, 3600, shutdown_timeout_s,
        "how long SIGTERM waits for in-flight requests"),
    INT("MAX_BODY_BYTES", 1048576, 1024, 67108864, max_body_bytes, "larger bodies get 413"),
    {"WORKERS", NULL, CFG_INT, NULL, "CPU count (2–16)", 1, 64, NULL, 0, F(workers), NULL, NULL,
     "HTTP worker threads"},
    INT("WORK_THREADS", 4, 1, 64, work_threads,
        "threads for the database and tool steps of streamed requests"),
    {"MCP_SERVER_NAME", NULL, CFG_STRING, "todo", NULL, 0, 0, NULL, 0, F(mcp_server_name),
     parse_mcp_name, NULL,
     "the MCP server's `serverInfo.name` (1–64 printable ASCII characters)"},
    INT("MCP_SERVER_PORT", 8001, 1, 65535, mcp_server_port,
        "where `serve --role mcp` listens (instead of `PORT`)"),
    INT("MCP_TOOLS_PAGE_SIZE", 0, 0, 1000, mcp_page_size,
        "tools per `tools/list` page; 0: all on one page, what most clients expect"),
    INT("MCP_RATE_LIMIT_PER_MINUTE", 600, 1, 1000000, mcp_rate_limit,
        "tool calls per user and minute over HTTP (per process); beyond it 429 with "
        "`Retry-After`"),
    /* The assistant (docs/assistant.md). */
    {"LLM_PROVIDER", NULL, CFG_CUSTOM, NULL,
     "`offline`, or the first of `openai`, `groq`, `gemini`, `openrouter` whose key is set",
     0, 0, provider_names, 0, F(llm_provider), parse_provider, print_provider,
     "one of `offline`, `openai`, `groq`, `gemini`, `openrouter`, `ollama`, `custom` "
     "(case-insensitive): the assistant's model"},
    URL("LLM_BASE_URL", NULL, llm_base_url,
        "overrides the provider's base URL (`…/v1`; `custom`: required)"),
    STR("LLM_MODEL", NULL, llm_model, "overrides the provider's model"),
    KEY("LLM_API_KEY", llm_api_key, "`custom`: sent as `Authorization: Bearer` when set"),
    KEY("OPENAI_API_KEY", openai_api_key, "`openai`: starts with `sk-`"),
    {"OPENAI_MODEL", NULL, CFG_STRING, NULL, "`" OPENAI_MODEL_DEFAULT "`", 0, 0, NULL, 0,
     F(openai_model), NULL, NULL, ""},
    KEY("GROQ_API_KEY", groq_api_key, "`groq`: starts with `gsk_`"),
    {"GROQ_BASE_URL", NULL, CFG_URL, NULL, "`" GROQ_BASE_DEFAULT "`", 0, 0, NULL, 0,
     F(groq_base_url), NULL, NULL, ""},
    {"GROQ_MODEL", NULL, CFG_STRING, NULL, "`" GROQ_MODEL_DEFAULT "`", 0, 0, NULL, 0,
     F(groq_model), NULL, NULL, ""},
    KEY("GEMINI_API_KEY", gemini_api_key,
        "`gemini` (its OpenAI-compatible endpoint, `" GEMINI_BASE_DEFAULT "`)"),
    {"GEMINI_MODEL", NULL, CFG_STRING, NULL, "`" GEMINI_MODEL_DEFAULT "`", 0, 0, NULL, 0,
     F(gemini_model), NULL, NULL, ""},
    KEY("OPENROUTER_API_KEY", openrouter_api_key, "`openrouter`: starts with `sk-or-`"),
    {"OPENROUTER_BASE_URL", NULL, CFG_URL, NULL, "`" OPENROUTER_BASE_DEFAULT "`", 0, 0, NULL, 0,
     F(openrouter_base_url), NULL, NULL, ""},
    {"OPENROUTER_MODEL", NULL, CFG_STRING, NULL, "`" OPENROUTER_MODEL_DEFAULT "`", 0, 0, NULL,
     0, F(openrouter_model), NULL, NULL, ""},
    {"OLLAMA_BASE_URL", NULL, CFG_URL, NULL, "`" OLLAMA_BASE_DEFAULT "`", 0, 0, NULL, 0,
     F(ollama_base_url), NULL, NULL, "`ollama` (no key)"},
    {"OLLAMA_MODEL", NULL, CFG_STRING, NULL, "`" OLLAMA_MODEL_DEFAULT "`", 0, 0, NULL, 0,
     F(ollama_model), NULL, NULL, ""},
    INT("LLM_TIMEOUT_SECONDS", 30, 1, 600, llm_timeout_s,
        "how long a model may take to begin answering, or stay silent within an answer "
        "(retries included; 504 beyond)"),
    INT("MAX_TOKENS", 2000, 1, 1000000, max_tokens, "the model's answer, in tokens"),
    {"TEMPERATURE", NULL, CFG_CUSTOM, "0.7", NULL, 0, 0, NULL, 0, F(temperature),
     parse_temperature, print_temperature, "0–2"},
    STR("AGENT_NAME", "TodoAssistant", agent_name, "the assistant's name in its system prompt"),
    STR("AGENT_INSTRUCTIONS", NULL, agent_instructions,
        "added to the assistant's system prompt"),
    INT("CHAT_RATE_LIMIT_PER_MINUTE", 20, 1, 1000000, chat_rate_limit,
        "chat messages per user (429 with `Retry-After` beyond)"),
    INT("CHAT_HISTORY_MAX_MESSAGES", 30, 0, 1000, chat_history_messages,
        "earlier messages of the conversation a model sees"),
    INT("CHAT_HISTORY_MAX_CHARS", 24000, 0, 1000000, chat_history_chars,
        "… and at most this many characters of them"),
    URL("MCP_SERVER_URL", "http://127.0.0.1:8001/mcp", mcp_server_url,
        "agent role: the MCP server whose tools the assistant calls, with the caller's token"),
    INT("AGENT_PORT", 8002, 1, 65535, agent_port, "agent role: its port (instead of `PORT`)"),
    {"METRICS_TOKEN", NULL, CFG_STRING, NULL, NULL, 0, 0, NULL, CFG_SECRET, F(metrics_token),
     parse_metrics_token, NULL,
     "when set, `GET /metrics` on `PORT` answers a request bearing this token (16–4096 "
     "characters); unset: `/metrics` is not served there"},
    INT("METRICS_PORT", 0, 0, 65535, metrics_port,
        "when not 0, a listener of its own on `HOST` that serves only `GET /metrics` "
        "(Prometheus text format, no token: keep the port inside the cluster)"),
    {"UPLOADS_DIR", NULL, CFG_STRING, NULL, "`$DATA_DIR/uploads`", 0, 0, NULL, 0,
     F(uploads_dir), NULL, NULL,
     "where task attachments are stored (the chart's uploads volume; shared by every api "
     "replica)"},
    INT("UPLOAD_MAX_BYTES", 10485760, 1, 1073741824, upload_max_bytes,
        "largest attachment; larger uploads get 413 and nothing is stored"),
    INT("UPLOAD_QUOTA_BYTES", 104857600, 1, INT64_MAX, upload_quota_bytes,
        "all of one user's attachments together; beyond it 413"),
    ENUM("EMAIL_PROVIDER", "console", email_providers, CFG_NOCASE, email_provider,
         "`console` writes each message to the log as one JSON line (with its links); `smtp` "
         "sends it through `SMTP_HOST` (docs/operations.md)"),
    STR("SMTP_HOST", NULL, smtp_host, "the SMTP relay; required with `EMAIL_PROVIDER=smtp`"),
    INT("SMTP_PORT", 587, 1, 65535, smtp_port, "465 with `SMTP_TLS=tls`"),
    STR("SMTP_USERNAME", NULL, smtp_username, "SMTP login (none: no authentication)"),
    {"SMTP_PASSWORD", NULL, CFG_STRING, NULL, NULL, 0, 0, NULL, CFG_SECRET, F(smtp_password),
     NULL, NULL, "SMTP password; never printed or logged"},
    ENUM("SMTP_TLS", "starttls", smtp_tls_modes, CFG_NOCASE, smtp_tls,
         "`starttls` (required, not opportunistic), `tls` (implicit, port 465) or `none` "
         "(loopback relays only)"),
    STR("FROM_EMAIL", "todo@localhost", from_email, "the sender of every message"),
    INT("EMAIL_QUEUE_SIZE", 1000, 1, 100000, email_queue_size,
        "messages waiting to be sent at most (per process); beyond it new ones are dropped "
        "and logged"),
    INT("REMINDER_POLL_MS", 1000, 100, 60000, reminder_poll_ms,
        "how often each api process claims due reminders"),
    INT("EVENTS_POLL_MS", 1000, 100, 60000, events_poll_ms,
        "how often `/api/{user_id}/events` streams look for changes made on other replicas"),
};
/* clang-format on */

/* ---- loading -------------------------------------------------------------------------------- */

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
    const char *v = name ? fn(ctx, name) : NULL;
    return v && *v ? v : NULL;
}

/* Parses one value into c with its row's rule; ERR_OK, or ERR_INVALID with a line in errs
 * naming the variable (the alias, when that is what was set). */
static int parse_one(const struct cfg_def *d, const char *shown, struct config *c, const char *v,
                     struct config_errors *errs)
{
    char text[CONFIG_ERROR_LINE];
    struct dynbuf why;
    dyn_init_fixed(&why, text, sizeof(text));
    int rc;
    if (strnlen(v, VALUE_MAX + 1) > VALUE_MAX) {
        dyn_addf(&why, "longer than %d characters", VALUE_MAX);
        rc = ERR_INVALID;
    } else if (d->parse) {
        rc = d->parse(d, c, v, &why);
    } else {
        switch (d->type) {
        case CFG_INT:
            rc = parse_int(d, c, v, &why);
            break;
        case CFG_BOOL:
            rc = parse_boolean(d, c, v, &why);
            break;
        case CFG_ENUM:
            rc = parse_enum(d, c, v, &why);
            break;
        default:
            rc = parse_string(d, c, v, &why);
            break;
        }
    }
    if (rc != ERR_OK)
        add_error(errs, "%s: %s", shown, dyn_str(&why));
    return rc;
}

static const struct cfg_def *config_def(const char *name);

/* The rules between settings, after every row: defaults derived from other settings, the
 * secret required outside development, FRONTEND_URL as a CORS origin, the JWKS URL. */
static void config_finish(struct config *c, config_get_fn fn, void *ctx, struct config_errors *errs)
{
    if (!c->database_url) {
        struct dynbuf d;
        dyn_init_heap(&d, VALUE_MAX);
        dyn_addf(&d, "sqlite:///%s/todo.db", c->data_dir ? c->data_dir : ".");
        char *url = dyn_take(&d);
        if (url) {
            const struct cfg_def *row = config_def("DATABASE_URL");
            parse_one(row, row->name, c, url, errs);
            free(url);
        }
    }
    if (!c->jwt_secret && c->environment != ENV_DEVELOPMENT && c->role != ROLE_WEB)
        /* The web role neither issues nor checks tokens: it needs no secret. */
        add_error(errs,
                  "JWT_SECRET: required outside development (at least %d characters; "
                  "BETTER_AUTH_SECRET is accepted as an alias)",
                  CONFIG_SECRET_MIN);
    if (!c->cors_set && c->environment == ENV_DEVELOPMENT) {
        char why[CONFIG_ERROR_LINE];
        struct dynbuf w;
        dyn_init_fixed(&w, why, sizeof(why));
        each_item("http://localhost:3000,http://127.0.0.1:3000", c, &w, add_origin);
    }
    /* The seeds configure CORS through FRONTEND_URL alone; honour it as an origin too. */
    char origin[CONFIG_ORIGIN_MAX];
    if (c->frontend_url && url_origin_of(c->frontend_url, origin, sizeof(origin))) {
        char why[CONFIG_ERROR_LINE];
        struct dynbuf w;
        dyn_init_fixed(&w, why, sizeof(why));
        if (add_origin(c, origin, &w) != ERR_OK)
            add_error(errs, "FRONTEND_URL: %s", dyn_str(&w));
    }
    if (!c->jwks_url && c->better_auth_url) {
        size_t blen = strlen(c->better_auth_url);
        while (blen && c->better_auth_url[blen - 1] == '/')
            blen--;
        struct dynbuf d;
        dyn_init_heap(&d, VALUE_MAX + 32);
        dyn_addn(&d, c->better_auth_url, blen);
        dyn_add(&d, "/api/auth/jwks");
        c->jwks_url = dyn_take(&d);
        if (!c->jwks_url)
            add_error(errs, "out of memory while reading the configuration");
    }
    if (!c->uploads_dir) {
        struct dynbuf d;
        dyn_init_heap(&d, VALUE_MAX + 16);
        dyn_addf(&d, "%s/uploads", c->data_dir ? c->data_dir : ".");
        c->uploads_dir = dyn_take(&d);
        if (!c->uploads_dir)
            add_error(errs, "out of memory while reading the configuration");
    }
    if (c->role == ROLE_MCP) /* the MCP server listens where the seeds' mcp-server did */
        c->port = c->mcp_server_port;
    /* The provider's key shapes and URLs (a bad key is refused before anything starts). */
    struct chat_model m;
    char why[CONFIG_ERROR_LINE];
    struct dynbuf w;
    dyn_init_fixed(&w, why, sizeof(why));
    if (provider_resolve(c, &m, &w) != ERR_OK)
        add_error(errs, "%s", dyn_str(&w));
    if (c->role == ROLE_AGENT) /* the agent listens where the seeds' ai-agent did */
        c->port = c->agent_port;
    if (c->email_provider == EMAIL_SMTP && !c->smtp_host)
        add_error(errs, "SMTP_HOST: required with EMAIL_PROVIDER=smtp");
    if (c->from_email && (!strchr(c->from_email, '@') || strpbrk(c->from_email, "\r\n<>")))
        add_error(errs, "FROM_EMAIL: must be one plain address such as todo@example.com");
    if (!get(fn, ctx, "WORKERS")) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = cpus < WORKERS_DEFAULT_MIN   ? WORKERS_DEFAULT_MIN
                     : cpus > WORKERS_DEFAULT_MAX ? WORKERS_DEFAULT_MAX
                                                  : (int)cpus;
    }
}

int config_load(struct config *c, config_get_fn fn, void *ctx, struct config_errors *errs)
{
    memset(c, 0, sizeof(*c));
    errs->n = 0;
    for (size_t i = 0; i < ARRAY_LEN(defs); i++) {
        const struct cfg_def *d = &defs[i];
        const char *shown = d->name;
        const char *v = get(fn, ctx, d->name);
        if (!v && d->alias && (v = get(fn, ctx, d->alias)))
            shown = d->alias;
        if (!v)
            v = d->def;
        if (v)
            parse_one(d, shown, c, v, errs);
    }
    config_finish(c, fn, ctx, errs);
    if (errs->n == 0 && (!c->host || !c->database_url || !c->data_dir || !c->api_url))
        add_error(errs, "out of memory while reading the configuration");
    return errs->n ? ERR_INVALID : ERR_OK;
}

static const struct cfg_def *config_def(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(defs); i++)
        if (strcmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

/* ---- output --------------------------------------------------------------------------------- */

void config_print(const struct config *c, FILE *out)
{
    char line[VALUE_MAX + 256];
    for (size_t i = 0; i < ARRAY_LEN(defs); i++) {
        struct dynbuf d;
        dyn_init_fixed(&d, line, sizeof(line));
        dyn_addf(&d, "%s=", defs[i].name);
        print_value(&defs[i], c, &d);
        fprintf(out, "%s\n", dyn_str(&d));
    }
}

/* Appends text with "|" escaped, for a Markdown table cell. */
static void add_cell(struct dynbuf *d, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            dyn_addc(d, '\\');
        dyn_addc(d, *p);
    }
}

void config_table_markdown(FILE *out)
{
    fputs("| variable | default | rule / meaning |\n| --- | --- | --- |\n", out);
    char line[2048];
    for (size_t i = 0; i < ARRAY_LEN(defs); i++) {
        const struct cfg_def *d = &defs[i];
        struct dynbuf b;
        dyn_init_fixed(&b, line, sizeof(line));
        dyn_addf(&b, "| `%s` | ", d->name);
        if (d->def_doc)
            add_cell(&b, d->def_doc);
        else if (d->def)
            dyn_addf(&b, "`%s`", d->def);
        else
            dyn_add(&b, "—");
        dyn_add(&b, " | ");
        /* The rule the type implies, then the row's help. */
        size_t start = dyn_len(&b);
        if (d->type == CFG_INT)
            dyn_addf(&b, "%lld–%lld", (long long)d->min, (long long)d->max);
        else if (d->type == CFG_BOOL)
            dyn_add(&b, "`true` or `false`");
        else if (d->type == CFG_ENUM)
            add_choices(&b, d->choices, "`");
        else if (d->type == CFG_URL)
            dyn_add(&b, "an http(s) URL");
        if (d->alias)
            dyn_addf(&b, "%salias `%s`", dyn_len(&b) > start ? "; " : "", d->alias);
        if (d->help[0]) {
            dyn_add(&b, dyn_len(&b) > start ? "; " : "");
            add_cell(&b, d->help);
        }
        dyn_add(&b, " |\n");
        fputs(dyn_str(&b), out);
    }
}

/* ---- the rest ------------------------------------------------------------------------------- */

int config_role_parse(const char *s, enum role *out)
{
    for (size_t i = 0; s && role_names[i]; i++) {
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

void config_public_url(const struct config *c, char *out, size_t size)
{
    struct dynbuf d;
    dyn_init_fixed(&d, out, size);
    if (c->frontend_url) {
        size_t n = strlen(c->frontend_url);
        while (n && c->frontend_url[n - 1] == '/')
            n--;
        dyn_addn(&d, c->frontend_url, n);
        return;
    }
    const char *host = c->host ? c->host : "127.0.0.1";
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !*host)
        host = "localhost";
    bool v6 = strchr(host, ':') != NULL;
    dyn_addf(&d, "http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", c->port);
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
    free(c->frontend_url);
    free(c->data_dir);
    free(c->metrics_token);
    free(c->uploads_dir);
    free(c->api_url);
    free(c->better_auth_url);
    free(c->jwks_url);
    free(c->mcp_server_name);
    char **strs[] = {&c->llm_base_url,     &c->llm_model,          &c->llm_api_key,
                     &c->openai_api_key,   &c->openai_model,       &c->groq_api_key,
                     &c->groq_base_url,    &c->groq_model,         &c->gemini_api_key,
                     &c->gemini_model,     &c->openrouter_api_key, &c->openrouter_base_url,
                     &c->openrouter_model, &c->ollama_base_url,    &c->ollama_model,
                     &c->agent_name,       &c->agent_instructions, &c->mcp_server_url,
                     &c->agent_url};
    for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
        if (*strs[i])
            sodium_memzero(*strs[i], strlen(*strs[i])); /* keys among them */
        free(*strs[i]);
    }
    free(c->smtp_host);
    free(c->smtp_username);
    if (c->smtp_password) {
        sodium_memzero(c->smtp_password, strlen(c->smtp_password));
        free(c->smtp_password);
    }
    free(c->from_email);
    memset(c, 0, sizeof(*c));
}
