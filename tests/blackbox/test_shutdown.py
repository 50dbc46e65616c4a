"""Graceful shutdown: SIGTERM drains in-flight requests, readiness turns 503, exit code 0."""

import json
import signal
import socket
import time

import pytest
import requests

from api_helpers import signup
from helpers import SIGNUP, IncompleteResponse, RawHttpConnection, require_route, scaled, wait_until

DRAIN = 10  # SHUTDOWN_TIMEOUT_SECONDS used by these tests


def _body_of_length(n: int) -> bytes:
    base = {"email": "drain@example.com", "password": "correct horse battery staple", "name": ""}
    pad = n - len(json.dumps(base, separators=(",", ":")))
    assert pad >= 0
    base["name"] = "d" * pad
    out = json.dumps(base, separators=(",", ":")).encode()
    assert len(out) == n
    return out


def _start_half_request(srv, length=100):
    """Open a connection and send the headers and half of the body of POST /api/auth/signup."""
    body = _body_of_length(length)
    c = RawHttpConnection(srv.port, timeout=30)
    head = (f"POST {SIGNUP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    c.send(head + body[: length // 2])
    time.sleep(0.3)  # let the server take the headers in
    return c, body[length // 2:]


def _ready_status(srv):
    try:
        return requests.get(srv.url("/ready"), timeout=scaled(2)).status_code
    except requests.ConnectionError:
        return "refused"
    except requests.RequestException as e:
        return f"error:{type(e).__name__}"


def test_sigterm_on_idle_server_exits_0_within_2s(server):
    assert server.get("/health").status_code == 200
    server.send_signal(signal.SIGTERM)
    rc = server.wait_exit(2)
    assert rc is not None, "idle server still running 2 s after SIGTERM"
    assert rc == 0, f"exit code {rc} after SIGTERM"


def test_sigterm_with_idle_keep_alive_connection_exits_promptly(server):
    with RawHttpConnection(server.port) as c:
        assert c.request("GET", "/health").status == 200  # connection stays open, idle
        server.send_signal(signal.SIGTERM)
        rc = server.wait_exit(3)
    assert rc is not None, ("server waited on an idle keep-alive connection (no request in flight) "
                            "for more than 3 s after SIGTERM")
    assert rc == 0, f"exit code {rc}"


# Signals are delivered asynchronously: a request sent in the same instant as kill() may be
# handled before the signal thread runs. Only answers to requests sent after this grace
# (scaled for slow sanitizer builds) must not be 200.
SIGNAL_DELIVERY_GRACE = 0.05


def test_ready_never_200_after_sigterm(server):
    assert server.get("/ready").status_code == 200
    server.send_signal(signal.SIGTERM)
    sent_at = time.monotonic()
    seen = []

    def done():
        t = time.monotonic() - sent_at
        seen.append((round(t, 3), _ready_status(server)))
        return not server.alive()
    wait_until(done, scaled(5), interval=0.02, max_polls=500)
    # A server that stops within the first poll leaves one sample, taken in the signal's
    # grace: probe once more, after the stop, so "turned away" is observed, not assumed.
    seen.append((round(time.monotonic() - sent_at, 3), _ready_status(server)))
    late_200 = [(t, s) for t, s in seen if s == 200 and t > scaled(SIGNAL_DELIVERY_GRACE)]
    assert not late_200, f"/ready answered 200 after SIGTERM was delivered: {seen}"
    assert any(s != 200 for _, s in seen), f"/ready never turned away: {seen}"
    assert server.wait_exit(5) == 0


def test_sigterm_lets_in_flight_request_complete_and_exits_0(servers):
    srv = servers.start(env={"SHUTDOWN_TIMEOUT_SECONDS": str(DRAIN)})
    require_route(srv, "POST", SIGNUP, json={})
    c, rest = _start_half_request(srv)
    try:
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        try:
            c.send(rest)
        except OSError as e:
            pytest.fail(f"connection with a request in flight was dropped at SIGTERM ({e!r})")
        try:
            resp = c.read_response(timeout=DRAIN)
        except IncompleteResponse as e:
            pytest.fail(f"in-flight request got no complete HTTP response after SIGTERM: {e}")
        assert 100 <= resp.status < 600, resp
    finally:
        c.close()
    rc = srv.wait_exit(DRAIN + 5)
    assert rc is not None, f"server did not exit within SHUTDOWN_TIMEOUT_SECONDS+5 = {DRAIN + 5} s"
    assert rc == 0, f"exit code {rc} after a graceful drain"


def test_ready_is_503_or_refused_while_draining(servers):
    srv = servers.start(env={"SHUTDOWN_TIMEOUT_SECONDS": str(DRAIN)})
    require_route(srv, "POST", SIGNUP, json={})
    c, rest = _start_half_request(srv)
    try:
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        status = _ready_status(srv)
        assert status in (503, "refused"), f"/ready during the drain → {status}"
        if status == 503:
            r = requests.get(srv.url("/ready"), timeout=scaled(2))
            assert r.status_code in (503,) and r.json().get("status") == "not_ready", r.text
        c.send(rest)
        c.read_response(timeout=DRAIN)
    finally:
        c.close()
    assert srv.wait_exit(DRAIN + 5) == 0


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_second_signal_during_drain_exits_at_once(servers, second):
    srv = servers.start(env={"SHUTDOWN_TIMEOUT_SECONDS": "20"})
    require_route(srv, "POST", SIGNUP, json={})
    c, _rest = _start_half_request(srv)
    try:
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.alive(), "server exited at the first SIGTERM although a request was in flight"
        t0 = time.monotonic()
        srv.send_signal(second)
        rc = srv.wait_exit(2)
        assert rc is not None, f"still running 2 s after a second signal ({second.name}) during the drain"
        assert time.monotonic() - t0 < scaled(2.5)
    finally:
        c.close()


def test_request_after_sigterm_is_answered_or_refused_not_hung(servers):
    """After SIGTERM the listener closes or answers; a new request must never hang."""
    srv = servers.start(env={"SHUTDOWN_TIMEOUT_SECONDS": str(DRAIN)})
    srv.send_signal(signal.SIGTERM)
    try:
        requests.get(srv.url("/health"), timeout=scaled(3))
    except requests.Timeout:
        pytest.fail("a new request right after SIGTERM hung for 3 s")
    except requests.ConnectionError:
        pass  # refused / closed: fine
    assert srv.wait_exit(5) == 0


def test_drain_ends_as_soon_as_the_in_flight_request_finishes(servers):
    srv = servers.start(env={"SHUTDOWN_TIMEOUT_SECONDS": "20"})
    require_route(srv, "POST", SIGNUP, json={})
    c, rest = _start_half_request(srv)
    try:
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        c.send(rest)
        c.read_response(timeout=10)
    finally:
        c.close()
    t0 = time.monotonic()
    rc = srv.wait_exit(3)
    assert rc is not None, ("server kept waiting after its only in-flight request finished "
                            "(SHUTDOWN_TIMEOUT_SECONDS=20; expected an exit within 3 s)")
    assert rc == 0, f"exit code {rc}"
    assert time.monotonic() - t0 < scaled(3.5)


def test_drain_deadline_bounds_shutdown_when_a_request_never_finishes(servers):
    srv = servers.start(env={"SHUTDOWN_TIMEOUT_SECONDS": "2"})
    require_route(srv, "POST", SIGNUP, json={})
    c, _rest = _start_half_request(srv)  # the rest of the body never comes
    try:
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait_exit(2 + 5)
        elapsed = time.monotonic() - t0
    finally:
        c.close()
    assert rc is not None, "server still running 7 s after SIGTERM with SHUTDOWN_TIMEOUT_SECONDS=2"
    assert rc >= 0, f"server died of signal {-rc} at the drain deadline"
    assert elapsed >= 1.5, (f"exited {elapsed:.2f}s after SIGTERM with a request in flight; "
                            f"it should have waited for it up to SHUTDOWN_TIMEOUT_SECONDS=2")


def test_request_after_the_drain_is_refused_unexecuted(servers):
    """Once the drain is over, the daemon still stops only after the later modules' quiesce
    (here the mail queue, waiting up to 5 s on an SMTP server that never greets). A request
    arriving meanwhile on a keep-alive connection must not run: a daemon stop could cut its
    answer off, and a proxy that retries an unanswered request on a fresh connection (libcurl
    does, to another replica) would then run a create twice. It is refused unexecuted: the
    connection closes with no answer, and the task does not exist after a restart."""
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(8)
    hang.settimeout(scaled(10))
    env = {"EMAIL_PROVIDER": "smtp", "SMTP_HOST": "127.0.0.1",
           "SMTP_PORT": str(hang.getsockname()[1]), "SMTP_TLS": "none",
           "FROM_EMAIL": "todo@example.test", "SHUTDOWN_TIMEOUT_SECONDS": str(DRAIN)}
    smtp_peer = None
    try:
        srv = servers.start(env=env)
        u = signup(srv)
        r = requests.post(srv.url("/api/auth/forgot-password"), json={"email": u.email},
                          timeout=scaled(5))
        assert r.status_code == 202, r.text
        smtp_peer, _ = hang.accept()  # the mail is in flight and will hang there
        with RawHttpConnection(srv.port) as c:
            assert c.request("GET", "/health").status == 200  # kept alive, idle
            srv.send_signal(signal.SIGTERM)
            # The listener closes at the start of the drain; with nothing in flight the drain
            # is over within a poll, and the mail queue's 5 s wait has begun.
            assert wait_until(lambda: _ready_status(srv) == "refused", timeout=5), \
                "the listener still accepts after SIGTERM"
            time.sleep(scaled(0.5))
            body = json.dumps({"title": "after the drain"}).encode()
            try:
                resp = c.request("POST", "/api/me/tasks", body=body,
                                 headers={"Authorization": f"Bearer {u.token}",
                                          "Content-Type": "application/json"},
                                 timeout=5)
                answered = resp.status
            except IncompleteResponse as e:
                assert "timed out" not in str(e), "the refused request's connection hung open"
                answered = None
            except OSError:
                answered = None
            assert answered is None, (f"a request on a kept-alive connection after the drain "
                                      f"was executed and answered {answered}")
        rc = srv.wait_exit(DRAIN)
        assert rc == 0, f"exit code {rc}"
    finally:
        if smtp_peer:
            smtp_peer.close()
        hang.close()
    again = servers.start(env=env, database_url=srv.env["DATABASE_URL"], data_dir=srv.data_dir)
    r = requests.get(again.url("/api/me/tasks"), headers={"Authorization": f"Bearer {u.token}"},
                     timeout=scaled(10))
    assert r.status_code == 200, r.text
    assert [t["title"] for t in r.json()] == [], "the refused request's task was created"


def test_sigterm_near_the_connection_limit_drains_and_exits_0(servers):
    """With a worker near its share of the connection limit, libmicrohttpd 0.9.75's quiesce
    races the worker over the listen socket's epoll entry and aborts the process (CI saw
    SIGABRT at a SIGTERM right after 340 connections closed). The drain then leaves the
    listen socket open (logged) and still exits 0."""
    srv = servers.start(env={"HTTP_CONN_LIMIT": "64", "WORKERS": "2", "MAX_CONNECTIONS_PER_IP": "0"})
    socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=scaled(5)) for _ in range(40)]
    try:
        assert srv.get("/health").status_code == 200
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait_exit(scaled(15))
    finally:
        for s in socks:
            s.close()
    assert rc == 0, f"exit code {rc} after SIGTERM near the connection limit: {srv.tail()}"
    assert any("listen socket open" in (r.get("msg") or "") for r in srv.log_records()[0]), srv.tail()
