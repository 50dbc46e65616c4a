/*
 * The todo command line: serve, mcp, migrate, config check, healthcheck, version. Exit codes:
 * 0 success, 1 runtime failure, 2 bad usage or bad configuration.
 */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "app.h"
#include "auth/password.h"
#include "core/cachemem.h"
#include "core/config.h"
#include "core/err.h"
#include "core/libcurl.h"
#include "core/log.h"
#include "core/text.h"
#include "core/util.h"
#include "domain/tokens.h"
#include "http/server.h"
#include "io/httpc.h"
#include "io/loop.h"
#include "mcp/stdio.h"
#include "store/store.h"

#define EXIT_USAGE                     2
#define HEALTHCHECK_TIMEOUT_S          3
#define HEALTHCHECK_CONNECT_TIMEOUT_MS 2000
#define HEALTHCHECK_MAX_BODY           (64 * 1024)

static const char usage_text[] =
    "usage: todo <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--role all|web|api|mcp|agent]\n"
    "                               run the HTTP server (migrates first unless\n"
    "                               MIGRATE_ON_START=false); the mcp role serves /mcp\n"
    "                               on MCP_SERVER_PORT (default 8001), the agent role\n"
    "                               the assistant's chat on AGENT_PORT (default 8002)\n"
    "  mcp --stdio                  serve the MCP tools over stdin/stdout as the user of\n"
    "                               TODO_TOKEN (a personal access token or a JWT)\n"
    "  migrate                      apply database migrations and exit\n"
    "  config check                 validate the environment and print the effective\n"
    "                               configuration (secrets redacted)\n"
    "  config table --markdown      print every setting, its default and its rule as the\n"
    "                               README's Markdown table\n"
    "  healthcheck [--url URL]      exit 0 iff URL (default http://127.0.0.1:$PORT/health,\n"
    "                               $MCP_SERVER_PORT with ROLE=mcp) answers 200\n"
    "  version                      print the version\n"
    "\n"
    "Configuration comes from the environment; see README.md.\n";

static int usage(FILE *out, int code)
{
    fputs(usage_text, out);
    return code;
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "help") == 0;
}

/* Loads and validates the configuration; prints one line per error to stderr. */
static int load_config_from(struct config *cfg, config_get_fn get, void *ctx)
{
    struct config_errors errs;
    if (config_load(cfg, get, ctx, &errs) == ERR_OK)
        return ERR_OK;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "config error: %s\n", errs.lines[i]);
    return ERR_INVALID;
}

static int load_config(struct config *cfg)
{
    return load_config_from(cfg, config_getenv, NULL);
}

static int open_store(const struct config *cfg, struct store **out)
{
    struct store_options o = {
        .url = &cfg->db, .pool_size = cfg->pool_size, .max_overflow = cfg->max_overflow};
    int rc = store_open(&o, out);
    if (rc != ERR_OK)
        log_error("cannot open the database: %s", err_str(rc));
    return rc;
}

static int cmd_version(void)
{
    printf("todo %s (revision %s)\n", TODO_VERSION, TODO_REVISION);
    return 0;
}

static int cmd_config_check(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "table") == 0 && strcmp(argv[2], "--markdown") == 0) {
        config_table_markdown(stdout);
        return 0;
    }
    if (argc != 2 || strcmp(argv[1], "check") != 0)
        return usage(stderr, EXIT_USAGE);
    struct config cfg;
    if (load_config(&cfg) != ERR_OK) {
        config_free(&cfg);
        return EXIT_USAGE;
    }
    config_print(&cfg, stdout);
    config_free(&cfg);
    return 0;
}

static int cmd_migrate(int argc, char **argv)
{
    if (argc > 1)
        return is_help(argv[1]) ? usage(stdout, 0) : usage(stderr, EXIT_USAGE);
    struct config cfg;
    if (load_config(&cfg) != ERR_OK) {
        config_free(&cfg);
        return EXIT_USAGE;
    }
    log_set_level(cfg.log_level);
    struct store *store = NULL;
    int rc = open_store(&cfg, &store);
    if (rc == ERR_OK)
        rc = store_migrate(store);
    if (rc == ERR_OK)
        log_info("database at schema version %d", store_schema_version());
    store_close(store);
    config_free(&cfg);
    return rc == ERR_OK ? 0 : 1;
}

