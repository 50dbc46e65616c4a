/*
 * The todo command line: serve, migrate, config check, healthcheck, version. Exit codes:
 * 0 success, 1 runtime failure, 2 bad usage or bad configuration.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "app.h"
#include "auth/jwks.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/text.h"
#include "core/util.h"
#include "handlers/routes.h"
#include "http/server.h"
#include "store/migrator.h"
#include "store/store.h"
#include "web/proxy.h"

#define EXIT_USAGE            2
#define HEALTHCHECK_TIMEOUT_S 3
#define DRAIN_POLL_MS         50

static const char usage_text[] =
    "usage: todo <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--role all|web|api]   run the HTTP server (migrates first unless\n"
    "                               MIGRATE_ON_START=false)\n"
    "  migrate                      apply database migrations and exit\n"
    "  config check                 validate the environment and print the effective\n"
    "                               configuration (secrets redacted)\n"
    "  healthcheck [--url URL]      exit 0 iff URL (default http://127.0.0.1:$PORT/health)\n"
    "                               answers 200\n"
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
static int load_config(struct config *cfg)
{
    struct config_errors errs;
    if (config_load(cfg, config_getenv, NULL, &errs) == ERR_OK)
        return ERR_OK;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "config error: %s\n", errs.lines[i]);
    return ERR_INVALID;
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

/* Discards the body of a health response. */
static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
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
        int64_t port = 8000;
        const char *p = getenv("PORT");
        if (p && *p && parse_int64(p, 1, 65535, &port) != ERR_OK)
            port = 8000;
        snprintf(def, sizeof(def), "http://127.0.0.1:%lld/health", (long long)port);
        url = def;
    }
    CURL *h = curl_easy_init();
    if (!h)
        return 1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 2L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)HEALTHCHECK_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        fprintf(stderr, "healthcheck: %s: %s\n", url, curl_easy_strerror(rc));
        return 1;
    }
    if (status != 200) {
        fprintf(stderr, "healthcheck: %s answered %ld\n", url, status);
        return 1;
    }
    /* One line on success too: what `helm test --logs` and `podman healthcheck` show. */
    printf("healthcheck: %s answered 200\n", url);
    return 0;
}

/* Raises the soft limit on open files so that HTTP_CONN_LIMIT connections, the database
 * pool and the files served fit (a default soft limit of 1024 would make accept fail with
 * EMFILE long before the connection limit). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    rlim_t want = HTTP_CONN_LIMIT + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        log_warn("open-file limit is %llu: fewer than %d connections can be served",
                 (unsigned long long)rl.rlim_cur, HTTP_CONN_LIMIT);
}

/* Waits for in-flight requests to finish, up to the deadline. A second signal during the
 * drain ends the process at once. */
