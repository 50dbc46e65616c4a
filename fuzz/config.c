/*
 * Fuzz target: configuration and DATABASE_URL parsing. The input is up to 64 lines
 * NAME=value: the environment config_load reads (through its table: every setting, alias,
 * bound and choice). Then the effective configuration is printed as `todo config check`
 * prints it, and each line's value is also read as a DATABASE_URL (db_url_parse,
 * db_url_redact). What must hold: a secret (JWT_SECRET, BETTER_AUTH_SECRET, a URL's
 * password) never appears in the printout, the error lines or a redacted URL.
 */
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

/* The password of a URL's authority ("scheme://user:password@host/…"), or NULL. */
static char *url_password(const char *url)
{
    const char *s = strstr(url, "://");
    if (!s)
        return NULL;
    s += 3;
    size_t auth = strcspn(s, "/?#");
    const char *at = NULL;
    for (const char *p = s; p < s + auth; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
    if (!colon || (size_t)(at - colon - 1) < SECRET_MIN)
        return NULL;
    return strndup(colon + 1, (size_t)(at - colon - 1));
}

static void must_not_show(const char *text, const char *secret, const char *where)
{
    if (text && secret && strlen(secret) >= SECRET_MIN && strstr(text, secret)) {
        fprintf(stderr, "fuzz: a secret appears in %s\n", where);
        abort();
    }
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

    struct config cfg;
    struct config_errors errs = {0};
    int rc = config_load(&cfg, get, &env, &errs);
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

    for (size_t i = 0; i < env.n; i++) {
        const char *name = env.v[i].name, *value = env.v[i].value;
        if (strcmp(name, "JWT_SECRET") == 0 || strcmp(name, "BETTER_AUTH_SECRET") == 0)
            must_not_show(out, value, "the configuration's printout or errors");
        char *p = url_password(value);
        if (strcmp(name, "DATABASE_URL") == 0 && get(&env, name) == value)
            must_not_show(out, p, "the configuration's printout or errors");
        struct db_url u = {0};
        char why[256] = "";
        if (db_url_parse(value, &u, why, sizeof(why)) == ERR_OK)
            db_url_free(&u);
        must_not_show(why, p, "db_url_parse's reason");
        char *red = db_url_redact(value);
        must_not_show(red, p, "a redacted URL");
        free(red);
        free(p);
    }
    free(out);
    free(text);
    return 0;
}