static int cmd_healthcheck(int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:h", opts, NULL)) != -1) {
        if (c == 'u')
            url = optarg;
        else if (c == 'h')
            return usage(stdout, 0);
        else
            return usage(stderr, EXIT_USAGE);
    }
    if (optind != argc)
        return usage(stderr, EXIT_USAGE);
    char def[64];
    if (!url) {
        /* Where serve listens: PORT, or MCP_SERVER_PORT / AGENT_PORT for the mcp and
         * agent roles. */
        const char *role = getenv("ROLE");
        bool mcp = role && strcmp(role, "mcp") == 0;
        bool agent = role && strcmp(role, "agent") == 0;
        int64_t def_port = mcp ? 8001 : agent ? 8002 : 8000, port = def_port;
        const char *p = getenv(mcp ? "MCP_SERVER_PORT" : agent ? "AGENT_PORT" : "PORT");
        if (p && *p && parse_int64(p, 1, 65535, &port) != ERR_OK)
            port = def_port;
        snprintf(def, sizeof(def), "http://127.0.0.1:%lld/health", (long long)port);
        url = def;
    }
    /* The operator names the URL (a probe of a service in the cluster): plain http is
     * allowed to any host. */
    struct httpc_request rq = {.url = url,
                               .flags = HTTPC_ALLOW_HTTP,
                               .connect_timeout_ms = HEALTHCHECK_CONNECT_TIMEOUT_MS,
                               .total_timeout_ms = HEALTHCHECK_TIMEOUT_S * 1000,
                               .max_body = HEALTHCHECK_MAX_BODY};
    struct loop *loop = NULL;
    struct httpc *h = NULL;
    if (loop_start(&loop) != ERR_OK || httpc_new(loop, 0, &h) != ERR_OK) {
        loop_stop(loop);
        loop_free(loop);
        return 1;
    }
    int status = 0;
    int rc = httpc_fetch(h, &rq, &status, NULL, NULL);
    loop_stop(loop);
    httpc_free(h);
    loop_free(loop);
    if (rc == ERR_INVALID) {
        fprintf(stderr, "healthcheck: %s: not an http(s) URL\n", url);
        return 1;
    }
    if (rc != ERR_OK) {
        fprintf(stderr, "healthcheck: %s: %s\n", url, err_str(rc));
        return 1;
    }
    if (status != 200) {
        fprintf(stderr, "healthcheck: %s answered %d\n", url, status);
        return 1;
    }
    /* One line on success too: what `helm test --logs` and `podman healthcheck` show. */
    printf("healthcheck: %s answered 200\n", url);
    return 0;
}

/* The environment of a `todo mcp --stdio` whose TODO_TOKEN is a personal access token and
 * that was given no JWT secret: it verifies no JWT, so an ephemeral random secret (in memory
 * only, signing nothing, verifying no token ever issued) stands in for JWT_SECRET. Neither
 * ENVIRONMENT=production nor a DATA_DIR it cannot write to (a client's working directory)
 * then stops it. ctx is the secret. */
static const char *pat_only_getenv(void *ctx, const char *name)
{
    const char *v = config_getenv(NULL, name);
    if (!v && strcmp(name, "JWT_SECRET") == 0 && !config_getenv(NULL, "BETTER_AUTH_SECRET"))
        return ctx;
    return v;
}

/* todo mcp --stdio: the MCP tools over stdin/stdout as TODO_TOKEN's user (mcp/stdio.h).
 * Exit codes: 0 at the end of the input, 1 when the database or stdout fails, 2 for bad
 * usage, configuration or credential. */
