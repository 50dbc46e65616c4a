"""PostgreSQL only: readiness follows the database, concurrent migrations under an advisory lock."""

import time

import pytest
import requests

from conftest import ServerExited
from api_helpers import sql_on
from helpers import assert_still_serving, scaled, wait_until

pytestmark = pytest.mark.postgres_only


def _ready(srv):
    try:
        r = requests.get(srv.url("/ready"), timeout=scaled(2))
        return r.status_code, r
    except requests.RequestException as e:
        return f"error:{type(e).__name__}", None


def test_ready_follows_database_stop_and_start(servers, private_pg):
    url = private_pg.fresh_database_url()
    srv = servers.start(database_url=url)
    assert srv.wait_ready() == 200, "not ready with the database up"

    private_pg.stop()  # pg_ctl stop -m fast; returns once the server is down
    stopped_at = time.monotonic()
    seen = []

    def down():
        code, r = _ready(srv)
        seen.append(code)
        return [r] if code == 503 else None  # a list: a 503 Response object is falsy
    found = wait_until(down, scaled(2.0), interval=0.1, max_polls=100)
    r = found[0] if found else None
    elapsed = time.monotonic() - stopped_at
    assert r is not None, f"/ready did not turn 503 within 2 s of stopping PostgreSQL; saw {seen}"
    assert r.json() == {"status": "not_ready", "database": "disconnected"}, r.text
    assert_still_serving(srv, f"PostgreSQL stopped ({elapsed:.2f}s)")

    private_pg.start()
    back = wait_until(lambda: _ready(srv)[0] == 200, scaled(10), interval=0.2, max_polls=200)
    assert back, f"/ready not 200 within 10 s of restarting PostgreSQL (last: {_ready(srv)[0]})"
    assert srv.get("/ready").json() == {"status": "ready", "database": "connected"}


def test_server_starts_while_database_is_down_and_recovers(servers, private_pg):
    """Started with the database down: the process stays up (or exits cleanly with a message) and,
    if it stays up, /ready is 503 until the database comes back."""
    url = private_pg.fresh_database_url()
    private_pg.stop()
    srv = servers.prepare(database_url=url, env={"MIGRATE_ON_START": "false"}).start()
    try:
        healthy = srv.wait_healthy(timeout=10)
    except ServerExited:
        healthy = False
    if not healthy:
        rc = srv.wait_exit(5)
        assert rc is not None and rc > 0, f"neither serving nor exited with an error (rc={rc})"
        assert srv.logs().strip(), "exited without saying why"
        return
    code, _ = _ready(srv)
    assert code == 503, f"/ready → {code} while the database is down"
    private_pg.start()
    assert wait_until(lambda: _ready(srv)[0] == 200, scaled(10), interval=0.2, max_polls=200), \
        "/ready not 200 within 10 s after the database came up"


def test_database_down_at_start_with_migrations_serves_and_migrates_later(servers, private_pg):
    """MIGRATE_ON_START (the default) with the database down: the process must not exit (a
    cold serverless database would crash-loop the pod); it serves /health, answers /ready 503,
    and applies the migrations once the database is back."""
    url = private_pg.fresh_database_url()
    private_pg.stop()
    srv = servers.prepare(database_url=url).start()
    assert srv.wait_healthy(timeout=10), f"not serving while the database is down:\n{srv.tail()}"
    code, _ = _ready(srv)
    assert code == 503, f"/ready → {code} before migrations could run"
    private_pg.start()
    assert wait_until(lambda: _ready(srv)[0] == 200, scaled(20), interval=0.25, max_polls=200), \
        f"/ready not 200 within 20 s after the database came up:\n{srv.tail()}"
    assert "applied migration 1" in srv.logs(), "the migrations were not applied"


def test_two_servers_migrating_the_same_fresh_database_both_become_ready(servers, backend):
    url = backend.pg.fresh_database_url()
    a = servers.prepare(database_url=url).start()
    b = servers.prepare(database_url=url).start()
    for srv, name in ((a, "first"), (b, "second")):
        assert srv.wait_healthy(), f"{name} server never became healthy; stderr:\n{srv.tail()}"
        status = srv.wait_ready()
        assert status == 200, f"{name} server /ready → {status}; stderr:\n{srv.tail()}"


