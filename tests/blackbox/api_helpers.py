"""Shared pieces for the API contract tests (test_api_*.py): a module-scoped server, API
clients, JWT crafting with the standard library, and assertions for the contract's shapes.

Module-scoped servers: the harness's `server` fixture is per test; signing up costs an
Argon2id hash (~0.1 s), so these tests start one server per module and backend
(`module_server`) and sign users up once. Tests that need an empty account use
`fresh_user()`, which crafts an HS256 token for a never-seen user id with the server's
JWT_SECRET (the contract creates such users on first use) — no hashing at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional

import pytest
import requests

from conftest import ServerFactory
from helpers import scaled

# Servers in these tests never meet the limiter unless a test is about it.
NO_LIMIT = {"RATE_LIMIT_PER_MINUTE": "100000"}
PASSWORD = "correct horse battery staple"
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
TASK_KEYS = {"id", "user_id", "title", "description", "completed", "completed_at", "priority",
             "tags", "due_at", "remind_at", "recurrence", "recurrence_interval", "created_at",
             "updated_at"}

# The task routes, as (method, path template). {uid} is the path user, {tid} a task id.
# test_api_isolation.py checks this list against docs/openapi.json.
TASK_ROUTES = [
    ("GET", "/api/{uid}/tasks"),
    ("POST", "/api/{uid}/tasks"),
    ("GET", "/api/{uid}/tasks/stats"),
    ("POST", "/api/{uid}/tasks/parse"),
    ("GET", "/api/{uid}/tasks/{tid}"),
    ("PUT", "/api/{uid}/tasks/{tid}"),
    ("PATCH", "/api/{uid}/tasks/{tid}"),
    ("DELETE", "/api/{uid}/tasks/{tid}"),
    ("PATCH", "/api/{uid}/tasks/{tid}/complete"),
    ("POST", "/api/{uid}/tasks/{tid}/restore"),
    ("GET", "/api/{uid}/tags"),
]

# The personal access token routes (test_api_tokens.py covers each for isolation).
TOKEN_ROUTES = [
    ("GET", "/api/{uid}/tokens"),
    ("POST", "/api/{uid}/tokens"),
    ("DELETE", "/api/{uid}/tokens/{tokid}"),
]

# The assistant's routes (test_chat_offline.py covers each for isolation; {cid} is a
# conversation id).
CHAT_ROUTE = ("POST", "/api/{uid}/chat")
CONV_ROUTES = [
    ("GET", "/api/{uid}/conversations"),
    ("GET", "/api/{uid}/conversations/{cid}"),
    ("PATCH", "/api/{uid}/conversations/{cid}"),
    ("DELETE", "/api/{uid}/conversations/{cid}"),
]

# The account-wide routes under /api/{uid}/ (test_account_data.py covers each for isolation).
ACCOUNT_ROUTES = [
    ("GET", "/api/{uid}/export"),
    ("POST", "/api/{uid}/import"),
]

# The calendar feed's routes (test_calendar.py covers each for isolation).
CALENDAR_ROUTES = [
    ("GET", "/api/{uid}/calendar.ics"),
    ("POST", "/api/{uid}/calendar/token"),
    ("DELETE", "/api/{uid}/calendar/token"),
]

# The attachment routes (test_attachments.py covers each for isolation).
ATTACHMENT_ROUTES = [
    ("GET", "/api/{uid}/tasks/{tid}/attachments"),
    ("POST", "/api/{uid}/tasks/{tid}/attachments"),
    ("GET", "/api/{uid}/tasks/{tid}/attachments/{attachment_id}"),
    ("DELETE", "/api/{uid}/tasks/{tid}/attachments/{attachment_id}"),
]

# Notifications and the event stream (test_reminders.py covers each for isolation; {nid} is a
# notification id).
NOTIFY_ROUTES = [
    ("GET", "/api/{uid}/notifications"),
    ("POST", "/api/{uid}/notifications/read-all"),
    ("PATCH", "/api/{uid}/notifications/{nid}"),
    ("GET", "/api/{uid}/events"),
]

_emails = itertools.count(1)


# --------------------------------------------------------------------------------------------
# Module-scoped server
# --------------------------------------------------------------------------------------------


def start_module_server(request, todo_bin, backend, tmp_path_factory, env: Optional[dict] = None):
    """Start one server for the whole module (per backend); stopped (and checked for crashes)
    when the module's tests are done. Returns (factory, server)."""
    tmp = tmp_path_factory.mktemp(f"api-{backend.name}")
    factory = ServerFactory(todo_bin, backend, tmp)
    e = dict(NO_LIMIT)
    e.update(env or {})

    def finish():
        problems = factory.stop_all()
        if problems:
            pytest.fail("server crashed or sanitizer reported:\n" + "\n".join(problems),
                        pytrace=False)

    request.addfinalizer(finish)
    return factory, factory.start(env=e)


