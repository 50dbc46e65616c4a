"""The web role's streaming reverse proxy (src/web/proxy.c), end to end.

Processes (started once for the module, on free 127.0.0.1 ports):
  upstream  tests/blackbox/fixtures/upstream.py: echoes requests as JSON, streams SSE, serves
            large bodies, slow headers, odd statuses and hop-by-hop response headers;
  api       `todo serve --role api` on SQLite;
  web_fx    `todo serve --role web` with API_URL = the upstream fixture;
  web_api   `todo serve --role web` with API_URL = the api process;
  web_down  `todo serve --role web` with API_URL = a port where nothing listens.

Tests that need the proxy routes (/api/... → h_proxy) fail when the web role's route table
does not send them to the proxy (the probe gets the web process's own answer).
The header-timeout test waits the full 30 s (it runs in `make test`; the layers run side by side).
"""

from __future__ import annotations

import hashlib
import json
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import ServerExited, TodoServer, apply_overrides, base_env, free_port
from helpers import RawHttpConnection, scaled, wait_for_log, wait_until

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "upstream.py"
FX = "/api/_fx"  # every path under it reaches the fixture's handlers
BAD_GATEWAY = {"detail": "Bad gateway: API unavailable"}
START_ATTEMPTS = 3
SSE_GAP = 0.3  # seconds between the fixture's SSE events


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