def test_many_servers_racing_migrations(servers, backend, cli):
    url = backend.pg.fresh_database_url()
    procs = [servers.prepare(database_url=url).start() for _ in range(4)]
    for i, srv in enumerate(procs):
        assert srv.wait_healthy(), f"server {i} never healthy; stderr:\n{srv.tail()}"
        assert srv.wait_ready() == 200, f"server {i} not ready; stderr:\n{srv.tail()}"
    m = cli.run("migrate", database_url=url, timeout=60)
    assert m.returncode == 0, f"migrate after the race: {m.describe()}"


def test_password_in_database_url_not_logged(servers, backend):
    # trust auth ignores the password, so the URL works; the password must never reach the logs
    password = "NeverLogThisPw-77"
    url = backend.pg.fresh_database_url().replace("postgresql://todo@", f"postgresql://todo:{password}@")
    srv = servers.start(database_url=url, env={"LOG_LEVEL": "DEBUG"})
    assert srv.wait_ready() == 200
    srv.stop()
    assert password not in srv.logs(), "the database password appears in the server logs"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql+asyncpg"])
def test_alternative_url_schemes_connect(servers, backend, scheme):
    url = backend.pg.fresh_database_url().replace("postgresql://", f"{scheme}://", 1)
    srv = servers.start(database_url=url)
    assert srv.wait_ready() == 200, f"DATABASE_URL with scheme {scheme}:// not ready"


def test_migrate_against_unreachable_database_fails_promptly(cli):
    import socket

    with socket.socket() as s:  # bound, not listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        r = cli.run("migrate", database_url=f"postgresql://todo@127.0.0.1:{port}/nodb", timeout=60)
    assert not r.timed_out, "`todo migrate` hung against an unreachable database"
    assert r.returncode not in (0, None), f"migrate must fail when the database is unreachable: {r.describe()}"
    assert r.returncode > 0, f"migrate crashed: {r.describe()}"
    assert r.stderr.strip(), "migrate failed without saying why"


# The list as the response cache serves it, and never cached ("overdue" reads the clock): that
# one is made from the user's rows held in the process (domain/task_rows.h), validated alike.
LIST_QUERIES = ("", "&overdue=false")


@pytest.mark.parametrize("extra", LIST_QUERIES, ids=("cached", "never-cached"))
def test_list_on_one_replica_sees_writes_made_through_another(servers, backend, extra):
    """Lists are served from a cache validated by a per-user version in the database: a write
    through replica B must show on replica A's very next list (create, update, complete,
    delete)."""
    url = backend.pg.fresh_database_url()
    env = {"RATE_LIMIT_PER_MINUTE": "100000"}
    a = servers.prepare(database_url=url, env=env).start()
    b = servers.prepare(database_url=url, env=env).start()
    for srv in (a, b):
        assert srv.wait_ready() == 200, srv.tail()
    r = a.request("POST", "/api/auth/signup",
                  json={"email": f"replica-{int(time.time()*1000)}@example.com", "password": "password123"})
    assert r.status_code == 201, r.text
    auth = {"Authorization": f"Bearer {r.json()['token']}"}

    def titles(srv):
        resp = srv.get("/api/me/tasks?sort=title" + extra, headers=auth)
        assert resp.status_code == 200, resp.text
        return [(t["title"], t["completed"]) for t in resp.json()]

    assert titles(a) == [] and titles(a) == []  # second call is served from A's cache
    created = b.request("POST", "/api/me/tasks", headers=auth, json={"title": "one"})
    assert created.status_code == 201
    tid = created.json()["id"]
    assert titles(a) == [("one", False)]
    assert b.request("PATCH", f"/api/me/tasks/{tid}", headers=auth, json={"title": "uno"}).status_code == 200
    assert titles(a) == [("uno", False)]
    assert b.request("PATCH", f"/api/me/tasks/{tid}/complete", headers=auth).status_code == 200
    assert titles(a) == [("uno", True)]
    assert b.request("DELETE", f"/api/me/tasks/{tid}", headers=auth).status_code == 204
    assert titles(a) == []


def _listeners(srv):
    """The notification connections (application_name todo-listen) open on srv's database."""
    return int(sql_on(srv, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                           "'todo-listen' AND datname = current_database()")[0][0])


def _kill_listeners(srv):
    """pg_terminate_backend on every notification connection, waiting until each has gone."""
    sql_on(srv, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE "
                "application_name = 'todo-listen' AND datname = current_database()")


