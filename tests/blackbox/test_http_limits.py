"""HTTP framing and connection limits (issue 7): request smuggling shapes are refused with 400
and a closed connection; long query strings are served or refused with 414 at once; a client
that trickles its request head is cut off after the head deadline; one address holds at most
MAX_CONNECTIONS_PER_IP connections (the trusted proxies of FORWARDED_ALLOW_IPS exempt), so a few
trickling addresses cannot starve a normal client.

Loopback only: 127.0.0.2, 127.0.0.3 … are all local addresses on Linux. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import statistics
import time

import pytest

from helpers import (IncompleteResponse, RawHttpConnection, connect_from, peer_holds, raise_fd_limit,
                     scaled, start_in_mount_namespace)

HEAD_TIMEOUT = 10  # HTTP_HEAD_TIMEOUT_S
PER_IP = 64  # MAX_CONNECTIONS_PER_IP's default
TOTAL = 2048  # trickling connections opened (the old HTTP_CONN_LIMIT; it is 16384 now)
QUERY_ARGS_MAX = 64  # HTTP_QUERY_ARGS_MAX
LOGIN = "/api/auth/login"


def _exchange(port: int, data: bytes, timeout: float = 5.0, more: bool = True):
    """Sends data on a new connection; returns (responses, closed by the server, seconds to
    the first response). With more, keeps reading (bounded) for further responses."""
    with RawHttpConnection(port, timeout=timeout) as c:
        t0 = time.monotonic()
        c.send(data)
        out, first = [], None
        for _ in range(3):
            try:
                out.append(c.read_response(timeout=timeout))
            except IncompleteResponse:
                break
            first = first if first is not None else time.monotonic() - t0
            if not more or c.closed_by_peer or \
                    (out[-1].header("connection") or "").lower() == "close":
                break
        if more:
            with contextlib.suppress(IncompleteResponse):
                c._fill(time.monotonic() + scaled(1))
        return out, c.closed_by_peer, first


# --------------------------------------------------------------------------------------------
# Framing (RFC 9112 §6.1, §6.3)
# --------------------------------------------------------------------------------------------

SMUGGLE = {
    "cl-and-te": (b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 4\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                  b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"),
    "te-and-cl": (b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n"
                  b"Content-Type: application/json\r\n\r\n0\r\n\r\n"
                  b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"),
    "two-lengths": (b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 36\r\n"
                    b"\r\n{}GET /health HTTP/1.1\r\nHost: x\r\n\r\n"),
}


@pytest.mark.parametrize("name", list(SMUGGLE))
def test_ambiguous_body_length_is_400_json_and_closes(server, name):
    """Regression: libmicrohttpd took the chunked body (or the first length) and then served
    the hidden second request."""
    responses, closed, _ = _exchange(server.port, SMUGGLE[name])
    assert responses, f"{name}: no response"
    r = responses[0]
    assert r.status == 400, f"{name}: {r.status} {r.body[:120]!r}"
    assert (r.header("content-type") or "").startswith("application/json")
    assert r.json()["detail"]
    assert len(responses) == 1, f"{name}: the hidden request was served: {[x.status for x in responses]}"
    assert closed, f"{name}: the connection was left open"


def test_equal_duplicate_lengths_and_chunked_bodies_still_work(server):
    body = b'{"email": "nobody@example.com", "password": "wrong-password"}'
    dup = (b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(body), len(body)) + body)
    responses, _, _ = _exchange(server.port, dup, more=False)
    assert [r.status for r in responses][:1] == [401], responses
    chunked = (b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    responses, _, _ = _exchange(server.port, chunked, more=False)
    assert [r.status for r in responses][:1] == [401], responses


def test_unsupported_transfer_coding_is_refused_and_closes(server):
    data = (b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
    responses, closed, _ = _exchange(server.port, data)
    assert responses and responses[0].status in (400, 501), responses
    assert responses[0].json()["detail"]
    assert closed


# --------------------------------------------------------------------------------------------
# Long query strings
# --------------------------------------------------------------------------------------------

QUERY_SHAPES = [(1, 7700), (8, 7700), (64, 7600), (65, 7700), (300, 7700), (1100, 7700),
                (1900, 13000), (64, 500), (65, 500), (2, 7950), (1, 7950), (1, 12000)]


@pytest.mark.parametrize("n,total", QUERY_SHAPES, ids=[f"{n}args-{t}B" for n, t in QUERY_SHAPES])
@pytest.mark.parametrize("path", ["/health", "/api/me/tasks"])
def test_long_query_strings_are_served_or_refused_at_once(server, path, n, total):
    """Regression: ~7.7 KB of short arguments did not fit libmicrohttpd's per-connection pool;
    it queued a 431 and lost its state, and the client waited 30 s for nothing."""
    value = "v" * max(1, (total - n * 7) // n)
    query = "&".join(f"k{i}={value}" for i in range(n))
    assert query.count("&") == n - 1
    data = f"GET {path}?{query} HTTP/1.1\r\nHost: x\r\nUser-Agent: limits-test\r\n\r\n".encode()
    responses, _, took = _exchange(server.port, data, timeout=5, more=False)
    assert responses, f"no answer to a {len(query)}-byte query of {n} arguments"
    r = responses[0]
    assert r.status in (200, 401, 414, 422), f"{r.status} {r.body[:100]!r}"
    if n > QUERY_ARGS_MAX:
        assert r.status == 414, f"{n} arguments: {r.status}"
    if r.status == 414 and r.body[:1] != b"<":
        assert r.json()["detail"]
    assert took < scaled(2), f"answered after {took:.1f}s"


def test_many_arguments_keep_the_connection_usable_for_others(server):
    query = "&".join(f"a={i}" for i in range(1900))
    for _ in range(3):
        responses, _, _ = _exchange(server.port,
                                    f"GET /health?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert responses and responses[0].status == 414
        assert responses[0].json()["detail"] == "URI too long"
    assert server.get("/health").status_code == 200


# --------------------------------------------------------------------------------------------
# Slow heads and per-address caps
# --------------------------------------------------------------------------------------------








def _trickle(socks, line: bytes):
    for s in socks:
        with contextlib.suppress(OSError):
            s.send(line)


def test_per_address_connection_cap(server):
    raise_fd_limit(512)
    socks = [connect_from(server.port, "127.0.0.9") for _ in range(PER_IP + 36)]
    try:
        time.sleep(0.3)
        _trickle(socks, b"GET /health HTTP/1.1\r\n")
        time.sleep(scaled(0.7))
        open_now = sum(peer_holds(s) for s in socks)
        assert open_now <= PER_IP, f"{open_now} connections open from one address (cap {PER_IP})"
        assert open_now >= PER_IP // 2, f"only {open_now} connections were accepted"
    finally:
        for s in socks:
            s.close()


def _accepted(port: int) -> int:
    """Connections from 127.0.3.0/24 (_taken_in's) that the server on port has accepted:
    established ones with an inode in /proc/net/tcp (one still in the listen backlog belongs
    to no socket yet: inode 0)."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            n += (int(local.split(":")[1], 16) == port and remote[2:8] == "03007F" and
                  state == "01" and inode != "0")
    return n