class Upstream:
    """The fixture server as a child process; `port` once it listens."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(FIXTURE), "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], scaled(10))
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            self.stop()
            pytest.fail(f"upstream fixture did not start (got {line!r})", pytrace=False)
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


class Stack:
    """The todo processes of this module; stops them all and reports crashes."""

    def __init__(self, todo_bin: Path, tmp: Path):
        self.todo_bin = todo_bin
        self.tmp = tmp
        self.servers: list[TodoServer] = []

    def start(self, name: str, role: str, env: dict | None = None) -> TodoServer:
        last = ""
        for attempt in range(START_ATTEMPTS):
            workdir = self.tmp / f"{name}{attempt}"
            workdir.mkdir(parents=True, exist_ok=True)
            e = base_env(workdir, "sqlite:///" + str((workdir / "t.db").resolve()))
            e = apply_overrides(e, env)
            srv = TodoServer(self.todo_bin, e, workdir, name, args=("serve", "--role", role))
            self.servers.append(srv)
            srv.start()
            try:
                if srv.wait_healthy():
                    return srv
                last = f"{name} not healthy in time; stderr:\n{srv.tail()}"
                break
            except ServerExited as ex:
                last = str(ex)
                if "in use" not in srv.logs().lower():
                    break
        pytest.fail(last, pytrace=False)

    def stop_all(self) -> list[str]:
        problems = []
        for srv in self.servers:
            if srv.proc is None:
                continue
            try:
                srv.stop()
            except Exception as ex:  # never leave a process behind
                problems.append(f"stopping {srv.args}: {ex}")
                srv.proc.kill()
            report = srv.crash_report()
            if report:
                problems.append(f"{report}\n--- stderr tail ---\n{srv.tail()}")
        return problems


@pytest.fixture(scope="module")
def upstream():
    up = Upstream()
    yield up
    up.stop()


@pytest.fixture(scope="module")
def stack(todo_bin, tmp_path_factory):
    s = Stack(todo_bin, tmp_path_factory.mktemp("web-proxy"))
    yield s
    problems = s.stop_all()
    if problems:
        pytest.fail("server crashed or sanitizer reported:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def api(stack):
    return stack.start("api", "api")


@pytest.fixture(scope="module")
def web_fx(stack, upstream):
    return stack.start("web_fx", "web", {"API_URL": upstream.base_url})


@pytest.fixture(scope="module")
def web_api(stack, api):
    return stack.start("web_api", "web", {"API_URL": api.base_url})


@pytest.fixture(scope="module")
def web_down(stack):
    return stack.start("web_down", "web", {"API_URL": f"http://127.0.0.1:{free_port()}"})


@pytest.fixture(scope="module")
def wired(web_fx):
    """Fails unless /api/... on the web role reaches the upstream (routes wired to h_proxy)."""
    try:
        r = web_fx.get(f"{FX}/echo")
    except requests.RequestException as e:
        pytest.fail(f"web process did not answer a proxied path: {e} (if it aborted: is the "
                    f"daemon started with MHD_ALLOW_SUSPEND_RESUME?)\n{web_fx.tail()}",
                    pytrace=False)
    try:
        proxied = r.status_code == 200 and r.json().get("fixture") == "upstream-echo"
    except ValueError:
        proxied = False
    if not proxied:
        pytest.fail(f"web role does not proxy /api (GET {FX}/echo answered "
                    f"{r.status_code} {r.text[:80]!r} from the web process itself)", pytrace=False)
    return web_fx


def echo(srv: TodoServer, method: str = "GET", path: str = f"{FX}/echo", **kw) -> dict:
    r = srv.request(method, path, **kw)
    assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text[:300]!r}"
    doc = r.json()
    assert doc["fixture"] == "upstream-echo"
    return doc


def header_values(doc: dict, name: str) -> list[str]:
    return [v for k, v in doc["headers"] if k.lower() == name.lower()]


def one_header(doc: dict, name: str):
    values = header_values(doc, name)
    assert len(values) <= 1, f"{name} sent {len(values)} times upstream: {values}"
    return values[0] if values else None


# --------------------------------------------------------------------------------------------
# Local answers and upstream failures
# --------------------------------------------------------------------------------------------


def test_health_is_local_and_ready_is_503_while_the_api_was_never_reached(web_down):
    for path in ("/api/health", "/health"):
        r = web_down.get(path)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text!r}"
        assert r.json() == {"status": "healthy"}
    # Not ready before the API has answered once: a pod whose path to the API's Service does
    # not work yet must get no traffic (the first sign-up after `helm install --wait` got 502).
    for _ in range(3):
        r = web_down.get("/ready")
        assert r.status_code == 503, r.text
        assert r.json() == {"status": "not_ready", "reason": "API not reached yet"}
        assert r.headers.get("Cache-Control") == "no-store"
        time.sleep(0.2)


def test_ready_once_the_api_answers_and_stays_ready_when_it_goes(stack):
    """The web role starts before its API (as in `helm install`): /ready is 503 until the API
    answers on API_URL, 200 from then on, also after the API goes away again (an API outage
    answers 502 on /api but must not take the UI out of rotation)."""
    port = free_port()
    web = stack.start("web_late", "web", {"API_URL": f"http://127.0.0.1:{port}/"})
    assert web.get("/ready").status_code == 503
    api = stack.start("api_late", "api", {"PORT": str(port)})
    assert api.port == port
    assert wait_until(lambda: web.get("/ready").status_code == 200, scaled(10), interval=0.1), \
        f"web /ready not 200 after its API came up:\n{web.tail()}"
    assert wait_for_log(web, lambda r: r.get("msg", "").startswith("proxy: upstream reached")
                        and r.get("upstream") == "api"), web.tail()
    assert web.get("/api/nobody/tasks").status_code == 401  # proxied to the api
    api.stop()
    r = web.get("/api/nobody/tasks")
    assert r.status_code == 502 and r.json() == BAD_GATEWAY
    r = web.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready"}


def test_ready_waits_for_agent_url_too(stack, upstream):
    """With AGENT_URL (seed 003's ai-agent) the chat goes there: /ready waits for both."""
    web = stack.start("web_agent_down", "web", {"API_URL": upstream.base_url,
                                                "AGENT_URL": f"http://127.0.0.1:{free_port()}"})
    assert wait_for_log(web, lambda r: r.get("msg", "").startswith("proxy: upstream reached")
                        and r.get("upstream") == "api", timeout=10), web.tail()
    for _ in range(3):
        r = web.get("/ready")
        assert r.status_code == 503, r.text
        time.sleep(0.2)


def test_api_down_is_502_json_with_request_id(wired, web_down):
    for method, path in (("GET", "/api/someone/tasks"), ("POST", "/api/auth/signup"),
                         ("DELETE", "/api/x/tasks/1")):
        kw = {"json": {"email": "a@example.com"}} if method == "POST" else {}
        r = web_down.request(method, path, headers={"X-Request-ID": "down-1"}, **kw)
        assert r.status_code == 502, f"{method} {path}: {r.status_code} {r.text!r}"
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json() == BAD_GATEWAY
        assert r.headers.get("X-Request-ID") == "down-1"
    assert web_down.alive()


# --------------------------------------------------------------------------------------------
# Against the real API
# --------------------------------------------------------------------------------------------


def test_unknown_api_path_gets_the_apis_own_404_and_request_id_round_trip(wired, web_api, api):
    rid = "proxy-roundtrip-42"
    r = web_api.get("/api/no-such-thing/here", headers={"X-Request-ID": rid})
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "Not Found"}
    assert r.headers.get("X-Request-ID") == rid
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    # The API process served it, under the same request id.
    rec = wait_for_log(api, lambda rec: rec.get("request_id") == rid and rec.get("msg") == "request")
    assert rec, f"the API never logged request {rid}:\n{api.tail()}"
    assert rec.get("path") == "/api/no-such-thing/here"


