/*
 * Configuration from the environment, with the seed projects' variable names. Everything
 * is validated at start-up: each bad variable yields one line naming it and its rule.
 * Every setting is one row of the table in config.c (name, alias, type, default, bounds,
 * secret flag, help), from which loading, `todo config check` and the README's table come.
 * A new setting: a field here and a row there; then `make config-table` updates README.md
 * (tests/blackbox/test_config.py fails until it does).
 */
#ifndef TODO_CONFIG_H
#define TODO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/log.h"
#include "core/url.h"

#define CONFIG_MAX_CORS_ORIGINS    32
#define CONFIG_ORIGIN_MAX          256
#define CONFIG_SECRET_MIN          32
#define CONFIG_MAX_ERRORS          32
#define CONFIG_ERROR_LINE          256
#define CONFIG_MAX_TRUSTED_PROXIES 16
#define CONFIG_IP_TEXT_MAX         46 /* INET6_ADDRSTRLEN */

enum environment { ENV_DEVELOPMENT = 0, ENV_STAGING, ENV_PRODUCTION };

/* What one process serves: everything, only the API, only the web UI + proxy, only the MCP
 * server (on MCP_SERVER_PORT), or only the assistant's chat (on AGENT_PORT). */
enum role { ROLE_ALL = 0, ROLE_WEB, ROLE_API, ROLE_MCP, ROLE_AGENT };

/* Where email goes: the log (one JSON line a local user can read the links from) or SMTP. */
enum email_provider { EMAIL_CONSOLE = 0, EMAIL_SMTP };
/* How the SMTP connection is protected: STARTTLS required, TLS from the start, or none
 * (loopback relays and tests). */
enum smtp_tls { SMTP_TLS_STARTTLS = 0, SMTP_TLS_TLS, SMTP_TLS_NONE };

enum secret_source { SECRET_NONE = 0, SECRET_ENV, SECRET_FILE, SECRET_GENERATED };

struct config {
    char *host;
    int port;
    char *database_url; /* as given; may hold a password, never printed unredacted */
    struct db_url db;
    int pool_size;
    int max_overflow;
    char *jwt_secret;
    enum secret_source secret_source;
    int jwt_algorithm; /* index: HS256 is the only one */
    int jwt_expiration_days;
    int password_memory_mib; /* Argon2id's memory per password hash (auth/password.h) */
    int list_cache_mib;      /* the task list's response cache, at most (http/respcache.h) */
    enum log_level log_level;
    char cors_origins[CONFIG_MAX_CORS_ORIGINS][CONFIG_ORIGIN_MAX];
    size_t n_cors_origins;
    bool cors_set; /* CORS_ORIGINS was given (no development default then) */
    char *frontend_url;
    int rate_limit_per_minute;
    enum environment environment;
    int shutdown_timeout_s;
    int64_t max_body_bytes;
    bool migrate_on_start;
    char *data_dir;
    enum role role;
    char *api_url;         /* web role: where the API lives */
    char *agent_url;       /* web role: where the chat routes go (NULL: api_url) */
    char *better_auth_url; /* Better Auth's base URL */
    char *jwks_url;        /* Better Auth's JWKS (BETTER_AUTH_JWKS_URL, or from the base URL) */
    int workers;           /* HTTP worker threads */
    int work_threads;      /* the work queue's pool threads */
    /* FORWARDED_ALLOW_IPS: peers whose X-Forwarded-For is believed ("*": any peer). */
    char trusted_proxies[CONFIG_MAX_TRUSTED_PROXIES][CONFIG_IP_TEXT_MAX];
    size_t n_trusted_proxies;
    bool trust_any_proxy;
    int http_conn_limit;   /* HTTP_CONN_LIMIT (0: from the memory limit, http_conn_limit) */
    int max_conns_per_ip;  /* MAX_CONNECTIONS_PER_IP (0: no limit; trusted proxies exempt) */
    char *mcp_server_name; /* MCP serverInfo.name */
    int mcp_server_port;   /* the mcp role's port (its PORT) */
    int mcp_page_size;     /* tools per tools/list page; 0: all on one page */
    int mcp_rate_limit;    /* tool calls per user per minute (HTTP) */
    /* The assistant (docs/assistant.md; core/provider.h resolves the provider). */
    int llm_provider; /* index in provider_names + 1; 0: LLM_PROVIDER unset */
    char *llm_base_url, *llm_model, *llm_api_key;
    char *openai_api_key, *openai_model;
    char *groq_api_key, *groq_base_url, *groq_model;
    char *gemini_api_key, *gemini_model;
    char *openrouter_api_key, *openrouter_base_url, *openrouter_model;
    char *ollama_base_url, *ollama_model;
    int llm_timeout_s;
    int max_tokens;
    double temperature;
    char *agent_name, *agent_instructions;
    int chat_rate_limit;       /* chat turns per user per minute */
    int chat_history_messages; /* history a turn shows its model: messages */
    int chat_history_chars;    /* … and characters */
    char *mcp_server_url;      /* agent role: where the tools are */
    int agent_port;            /* agent role: its PORT */
    char *metrics_token;       /* GET /metrics on the main port with this bearer token; NULL: off */
    int metrics_port;          /* a listener of its own for GET /metrics; 0: none */
    char *uploads_dir;         /* attachments (default $DATA_DIR/uploads) */
    int64_t upload_max_bytes;  /* one attachment */
    int64_t upload_quota_bytes; /* all of one user's attachments */
    enum email_provider email_provider;
    char *smtp_host;
    int smtp_port;
    char *smtp_username;
    char *smtp_password; /* secret: never printed or logged */
    enum smtp_tls smtp_tls;
    char *from_email;
    int email_queue_size; /* messages waiting at most; more are dropped (logged) */
    int reminder_poll_ms; /* how often the scheduler looks for due reminders */
    int events_poll_ms;   /* how often the event hub looks for changes made elsewhere */
};

