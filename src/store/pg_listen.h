/*
 * Versions kept current by PostgreSQL notifications (private to src/store/): what lets a
 * replica validate a cached list without a round trip to the database.
 *
 * A version (users.tasks_version) grows with every committed change of what it labels; a
 * trigger sends "<key> <version>" on the channel PG_LISTEN_CHANNEL at each such commit, and
 * PostgreSQL delivers notifications in commit order. One connection of this process
 * LISTENs; its thread writes every notification it receives into a fixed table of
 * (key, version) slots. A version the process read from the database is remembered too, but
 * only if no notification for its slot arrived meanwhile (a ticket taken before the read).
 *
 * Fresh across replicas: a write is answered only once every listener has acknowledged its
 * version (store_version_await), so no replica can still hold the old one when the client
 * asks it next. A listener acknowledges a version once it has applied it: to its own process
 * in memory, at once; to the others with a NOTIFY on PG_LISTEN_ACK_CHANNEL ("<pid>
 * <hash>:<version>..."), sent only while it knows of another listener (its last heartbeat
 * listed one, or another's hello or acknowledgement arrived within
 * 2 x PG_LISTEN_HEARTBEAT_TIMEOUT_MS); alone, it drops them, so a single replica's write costs
 * no extra transaction. A listener says hello (its "<pid>" with no entries) in the
 * transaction of its LISTENs, before any write of its process waits: since notifications
 * arrive in commit order, every other listener knows of it before it sees the version of such
 * a write. Every listener records the others' acknowledgements and learns with its heartbeat
 * which listeners exist (pg_stat_activity; writes wait for the first answer); its own is
 * always among them. A listener that
 * does not acknowledge within the wait is marked lagging (writes stop waiting for it until it
 * acknowledges again) and logged; a new listener trusts its table only after
 * PG_LISTEN_TRUST_AFTER_MS, by when every other replica's heartbeat has added it to the
 * listeners they wait for.
 *
 * The table is trusted only while the connection listens: its epoch is odd while it is
 * down (and every slot filled in an earlier epoch is ignored), a lookup misses while the
 * connection's socket holds unread input or the thread is applying what it read, and a
 * heartbeat unanswered within PG_LISTEN_HEARTBEAT_TIMEOUT_MS declares it down. A miss costs
 * the database read the request would have made anyway, so the fallback is never stale.
 *
 * Threads: one listener thread per store; lookups, fills and waits from any thread.
 */
#ifndef TODO_PG_LISTEN_H
#define TODO_PG_LISTEN_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define PG_LISTEN_CHANNEL              "todo_tasks_version"
#define PG_LISTEN_ACK_CHANNEL          "todo_tasks_version_ack"
#define PG_LISTEN_TRIGGER              "users_tasks_version_notify"
#define PG_LISTEN_APP_NAME             "todo-listen" /* its application_name */
#define PG_LISTEN_HEARTBEAT_MS         1000
#define PG_LISTEN_HEARTBEAT_TIMEOUT_MS 3000
#define PG_LISTEN_RETRY_MS             250  /* between reconnection attempts */
#define PG_LISTEN_STOP_WAIT_MS         200  /* pg_listen_stop waits this long for the thread */
#define PG_LISTEN_QUIET_MS             5000 /* failing this long at start is worth a warning */
#define PG_LISTEN_TRUST_AFTER_MS       2500 /* > 2 heartbeats: every replica knows us */
#define PG_LISTEN_SLOTS                4096
#define PG_LISTEN_PEERS                32   /* listeners (replicas) a write waits for */
#define PG_LISTEN_ACK_SLOTS            1024 /* acknowledgements kept per listener */
#define PG_LISTEN_KEY_MAX              63   /* longer keys are never cached */

struct pg_listen;

/* Starts the listener thread for the database at url (it connects in the background). The
 * caller owns *out (pg_listen_stop). */
int pg_listen_start(const char *url, struct pg_listen **out);

/* Stops the thread, which closes its connection, and frees l: joined within
 * PG_LISTEN_STOP_WAIT_MS, or else (stuck in a call of libpq that blocks) detached, to
 * free l itself when that call returns. */
void pg_listen_stop(struct pg_listen *l);

/* See store_version_peek, store_version_put and store_version_await in store.h. */
bool pg_listen_peek(struct pg_listen *l, const char *key, int64_t *out, struct store_vticket *t);
void pg_listen_put(struct pg_listen *l, const char *key, int64_t v, const struct store_vticket *t);
void pg_listen_await(struct pg_listen *l, const char *key, int64_t v, int timeout_ms);

#endif