def test_signup_and_task_list_through_the_proxy(wired, web_api, api):
    body = {"email": f"proxy-{time.time_ns()}@example.com", "password": "correct horse 1",
            "name": "Proxy"}
    r = web_api.request("POST", "/api/auth/signup", json=body)
    assert r.status_code in (200, 201), r.text
    doc = r.json()
    token, uid = doc["token"], doc["user"]["id"]
    auth = {"Authorization": f"Bearer {token}"}
    via_web = web_api.get(f"/api/{uid}/tasks", headers=auth)
    direct = api.get(f"/api/{uid}/tasks", headers=auth)
    assert via_web.status_code == direct.status_code, (via_web.text, direct.text)
    assert via_web.json() == direct.json()
    if via_web.status_code == 200:
        created = web_api.request("POST", f"/api/{uid}/tasks", headers=auth,
                                  json={"title": "through the proxy"})
        assert created.status_code in (200, 201), created.text
        listed = web_api.get(f"/api/{uid}/tasks", headers=auth).json()
        titles = json.dumps(listed)
        assert "through the proxy" in titles
    # No credentials reach the web process's log.
    assert token not in web_api.logs()


# --------------------------------------------------------------------------------------------
# What the upstream sees
# --------------------------------------------------------------------------------------------


def test_forwarding_headers_are_set_and_credentials_pass_unchanged(wired, upstream):
    web = wired
    secret_auth = "Bearer s3cr3t-token-value"
    secret_cookie = "session=very-secret-cookie; theme=dark"
    doc = echo(web, headers={"X-Request-ID": "fwd-1", "Authorization": secret_auth,
                             "Cookie": secret_cookie, "Accept-Encoding": "gzip, br",
                             "User-Agent": "proxy-test/1"})
    assert one_header(doc, "X-Forwarded-For") == "127.0.0.1"
    assert one_header(doc, "X-Forwarded-Proto") == "http"
    assert one_header(doc, "X-Forwarded-Host") == f"127.0.0.1:{web.port}"
    assert one_header(doc, "X-Request-ID") == "fwd-1"
    assert one_header(doc, "Authorization") == secret_auth
    assert one_header(doc, "Cookie") == secret_cookie
    assert one_header(doc, "Accept-Encoding") == "gzip, br"
    assert one_header(doc, "User-Agent") == "proxy-test/1"
    assert one_header(doc, "Host") == f"127.0.0.1:{upstream.port}"
    logs = web.logs()
    assert "s3cr3t-token-value" not in logs and "very-secret-cookie" not in logs


