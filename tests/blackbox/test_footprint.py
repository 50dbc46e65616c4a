"""The process's memory (issue 15's footprint): what a password hash costs, and that a login
replaces a hash made with other settings (PASSWORD_HASH_MEMORY_MIB). Speed and memory targets
live in `make bench`; the bounds here are loose enough for a loaded machine and catch a
regression by a multiple (a 64 MiB hash was 80 MB of peak RSS)."""

from __future__ import annotations

import os
import re
import socket

import requests

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    PASSWORD, anon_request, assert_status, signup, sql_on, unique_email,
)
from helpers import scaled

METRICS_TOKEN = "footprint-metrics-token-0123456789"

ASAN = os.environ.get("TODO_ASAN") == "1"


def _stored_hash(srv, user_id: str) -> str:
    rows = sql_on(srv, f"SELECT hashed_password FROM users WHERE id = '{user_id}'")
    assert len(rows) == 1, rows
    return rows[0][0]


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _mapped_rss_kb(pid: int, library: str) -> int:
    """Resident KiB of every mapping of the file whose name starts with library."""
    total, mine = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                mine = len(head) > 5 and os.path.basename(head[5]).startswith(library)
            elif mine and head[0] == "Rss:":
                total += int(head[1])
    return total


def _login(srv, email: str, password: str = PASSWORD):
    return anon_request(srv, "POST", "/api/auth/login", json={"email": email, "password": password})


def test_password_hash_memory_is_a_setting_and_a_login_rehashes(servers):
    first = servers.start(env={"PASSWORD_HASH_MEMORY_MIB": "9"})
    user = signup(first, email=unique_email("rehash"))
    # OWASP's pair for 9 MiB is 4 passes; libsodium writes the memory in KiB.
    assert "$argon2id$v=19$m=9216,t=4,p=1$" in _stored_hash(first, user.id)
    first.stop()

    second = servers.start(database_url=first.env["DATABASE_URL"])  # the default: 7 MiB
    assert_status(_login(second, user.email, "not the password"), 401)
    assert "m=9216,t=4" in _stored_hash(second, user.id), "a failed login must not rehash"
    r = _login(second, user.email)
    assert_status(r, 200)
    new_hash = _stored_hash(second, user.id)
    assert "$argon2id$v=19$m=7168,t=5,p=1$" in new_hash, new_hash
    # The new hash verifies, and sessions made before it stay valid (same password).
    assert_status(_login(second, user.email), 200)
    assert _stored_hash(second, user.id) == new_hash, "a current hash is not replaced again"
    me = anon_request(second, "GET", "/api/auth/me", headers={"Authorization": f"Bearer {user.token}"})
    assert_status(me, 200)


def test_password_hash_memory_is_bounded(servers):
    """PASSWORD_HASH_MEMORY_MIB out of range is a config error naming the setting."""
    for bad in ("6", "1025", "lots"):
        srv = servers.prepare(env={"PASSWORD_HASH_MEMORY_MIB": bad}).start()
        code = srv.wait_exit(30)
        assert code not in (None, 0), f"PASSWORD_HASH_MEMORY_MIB={bad} must refuse to start"
        assert "PASSWORD_HASH_MEMORY_MIB" in srv.logs(), srv.tail()


def test_peak_memory_of_sign_ups_and_logins_stays_small(servers):
    srv = servers.start()
    pid = srv.proc.pid
    before = _status_kb(pid, "VmRSS")
    for i in range(3):
        u = signup(srv, email=unique_email(f"footprint{i}"))
        assert_status(_login(srv, u.email), 200)
    growth_mb = (_status_kb(pid, "VmHWM") - before) / 1024
    # One hash at a time here: 7 MiB (7.3 MB) of Argon2id plus the requests' own memory.
    assert growth_mb < 16, f"sign-ups and logins raised the peak RSS by {growth_mb:.1f} MB"
    if not ASAN:  # the sanitizer's shadow memory and quarantine are not the server's
        peak_mb = _status_kb(pid, "VmHWM") / 1024
        assert peak_mb < 40, f"peak RSS {peak_mb:.1f} MB"


