/*
 * Connections per client address (MAX_CONNECTIONS_PER_IP). One address may hold at most
 * `limit` connections open; the addresses in FORWARDED_ALLOW_IPS are exempt, because a proxy
 * in front of the server (the web role in front of the API, an ingress) carries the
 * connections of many clients from one address. With "*" there or a limit of 0 nothing is
 * counted.
 *
 * libmicrohttpd's own per-address limit cannot exempt an address, so the server counts
 * here: peerlimit_admit (its accept policy) refuses an address already at the limit before
 * libmicrohttpd sets the connection up, and peerlimit_opened / peerlimit_closed (its
 * connection notifications, which come in pairs) keep the exact count; a connection that
 * raced past admit beyond the limit is refused by peerlimit_opened's answer.
 *
 * Threads: any libmicrohttpd thread; the table has its own lock. It holds at most
 * max_conns addresses (one per open connection at most), in fixed memory.
 */
#ifndef TODO_PEERLIMIT_H
#define TODO_PEERLIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/config.h"

struct peerlimit;

/* A counter for cfg->max_conns_per_ip connections per address, exempting cfg's trusted
 * proxies, for at most max_conns open connections. *out is NULL (nothing to count) when
 * the limit is 0 or FORWARDED_ALLOW_IPS is "*". ERR_OK or ERR_NOMEM; the caller owns *out. */
int peerlimit_new(const struct config *cfg, unsigned max_conns, struct peerlimit **out);

void peerlimit_free(struct peerlimit *pl);

/* False when a new connection from sa must be refused (its address is at the limit). */
bool peerlimit_admit(struct peerlimit *pl, const struct sockaddr *sa);

/* A connection from sa opened: counts it. False when it is over the limit and must be
 * closed (it stays counted until peerlimit_closed, like any other). */
bool peerlimit_opened(struct peerlimit *pl, const struct sockaddr *sa);

/* A connection from sa, reported to peerlimit_opened, closed. */
void peerlimit_closed(struct peerlimit *pl, const struct sockaddr *sa);

#endif