def test_x_forwarded_for_appends_the_client_address(wired):
    doc = echo(wired, headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.2"})
    assert one_header(doc, "X-Forwarded-For") == "203.0.113.7, 198.51.100.2, 127.0.0.1"


def test_request_id_is_generated_and_forwarded_when_absent(wired):
    r = wired.get(f"{FX}/echo")
    rid = r.headers.get("X-Request-ID")
    assert rid and one_header(r.json(), "X-Request-ID") == rid


def test_hop_by_hop_request_headers_are_not_forwarded(wired):
    with RawHttpConnection(wired.port) as c:
        resp = c.request("GET", f"{FX}/echo", headers={
            "Connection": "keep-alive, X-Drop-Me", "X-Drop-Me": "1", "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==", "TE": "trailers", "X-Keep": "yes"})
    assert resp.status == 200
    doc = resp.json()
    for name in ("Connection", "X-Drop-Me", "Keep-Alive", "Proxy-Authorization", "TE"):
        assert not header_values(doc, name), f"{name} was forwarded: {doc['headers']}"
    assert one_header(doc, "X-Keep") == "yes"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_method_path_query_and_body_are_forwarded(wired, method):
    payload = bytes(range(256)) * 800  # 200 KiB, every byte value
    path = f"{FX}/a%20b/echo?x=1&y=a%26b&flag&e="
    doc = echo(wired, method, path, data=payload,
               headers={"Content-Type": "application/octet-stream"})
    assert doc["method"] == method
    assert doc["path"] == "/api/_fx/a%20b/echo?x=1&y=a%26b&flag&e="
    assert doc["body_len"] == len(payload)
    assert doc["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert one_header(doc, "Content-Type") == "application/octet-stream"
    assert one_header(doc, "Content-Length") == str(len(payload))


def test_post_without_body_or_content_type_gets_no_invented_headers(wired):
    with RawHttpConnection(wired.port) as c:
        resp = c.request("POST", f"{FX}/echo", headers={"Content-Length": "0"})
    doc = resp.json()
    assert doc["method"] == "POST" and doc["body_len"] == 0
    assert not header_values(doc, "Content-Type")
    assert not header_values(doc, "Accept")
    assert not header_values(doc, "Expect")


# --------------------------------------------------------------------------------------------
# What the client sees
# --------------------------------------------------------------------------------------------


def test_status_and_end_to_end_headers_pass_through(wired):
    r = wired.get(f"{FX}/status?code=418", headers={"X-Request-ID": "st-1"})
    assert r.status_code == 418
    assert r.json() == {"code": 418}
    assert r.headers.get("X-Custom") == "kept"
    assert r.headers.get("Set-Cookie") == "fx=1; Path=/"
    assert r.headers.get("X-Request-ID") == "st-1"


def test_hop_by_hop_response_headers_are_dropped(wired):
    with RawHttpConnection(wired.port) as c:
        resp = c.request("GET", f"{FX}/hop", headers={"X-Request-ID": "hop-1"})
        assert resp.status == 200 and resp.json() == {"hop": True}
        names = [k for k, _ in resp.headers]
        for name in ("x-hop-listed", "keep-alive", "proxy-authenticate", "upgrade", "trailer"):
            assert name not in names, f"{name} reached the client: {resp.headers}"
        assert resp.header("x-end-to-end") == "keep me"
        assert names.count("x-request-id") == 1 and resp.header("x-request-id") == "hop-1"
        assert names.count("content-length") + names.count("transfer-encoding") == 1
        # The connection to the client survives (the upstream's Connection is not ours).
        again = c.request("GET", f"{FX}/echo")
        assert again.status == 200 and not c.closed_by_peer


def test_redirects_are_passed_not_followed(wired):
    r = wired.get(f"{FX}/redirect", allow_redirects=False)
    assert r.status_code == 302
    assert r.headers.get("Location") == "/elsewhere"


def test_204_and_head_have_no_body(wired):
    r = wired.get(f"{FX}/status?code=204")
    assert r.status_code == 204 and r.content == b""
    with RawHttpConnection(wired.port) as c:
        resp = c.request("HEAD", f"{FX}/big?size=1000")
        assert resp.status == 200 and resp.body == b""
        assert resp.header("content-length") == "1000"
        # Nothing stray follows on the connection: the next response parses.
        assert c.request("GET", f"{FX}/echo").status == 200


def test_keep_alive_through_the_proxy(wired):
    with RawHttpConnection(wired.port) as c:
        for i in range(3):
            resp = c.request("GET", f"{FX}/echo", headers={"X-Request-ID": f"ka-{i}"})
            assert resp.status == 200
            assert (resp.header("connection") or "").lower() != "close"
        assert not c.closed_by_peer


def test_sse_streams_event_by_event(wired):
    """The first event reaches the client while the upstream has not yet sent the last."""
    arrivals, events = [], []
    with requests.get(wired.url(f"{FX}/sse"), stream=True, timeout=scaled(10)) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        for line in r.iter_lines(chunk_size=1):
            if line.startswith(b"data: "):
                arrivals.append(time.time())
                events.append(json.loads(line[6:]))
    assert [e["n"] for e in events] == [0, 1, 2]
    last_sent = events[-1]["sent"]
    assert arrivals[0] < last_sent - SSE_GAP, (
        f"first event arrived {arrivals[0] - last_sent:+.3f}s after the last was sent: buffered")
    assert arrivals[-1] - arrivals[0] > SSE_GAP  # spread out as sent, not in one burst


@pytest.mark.parametrize("kind", ["big", "big-chunked"])
def test_two_megabyte_response_passes_intact(wired, kind):
    size = 2 * 1024 * 1024
    r = wired.get(f"{FX}/{kind}?size={size}", timeout=scaled(30))
    assert r.status_code == 200
    assert len(r.content) == size
    assert hashlib.sha256(r.content).hexdigest() == r.headers["X-Body-SHA256"]


def test_slow_client_gets_a_large_response_intact(wired):
    """Backpressure: a reader slower than the upstream makes the proxy pause and resume."""
    size = 6 * 1024 * 1024
    h, n = hashlib.sha256(), 0
    with requests.get(wired.url(f"{FX}/big-chunked?size={size}"), stream=True,
                      timeout=scaled(60)) as r:
        assert r.status_code == 200
        want = r.headers["X-Body-SHA256"]
        for i, chunk in enumerate(r.iter_content(65536)):
            h.update(chunk)
            n += len(chunk)
            if i % 4 == 0:
                time.sleep(0.01)
    assert n == size and h.hexdigest() == want


def test_concurrent_proxied_requests(wired):
    results, errors = [], []

    def worker(i):
        try:
            with requests.Session() as s:
                for j in range(5):
                    r = s.get(wired.url(f"{FX}/echo"), headers={"X-Request-ID": f"c-{i}-{j}"},
                              timeout=scaled(10))
                    results.append((r.status_code, one_header(r.json(), "X-Request-ID"),
                                    f"c-{i}-{j}"))
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(60))
    assert not errors, errors
    assert len(results) == 80
    assert all(code == 200 and got == want for code, got, want in results)


def _proxy_user(web_api) -> tuple[str, dict]:
    """Signs a user up through the web role; returns (user id, auth headers)."""
    body = {"email": f"cap-{time.time_ns()}@example.com", "password": "correct horse 1"}
    r = web_api.request("POST", "/api/auth/signup", json=body)
    assert r.status_code == 201, r.text
    return r.json()["user"]["id"], {"Authorization": f"Bearer {r.json()['token']}"}


def test_a_hundred_keep_alive_clients_through_the_web_role_all_get_2xx(wired, web_api, api):
    """Regression (`make bench`'s proxied row had non-2xx answers and socket errors): 100
    keep-alive clients from 127.0.0.1 (FORWARDED_ALLOW_IPS' default: a trusted proxy, exempt
    from MAX_CONNECTIONS_PER_IP) hold their connections to the web role at once, which holds
    its pool of connections to the API from one address; every answer must be a 2xx — no
    connection closed by the per-address cap of either process, no 502."""
    uid, auth = _proxy_user(web_api)
    for i in range(3):
        r = web_api.request("POST", f"/api/{uid}/tasks", headers=auth, json={"title": f"t{i}"})
        assert r.status_code == 201, r.text
    clients, rounds = 100, 4
    together = threading.Barrier(clients, timeout=scaled(60))
    statuses, errors = [], []

    def client():
        try:
            with requests.Session() as s:
                for n in range(rounds):
                    r = s.get(web_api.url(f"/api/{uid}/tasks"), headers=auth, timeout=scaled(30))
                    statuses.append(r.status_code)
                    if n == 0:
                        together.wait()  # every client holds its connection open here
        except Exception as e:  # reported below
            errors.append(repr(e)[:200])
            together.abort()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(120))
    bad = [c for c in statuses if not 200 <= c < 300]
    assert not errors, f"{len(errors)} clients failed, e.g. {errors[:3]}"
    assert len(statuses) == clients * rounds and not bad, \
        f"{len(statuses)} answers, non-2xx: {bad[:10]}\n{web_api.tail()}"