static int cmd_mcp(int argc, char **argv)
{
    static const struct option opts[] = {
        {"stdio", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool stdio = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "sh", opts, NULL)) != -1) {
        if (c == 's')
            stdio = true;
        else if (c == 'h')
            return usage(stdout, 0);
        else
            return usage(stderr, EXIT_USAGE);
    }
    if (optind != argc || !stdio) {
        fprintf(stderr, "todo mcp: use --stdio (the HTTP transport is `todo serve`)\n");
        return EXIT_USAGE;
    }
    int rc;
    const char *token = getenv("TODO_TOKEN");
    if (!token || !*token) {
        fprintf(stderr, "todo mcp: TODO_TOKEN is not set: create a personal access token "
                        "(POST /api/me/tokens, or the web app) and pass it in TODO_TOKEN\n");
        return EXIT_USAGE;
    }
    struct config cfg;
    char ephemeral[65];
    random_hex(ephemeral, 64);
    bool pat = strncmp(token, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) == 0;
    rc = pat ? load_config_from(&cfg, pat_only_getenv, ephemeral) : load_config(&cfg);
    sodium_memzero(ephemeral, sizeof(ephemeral)); /* config_load copied it */
    if (rc != ERR_OK) {
        config_free(&cfg);
        return EXIT_USAGE;
    }
    log_set_level(cfg.log_level);
    text_init();
    char why_secret[256];
    if (config_resolve_secret(&cfg, why_secret, sizeof(why_secret)) != ERR_OK) {
        fprintf(stderr, "config error: %s\n", why_secret);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    struct store *store = NULL;
    rc = open_store(&cfg, &store);
    if (rc == ERR_OK && cfg.migrate_on_start)
        rc = store_migrate(store);
    int code = rc == ERR_OK ? 0 : 1;
    struct mcp_stdio s = {.cfg = &cfg,
                          .store = store,
                          .token = token,
                          .in = STDIN_FILENO,
                          .out = stdout,
                          .max_line = (size_t)cfg.max_body_bytes};
    const char *why = NULL;
    if (rc == ERR_OK) {
        rc = mcp_stdio_check(&s, &why);
        if (rc == ERR_AUTH) {
            fprintf(stderr, "todo mcp: TODO_TOKEN: %s\n", why);
            code = EXIT_USAGE;
        } else if (rc != ERR_OK) {
            log_error("todo mcp: cannot check TODO_TOKEN: %s", err_str(rc));
            code = 1;
        }
    }
    if (rc == ERR_OK && mcp_stdio_serve(&s) != ERR_OK)
        code = 1;
    store_close(store);
    config_free(&cfg);
    return code;
}

