"""GET /metrics (issue 14): Prometheus text on the main port behind METRICS_TOKEN, or on a
listener of its own (METRICS_PORT); requests counted by route template (never a raw path with
ids), method and status, latency histograms, the list cache, the PostgreSQL pool, MCP calls.
Off unless configured: without a token /metrics on PORT is 404."""

from __future__ import annotations

import re
import time

import pytest
import requests

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    NO_LIMIT, _attach_module_server_logs, assert_error, assert_status, fresh_user,
    start_module_server,
)
from conftest import free_port
from helpers import scaled

TOKEN = "metrics-token-0123456789abcdef"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.e+-]+|\+Inf|NaN)$')


@pytest.fixture(scope="module")
def metrics_port():
    return free_port()


@pytest.fixture(scope="module")
def msrv(request, todo_bin, backend, tmp_path_factory, metrics_port):
    _f, srv = start_module_server(request, todo_bin, backend, tmp_path_factory,
                                  env={"METRICS_TOKEN": TOKEN, "METRICS_PORT": str(metrics_port)})
    return srv


def scrape(srv) -> str:
    r = requests.get(srv.url("/metrics"), headers={"Authorization": f"Bearer {TOKEN}"},
                     timeout=scaled(10))
    assert_status(r, 200)
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.text


def samples(text: str) -> dict:
    """{(name, labels-text): value} after checking every line's syntax."""
    out = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not an exposition line: {line!r}"
        name = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, f"{name} has no # TYPE line"
        out[(name, m.group(2) or "")] = float(m.group(3))
    return out


def value(s: dict, name: str, **labels) -> float:
    total = 0.0
    for (n, lab), v in s.items():
        if n == name and all(f'{k}="{val}"' in lab for k, val in labels.items()):
            total += v
    return total


def test_off_without_a_token(backend, request, todo_bin, tmp_path_factory):
    _f, srv = start_module_server(request, todo_bin, backend, tmp_path_factory)
    r = requests.get(srv.url("/metrics"), timeout=scaled(10))
    assert_error(r, 404)


def test_token_is_required(msrv):
    assert_error(requests.get(msrv.url("/metrics"), timeout=scaled(10)), 401)
    r = requests.get(msrv.url("/metrics"), headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"},
                     timeout=scaled(10))
    assert_error(r, 401)
    assert TOKEN not in r.text


def test_requests_are_counted_by_route_template(msrv):
    u = fresh_user(msrv)
    t = u.create(title="counted")
    before = samples(scrape(msrv))
    for _ in range(3):
        assert_status(u.get(f"/api/me/tasks/{t['id']}"), 200)
    assert_error(u.get("/api/me/tasks/999999999"), 404)
    route = "/api/{user_id}/tasks/{task_id}"
    was = value(before, "todo_http_requests_total", route=route, method="GET", status="200")
    # A request is counted when libmicrohttpd reports it complete, which can be just after
    # the client has read the answer: wait for the count (bounded), then it must be exact.
    until = time.monotonic() + scaled(5)
    while True:
        after = samples(scrape(msrv))
        got = value(after, "todo_http_requests_total", route=route, method="GET", status="200")
        missed = value(after, "todo_http_requests_total", route=route, status="404")
        if (got - was >= 3 and missed >= 1) or time.monotonic() > until:
            break
        time.sleep(0.02)
    assert got - was == 3, (was, got)
    assert value(after, "todo_http_requests_total", route=route, status="404") >= 1
    # never a raw path (ids would make a series per task)
    for (_n, lab) in after:
        for r in re.findall(r'route="([^"]*)"', lab):
            assert not any(seg.isdigit() for seg in r.split("/")), f"a raw path as a route: {r}"
    assert u.id not in scrape(msrv)
    # the latency histogram: cumulative buckets ending in +Inf == count
    cnt = value(after, "todo_http_request_duration_seconds_count", route=route)
    inf = value(after, "todo_http_request_duration_seconds_bucket", route=route, le="+Inf")
    assert cnt == inf and cnt >= 4
    assert value(after, "todo_http_request_duration_seconds_sum", route=route) > 0


def test_list_cache_hits_and_misses(msrv):
    u = fresh_user(msrv)
    u.create(title="cached")
    before = samples(scrape(msrv))
    assert_status(u.list(), 200)
    assert_status(u.list(), 200)
    after = samples(scrape(msrv))
    hits = value(after, "todo_list_cache_total", result="hit") - value(before, "todo_list_cache_total", result="hit")
    misses = value(after, "todo_list_cache_total", result="miss") - value(before, "todo_list_cache_total", result="miss")
    assert hits >= 1 and misses >= 1, (hits, misses)


def test_every_declared_metric_is_exposed(msrv):
    text = scrape(msrv)
    for name in ("todo_http_requests_total", "todo_http_request_duration_seconds",
                 "todo_db_pool_connections_in_use", "todo_db_pool_waits_total",
                 "todo_list_cache_total", "todo_task_rows_total", "todo_llm_calls_total", "todo_llm_tokens_total",
                 "todo_llm_call_duration_seconds", "todo_mcp_tool_calls_total",
                 "todo_reminders_sent_total", "todo_emails_queued_total",
                 "todo_emails_failed_total"):
        assert f"# TYPE {name} " in text, name
    samples(text)


def test_pool_gauges(msrv, backend):
    u = fresh_user(msrv)
    assert_status(u.list(), 200)
    s = samples(scrape(msrv))
    assert ("todo_db_pool_connections_open", "") in s
    if backend.name == "postgres":  # the pool is PostgreSQL's; SQLite has none and shows 0
        assert s[("todo_db_pool_connections_open", "")] >= 1
    else:
        assert s[("todo_db_pool_connections_open", "")] == 0


def test_own_port_serves_metrics_without_a_token(msrv, metrics_port):
    base = f"http://127.0.0.1:{metrics_port}"
    r = requests.get(base + "/metrics", timeout=scaled(10))
    assert_status(r, 200)
    samples(r.text)
    assert "todo_http_requests_total" in r.text
    assert requests.get(base + "/api/me/tasks", timeout=scaled(10)).status_code == 404
    assert requests.post(base + "/metrics", timeout=scaled(10)).status_code == 405