def test_open_event_streams_do_not_starve_other_proxied_requests(wired, web_api, api):
    """60 open event streams through the web role (more than its pool of connections to the
    API for ordinary requests; 15 for each of 4 users, under the API's 16 per user) are all
    answered, and a plain list through the same web role still answers promptly. Before, each
    stream held one of the 48 pooled connections and the rest waited."""
    users = [_proxy_user(web_api) for _ in range(4)]
    streams = []
    try:
        for uid, auth in users:
            for _ in range(15):
                s = socket.create_connection(("127.0.0.1", web_api.port), timeout=scaled(10))
                s.sendall(f"GET /api/{uid}/events HTTP/1.1\r\nHost: x\r\n"
                          f"Accept: text/event-stream\r\n"
                          f"Authorization: {auth['Authorization']}\r\n\r\n".encode())
                streams.append(s)
        deadline = time.monotonic() + scaled(15)
        heads = []
        for s in streams:
            data = b""
            while b"\r\n\r\n" not in data and time.monotonic() < deadline:
                s.settimeout(max(0.05, deadline - time.monotonic()))
                try:
                    chunk = s.recv(4096)
                except (socket.timeout, TimeoutError):
                    break
                if not chunk:
                    break
                data += chunk
            heads.append(data.split(b"\r\n", 1)[0])
        answered = [h for h in heads if h.startswith(b"HTTP/1.1 200")]
        assert len(answered) == len(streams), \
            f"{len(answered)} of {len(streams)} streams answered: {sorted(set(heads))[:5]}"
        uid, auth = users[0]
        for _ in range(3):
            t0 = time.monotonic()
            r = web_api.get(f"/api/{uid}/tasks", headers=auth, timeout=scaled(30))
            took = time.monotonic() - t0
            assert r.status_code == 200, r.text
            assert took < scaled(2), f"a list took {took:.1f}s with {len(streams)} streams open"
    finally:
        for s in streams:
            s.close()