@pytest.fixture(scope="module")
def module_server(request, todo_bin, backend, tmp_path_factory):
    """One server per test module and backend, with the limiter out of the way and an
    explicit CORS origin."""
    _factory, srv = start_module_server(request, todo_bin, backend, tmp_path_factory,
                                        env={"CORS_ORIGINS": "http://localhost:3000"})
    return srv


@pytest.fixture(autouse=True)
def _attach_module_server_logs(request):
    """Let the harness's report hook append the module server's stderr to failures."""
    if "module_server" in request.fixturenames:
        srv = request.getfixturevalue("module_server")
        existing = list(getattr(request.node, "todo_servers", []) or [])
        request.node.todo_servers = existing + [srv]
    yield


# --------------------------------------------------------------------------------------------
# JWT crafting (stdlib only)
# --------------------------------------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_json(obj) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def hs256(secret: str, signing_input: str) -> str:
    return b64u(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())


def make_jwt(claims: dict, secret: str, header: Optional[dict] = None) -> str:
    h = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    signing_input = b64u_json(h) + "." + b64u_json(claims)
    return signing_input + "." + hs256(secret, signing_input)


def claims_for(sub: str, email: Optional[str] = None, ttl: int = 3600, **extra) -> dict:
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + ttl, "iss": "todo"}
    if email:
        c["email"] = email
    c.update(extra)
    return c


def server_secret(srv) -> str:
    return srv.env["JWT_SECRET"]


def jwt_parts(token: str):
    h, p, s = token.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(base64.urlsafe_b64decode(pad(p))), s)


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{next(_emails)}-{uuid.uuid4().hex[:8]}@example.com"


