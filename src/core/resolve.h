/*
 * Host name lookups with a deadline. getaddrinfo cannot be interrupted: a resolver that does
 * not answer (a container network's DNS while the database's container restarts) holds the
 * calling thread for its own timeout, 5 s and more. resolve_host runs the lookup on a
 * detached thread of its own and waits for it at most until a deadline, or until the
 * caller's stop test says to give up; a lookup given up on ends by itself later and frees
 * its own state. Any thread may call it.
 */
#ifndef TODO_RESOLVE_H
#define TODO_RESOLVE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* Addresses kept from one lookup (the rest are dropped), and a name's bound. */
#define RESOLVE_MAX_ADDRS 8
#define RESOLVE_HOST_MAX  255
/* How often the wait asks stop() whether to give up. */
#define RESOLVE_POLL_MS 50

struct resolve_result {
    int n;                                          /* addresses in addr */
    char addr[RESOLVE_MAX_ADDRS][INET6_ADDRSTRLEN]; /* numeric, in the resolver's order */
};

/* Called every RESOLVE_POLL_MS while waiting: true gives the lookup up. */
typedef bool (*resolve_stop_fn)(void *arg);

/* Looks host up (IPv4 and IPv6, for TCP) and copies up to RESOLVE_MAX_ADDRS numeric
 * addresses, without duplicates, into *out. Waits until deadline_ms (now_mono_ms) at most,
 * or until stop(arg) returns true (stop may be NULL). Returns ERR_OK (out->n ≥ 1),
 * ERR_NOTFOUND (no such host, or no address), ERR_UNAVAILABLE (the resolver failed:
 * *gai_err, when not NULL, holds getaddrinfo's code, for gai_strerror), ERR_TIMEOUT (the
 * deadline passed or stop said so), ERR_INVALID (host empty or longer than
 * RESOLVE_HOST_MAX) or ERR_NOMEM (no thread). */
int resolve_host(const char *host, int64_t deadline_ms, resolve_stop_fn stop, void *arg,
                 struct resolve_result *out, int *gai_err);

/* True when host is a numeric IPv4 or IPv6 address (no lookup needed). */
bool resolve_is_numeric(const char *host);

#endif
