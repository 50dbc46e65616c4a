"""Fault drill: two api replicas behind the web role, one of them stopped the way Kubernetes
stops a pod, during a steady load through the web role → zero failed requests.

The web role has one API_URL, as in the chart (the backend Service). The Service is modelled
by drill_balancer.Balancer: round robin per connection over the endpoints that are ready
(/ready 200, probed every 100 ms) and not terminating. The pod's deletion is modelled as
Kubernetes does it: the endpoint is marked terminating (it leaves the rotation for new
connections; connections already open stay), the chart's preStop sleep runs (PRESTOP_S here,
`preStopSleepSeconds`, 5 s in the chart), then the process gets SIGTERM. The rest is the
server's own drain: /ready 503, the listener closed, `Connection: close` on every answer
while in-flight requests finish, then exit 0. The web role pools its upstream connections
(libcurl), so requests keep arriving on connections to the stopping replica until it closes
them; libcurl retries a request once when a reused connection turns out closed before any
answer, which is what makes a closed idle keep-alive connection harmless. The load
generator retries nothing: every request that does not end 2xx is a failure."""

from __future__ import annotations

import signal
import time
import uuid

import pytest
import requests

from api_helpers import PASSWORD, fresh_user
from drill_balancer import Balancer
from drill_load import Load, Outcome, record, summary, timed
from helpers import scaled, wait_until

pytestmark = pytest.mark.postgres_only

THREADS = 8
SIGNUP_THREADS = 2
PRESTOP_S = 1.0
AFTER_SIGTERM_S = 3.0


def _start(servers, role: str, env: dict, database_url=None):
    srv = servers.prepare(env=env, database_url=database_url, args=("serve", "--role", role))
    srv.start()
    assert srv.wait_healthy(), srv.tail()
    return srv


def _served(srv) -> int:
    return sum(1 for r in srv.log_records()[0]
               if r.get("msg") == "request" and r.get("path", "").startswith("/api/"))


def test_sigterm_to_one_of_two_api_replicas_fails_no_request(servers):
    db = servers.new_database_url()
    api_env = {"SHUTDOWN_TIMEOUT_SECONDS": "10"}
    a = _start(servers, "api", api_env, db)
    b = _start(servers, "api", api_env, db)
    assert a.wait_ready() == 200 and b.wait_ready() == 200
    with Balancer([a.port, b.port]) as svc:
        assert svc.wait_ready(scaled(5)), "the balancer never saw both replicas ready"
        web = _start(servers, "web", {"API_URL": svc.url})
        users = [fresh_user(web, f"replica-{i}") for i in range(THREADS)]
        for u in users:
            u.create(title="first")

        sessions = [requests.Session() for _ in range(THREADS)]

        def step(i: int, n: int) -> Outcome:
            u = users[i]
            if i < SIGNUP_THREADS:
                # A sign-up hashes its password (~0.1 s of CPU): there is one in flight on
                # the stopping replica when it gets SIGTERM, which must finish it.
                email = f"drill-{uuid.uuid4().hex[:12]}@example.com"
                return timed("signup", lambda: sessions[i].post(
                    web.url("/api/auth/signup"),
                    json={"email": email, "password": PASSWORD, "name": "Drill"},
                    timeout=scaled(15)), {"email": email})
            if n % 2:
                title = f"t {i}-{n}-{uuid.uuid4().hex[:6]}"
                return timed("create", lambda: u.post("/api/me/tasks", json={"title": title},
                                                      timeout=scaled(15)), {"title": title})
            return timed("list", lambda: u.get("/api/me/tasks", params={"limit": 20},
                                               timeout=scaled(15)))

        load = Load(step, THREADS, scaled(120), pause=0.005).start()
        try:
            assert wait_until(lambda: load.count() >= 400, scaled(20), interval=0.05), \
                f"the load never got going: {load.count()} answered"
            a_before, b_before = _served(a), _served(b)
            t_delete = time.monotonic()
            svc.terminate(a.port)                    # the pod is deleted: endpoint terminating
            time.sleep(PRESTOP_S)                    # the chart's preStop sleep
            t_term = time.monotonic()
            a.send_signal(signal.SIGTERM)
            rc = a.wait_exit(scaled(15))
            t_exit = time.monotonic()
            time.sleep(AFTER_SIGTERM_S)              # the load goes on with one replica
            n_after = load.count()
            assert wait_until(lambda: load.count() >= n_after + 100, scaled(10), interval=0.05)
        finally:
            outcomes = load.stop()

    failed = [(o.kind, o.status, o.error, o.info.get("error_body", "")) for o in outcomes
              if not o.ok]
    assert not failed, f"{len(failed)} of {len(outcomes)} requests failed: {failed[:10]}"
    assert rc == 0, f"the replica exited with {rc} after SIGTERM:\n{a.tail()}"
    assert a_before > 50 and b_before > 50, f"the load did not reach both replicas: {a_before}, {b_before}"
    # Each create answered once was made once: no request ran twice (a retry by the proxy of
    # one that the stopping replica had run but not answered would show here).
    titles: dict = {}
    for u in users:
        u.srv = b
        for offset in range(0, 100_000, 200):
            page = u.get("/api/me/tasks", params={"limit": 200, "offset": offset}).json()
            for t in page:
                titles[t["title"]] = titles.get(t["title"], 0) + 1
            if len(page) < 200:
                break
    sent_titles = [o.info["title"] for o in outcomes if o.kind == "create"]
    twice = [t for t in sent_titles if titles.get(t, 0) > 1]
    missing = [t for t in sent_titles if titles.get(t, 0) == 0]
    assert not twice, f"{len(twice)} creates ran twice: {twice[:5]}"
    assert not missing, f"{len(missing)} creates answered 201 are missing: {missing[:5]}"
    after_term = [o for o in outcomes if o.started >= t_term]
    assert len(after_term) >= 100
    s = summary(outcomes)
    ea = svc.endpoints[0]
    record("SIGTERM to one of two api replicas behind the web role", **s,
           during_drain=summary([o for o in outcomes if t_term <= o.started <= t_exit]),
           replica_exit_s=round(t_exit - t_term, 2), replica_rc=rc,
           served_by_a=_served(a), served_by_b=_served(b),
           connections_routed=[e.routed for e in svc.endpoints],
           connections_refused=[e.refused for e in svc.endpoints],
           no_endpoint=svc.no_endpoint, prestop_s=PRESTOP_S,
           a_last_ready=max((t for t, st in ea.probes if st == 200), default=0) - t_delete)