def _cache_hits(srv) -> float:
    r = requests.get(srv.url("/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                     timeout=scaled(10))
    assert_status(r, 200)
    m = re.search(r'^todo_list_cache_total\{result="hit"\} ([0-9.e+]+)$', r.text, re.M)
    return float(m.group(1)) if m else 0.0


def test_openssl_is_initialised_by_the_first_outbound_call_only(servers):
    """libcurl's global initialisation, which initialises OpenSSL (about 2 MB of libcrypto's
    pages), runs on the first outbound transfer, not at start; tokens are HMAC'd with
    libsodium. A process that signs users up, writes and lists has touched much less of
    libcrypto than after its first call to a model provider (here one that refuses)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: the provider refuses connections
    srv = servers.start(env={"LLM_PROVIDER": "custom", "LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
                             "LLM_MODEL": "m", "LLM_TIMEOUT_SECONDS": "2"})
    u = signup(srv, email=unique_email("no-tls"))
    u.create(title="one")
    assert_status(u.list(), 200)
    assert_status(_login(srv, u.email), 200)
    before = _mapped_rss_kb(srv.proc.pid, "libcrypto.so")
    r = u.post("/api/me/chat", json={"message": "hi"}, timeout=scaled(20))
    assert r.status_code == 503, r.text
    after = _mapped_rss_kb(srv.proc.pid, "libcrypto.so")
    assert after - before > 1024, (
        f"libcrypto resident {before} KiB before the first outbound call, {after} KiB after: "
        "OpenSSL was initialised before anything needed it")


def test_a_large_request_gives_its_memory_back(servers):
    """glibc's malloc thresholds are fixed at start (main.c): a block of 128 KiB or more is
    mapped for the request that needs it and unmapped when it is freed. With glibc's default
    dynamic threshold, the first large block freed raised it, and the same request's blocks
    afterwards came from the worker's heap and stayed resident: four exports of 3,000 tasks
    left the process 7 MB larger on SQLite. The caches are off (LIST_CACHE_MIB=0) so that
    nothing the process keeps on purpose is counted."""
    srv = servers.start(env={"LIST_CACHE_MIB": "0"})
    u = signup(srv, email=unique_email("big"))
    tasks = [{"title": f"Imported task number {i}", "description": "x" * 200,
              "tags": ["bulk", f"t{i % 50}"], "priority": "high"} for i in range(3000)]
    r = u.post("/api/me/import", json={"format": "todo-export", "version": 1, "tasks": tasks},
               timeout=scaled(60))
    assert_status(r, 201)
    pid = srv.proc.pid
    before = _status_kb(pid, "VmRSS")
    for _ in range(4):
        r = u.get("/api/me/export", timeout=scaled(60))
        assert_status(r, 200)
        assert len(r.json()["tasks"]) == 3000
    grown_mb = (_status_kb(pid, "VmRSS") - before) / 1024
    if not ASAN:  # the sanitizer's allocator is not glibc's
        assert grown_mb < 3, f"four exports of 3,000 tasks left {grown_mb:.1f} MB resident"


def test_list_cache_budget_is_a_setting(servers):
    """LIST_CACHE_MIB bounds the list cache; 0 turns it off and lists stay correct."""
    for budget, cached in (("0", False), ("1", True)):
        srv = servers.start(env={"LIST_CACHE_MIB": budget, "METRICS_TOKEN": METRICS_TOKEN})
        u = signup(srv, email=unique_email("cache"))
        u.create(title="first")
        before = _cache_hits(srv)
        lists = [u.list() for _ in range(3)]
        for r in lists:
            assert_status(r, 200)
            assert [t["title"] for t in r.json()] == ["first"]
        u.create(title="second")
        r = u.list()
        assert_status(r, 200)
        assert sorted(t["title"] for t in r.json()) == ["first", "second"]
        hits = _cache_hits(srv) - before
        assert (hits >= 2) if cached else (hits == 0), f"LIST_CACHE_MIB={budget}: {hits} hits"


def test_start_does_not_wait_for_the_jwks(servers):
    """With BETTER_AUTH_URL set, the first JWKS fetch runs in the background: a provider that
    accepts the connection and never answers (the fetch fails only at its 5 s deadline) does
    not hold /ready back, and tokens we issue work meanwhile."""
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)  # the kernel accepts; nobody ever reads or answers
    try:
        url = f"http://127.0.0.1:{hang.getsockname()[1]}"
        srv = servers.start(env={"BETTER_AUTH_URL": url})
        assert srv.wait_ready() == 200, srv.tail()
        assert "jwks fetch failed" not in srv.logs(), "ready only after the JWKS fetch gave up"
        user = signup(srv, email=unique_email("jwks-hang"))
        me = anon_request(srv, "GET", "/api/auth/me", headers={"Authorization": f"Bearer {user.token}"})
        assert_status(me, 200)
    finally:
        hang.close()
