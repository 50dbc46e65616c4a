"""Fault drill: slowloris from several addresses and 10,000 idle connections at once, spread
over many loopback addresses (127.1.x.y; the per-address cap is 64), while a normal client
opens a new connection and asks for its task list: it is served within 100 ms (median, the
bound test_http_limits.py also uses), and every idle or trickling connection is closed by the
head deadline (10 s) without the server's help from anyone.

The test process raises its own open-file limit; the server is started with a soft limit of
1024 (prlimit) to check that it raises its own limit far enough for its connection cap.
test_http_limits.py covers the per-address cap and trickling heads on a smaller scale."""

from __future__ import annotations

import contextlib
import resource
import statistics
import threading
import time
from pathlib import Path

import pytest

from api_helpers import fresh_user
from drill_load import ms, percentile, record
from helpers import RawHttpConnection, connect_from, peer_holds, raise_fd_limit, scaled, wait_until

IDLE = 10_000
IDLE_PER_ADDR = 60        # under MAX_CONNECTIONS_PER_IP (64)
SLOW_ADDRS = 8            # slowloris addresses, each trying past the per-address cap
SLOW_PER_ADDR = 80
PER_IP = 64
HEAD_TIMEOUT = 10         # HTTP_HEAD_TIMEOUT_S
PRLIMIT = "/usr/bin/prlimit"

# About HTTP, not storage: once, on SQLite.
pytestmark = pytest.mark.sqlite_only




def _fd_limit_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc/PID/limits")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0






def _idle_source(k: int) -> str:
    j = k // IDLE_PER_ADDR
    return f"127.1.{j // 250}.{j % 250 + 1}"


def _normal_requests(srv, user, n: int) -> list:
    """n list requests, each on a new connection from 127.0.0.1: seconds to the answer."""
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        with RawHttpConnection(srv.port, timeout=10) as c:
            r = c.request("GET", "/api/me/tasks?limit=20",
                          headers={"Authorization": f"Bearer {user.token}"}, timeout=10)
        out.append(time.monotonic() - t0)
        assert r.status == 200, (r.status, r.body[:200])
    return out


def test_slowloris_and_10000_idle_connections_leave_a_normal_client_served(servers):
    raise_fd_limit(IDLE + SLOW_ADDRS * SLOW_PER_ADDR + 1024)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    srv = servers.prepare(env={"WORKERS": "4"})
    todo = str(srv.binary)
    srv.binary = Path(PRLIMIT)
    srv.args = [f"--nofile=1024:{hard}", todo, "serve"]
    srv.start()
    assert srv.wait_healthy(), srv.tail()
    server_limit = _fd_limit_of(srv.proc.pid)
    assert server_limit >= IDLE + SLOW_ADDRS * PER_IP + 64, \
        f"the server's open-file limit is {server_limit}: it cannot hold {IDLE} idle connections"
    user = fresh_user(srv, "normal")
    for k in range(20):
        user.create(title=f"task {k}")
    _normal_requests(srv, user, 5)  # warm up
    baseline = _normal_requests(srv, user, 20)
    rss_before = _rss_kib(srv.proc.pid)

    idle, slow = [], []
    stop = threading.Event()

    def trickle():
        for i in range(10_000):
            for s in slow:
                with contextlib.suppress(OSError):
                    s.send(b"X-Slow-%d: y\r\n" % i)
            if stop.wait(0.5):
                return

    trickler = threading.Thread(target=trickle, daemon=True)
    try:
        for a in range(SLOW_ADDRS):
            for _ in range(SLOW_PER_ADDR):
                s = connect_from(srv.port, f"127.0.0.{20 + a}")
                slow.append(s)
        t_open = time.monotonic()
        for k in range(IDLE):
            idle.append(connect_from(srv.port, _idle_source(k)))
        opened_s = time.monotonic() - t_open
        for s in slow:
            with contextlib.suppress(OSError):
                s.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        trickler.start()
        # Wait (bounded) until the server holds every idle connection.
        held = wait_until(lambda: sum(peer_holds(s) for s in idle) >= IDLE * 0.99 and
                          _established(srv.port) >= IDLE, scaled(HEAD_TIMEOUT / 2),
                          interval=0.2, max_polls=200)
        at_server = _established(srv.port)
        assert held, (f"the server holds {at_server} connections, "
                      f"{sum(peer_holds(s) for s in idle)} of {IDLE} idle ones alive")
        t_measure = time.monotonic()
        during = _normal_requests(srv, user, 20)
        measured_s = time.monotonic() - t_measure
        idle_alive = sum(peer_holds(s) for s in idle)
        slow_alive = sum(peer_holds(s) for s in slow)
        rss_during = _rss_kib(srv.proc.pid)
        assert time.monotonic() - t_open < HEAD_TIMEOUT, \
            "the measurement ran past the head deadline: the idle connections may be gone"
        assert idle_alive >= IDLE * 0.99, f"only {idle_alive} idle connections were held"
        assert slow_alive <= SLOW_ADDRS * PER_IP
        median = statistics.median(during)
        assert median <= scaled(0.1), f"a normal client waited {ms(median)} ms (all: {during})"
        assert max(during) <= scaled(1.0), during
        # The head deadline ends every idle and every trickling connection.
        gone = wait_until(lambda: not any(peer_holds(s) for s in idle + slow),
                          t_open + HEAD_TIMEOUT + scaled(5) - time.monotonic(),
                          interval=0.25, max_polls=400)
        closed_after = time.monotonic() - t_open
        assert gone, f"{sum(peer_holds(s) for s in idle + slow)} connections still open " \
                     f"{closed_after:.1f}s after they were opened"
    finally:
        stop.set()
        for s in idle + slow:
            s.close()
    assert srv.get("/health").status_code == 200
    record("slowloris + 10,000 idle connections", idle_opened=IDLE,
           idle_addresses=(IDLE + IDLE_PER_ADDR - 1) // IDLE_PER_ADDR, idle_held=idle_alive,
           slowloris=SLOW_ADDRS * SLOW_PER_ADDR, slowloris_held=slow_alive,
           established_at_server=at_server, server_fd_limit=server_limit,
           opened_in_s=round(opened_s, 2), normal_p50_ms_idle=ms(statistics.median(baseline)),
           normal_p50_ms=ms(median), normal_max_ms=ms(max(during)),
           normal_p90_ms=ms(percentile(during, 90)), measured_in_s=round(measured_s, 2),
           rss_kib_before=rss_before, rss_kib_during=rss_during,
           all_closed_after_s=round(closed_after, 1))


def _established(port: int) -> int:
    """Established TCP connections to the server's port (from /proc/net/tcp: state 01)."""
    hexport = f":{port:04X}"
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 3 and parts[1].endswith(hexport) and parts[3] == "01":
                n += 1
    return n