static void drain(struct http_server *srv, const sigset_t *sigs, int timeout_s)
{
    int64_t deadline = now_mono_ms() + (int64_t)timeout_s * 1000;
    struct timespec poll_ts = {0, DRAIN_POLL_MS * 1000000L};
    while (http_server_inflight(srv) > 0) {
        if (now_mono_ms() >= deadline) {
            log_warn("shutdown timeout: %d requests still in flight", http_server_inflight(srv));
            return;
        }
        int sig = sigtimedwait(sigs, NULL, &poll_ts);
        if (sig > 0 && sig != SIGHUP) {
            log_warn("second signal (%d): exiting now", sig);
            _exit(130);
        }
    }
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
        fprintf(stderr, "config error: --role: must be one of all, web, api\n");
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
    if (!text_init())
        log_warn("C.UTF-8 locale not found: case-insensitive matching folds ASCII letters only");

    struct app app = {.cfg = &cfg};
    struct migrator *migrator = NULL;
    int rc = ERR_OK;
    if (cfg.role != ROLE_WEB) {
        char why[256];
        rc = config_resolve_secret(&cfg, why, sizeof(why));
        if (rc != ERR_OK) {
            fprintf(stderr, "config error: %s\n", why);
            config_free(&cfg);
            return EXIT_USAGE;
        }
        if (cfg.secret_source == SECRET_GENERATED)
            log_warn("no JWT_SECRET set: generated a development secret in %s/jwt-secret; "
                     "set JWT_SECRET outside development",
                     cfg.data_dir);
        if (cfg.jwks_url && jwks_new(cfg.jwks_url, &app.jwks) != ERR_OK) {
            fprintf(stderr, "config error: BETTER_AUTH_JWKS_URL: must be https (http only for "
                            "loopback)\n");
            config_free(&cfg);
            return EXIT_USAGE;
        }
        rc = open_store(&cfg, &app.store);
        if (rc == ERR_OK && cfg.migrate_on_start) {
            rc = store_migrate(app.store);
            if (rc == ERR_UNAVAILABLE) {
                /* Serve anyway (liveness 200, readiness 503) and keep trying: a cold
                 * database (e.g. a serverless one) must not crash-loop the pod. */
                log_warn("database unreachable at start; retrying migrations in the "
                         "background, /ready is 503 until they succeed");
                rc = migrator_start(app.store, &app.schema_ready, &migrator);
            } else {
                atomic_store(&app.schema_ready, rc == ERR_OK);
            }
        } else {
            atomic_store(&app.schema_ready, true);
        }
        if (rc != ERR_OK) {
            store_close(app.store);
            jwks_free(app.jwks);
            config_free(&cfg);
            return 1;
        }
    }
    routes_for_role(cfg.role, &app.routes, &app.n_routes);
    if (cfg.role == ROLE_WEB && proxy_start(&cfg) != ERR_OK) {
        log_error("cannot start the API proxy");
        config_free(&cfg);
        return 1;
    }
    raise_fd_limit();
    struct http_server *srv = NULL;
    rc = http_server_start(&app, &srv);
    if (rc != ERR_OK) {
        proxy_shutdown();
        migrator_stop(migrator);
        store_close(app.store);
        config_free(&cfg);
        return 1;
    }
    struct log_field f[] = {LF_S("host", cfg.host),
                            LF_I("port", cfg.port),
                            LF_S("role", config_role_name(cfg.role)),
                            LF_S("environment", config_env_name(cfg.environment)),
                            LF_S("version", TODO_VERSION),
                            LF_I("workers", cfg.workers),
                            LF_D("startup_ms", (double)(now_mono_us() - t0) / 1000.0)};
    log_fields(LOG_INFO, "listening", f, ARRAY_LEN(f));

    int sig;
    do {
        sig = 0;
        sigwait(sigs, &sig);
    } while (sig == SIGHUP);
    log_fields(
        LOG_INFO, "shutting down",
        (struct log_field[]){LF_I("signal", sig), LF_I("in_flight", http_server_inflight(srv))}, 2);
    atomic_store(&app.draining, true);
    http_server_quiesce(srv);
    drain(srv, sigs, cfg.shutdown_timeout_s);
    proxy_shutdown(); /* resumes suspended connections before the daemon stops */
    http_server_stop(srv);
    migrator_stop(migrator);
    store_close(app.store);
    jwks_free(app.jwks);
    log_info("stopped");
    config_free(&cfg);
    return 0;
}

int main(int argc, char **argv)
{
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
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "todo: cannot initialise crypto or HTTP client libraries\n");
        return 1;
    }
    int rc;
    if (strcmp(cmd, "serve") == 0) {
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        rc = cmd_serve(argc - 1, argv + 1, &sigs);
    } else if (strcmp(cmd, "migrate") == 0) {
        rc = cmd_migrate(argc - 1, argv + 1);
    } else if (strcmp(cmd, "config") == 0) {
        rc =
            argc == 3 && is_help(argv[2]) ? usage(stdout, 0) : cmd_config_check(argc - 1, argv + 1);
    } else if (strcmp(cmd, "healthcheck") == 0) {
        rc = cmd_healthcheck(argc - 1, argv + 1);
    } else {
        fprintf(stderr, "todo: unknown command '%s'\n", cmd);
        rc = usage(stderr, EXIT_USAGE);
    }
    curl_global_cleanup();
    return rc;
}