def test_client_disconnect_mid_stream_does_not_hurt_the_web_process(wired):
    # Streams that stay open (the connection is suspended between events).
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", wired.port), timeout=scaled(5))
        s.sendall(f"GET {FX}/sse-forever HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got = b""
        for _ in range(100):
            got += s.recv(4096)
            if b"data: " in got:
                break
        assert b"data: " in got
        s.close()
    # Large bodies: the client leaves while the upstream is paused on a full buffer.
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", wired.port), timeout=scaled(5))
        s.sendall(f"GET {FX}/big-chunked?size=50000000 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        s.recv(65536)
        time.sleep(0.2)
        s.close()
    # Still serving, locally and through the proxy, and streaming again.
    assert wait_until(lambda: wired.get("/api/health").status_code == 200, scaled(5))
    assert echo(wired)["method"] == "GET"
    r = wired.get(f"{FX}/sse", timeout=scaled(10))
    assert r.status_code == 200 and r.text.count("data: ") == 3
    assert wired.alive()


# --------------------------------------------------------------------------------------------
# Shutdown and timeouts (own web processes)
# --------------------------------------------------------------------------------------------


def test_sigterm_with_open_streams_and_waiting_requests_exits_cleanly(wired, stack, upstream):
    web = stack.start("web_stop", "web", {"API_URL": upstream.base_url,
                                          "SHUTDOWN_TIMEOUT_SECONDS": "1"})
    stream = socket.create_connection(("127.0.0.1", web.port), timeout=scaled(10))
    stream.sendall(f"GET {FX}/sse-forever HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert b"HTTP/1.1 200" in stream.recv(4096)
    waiting = socket.create_connection(("127.0.0.1", web.port), timeout=scaled(10))
    waiting.sendall(f"GET {FX}/slow-headers?delay=30 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(0.3)  # both are in flight
    t0 = time.monotonic()
    web.send_signal(signal.SIGTERM)
    rc = web.wait_exit(8)
    took = time.monotonic() - t0
    assert rc == 0, f"exit {rc} after {took:.1f}s\n{web.tail()}"
    # The waiting client is answered 503 before the daemon stops — never left hanging.
    data = b""
    for _ in range(100):
        try:
            chunk = waiting.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 503"), data[:200]
    assert b"shutting down" in data
    stream.close()
    waiting.close()


def test_upstream_header_timeout_is_504_but_a_slow_chat_turn_is_waited_for(wired):
    """Waits out the 30 s header timeout (PROXY_HEADER_TIMEOUT_S): always run, since the
    layers of `make test` run side by side, 30 s of waiting costs no core. Meanwhile a chat
    turn (POST /api/{user_id}/chat, not streamed) whose slow model answers after 34 s gets its
    answer, not 504: chat clients wait minutes for a model (PROXY_CHAT_HEADER_TIMEOUT_S)."""
    chat = {}

    def slow_chat():
        t0 = time.monotonic()
        try:
            chat["r"] = wired.request("POST", f"{FX}/chat?delay=34", json={"message": "hi"},
                                      timeout=scaled(90))
        except requests.RequestException as e:
            chat["r"] = e
        chat["took"] = time.monotonic() - t0

    chatter = threading.Thread(target=slow_chat)
    chatter.start()
    t0 = time.monotonic()
    r = wired.get(f"{FX}/slow-headers?delay=60", timeout=scaled(60))
    took = time.monotonic() - t0
    chatter.join(timeout=scaled(90))
    assert r.status_code == 504, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert 29 <= took <= 30 + scaled(10), took
    got = chat.get("r")
    assert isinstance(got, requests.Response), f"the chat turn failed: {got!r}"
    assert got.status_code == 200 and got.json() == {"slow": True}, \
        f"{got.status_code} {got.text[:200]!r} after {chat['took']:.1f} s"
    assert chat["took"] >= 33, chat["took"]


def test_sigterm_to_the_web_role_ends_its_proxied_event_streams_and_exits_promptly(stack, api):
    """A browser tab keeps an event stream open through the web role. On SIGTERM the web role
    must end it (the page reconnects, to another replica) before it drains, as the api role
    ends its own streams: a drain that waited for a stream that never ends would take
    SHUTDOWN_TIMEOUT_SECONDS (here 20 s) and end in a timeout (the UI's split test saw it)."""
    web = stack.start("web_streams_stop", "web",
                      {"API_URL": api.base_url, "SHUTDOWN_TIMEOUT_SECONDS": "20"})
    uid, auth = _proxy_user(web)
    s = socket.create_connection(("127.0.0.1", web.port), timeout=scaled(10))
    try:
        s.sendall(f"GET /api/{uid}/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
                  f"Authorization: {auth['Authorization']}\r\n\r\n".encode())
        head = b""
        deadline = time.monotonic() + scaled(10)
        while b"\r\n\r\n" not in head and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        t0 = time.monotonic()
        web.send_signal(signal.SIGTERM)
        rc = web.wait_exit(scaled(8))
        took = time.monotonic() - t0
    finally:
        s.close()
    assert rc is not None, "the web role still runs 8 s after SIGTERM with one event stream open"
    assert rc == 0, f"exit code {rc}; {web.tail()}"
    assert "shutdown timeout" not in web.logs(), web.tail()
    assert took < scaled(5), f"stopping took {took:.1f}s with one event stream open"