def _two_listening_replicas(servers, backend):
    """Two ready replicas on one fresh database, both with their notification connection up."""
    url = backend.pg.fresh_database_url()
    env = {"RATE_LIMIT_PER_MINUTE": "100000"}
    a = servers.prepare(database_url=url, env=env).start()
    b = servers.prepare(database_url=url, env=env).start()
    for srv in (a, b):
        assert srv.wait_ready() == 200, srv.tail()
    assert wait_until(lambda: _listeners(a) == 2, timeout=scaled(10)), "no notification connections"
    return a, b


@pytest.mark.parametrize("extra", LIST_QUERIES, ids=("cached", "never-cached"))
def test_list_stays_fresh_when_the_notification_connection_is_killed(servers, backend, extra):
    """A replica validates its cached lists from PostgreSQL's change notifications, without
    reading the version per request. Killing the notification connections (pg_terminate_backend)
    must never let a replica serve a list older than a write answered by another: while they
    are down the version is read from the database, and once they are back the cache serves
    again, still fresh."""
    a, b = _two_listening_replicas(servers, backend)
    r = a.request("POST", "/api/auth/signup",
                  json={"email": f"listen-{int(time.time()*1000)}@example.com", "password": "password123"})
    assert r.status_code == 201, r.text
    auth = {"Authorization": f"Bearer {r.json()['token']}"}

    def titles(srv):
        resp = srv.get("/api/me/tasks?sort=title&order=asc&limit=100" + extra, headers=auth)
        assert resp.status_code == 200, resp.text
        return [t["title"] for t in resp.json()]

    expected = []  # kept sorted by title, as the list is
    for i in range(6):
        assert titles(a) == expected and titles(a) == expected  # the second from A's cache
        _kill_listeners(a)
        # Written through B while A's notification connection is down (or reconnecting).
        for j in range(3):
            created = b.request("POST", "/api/me/tasks", headers=auth, json={"title": f"t{i}.{j}"})
            assert created.status_code == 201, created.text
            expected = sorted(expected + [f"t{i}.{j}"])
            assert titles(a) == expected, f"A served a stale list after a kill (round {i})"
    # Back up: notifications flow again and keep A fresh.
    assert wait_until(lambda: _listeners(a) == 2, timeout=scaled(10)), "the listeners did not come back"
    for j in range(5):
        assert titles(a) == expected
        tid = b.request("POST", "/api/me/tasks", headers=auth, json={"title": f"u{j}"}).json()["id"]
        expected = sorted(expected + [f"u{j}"])
        assert titles(a) == expected
        assert b.request("PATCH", f"/api/me/tasks/{tid}", headers=auth, json={"title": f"v{j}"}).status_code == 200
        expected = sorted([t for t in expected if t != f"u{j}"] + [f"v{j}"])
        assert titles(a) == expected
    assert "notification connection" in a.logs(), "the lost notification connection was not logged"


def test_a_password_reset_ends_old_tokens_on_every_replica_at_once(servers, backend):
    """Each replica caches a user's session generation while the user's version is unchanged
    (so a signed-in request costs no round trip). A reset through one replica bumps both; the
    other replica, which had just accepted the old token from its cache, must refuse it as soon
    as the reset has answered — also with its notification connection killed."""
    a, b = _two_listening_replicas(servers, backend)
    for round_ in range(2):
        email = f"gen-{round_}-{int(time.time()*1000)}@example.com"
        r = a.request("POST", "/api/auth/signup", json={"email": email, "password": "password123"})
        assert r.status_code == 201, r.text
        old = {"Authorization": f"Bearer {r.json()['token']}"}
        for _ in range(3):  # warm B's cache with the old token
            assert b.get("/api/auth/me", headers=old).status_code == 200
        if round_ == 1:
            _kill_listeners(b)
        assert a.request("POST", "/api/auth/forgot-password", json={"email": email}).status_code == 202
        token = None
        for _ in range(int(scaled(100))):
            lines = [ln for ln in a.logs().splitlines() if email in ln and "reset-password?token=" in ln]
            if lines:
                token = lines[-1].split("reset-password?token=")[1].split('"')[0]
                break
            time.sleep(0.1)
        assert token, "no reset email in the log"
        done = a.request("POST", "/api/auth/reset-password",
                         json={"token": token, "password": "another password 1"})
        assert done.status_code == 200, done.text
        assert b.get("/api/auth/me", headers=old).status_code == 401
        assert a.get("/api/auth/me", headers=old).status_code == 401
