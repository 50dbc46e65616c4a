"""Fault drill: PostgreSQL stopped (pg_ctl stop -m fast: the server goes away and refuses
connections — not frozen, which test_postgres_frozen.py covers with SIGSTOP) while a steady
load of reads and writes runs, then started again.

Expected: /ready answers 503 within 2 s of the stop; every API request answers — 2xx, or 503
with a JSON detail, never another status and never no answer; /health stays instant; the
process does not crash; once the database is back the server finds it by itself (/ready 200,
writes succeed) without a restart."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from api_helpers import fresh_user
from drill_load import Load, Outcome, ms, percentile, record, summary, timed
from helpers import scaled, wait_until

pytestmark = pytest.mark.postgres_only

THREADS = 4
OUTAGE_S = 4.0
READY_WITHIN = 2.0


class Prober:
    """Polls one path every `every` seconds on its own thread; records (time, status, took)."""

    def __init__(self, srv, path: str, every: float = 0.05):
        self.srv, self.path, self.every = srv, path, every
        self.seen: list = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        s = requests.Session()
        for _ in range(100_000):
            if self.stopping.is_set():
                return
            t0 = time.monotonic()
            try:
                st = s.get(self.srv.url(self.path), timeout=scaled(5)).status_code
            except requests.RequestException as e:
                st = type(e).__name__
            self.seen.append((t0, st, time.monotonic() - t0))
            self.stopping.wait(self.every)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(scaled(10))


def test_postgres_stopped_under_load_is_503_and_recovers(servers, private_pg):
    srv = servers.start(database_url=private_pg.fresh_database_url(), env={"WORKERS": "4"})
    assert srv.wait_ready() == 200
    users = [fresh_user(srv, f"pgdown-{i}") for i in range(THREADS)]
    for u in users:
        u.create(title="before the stop")

    def step(i: int, n: int) -> Outcome:
        u = users[i]
        if n % 2:
            return timed("create", lambda: u.post("/api/me/tasks", json={"title": f"w {i}-{n}"},
                                                  timeout=scaled(15)))
        return timed("list", lambda: u.get("/api/me/tasks", params={"limit": 20},
                                           timeout=scaled(15)))

    with Prober(srv, "/ready") as ready, Prober(srv, "/health") as health:
        load = Load(step, THREADS, scaled(120), pause=0.01).start()
        assert wait_until(lambda: load.count() >= 100, scaled(20), interval=0.05), \
            "the load never got going"
        t_stop = time.monotonic()
        private_pg.stop()
        t_stopped = time.monotonic()
        # /ready turns 503 within 2 s of the stop.
        first_503 = wait_until(
            lambda: next((t for t, st, _ in ready.seen if t >= t_stop and st == 503), None),
            scaled(READY_WITHIN) + 3, interval=0.02, max_polls=10_000)
        # Let the outage last, then bring the database back.
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t_stop)))
        outage = [o for o in load.snapshot() if t_stopped + 1 <= o.started]
        t_start = time.monotonic()
        private_pg.start()
        t_started = time.monotonic()
        back = wait_until(
            lambda: next((t for t, st, _ in ready.seen if t >= t_started and st == 200), None),
            scaled(20), interval=0.05, max_polls=10_000)
        # ... and the load goes on being served.
        after_n = load.count()
        writes_back = wait_until(
            lambda: next((o.started + o.took for o in load.snapshot()
                          if o.started >= t_started and o.kind == "create" and o.ok), None),
            scaled(20), interval=0.05, max_polls=10_000)
        wait_until(lambda: load.count() >= after_n + 100, scaled(10), interval=0.05)
        outcomes = load.stop()

    assert first_503 is not None, "/ready never answered 503 after the database stopped"
    ready_s = first_503 - t_stop
    assert ready_s <= scaled(READY_WITHIN), f"/ready 503 only {ready_s:.2f}s after the stop"
    assert back is not None, "/ready never returned to 200 after the database came back"
    assert writes_back is not None, "no write succeeded after the database came back"
    assert srv.alive(), "the server died"

    # Every request answered: 2xx or 503 with a JSON detail; nothing else, never nothing.
    unanswered = [o for o in outcomes if o.status is None]
    assert not unanswered, f"{len(unanswered)} requests got no answer: {unanswered[:3]}"
    odd = [(o.kind, o.status, o.info.get("error_body")) for o in outcomes
           if not o.ok and o.status != 503]
    assert not odd, f"answers other than 2xx or 503: {odd[:5]}"
    for o in outcomes:
        if o.status == 503:
            assert o.info["content_type"].startswith("application/json"), o.info
            assert '"detail"' in o.info["error_body"], o.info
    refused = [o for o in outcomes if o.status == 503]
    assert refused, "no request was refused while the database was down"
    # Refused at once, not after the statement deadline (10 s): a loaded machine may take
    # a second or two for anything.
    slow_outage = [round(o.took, 2) for o in outage if o.took > scaled(2.0)]
    assert not slow_outage, f"requests during the outage waited: {slow_outage[:10]}"

    # /health: answered 200 at once throughout.
    hs = [(st, took) for t, st, took in health.seen if t >= t_stop]
    assert hs and all(st == 200 for st, _ in hs), [h for h in hs if h[0] != 200][:5]
    health_max = max(took for _, took in hs)
    health_p50 = percentile([took for _, took in hs], 50)
    assert health_p50 <= scaled(0.1) and health_max <= scaled(1.0), \
        f"/health took {health_p50:.3f}s (median), {health_max:.3f}s (max) during the outage"

    r = users[0].list(limit=200)
    assert r.status_code == 200 and "before the stop" in {t["title"] for t in r.json()}

    # A clean stop after the outage (the time is recorded: a background thread that still
    # waits on the database would show here).
    t0 = time.monotonic()
    rc = srv.stop()
    stop_s = time.monotonic() - t0

    s = summary(outcomes)
    record("PostgreSQL stopped under load", **s, sigterm_exit_rc=rc,
           sigterm_exit_ms=round(stop_s * 1000), refused_503=len(refused),
           outage_p99_ms=ms(percentile([o.took for o in outage], 99)),
           ready_503_after_ms=round(ready_s * 1000), health_p50_ms=ms(health_p50),
           health_max_ms=ms(health_max),
           health_probes=len(hs), db_stop_took_ms=round((t_stopped - t_stop) * 1000),
           ready_200_after_db_start_ms=round((back - t_started) * 1000),
           first_write_after_db_start_ms=round((writes_back - t_started) * 1000),
           db_start_took_ms=round((t_started - t_start) * 1000))