static int cmd_serve(int argc, char **argv, const sigset_t *sigs)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int64_t t0 = now_mono_us();
    const char *role_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
        if (c == 'r')
            role_arg = optarg;
        else if (c == 'h')
            return usage(stdout, 0);
        else
            return usage(stderr, EXIT_USAGE);
    }
    if (optind != argc)
        return usage(stderr, EXIT_USAGE);
    /* --role is ROLE on the command line: set it before the rules that depend on it. */
    enum role parsed_role;
    if (role_arg && config_role_parse(role_arg, &parsed_role) != ERR_OK) {
        fprintf(stderr, "config error: --role: must be one of all, web, api, mcp, agent\n");
        return EXIT_USAGE;
    }
    if (role_arg)
        setenv("ROLE", role_arg, 1);
    struct config cfg;
    if (load_config(&cfg) != ERR_OK) {
        config_free(&cfg);
        return EXIT_USAGE;
    }
    log_set_level(cfg.log_level);
    password_set_memory(cfg.password_memory_mib);
    cachemem_set_limit((size_t)cfg.list_cache_mib << 20);
    if (!text_init())
        log_warn("C.UTF-8 locale not found: case-insensitive matching folds ASCII letters only");

    if (cfg.role != ROLE_WEB) {
        char why[256];
        if (config_resolve_secret(&cfg, why, sizeof(why)) != ERR_OK) {
            fprintf(stderr, "config error: %s\n", why);
            config_free(&cfg);
            return EXIT_USAGE;
        }
        if (cfg.secret_source == SECRET_GENERATED)
            log_warn("no JWT_SECRET set: generated a development secret in %s/jwt-secret; "
                     "set JWT_SECRET outside development",
                     cfg.data_dir);
    }
    struct app app = {.cfg = &cfg, .signals = sigs};
    int rc = app_start(&app);
    if (rc != ERR_OK) {
        config_free(&cfg);
        return rc == ERR_INVALID ? EXIT_USAGE : 1;
    }
    struct log_field f[] = {LF_S("host", cfg.host),
                            LF_I("port", cfg.port),
                            LF_S("role", config_role_name(cfg.role)),
                            LF_S("environment", config_env_name(cfg.environment)),
                            LF_S("version", TODO_VERSION),
                            LF_I("workers", cfg.workers),
                            LF_I("conn_limit", app.conn_limit),
                            LF_D("startup_ms", (double)(now_mono_us() - t0) / 1000.0)};
    log_fields(LOG_INFO, "listening", f, ARRAY_LEN(f));

    int sig;
    do {
        sig = 0;
        sigwait(sigs, &sig);
    } while (sig == SIGHUP);
    log_fields(LOG_INFO, "shutting down",
               (struct log_field[]){LF_I("signal", sig),
                                    LF_I("in_flight", http_server_inflight(app.server))},
               2);
    app_stop(&app);
    log_info("stopped");
    config_free(&cfg);
    return 0;
}

/*
 * glibc malloc's thresholds, fixed once before any thread exists (docs/performance.md, RSS).
 * A block of MALLOC_MMAP_MIN or more is mmap'd and goes back to the system when freed. By
 * default glibc raises that threshold to the size of the largest such block freed (up to
 * 32 MiB) and the trim threshold to twice that: after one request that needed a few MB (a
 * user's 2,000 task rows loaded into its arena, a large import), every later block of that
 * size came from the worker's heap and stayed resident (RSS 14 -> 19.6 MB after three row
 * reloads, 15 MB with this). Setting them turns the adjustment off (mallopt(3)); the cost is
 * an mmap and munmap per block that large, on requests that copy megabytes anyway.
 */
#define MALLOC_MMAP_MIN (128 * 1024)
static void malloc_settings(void)
{
    mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_MIN);
    mallopt(M_TRIM_THRESHOLD, MALLOC_MMAP_MIN);
}

int main(int argc, char **argv)
{
    malloc_settings();
    /* Block the shutdown signals before any thread exists; only sigwait sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    signal(SIGPIPE, SIG_IGN);

    if (argc < 2)
        return usage(stderr, EXIT_USAGE);
    const char *cmd = argv[1];
    if (is_help(cmd))
        return usage(stdout, 0);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return argc == 2 ? cmd_version() : usage(stderr, EXIT_USAGE);
    if (sodium_init() < 0) {
        fprintf(stderr, "todo: cannot initialise the crypto library\n");
        return 1;
    }
    libcurl_start(); /* curl_global_init on first use, where that is thread-safe */
    int rc;
    if (strcmp(cmd, "serve") == 0) {
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        rc = cmd_serve(argc - 1, argv + 1, &sigs);
    } else if (strcmp(cmd, "migrate") == 0) {
        rc = cmd_migrate(argc - 1, argv + 1);
    } else if (strcmp(cmd, "config") == 0) {
        rc =
            argc == 3 && is_help(argv[2]) ? usage(stdout, 0) : cmd_config_check(argc - 1, argv + 1);
    } else if (strcmp(cmd, "mcp") == 0) {
        rc = cmd_mcp(argc - 1, argv + 1);
    } else if (strcmp(cmd, "healthcheck") == 0) {
        rc = cmd_healthcheck(argc - 1, argv + 1);
    } else {
        fprintf(stderr, "todo: unknown command '%s'\n", cmd);
        rc = usage(stderr, EXIT_USAGE);
    }
    libcurl_cleanup();
    return rc;
}
