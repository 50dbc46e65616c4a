"""SIGTERM soon after PostgreSQL restarted: the server exits promptly.

Regression (the podman stack test saw 4.3 s and 10 s stops right after a PostgreSQL restart):
a background thread — the reminder scheduler's claim, the events hub's poll, the watch's
probe — was inside a database connect or statement when shutdown began, and the exit waited
for that call's deadline (STORE_ACQUIRE_TIMEOUT_MS, 5 s; STORE_QUERY_TIMEOUT_MS, 10 s). Now a
background thread's database waits give up as soon as the thread is asked to stop.

To make the slow case certain rather than a matter of timing, the restarted database is then
frozen (SIGSTOP: connections are accepted by the kernel but nothing answers), so every
background database call in progress waits for its deadline; the server polls the database
every 100 ms (REMINDER_POLL_MS, EVENTS_POLL_MS, with an event stream open) so that some are.
Each case runs a few times."""

from __future__ import annotations

import contextlib
import signal
import time

import pytest

from api_helpers import fresh_user
from dns_helpers import FakeDns, start_with_resolver
from helpers import scaled, wait_until
from sse_helpers import SseClient
from test_postgres_frozen import frozen

pytestmark = pytest.mark.postgres_only

STOP_BOUND = 1.5  # seconds from SIGTERM to exit; the connect deadline is 5 s
ROUNDS = 3
FAST_POLLS = {"REMINDER_POLL_MS": "100", "EVENTS_POLL_MS": "100", "SHUTDOWN_TIMEOUT_SECONDS": "10"}


def _restarted_server(servers, cluster):
    """A server on cluster with an event stream open, then PostgreSQL stopped and started
    under it; returns (server, stream)."""
    srv = servers.start(database_url=cluster.fresh_database_url(), env=FAST_POLLS)
    assert srv.wait_ready() == 200
    user = fresh_user(srv)
    assert user.get("/api/me/tasks").status_code == 200
    stream = SseClient(srv.port, "/api/me/events", user.token)
    assert stream.status == 200
    cluster.stop()
    cluster.start()
    return srv, stream


def _stop_time(srv) -> float:
    t0 = time.monotonic()
    srv.send_signal(signal.SIGTERM)
    rc = srv.wait_exit(30)
    took = time.monotonic() - t0
    assert rc == 0, f"exit {rc} after {took:.1f} s\n{srv.tail()}"
    print(f"stopped in {took:.2f} s")
    return took


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_sigterm_right_after_a_postgres_restart_exits_promptly(servers, private_pg, round_):
    srv, stream = _restarted_server(servers, private_pg)
    with contextlib.closing(stream.sock):
        # The background threads reconnect within a few polls.
        time.sleep(0.3)
        took = _stop_time(srv)
    assert took < scaled(STOP_BOUND), f"stop took {took:.2f} s\n{srv.tail()}"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_sigterm_while_background_calls_wait_on_a_restarted_database(servers, private_pg, round_):
    srv, stream = _restarted_server(servers, private_pg)
    with contextlib.closing(stream.sock):
        assert srv.wait_ready() == 200, "not ready after the restart"
        with frozen(private_pg):
            time.sleep(0.35)  # several polls: background calls are now waiting on it
            took = _stop_time(srv)
    assert took < scaled(STOP_BOUND), f"stop took {took:.2f} s\n{srv.tail()}"


@pytest.mark.parametrize("round_", range(2))
def test_sigterm_while_the_database_host_name_does_not_resolve(servers, private_pg, tmp_path,
                                                               round_):
    """DATABASE_URL names its host; after PostgreSQL restarts, the DNS that resolves it stays
    silent (a container network's while the container restarts), so every reconnect is
    inside a host name lookup. libpq's own lookup (getaddrinfo) cannot be interrupted and
    held the exit for the resolver's timeout (10 s here); the server now looks names up
    itself, with a deadline and giving up on stop (store/pg_addr.h)."""
    name = "db.todo-test.internal"
    dns = FakeDns({name: "127.0.0.1"})
    try:
        resolv = dns.resolv_conf(tmp_path / "resolv.conf", timeout_s=10)
        dbname = private_pg.create_database()
        url = f"postgresql://todo@{name}:{private_pg.port}/{dbname}"
        srv = start_with_resolver(servers, resolv, url, env=FAST_POLLS)
        assert srv.wait_ready() == 200, srv.tail()
        assert dns.queries > 0, "the database's host name was never looked up"
        user = fresh_user(srv)
        assert user.get("/api/me/tasks").status_code == 200
        stream = SseClient(srv.port, "/api/me/events", user.token)
        assert stream.status == 200
        with contextlib.closing(stream.sock):
            dns.silent = True
            private_pg.stop()
            private_pg.start()
            # The background threads (polling every 100 ms) reconnect: into the lookup.
            assert wait_until(lambda: dns.unanswered > 0, scaled(5)), "no lookup while silent"
            time.sleep(0.3)
            took = _stop_time(srv)
        assert took < scaled(STOP_BOUND), f"stop took {took:.2f} s\n{srv.tail()}"
    finally:
        dns.close()
