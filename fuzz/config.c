/*
 * Fuzz target: configuration and DATABASE_URL parsing. The input is up to 64 lines
 * NAME=value: the environment config_load reads (through its table: every setting, alias,
 * bound and choice). Then the effective configuration is printed as `todo config check`
 * prints it, and each line's value is also read as a DATABASE_URL (db_url_parse,
 * db_url_redact). What must hold: a secret (JWT_SECRET, BETTER_AUTH_SECRET, the password
 * of a *_URL setting), nor SECRET_MIN bytes of one, never appears in the printout, the
 * error lines or a redacted URL.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "core/url.h"

#define MAX_VARS   64
#define SECRET_MIN 12 /* shorter values could match other text by chance */

struct var {
    char *name, *value;
};

struct env {
    struct var v[MAX_VARS];
    size_t n;
};

static const char *get(void *ctx, const char *name)
{
    struct env *e = ctx;
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->v[i].name, name) == 0)
            return e->v[i].value;
    return NULL;
}

/* The password a URL's owner meant ("scheme://user:password@host/…"): from the first ':'
 * of the user information (which ends at the first '@' before any '/') to the last '@'
 * before the host's end — a password may hold an '@' that is not percent-encoded. NULL
 * when there is none, when it is short, or when the same text appears elsewhere in the URL
 * (no redaction could tell which is the password). */
static char *url_password(const char *url)
{
    const char *s = strstr(url, "://");
    if (!s)
        return NULL;
    s += 3;
    const char *at = strchr(s, '@'), *slash = strchr(s, '/');
    if (!at || (slash && slash < at))
        return NULL;
    const char *colon = memchr(s, ':', (size_t)(at - s));
    if (!colon)
        return NULL;
    const char *host_end = at + strcspn(at, "/?#");
    for (const char *p = at; p < host_end; p++)
        if (*p == '@')
            at = p;
    if ((size_t)(at - colon - 1) < SECRET_MIN)
        return NULL;
    char *pw = strndup(colon + 1, (size_t)(at - colon - 1));
    if (pw && (strstr(url, pw) != colon + 1 || strstr(at, pw))) {
        free(pw);
        return NULL;
    }
    return pw;
}

/* The whole input, to tell a secret from text that other variables repeat. */
static const char *input;
/* The printout of the defaults (an empty environment). */
static char *defaults;

/* True when s appears more than once in the input (then another variable's value, which
 * may be printed, holds it too) or in the defaults' printout: it is no secret then. */
static bool repeated(const char *s)
{
    const char *first = strstr(input, s);
    return (first && strstr(first + 1, s)) || (defaults && strstr(defaults, s));
}

/* The configuration printout for env, or its error lines (malloc'd). */
static char *printout(config_get_fn get_fn, void *ctx)
{
    struct config cfg;
    struct config_errors errs = {0};
    int rc = config_load(&cfg, get_fn, ctx, &errs);
    if (rc != ERR_OK && rc != ERR_INVALID && rc != ERR_NOMEM)
        abort();
    if (rc == ERR_INVALID && errs.n == 0)
        abort(); /* a refusal says why */
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    if (!f)
        abort();
    if (rc == ERR_OK)
        config_print(&cfg, f);
    for (size_t i = 0; i < errs.n && i < CONFIG_MAX_ERRORS; i++)
        fprintf(f, "%s\n", errs.lines[i]);
    fclose(f);
    config_free(&cfg);
    return out;
}

/* Aborts when text shows the secret or any SECRET_MIN bytes of it (a redaction that keeps
 * part of a password leaks it too). The same output made with the secret masked is the
 * control: bytes it shows as well came from elsewhere (a variable's name, a default), not
 * from the secret; so do bytes repeated in the input. */
static void must_not_show(const char *text, const char *control, const char *secret,
                          const char *where)
{
    size_t len = secret ? strlen(secret) : 0;
    if (!text || len < SECRET_MIN)
        return;
    char window[SECRET_MIN + 1];
    for (size_t i = 0; i + SECRET_MIN <= len; i++) {
        memcpy(window, secret + i, SECRET_MIN);
        window[SECRET_MIN] = '\0';
        if (strstr(text, window) && !(control && strstr(control, window)) && !repeated(window)) {
            fprintf(stderr, "fuzz: a secret appears in %s\n", where);
            abort();
        }
    }
}

/* A copy of value with the secret's bytes (the first occurrence) replaced by others of the
 * same length, so every rule that counts bytes reads it alike. */
static char *masked(const char *value, const char *secret)
{
    char *m = strdup(value);
    char *at = m ? strstr(m, secret) : NULL;
    for (size_t i = 0; at && secret[i]; i++)
        at[i] = at[i] == 'Q' ? 'Z' : 'Q';
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *whole = strdup(text);
    if (!whole) {
        free(text);
        return 0;
    }
    input = whole;
    struct env env = {0};
    for (char *line = text, *next; line && env.n < MAX_VARS; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (!eq || eq == line)
            continue;
        *eq = '\0';
        env.v[env.n++] = (struct var){line, eq + 1};
    }

    if (!defaults) {
        struct env none = {0};
        defaults = printout(get, &none);
    }
    char *out = printout(get, &env);
    if (getenv("FUZZ_TRACE")) /* FUZZ_TRACE=1: what was printed, to check a finding */
        fprintf(stderr, "fuzz: printed:\n%s", out ? out : "");

    for (size_t i = 0; i < env.n; i++) {
        const char *name = env.v[i].name, *value = env.v[i].value;
        size_t nl = strlen(name);
        bool url = nl >= 4 && strcmp(name + nl - 4, "_URL") == 0; /* printed redacted */
        bool key = strcmp(name, "JWT_SECRET") == 0 || strcmp(name, "BETTER_AUTH_SECRET") == 0;
        char *secret = key ? strdup(value) : url_password(value);
        char *control_value = secret && strlen(secret) >= SECRET_MIN ? masked(value, secret) : NULL;
        if (!control_value) {
            free(secret);
            continue;
        }
        if ((key || url) && get(&env, name) == value) { /* the value config_load read */
            env.v[i].value = control_value;
            char *control = printout(get, &env);
            env.v[i].value = (char *)value;
            must_not_show(out, control, secret, "the configuration's printout or errors");
            free(control);
        }
        if (key) { /* a key is never read as a URL */
            free(control_value);
            free(secret);
            continue;
        }
        struct db_url u = {0};
        char why[256] = "", why_control[256] = "";
        bool ok = db_url_parse(value, &u, why, sizeof(why)) == ERR_OK;
        db_url_free(&u);
        db_url_parse(control_value, &u, why_control, sizeof(why_control));
        db_url_free(&u);
        must_not_show(why, why_control, secret, "db_url_parse's reason");
        if (ok) { /* the URLs that get printed */
            char *red = db_url_redact(value), *red_control = db_url_redact(control_value);
            must_not_show(red, red_control, secret, "a redacted URL");
            free(red);
            free(red_control);
        }
        free(control_value);
        free(secret);
    }
    free(out);
    free(text);
    free(whole);
    return 0;
}
