/*
 * PostgreSQL host names resolved outside libpq, with a deadline. libpq looks a host name up
 * with a blocking getaddrinfo inside PQconnectStartParams/PQconnectPoll, which nothing can
 * interrupt: while a container network's DNS stays silent (the database's container
 * restarting), a connect — and so the exit of the thread making it — waits for the
 * resolver's own timeout. pg_addr_resolve looks the URL's host names up with core/resolve.h
 * and gives libpq numeric `hostaddr`s, keeping `host` for what libpq still needs the name
 * for (TLS verification against the certificate, the password file, Kerberos); a host that
 * is a socket directory or already numeric, or a URL that names a `hostaddr` itself, is
 * left to libpq. Used by every connect of store/postgres.c and store/pg_listen.c.
 */
#ifndef TODO_PG_ADDR_H
#define TODO_PG_ADDR_H

#include <stdint.h>

#include <libpq-fe.h>

#include "core/resolve.h"

/* Host entries passed to libpq at most (a name's addresses count one each). */
#define PG_ADDR_MAX 16

/* The keywords to add after the URL's own (lists in libpq's comma form). Plain data: lives
 * on the caller's stack, nothing to free. */
struct pg_addr {
    int n; /* keywords in keys/vals: 0 when libpq's own reading of the URL stands */
    const char *keys[3];
    const char *vals[3];
    char host[PG_ADDR_MAX * (RESOLVE_HOST_MAX + 1)];
    char hostaddr[PG_ADDR_MAX * INET6_ADDRSTRLEN];
    char port[PG_ADDR_MAX * 33];
};

/* Resolves the host names of url (a libpq URI or key=value string) before deadline_ms,
 * giving up when stop(arg) says so (stop may be NULL), into *out. Returns ERR_OK (out->n may
 * be 0), ERR_TIMEOUT (the deadline or stop), ERR_NOTFOUND / ERR_UNAVAILABLE (no host
 * could be resolved; why is in why[0..why_size), for the log) or ERR_NOMEM. */
int pg_addr_resolve(const char *url, int64_t deadline_ms, resolve_stop_fn stop, void *arg,
                    struct pg_addr *out, char *why, size_t why_size);

/* PQconnectStartParams with keys/vals (NULL-terminated, expand_dbname on: the URL is their
 * "dbname") followed by a's keywords, which override the URL's host, hostaddr and port.
 * At most 16 keys. NULL when out of memory, as libpq's own. */
PGconn *pg_addr_connect_start(const char *const *keys, const char *const *vals,
                              const struct pg_addr *a);

#endif
