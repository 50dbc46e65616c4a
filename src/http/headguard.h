/*
 * The request-head deadline. libmicrohttpd's connection timeout counts idle time only, so a
 * client sending one header line every few seconds keeps a connection (and its slot) for as
 * long as it likes. The head guard gives every connection HTTP_HEAD_TIMEOUT_S to deliver a
 * complete request head, counted from the connection's start and, on a kept-alive
 * connection, from the end of the previous request; a reaper thread shuts down the socket
 * of a connection that misses it, and libmicrohttpd then closes it as a peer that left.
 *
 * Threads: the notify/mark functions run on libmicrohttpd's threads; the reaper thread only
 * scans the table and calls shutdown(2). A slot's socket is shut down only under the table
 * lock, and libmicrohttpd reports a connection closed (headguard_closed) before it closes
 * its socket, so the reaper never touches a descriptor that was reused.
 */
#ifndef TODO_HEADGUARD_H
#define TODO_HEADGUARD_H

#define HTTP_HEAD_TIMEOUT_S 10 /* to send a whole request head */

struct headguard;
struct headguard_slot;

/* Starts the reaper for at most max_conns connections. The caller owns *out. */
int headguard_start(unsigned max_conns, struct headguard **out);

/* Stops the reaper and frees g (after the HTTP daemon has stopped). */
void headguard_stop(struct headguard *g);

/* A connection on socket fd started: its head deadline runs. Returns its slot (NULL when
 * the table is full: the connection is then not guarded). */
struct headguard_slot *headguard_opened(struct headguard *g, int fd);

/* The connection of slot closed; its slot is free again. */
void headguard_closed(struct headguard *g, struct headguard_slot *slot);

/* A request head arrived complete: no deadline while the request is served. */
void headguard_head_done(struct headguard_slot *slot);

/* A request ended: the next head's deadline runs from now. */
void headguard_request_done(struct headguard_slot *slot);

#endif