@dataclass
class User:
    srv: object
    id: str
    token: str
    email: Optional[str] = None
    body: dict = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)

    def headers(self, extra: Optional[dict] = None) -> dict:
        h = {"Authorization": f"Bearer {self.token}"}
        h.update(extra or {})
        return h

    def request(self, method: str, path: str, **kw) -> requests.Response:
        """path may contain {uid} (this user's real id) — any other placeholder is left alone."""
        kw.setdefault("timeout", scaled(10))
        kw["headers"] = self.headers(kw.get("headers"))
        return self.session.request(method, self.srv.url(path.replace("{uid}", self.id)), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- task shortcuts -------------------------------------------------------------------
    def create(self, who: str = "me", **fields) -> dict:
        r = self.post(f"/api/{who}/tasks", json=fields)
        assert r.status_code == 201, f"create {fields!r} → {r.status_code} {r.text[:300]}"
        return r.json()

    def task(self, tid, who: str = "me") -> requests.Response:
        return self.get(f"/api/{who}/tasks/{tid}")

    def list(self, who: str = "me", **params) -> requests.Response:
        return self.get(f"/api/{who}/tasks", params=params)

    def list_ids(self, **params) -> list:
        r = self.list(**params)
        assert r.status_code == 200, f"list {params!r} → {r.status_code} {r.text[:300]}"
        return [t["id"] for t in r.json()]


def signup(srv, email: Optional[str] = None, password: str = PASSWORD,
           name: Optional[str] = "Test User") -> User:
    email = email or unique_email()
    body = {"email": email, "password": password}
    if name is not None:
        body["name"] = name
    r = requests.post(srv.url("/api/auth/signup"), json=body, timeout=scaled(20))
    assert r.status_code == 201, f"signup {email} → {r.status_code} {r.text[:300]}"
    data = r.json()
    return User(srv, data["user"]["id"], data["token"], data["user"]["email"], data)


def fresh_user(srv, prefix: str = "ext") -> User:
    """A never-seen user, authenticated by a token crafted with the server's secret."""
    uid = f"{prefix}-{uuid.uuid4()}"
    email = f"{uid}@example.com"
    token = make_jwt(claims_for(uid, email), server_secret(srv))
    return User(srv, uid, token, email)


def create_pat(user: "User", name: str = "test token", **fields) -> dict:
    """A personal access token for user (POST …/tokens with the user's JWT): the 201 body."""
    r = user.post("/api/me/tokens", json={"name": name, **fields})
    assert r.status_code == 201, f"create token → {r.status_code} {r.text[:300]}"
    return r.json()


def pat_user(user: "User", name: str = "test token", **fields) -> "User":
    """The same account, authenticated with a new personal access token instead of its JWT."""
    pat = create_pat(user, name, **fields)
    return User(user.srv, user.id, pat["token"], user.email, pat)


def sql_on(srv, statement: str) -> list:
    """Runs one statement on the server's database (sqlite3 module or psql) and returns its
    rows as text: how tests move a stored time without waiting for the clock."""
    import shutil
    import sqlite3
    import subprocess

    url = srv.env["DATABASE_URL"]
    if url.startswith("sqlite:"):
        con = sqlite3.connect(url.split("sqlite:///", 1)[1], timeout=scaled(10))
        try:
            rows = con.execute(statement).fetchall()
            con.commit()
        finally:
            con.close()
        return [tuple(str(c) for c in r) for r in rows]
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    out = subprocess.run([psql, url, "-XAtq", "-F", "\t", "-c", statement], capture_output=True,
                         text=True, timeout=scaled(30), check=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines() if line]


def anon_request(srv, method: str, path: str, **kw) -> requests.Response:
    kw.setdefault("timeout", scaled(10))
    return requests.request(method, srv.url(path), **kw)


def request_from(srv, source_ip: str, method: str, path: str, body: Optional[dict] = None,
                 headers: Optional[dict] = None):
    """One request from a given loopback source address (127.0.0.x); returns
    (status, headers dict lower-cased, parsed JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=scaled(20),
                                      source_address=(source_ip, 0))
    try:
        data = json.dumps(body).encode() if body is not None else None
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return resp.status, hdrs, parsed
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------------------------


def where(r: requests.Response) -> str:
    return f"{r.request.method} {r.request.path_url}"


def assert_status(r: requests.Response, status: int) -> None:
    assert r.status_code == status, f"{where(r)}: expected {status}, got {r.status_code} {r.text[:400]!r}"


def assert_error(r: requests.Response, status: int) -> dict:
    """A non-validation error: the status, JSON, {"detail": "<non-empty string>"}."""
    assert_status(r, status)
    ctype = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
    assert ctype == "application/json", f"{where(r)}: Content-Type {ctype!r}"
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], (
        f"{where(r)}: expected {{\"detail\": str}}, got {body!r}")
    return body


def assert_422(r: requests.Response, *locs) -> list:
    """422 with FastAPI's {"detail":[{"loc":[...],"msg":str,"type":str}, ...]}; every loc given
    (a list/tuple) must appear among the items."""
    assert_status(r, 422)
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), list) and body["detail"], (
        f"{where(r)}: 422 body must be {{\"detail\": [..]}}, got {body!r}")
    for item in body["detail"]:
        assert isinstance(item, dict), f"{where(r)}: detail item {item!r}"
        assert isinstance(item.get("loc"), list) and item["loc"], f"{where(r)}: loc in {item!r}"
        assert isinstance(item.get("msg"), str) and item["msg"], f"{where(r)}: msg in {item!r}"
        assert isinstance(item.get("type"), str) and item["type"], f"{where(r)}: type in {item!r}"
    seen = [item["loc"] for item in body["detail"]]
    for loc in locs:
        assert list(loc) in seen, f"{where(r)}: expected an error at {list(loc)}, got {seen}"
    return body["detail"]


def assert_task_shape(t: dict) -> None:
    assert isinstance(t, dict), t
    missing = TASK_KEYS - set(t)
    assert not missing, f"task lacks {sorted(missing)}: {t!r}"
    assert isinstance(t["id"], int) and t["id"] > 0, t
    assert isinstance(t["title"], str) and t["title"], t
    assert isinstance(t["completed"], bool), t
    assert t["priority"] in ("high", "medium", "low"), t
    assert isinstance(t["tags"], list) and all(isinstance(x, str) for x in t["tags"]), t
    assert t["recurrence"] in ("none", "daily", "weekly", "monthly", "yearly"), t
    assert isinstance(t["recurrence_interval"], int) and t["recurrence_interval"] >= 1, t
    for k in ("created_at", "updated_at"):
        assert isinstance(t[k], str) and RFC3339_Z.match(t[k]), f"{k}={t[k]!r} is not RFC 3339 UTC"
    for k in ("completed_at", "due_at", "remind_at"):
        assert t[k] is None or (isinstance(t[k], str) and RFC3339_Z.match(t[k])), (
            f"{k}={t[k]!r} is not null or RFC 3339 UTC")
    assert (t["completed_at"] is not None) == t["completed"], (
        f"completed={t['completed']} but completed_at={t['completed_at']!r}")


def parse_link(header: Optional[str]) -> dict:
    """RFC 8288 Link → {rel: url}."""
    out = {}
    for url, rel in re.findall(r'<([^>]*)>\s*;\s*rel="?([A-Za-z]+)"?', header or ""):
        out[rel] = url
    return out
