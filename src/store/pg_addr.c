/*
 * PostgreSQL host names resolved with a deadline, given to libpq as `hostaddr` (pg_addr.h).
 */
#include "store/pg_addr.h"

#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/resolve.h"

/* The value of keyword in libpq's parse of a URL; NULL when unset or empty. */
static const char *opt(const PQconninfoOption *o, const char *keyword)
{
    for (; o && o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return o->val && *o->val ? o->val : NULL;
    return NULL;
}

/* Copies list item i (comma-separated) of s into buf; false when there is no item i or
 * it does not fit. */
static bool list_item(const char *s, int i, char *buf, size_t size)
{
    for (; i > 0 && s; i--) {
        s = strchr(s, ',');
        if (s)
            s++;
    }
    if (!s)
        return false;
    size_t len = strcspn(s, ",");
    if (len >= size)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

static int list_len(const char *s)
{
    if (!s)
        return 0;
    int n = 1;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

/* Whether libpq would look host up by name: not a socket directory (an absolute path, or
 * '@' for Linux's abstract namespace), not empty (the default socket), not numeric. */
static bool needs_lookup(const char *host)
{
    return *host && *host != '/' && *host != '@' && !resolve_is_numeric(host);
}

/* Appends one host entry to the three lists. */
static void add_entry(struct dynbuf *h, struct dynbuf *ha, struct dynbuf *p, bool first,
                      const char *host, const char *hostaddr, const char *port)
{
    if (!first) {
        dyn_addc(h, ',');
        dyn_addc(ha, ',');
        dyn_addc(p, ',');
    }
    dyn_add(h, host);
    dyn_add(ha, hostaddr);
    dyn_add(p, port);
}

int pg_addr_resolve(const char *url, int64_t deadline_ms, resolve_stop_fn stop, void *arg,
                    struct pg_addr *out, char *why, size_t why_size)
{
    out->n = 0;
    if (why_size)
        why[0] = '\0';
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(url, &err);
    if (!o) {
        /* Not ours to report: libpq says what is wrong when it reads the URL itself. */
        PQfreemem(err);
        return err ? ERR_OK : ERR_NOMEM;
    }
    const char *hosts = opt(o, "host"), *ports = opt(o, "port");
    int nhosts = list_len(hosts), nports = list_len(ports);
    bool any_name = false;
    for (int i = 0; i < nhosts && !any_name; i++) {
        char host[RESOLVE_HOST_MAX + 1];
        any_name = list_item(hosts, i, host, sizeof(host)) && needs_lookup(host);
    }
    /* Nothing to look up, a hostaddr of the URL's own, or lists libpq will refuse. */
    if (!any_name || opt(o, "hostaddr") || (nports > 1 && nports != nhosts)) {
        PQconninfoFree(o);
        return ERR_OK;
    }
    struct dynbuf h, ha, p;
    dyn_init_fixed(&h, out->host, sizeof(out->host));
    dyn_init_fixed(&ha, out->hostaddr, sizeof(out->hostaddr));
    dyn_init_fixed(&p, out->port, sizeof(out->port));
    int entries = 0, rc = ERR_OK;
    for (int i = 0; i < nhosts && entries < PG_ADDR_MAX; i++) {
        char host[RESOLVE_HOST_MAX + 1], port[33] = "";
        if (!list_item(hosts, i, host, sizeof(host)) ||
            (nports > 1 && !list_item(ports, i, port, sizeof(port)))) {
            rc = ERR_INVALID; /* an item over its bound: leave the URL to libpq */
            break;
        }
        if (!needs_lookup(host)) {
            add_entry(&h, &ha, &p, entries++ == 0, host, "", port);
            continue;
        }
        struct resolve_result r;
        int gai = 0;
        int lrc = resolve_host(host, deadline_ms, stop, arg, &r, &gai);
        if (lrc == ERR_TIMEOUT || lrc == ERR_NOMEM) {
            rc = lrc;
            break;
        }
        if (lrc != ERR_OK) {
            /* libpq would skip this host too, and try the next one. */
            if (why_size)
                snprintf(why, why_size, "could not translate host name \"%s\" to address: %s", host,
                         lrc == ERR_NOTFOUND ? "no such host" : gai_strerror(gai));
            rc = lrc;
            continue;
        }
        for (int k = 0; k < r.n && entries < PG_ADDR_MAX; k++)
            add_entry(&h, &ha, &p, entries++ == 0, host, r.addr[k], port);
    }
    PQconninfoFree(o);
    if (rc == ERR_INVALID || dyn_err(&h) || dyn_err(&ha) || dyn_err(&p))
        return ERR_OK; /* libpq's own reading of the URL stands */
    if (rc == ERR_TIMEOUT || rc == ERR_NOMEM)
        return rc;
    if (entries == 0)
        return rc != ERR_OK ? rc : ERR_NOTFOUND;
    out->keys[0] = "host";
    out->vals[0] = out->host;
    out->keys[1] = "hostaddr";
    out->vals[1] = out->hostaddr;
    out->n = 2;
    if (nports > 1) {
        out->keys[2] = "port";
        out->vals[2] = out->port;
        out->n = 3;
    }
    return ERR_OK;
}

PGconn *pg_addr_connect_start(const char *const *keys, const char *const *vals,
                              const struct pg_addr *a)
{
    const char *k[20], *v[20];
    int n = 0;
    for (; keys[n] && n < 16; n++) {
        k[n] = keys[n];
        v[n] = vals[n];
    }
    for (int i = 0; i < a->n; i++, n++) {
        k[n] = a->keys[i];
        v[n] = a->vals[i];
    }
    k[n] = v[n] = NULL;
    return PQconnectStartParams(k, v, 1);
}
