"""HTTP basics: health/readiness, JSON errors, 405 with Allow, request ids, keep-alive."""

import concurrent.futures
import uuid

import pytest
import requests

from helpers import RawHttpConnection, assert_json_error, build_request, scaled


def _is_json(r):
    return r.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json"


@pytest.mark.parametrize("path", ["/health", "/api/health"])
def test_health_endpoints_answer_200_healthy_json(server, path):
    r = server.get(path)
    assert r.status_code == 200, f"GET {path} → {r.status_code} {r.text!r}"
    assert _is_json(r), f"GET {path} Content-Type {r.headers.get('Content-Type')!r}"
    assert r.json() == {"status": "healthy"}


def test_ready_answers_200_with_connected_database(server):
    r = server.get("/ready")
    assert r.status_code == 200, f"GET /ready → {r.status_code} {r.text!r}"
    assert _is_json(r)
    assert r.json() == {"status": "ready", "database": "connected"}


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/health/extra", "/api/health/x/y"])
def test_unknown_route_is_404_json_detail(server, path):
    assert_json_error(server.get(path), 404)


@pytest.mark.parametrize("method,path", [("POST", "/health"), ("DELETE", "/health"), ("PUT", "/ready"),
                                         ("POST", "/api/health"), ("PATCH", "/ready")])
def test_wrong_method_on_known_path_is_405_with_allow_get(server, method, path):
    r = server.request(method, path, json={} if method in ("POST", "PUT", "PATCH") else None)
    assert_json_error(r, 405)
    allow = r.headers.get("Allow")
    assert allow is not None, f"{method} {path} → 405 without an Allow header"
    methods = {m.strip().upper() for m in allow.split(",")}
    assert "GET" in methods, f"Allow: {allow!r} does not contain GET"
    assert method not in methods, f"Allow: {allow!r} lists the rejected method {method}"


def test_request_id_sent_by_client_is_echoed(server):
    rid = "blackbox-" + uuid.uuid4().hex
    r = server.get("/health", headers={"X-Request-ID": rid})
    assert r.status_code == 200
    assert r.headers.get("X-Request-ID") == rid, f"X-Request-ID echoed as {r.headers.get('X-Request-ID')!r}"


def test_request_id_is_generated_when_absent_and_unique(server):
    ids = []
    for _ in range(3):
        r = server.get("/health")
        rid = r.headers.get("X-Request-ID")
        assert rid, "no X-Request-ID in the response when the client sent none"
        ids.append(rid)
    assert len(set(ids)) == 3, f"generated request ids repeat: {ids}"


def test_request_id_on_error_responses_too(server):
    rid = "blackbox-err-" + uuid.uuid4().hex
    r = server.get("/does-not-exist", headers={"X-Request-ID": rid})
    assert r.status_code == 404
    assert r.headers.get("X-Request-ID") == rid


def test_keep_alive_two_sequential_requests_on_one_socket(server):
    with RawHttpConnection(server.port) as c:
        first = c.request("GET", "/health")
        assert first.status == 200, first
        assert (first.header("connection") or "").lower() != "close", \
            "first response carries Connection: close — keep-alive is not working"
        second = c.request("GET", "/health")
        assert second.status == 200, second
        assert second.json() == {"status": "healthy"}


def test_keep_alive_pipelined_requests_on_one_socket(server):
    with RawHttpConnection(server.port) as c:
        c.send(build_request("GET", "/health") + build_request("GET", "/api/health")
               + build_request("GET", "/ready"))
        statuses = [c.read_response().status for _ in range(3)]
    assert statuses == [200, 200, 200], f"pipelined responses: {statuses}"


def test_requests_session_reuses_one_connection(server):
    with requests.Session() as s:
        for _ in range(5):
            assert s.get(server.url("/health"), timeout=scaled(5)).status_code == 200
        pools = s.get_adapter(server.base_url).poolmanager.pools
        opened = sum(pools[k].num_connections for k in pools.keys())
        assert opened == 1, f"{opened} TCP connections opened for 5 requests on one session"


def test_connection_close_request_header_is_honoured(server):
    with RawHttpConnection(server.port) as c:
        r = c.request("GET", "/health", headers={"Connection": "close"})
        assert r.status == 200
        # the server must close the connection after the response
        c.sock.settimeout(scaled(5))
        try:
            rest = c.sock.recv(1)
        except ConnectionResetError:
            rest = b""
        assert rest == b"", "connection stayed open (and sent data) after Connection: close"


def test_http10_request_gets_a_response(server):
    with RawHttpConnection(server.port) as c:
        c.send(b"GET /health HTTP/1.0\r\n\r\n")
        r = c.read_response()
    assert r.status == 200


def test_concurrent_requests_all_succeed(server):
    def one(_):
        with requests.Session() as s:
            return [s.get(server.url("/health"), timeout=scaled(10)).status_code for _ in range(25)]

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        results = [code for batch in ex.map(one, range(16), timeout=scaled(120)) for code in batch]
    assert len(results) == 400
    bad = [c for c in results if c != 200]
    assert not bad, f"{len(bad)} of 400 concurrent requests failed: {sorted(set(bad))}"


def test_health_ignores_query_string(server):
    r = server.get("/health?probe=1")
    assert r.status_code == 200, f"GET /health?probe=1 → {r.status_code}"
    assert r.json() == {"status": "healthy"}


def test_ready_under_concurrency_with_a_pool_of_one(servers):
    srv = servers.start(env={"DATABASE_POOL_SIZE": "1", "DATABASE_MAX_OVERFLOW": "0"})

    def one(_):
        with requests.Session() as s:
            return [s.get(srv.url("/ready"), timeout=scaled(10)).status_code for _ in range(10)]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        results = [c for batch in ex.map(one, range(8), timeout=scaled(120)) for c in batch]
    bad = [c for c in results if c != 200]
    assert not bad, (f"{len(bad)} of {len(results)} concurrent /ready answered {sorted(set(bad))} "
                     f"with DATABASE_POOL_SIZE=1 (pool contention reported as not ready?)")