def _taken_in(srv, n: int, cap: int) -> int:
    """Opens n idle connections to srv from 8 addresses and returns how many the server took
    in once that stops growing: beyond its limit it stops accepting, and the rest wait in the
    kernel's listen backlog (no memory of ours). A bounded wait, well within the head
    deadline."""
    raise_fd_limit(n + 256)
    socks = [connect_from(srv.port, f"127.0.3.{1 + i % 8}") for i in range(n)]
    try:
        until = time.monotonic() + scaled(3)
        while time.monotonic() < until and _accepted(srv.port) < cap:
            time.sleep(0.05)
        time.sleep(0.3)  # and it takes no more than that
        return _accepted(srv.port)
    finally:
        for s in socks:
            s.close()


def _conn_slack(limit: int, workers: int) -> int:
    """How far over its limit libmicrohttpd may be seen holding connections. It splits the
    limit among its worker threads, each can take one more with an accept in flight when it
    reaches its share, and on a loaded machine (the CI's parallel layers) 304 and 318 were
    seen against 301. A tenth of the limit still tells the limit apart from the old 16384."""
    return max(workers, limit // 10)


def test_total_connection_limit_is_a_setting(servers):
    """HTTP_CONN_LIMIT caps the connections open at once: a new one beyond it is closed."""
    limit = 300
    srv = servers.start(env={"HTTP_CONN_LIMIT": str(limit), "MAX_CONNECTIONS_PER_IP": "0"})
    started = [r for r in srv.log_records()[0] if r.get("msg") == "listening"]
    assert started and started[-1].get("conn_limit") == limit, started
    taken = _taken_in(srv, limit + 40, limit)
    slack = _conn_slack(limit, started[-1]["workers"])
    assert limit - 4 <= taken <= limit + slack, f"{taken} connections taken, limit {limit}"
    assert srv.get("/health").status_code == 200  # and the server serves once they are gone


def test_automatic_connection_limit_follows_the_memory_limit(servers):
    """With HTTP_CONN_LIMIT unset, a process with a memory limit (its cgroup's memory.max,
    here a file in a private mount namespace) holds no more connections than fit in half of it
    at 17 KiB each (a full request head's cost): 10 MiB -> 301; before, always 16384, whose
    full heads (~265 MB) could pass a container's memory limit (the chart's web role: 128Mi)."""
    mem = 10 * 1024 * 1024
    limit = mem // 2 // (17 * 1024)
    srv = start_in_mount_namespace(
        servers, f"mount -t tmpfs -o size=1m tmpfs /sys/fs/cgroup && "
                 f"printf '{mem}\\n' > /sys/fs/cgroup/memory.max", env={"MAX_CONNECTIONS_PER_IP": "0"})
    started = [r for r in srv.log_records()[0] if r.get("msg") == "listening"]
    assert started and started[-1].get("conn_limit") == limit, started
    taken = _taken_in(srv, limit + 40, limit)
    slack = _conn_slack(limit, started[-1]["workers"])
    assert limit - 4 <= taken <= limit + slack, f"{taken} taken under a {mem >> 20} MiB limit"


def test_trusted_proxies_are_exempt_from_the_per_address_cap(servers):
    """MAX_CONNECTIONS_PER_IP caps a client address, not a proxy that carries many clients:
    an address in FORWARDED_ALLOW_IPS keeps every connection it opens (and each is served),
    another address is held to the cap."""
    cap, opened = 8, 24
    srv = servers.start(env={"MAX_CONNECTIONS_PER_IP": str(cap),
                             "FORWARDED_ALLOW_IPS": "127.0.0.7"})
    proxy = [connect_from(srv.port, "127.0.0.7") for _ in range(opened)]
    client = [connect_from(srv.port, "127.0.0.9") for _ in range(opened)]
    try:
        # Wait (bounded) until the server has refused what it refuses.
        until = time.monotonic() + scaled(5)
        while time.monotonic() < until and sum(peer_holds(s) for s in client) > cap:
            time.sleep(0.05)
        held = sum(peer_holds(s) for s in client)
        assert cap // 2 <= held <= cap, f"{held} connections held by one client address"
        assert all(peer_holds(s) for s in proxy), "the trusted proxy's connections were closed"
        for s in proxy:
            s.setblocking(True)
            s.settimeout(scaled(10))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = [s.recv(64) for s in proxy]
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers[:3]
    finally:
        for s in proxy + client:
            s.close()


def test_a_normal_client_is_served_while_addresses_trickle_headers(servers):
    """Four addresses open as many connections as the old per-address cap (512) allowed —
    together the old total (2048) — and send one header line a second. A normal client must
    still be served within 100 ms, and the trickling connections are closed once the head
    deadline passes although they never stopped sending."""
    srv = servers.start(env={"WORKERS": "2"})
    attackers = [f"127.0.0.{i}" for i in range(2, 6)]
    raise_fd_limit(TOTAL + 512)
    socks = []
    try:
        for ip in attackers:
            socks += [connect_from(srv.port, ip) for _ in range(TOTAL // len(attackers))]
        _trickle(socks, b"GET /health HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        # The server accepts (and closes past the cap) at its own pace; on a loaded CI
        # machine 2048 accepts can take longer than half a second, so wait for the cap to
        # be reached within a bound instead of sampling once.
        cap_by = started + scaled(5)
        while True:
            time.sleep(0.25)
            held = [s for s in socks if peer_holds(s)]
            if len(held) <= PER_IP * len(attackers) or time.monotonic() > cap_by:
                break
        assert len(held) <= PER_IP * len(attackers), f"{len(held)} connections held"
        timings = []
        for i in range(5):
            _trickle(held, b"X-Slow: %d\r\n" % i)
            t0 = time.monotonic()
            r = RawHttpConnection(srv.port, timeout=5)
            try:
                resp = r.request("GET", "/health", timeout=5)
            finally:
                r.close()
            timings.append(time.monotonic() - t0)
            assert resp.status == 200
            time.sleep(0.2)
        median = statistics.median(timings)
        assert median <= scaled(0.1), f"a normal client waited {median * 1000:.0f} ms (all: {timings})"
        assert max(timings) <= scaled(1.0), timings
        # Keep trickling: the head deadline still closes every one of them.
        deadline = started + HEAD_TIMEOUT + scaled(3)
        while time.monotonic() < deadline and any(peer_holds(s) for s in held):
            _trickle(held, b"X-Slow: more\r\n")
            time.sleep(0.5)
        left = sum(peer_holds(s) for s in held)
        took = time.monotonic() - started
        assert left == 0, f"{left} trickling connections still open after {took:.1f}s"
        assert took >= HEAD_TIMEOUT - 1, f"closed after {took:.1f}s, before the head deadline"
        assert srv.get("/health").status_code == 200
    finally:
        for s in socks:
            s.close()


def test_idle_keep_alive_connection_is_closed_after_the_head_deadline(server):
    """The deadline also runs between requests on a kept-alive connection."""
    with RawHttpConnection(server.port, timeout=HEAD_TIMEOUT + 10) as c:
        assert c.request("GET", "/health").status == 200
        t0 = time.monotonic()
        c.send(b"GET /health HTTP/1.1\r\n")  # an unfinished head
        with contextlib.suppress(IncompleteResponse):
            while c._fill(t0 + HEAD_TIMEOUT + scaled(3)):
                pass
        took = time.monotonic() - t0
        assert c.closed_by_peer, "the unfinished head was never cut off"
        assert HEAD_TIMEOUT - 1 <= took <= HEAD_TIMEOUT + scaled(3), f"closed after {took:.1f}s"