/* The validation failures of one load, one line each. */
struct config_errors {
    char lines[CONFIG_MAX_ERRORS][CONFIG_ERROR_LINE];
    size_t n;
};

/* Looks up a variable; returns NULL when unset. ctx is passed through. */
typedef const char *(*config_get_fn)(void *ctx, const char *name);

/* A config_get_fn reading the process environment. */
const char *config_getenv(void *ctx, const char *name);

/* Fills c from get(); empty values count as unset. Returns ERR_OK, or ERR_INVALID with
 * one line per bad variable in errs. c owns its strings: release with config_free, also
 * after a failure. */
int config_load(struct config *c, config_get_fn get, void *ctx, struct config_errors *errs);

/* Finds the signing secret when none was configured: in development reads or creates
 * DATA_DIR/jwt-secret (mode 0600). Returns ERR_OK or ERR_IO / ERR_INVALID with a reason. */
int config_resolve_secret(struct config *c, char *why, size_t why_size);

/* Prints the effective configuration, secrets redacted, one KEY=value per line, in the
 * table's order. */
void config_print(const struct config *c, FILE *out);

/* Prints the table as the README's Markdown table: variable, default, rule / meaning. */
void config_table_markdown(FILE *out);

/* Writes the canonical text of an IPv4/IPv6 address (or returns false when s is none). */
bool config_ip_canonical(const char *s, char out[CONFIG_IP_TEXT_MAX]);

/* True when the canonical address ip is one of FORWARDED_ALLOW_IPS (or "*" is set). */
bool config_proxy_trusted(const struct config *c, const char *ip);

/* Parses a role name; ERR_OK or ERR_INVALID. */
int config_role_parse(const char *s, enum role *out);

const char *config_role_name(enum role r);
const char *config_env_name(enum environment e);

/* The base URL links in email point at: FRONTEND_URL without a trailing slash, else this
 * server's own http://HOST:PORT (localhost for a wildcard HOST). Cut to size. */
void config_public_url(const struct config *c, char *out, size_t size);

void config_free(struct config *c);

#endif
