"""PostgreSQL stopped but not dead (SIGSTOP on every process of the cluster): the server keeps
its deadlines. Before issue 7 a timed-out statement called PQcancel, which waited forever on
the stopped server, so every worker ended up stuck and even /health stopped answering.

Expected: /health stays instant; /ready answers 503 within its 1.5 s deadline; an API request
in flight answers 503 within the statement deadline (STORE_QUERY_TIMEOUT_MS, 10 s; in practice
~2 s, when the watch's probe goes unanswered); once the database is declared down, requests
fail at once; after SIGCONT the server recovers by itself."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from api_helpers import fresh_user
from helpers import scaled, wait_until

pytestmark = pytest.mark.postgres_only

READY_DEADLINE = 1.5
STATEMENT_DEADLINE = 10.0


def _cluster_pids(cluster) -> list[int]:
    """The postmaster (first) and its children."""
    pid_file = Path(cluster.dir) / "data" / "postmaster.pid"
    postmaster = int(pid_file.read_text().splitlines()[0])
    children = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == postmaster:
            children.append(int(d.name))
    return [postmaster] + children


@contextlib.contextmanager
def frozen(cluster):
    """Stops every process of the cluster (postmaster first, so it forks no more) and always
    continues them on the way out."""
    pids = _cluster_pids(cluster)
    stopped = []
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        yield pids
    finally:
        for pid in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _timed(fn):
    t0 = time.monotonic()
    try:
        r = fn()
    except requests.RequestException as e:
        r = e
    return r, time.monotonic() - t0


def test_a_stopped_database_keeps_every_deadline_and_the_server_recovers(servers, private_pg):
    srv = servers.start(database_url=private_pg.fresh_database_url(), env={"WORKERS": "2"})
    assert srv.wait_ready() == 200
    user = fresh_user(srv, "frozen")
    before = user.create(title="before the freeze")

    with frozen(private_pg):
        # One API request waits on the stopped database, holding one worker ...
        inflight = {}
        t = threading.Thread(target=lambda: inflight.update(
            r=_timed(lambda: user.get("/api/me/tasks", params={"limit": 5},
                                     timeout=scaled(STATEMENT_DEADLINE) + 5))))
        t.start()
        time.sleep(0.2)
        # ... while /health keeps answering at once.
        slow = []
        for _ in range(10):
            r, took = _timed(lambda: requests.get(srv.url("/health"), timeout=scaled(5)))
            if not (isinstance(r, requests.Response) and r.status_code == 200) or took > scaled(0.5):
                slow.append((getattr(r, "status_code", r), round(took, 3)))
            time.sleep(0.1)
        assert not slow, f"/health was not instant while the database was stopped: {slow}"
        t.join(timeout=scaled(STATEMENT_DEADLINE + 10))
        assert not t.is_alive(), "the API request never ended"
        r, took = inflight["r"]
        assert isinstance(r, requests.Response), f"the API request failed: {r!r}"
        assert r.status_code == 503, f"{r.status_code} {r.text[:200]}"
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json().get("detail"), r.text
        assert took <= scaled(STATEMENT_DEADLINE) + 1, f"503 after {took:.1f}s"

        # /ready: 503 within its own deadline.
        r, took = _timed(lambda: requests.get(srv.url("/ready"), timeout=scaled(10)))
        assert isinstance(r, requests.Response) and r.status_code == 503, r
        assert took <= scaled(READY_DEADLINE) + 0.5, f"/ready took {took:.2f}s"

        # Declared down: new requests fail at once, reads and writes alike.
        for method, body in (("GET", None), ("POST", {"title": "during the freeze"})):
            r, took = _timed(lambda: user.request(method, "/api/me/tasks", json=body))
            assert isinstance(r, requests.Response) and r.status_code == 503, r
            assert took <= scaled(1.0), f"{method} took {took:.2f}s with the database down"
        r, took = _timed(lambda: requests.get(srv.url("/health"), timeout=scaled(5)))
        assert r.status_code == 200 and took <= scaled(0.5), (r, took)

    # SIGCONT: the server finds the database again by itself.
    back = wait_until(lambda: requests.get(srv.url("/ready"), timeout=scaled(5)).status_code == 200,
                      scaled(15), interval=0.2, max_polls=200)
    assert back, "/ready did not return to 200 after the database resumed"
    after = user.create(title="after the freeze")
    ids = {x["id"] for x in user.list(limit=50).json()}
    assert {before["id"], after["id"]} <= ids
    assert "during the freeze" not in {x["title"] for x in user.list(limit=50).json()}

    # Stopped again, /ready is the first to ask: 503 within its deadline, then back.
    with frozen(private_pg):
        r, took = _timed(lambda: requests.get(srv.url("/ready"), timeout=scaled(10)))
        assert isinstance(r, requests.Response) and r.status_code == 503, r
        assert took <= scaled(READY_DEADLINE) + 0.5, f"/ready took {took:.2f}s"
        r, took = _timed(lambda: requests.get(srv.url("/health"), timeout=scaled(5)))
        assert r.status_code == 200 and took <= scaled(0.5), (r, took)
    back = wait_until(lambda: requests.get(srv.url("/ready"), timeout=scaled(5)).status_code == 200,
                      scaled(15), interval=0.2, max_polls=200)
    assert back, "/ready did not return to 200 after the second stop"
    assert user.list(limit=1).status_code == 200
    assert srv.alive()


def test_database_connections_use_tcp_keepalive(servers, backend):
    """A peer that vanishes without a word (dropped packets) is noticed by the kernel:
    keepalives after 10 s of silence (and tcp_user_timeout) on every database connection."""
    srv = servers.start()
    user = fresh_user(srv, "keepalive")
    assert user.list().status_code == 200
    port = backend.pg.port
    out = subprocess.run(["ss", "-tnop", "state", "established", "dst", f"127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=30).stdout
    mine = [line for line in out.splitlines() if f"pid={srv.proc.pid}," in line]
    assert mine, f"no database connection of the server found:\n{out}"
    for line in mine:
        # "timer:(keepalive,9.8sec,0)": libpq turns keepalives on by default, but with the
        # kernel's 2-hour idle time; ours probe after 10 s of silence.
        m = re.search(r"timer:\(keepalive,(?:(\d+)min)?(?:([\d.]+)sec)?", line)
        assert m, f"no keepalive timer: {line}"
        left = int(m.group(1) or 0) * 60 + float(m.group(2) or 0)
        assert left <= 15, f"keepalive idle time is not the server's 10 s: {line}"
