"""Reminders that fire once (issue 14): when a task's remind_at passes, one in-app
notification (GET /api/{user_id}/notifications, mark read), one `reminder` event on the
user's stream (GET /api/{user_id}/events, which also carries `tasks` events for changes
made elsewhere), and one email when the user opted in. Several replicas on one PostgreSQL:
test_reminders_replicas.py."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from api_helpers import fresh_user, signup, sql_on, start_module_server
from helpers import scaled, wait_until
from smtp_helpers import SmtpServer
from sse_helpers import SseClient

FAST = {"REMINDER_POLL_MS": "200", "EVENTS_POLL_MS": "200"}
METRICS_TOKEN = "metrics-token-0123456789abcdef"


def at(seconds: float) -> str:
    t = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def srv(request, todo_bin, backend, tmp_path_factory):
    _f, s = start_module_server(request, todo_bin, backend, tmp_path_factory, env=FAST)
    return s


def notes(user, **params):
    r = user.get("/api/me/notifications", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def wait_notes(user, n, timeout=10):
    got = wait_until(lambda: len(notes(user)) >= n and notes(user), scaled(timeout))
    assert got and len(got) >= n, f"expected {n} notifications, got {notes(user)}"
    return got


def test_a_due_reminder_makes_one_notification(srv):
    u = fresh_user(srv)
    t = u.create(title="water the plants", remind_at=at(2))
    assert notes(u) == []  # not before its time
    got = wait_notes(u, 1)
    n = got[0]
    assert n["task_id"] == t["id"] and n["title"] == "water the plants"
    assert n["kind"] == "reminder" and n["read"] is False and n["read_at"] is None
    assert n["remind_at"] == t["remind_at"]
    time.sleep(scaled(1.0))  # several scheduler rounds later: still one
    assert len(notes(u)) == 1


def test_completed_tasks_and_far_reminders_do_not_fire(srv):
    u = fresh_user(srv)
    done = u.create(title="done already", remind_at=at(1))
    assert u.patch(f"/api/me/tasks/{done['id']}/complete", json={"completed": True}).status_code == 200
    u.create(title="next year", remind_at=at(365 * 86400))
    control = u.create(title="control", remind_at=at(1))
    got = wait_notes(u, 1)
    time.sleep(scaled(0.6))
    assert [n["task_id"] for n in notes(u)] == [control["id"]]


def test_moving_remind_at_arms_it_again(srv):
    u = fresh_user(srv)
    t = u.create(title="twice", remind_at=at(-60))
    wait_notes(u, 1)
    r = u.patch(f"/api/me/tasks/{t['id']}", json={"remind_at": at(1)})
    assert r.status_code == 200, r.text
    got = wait_notes(u, 2)
    assert {n["task_id"] for n in got} == {t["id"]} and len(got) == 2


def test_mark_read_and_read_all(srv):
    u = fresh_user(srv)
    for i in range(3):
        u.create(title=f"r{i}", remind_at=at(-10))
    got = wait_notes(u, 3)
    first = got[0]["id"]
    r = u.patch(f"/api/me/notifications/{first}", json={"read": True})
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    assert [n["id"] for n in notes(u, unread="true")] == [n["id"] for n in got[1:]]
    r = u.patch(f"/api/me/notifications/{first}", json={"read": False})
    assert r.json()["read"] is False
    r = u.post("/api/me/notifications/read-all")
    assert r.status_code == 200 and r.json() == {"updated": 3}
    assert notes(u, unread="true") == []
    # paging
    page = notes(u, limit=2)
    assert len(page) == 2
    rest = notes(u, before=page[-1]["id"])
    assert [n["id"] for n in page + rest] == [n["id"] for n in got]


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "201"}, {"before": "x"},
                                    {"unread": "perhaps"}])
def test_bad_list_queries_are_422(srv, params):
    u = fresh_user(srv)
    assert u.get("/api/me/notifications", params=params).status_code == 422


@pytest.mark.parametrize("body", [{}, {"read": "yes"}, [], {"read": None}])
def test_bad_mark_bodies_are_422(srv, body):
    u = fresh_user(srv)
    assert u.patch("/api/me/notifications/1", json=body).status_code == 422


def test_notifications_are_private(srv):
    a, b = fresh_user(srv), fresh_user(srv)
    a.create(title="a's secret", remind_at=at(-5))
    n = wait_notes(a, 1)[0]
    assert b.patch(f"/api/me/notifications/{n['id']}", json={"read": True}).status_code == 404
    assert notes(b) == []
    for method, path in (("GET", f"/api/{a.id}/notifications"),
                         ("POST", f"/api/{a.id}/notifications/read-all"),
                         ("PATCH", f"/api/{a.id}/notifications/{n['id']}"),
                         ("GET", f"/api/{a.id}/events")):
        r = b.request(method, path, json={"read": True} if method == "PATCH" else None)
        assert r.status_code == 403, (method, path, r.status_code)
        r = requests.request(method, srv.url(path), timeout=scaled(5))
        assert r.status_code == 401, (method, path, r.status_code)
    assert notes(a)[0]["read"] is False


def test_event_stream_carries_reminders_and_task_changes(srv):
    u = fresh_user(srv)
    u.create(title="warm up")  # the user has a row and a version
    with SseClient(srv.port, "/api/me/events", u.token) as es:
        assert es.status == 200
        assert es.headers["content-type"].startswith("text/event-stream")
        assert es.headers.get("cache-control") == "no-store"
        ready = es.wait_for(lambda c: c.of("ready"))
        assert ready and json.loads(ready[0]["data"])["version"] >= 1
        v0 = json.loads(ready[0]["data"])["version"]
        # A change made by another client (here: a second session) reaches the stream.
        other = requests.Session()
        r = other.post(srv.url("/api/me/tasks"), json={"title": "from elsewhere"},
                       headers=u.headers(), timeout=scaled(10))
        assert r.status_code == 201
        got = es.wait_for(lambda c: [e for e in c.of("tasks")
                                     if json.loads(e["data"])["version"] > v0])
        assert got, es.events
        # A reminder: exactly one event, with the notification's id.
        t = u.create(title="stretch", remind_at=at(1))
        got = es.wait_for(lambda c: c.reminders())
        assert got and got[0]["task_id"] == t["id"] and got[0]["title"] == "stretch"
        ev = es.of("reminder")[0]
        assert ev["id"] == str(got[0]["id"])
        es.pump(scaled(1.0))
        assert len(es.reminders()) == 1


def test_other_users_events_never_arrive(srv):
    a, b = fresh_user(srv), fresh_user(srv)
    a.create(title="a")
    b.create(title="b")
    with SseClient(srv.port, "/api/me/events", a.token) as es:
        es.wait_for(lambda c: c.of("ready"))
        b.create(title="b's reminder", remind_at=at(-1))
        b.create(title="b's second task")
        wait_notes(b, 1)
        es.pump(scaled(1.0))
        assert es.reminders() == [] and es.of("tasks") == []


def test_event_stream_needs_a_token(srv):
    with SseClient(srv.port, "/api/me/events", None) as es:
        assert es.status == 401
    with SseClient(srv.port, "/api/me/events", "nonsense") as es:
        assert es.status == 401


def test_streams_per_user_are_bounded(srv):
    """16 streams per user: a 17th ends the oldest (a reloaded tab's connection is only
    noticed gone at the next write, so the newest must win)."""
    u = fresh_user(srv)
    u.create(title="x")
    clients = []
    try:
        for _ in range(16):
            c = SseClient(srv.port, "/api/me/events", u.token)
            clients.append(c)
            assert c.status == 200
            c.wait_for(lambda x: x.of("ready"))
        with SseClient(srv.port, "/api/me/events", u.token) as extra:
            assert extra.status == 200
            clients[0].pump(scaled(3))
            assert clients[0].closed, "the oldest stream was not ended"
            assert not any(c.closed for c in clients[1:])
            u.create(title="still live")
            assert extra.wait_for(lambda x: x.of("tasks"))
    finally:
        for c in clients:
            c.close()


def test_stream_holds_no_database_connection(servers, backend):
    """More open streams than the pool has connections: the API still answers at once."""
    srv = servers.start(env={**FAST, "DATABASE_POOL_SIZE": "2", "DATABASE_MAX_OVERFLOW": "0",
                             "WORKERS": "2"})
    users = [fresh_user(srv) for _ in range(6)]
    clients = []
    try:
        for u in users:
            u.create(title="x")
            c = SseClient(srv.port, "/api/me/events", u.token)
            assert c.status == 200
            clients.append(c)
        t0 = time.monotonic()
        r = users[0].get("/api/me/tasks")
        assert r.status_code == 200
        assert time.monotonic() - t0 < scaled(3)
    finally:
        for c in clients:
            c.close()


def test_shutdown_ends_open_streams_promptly(servers):
    srv = servers.start(env={**FAST, "SHUTDOWN_TIMEOUT_SECONDS": "30"})
    u = fresh_user(srv)
    u.create(title="x")
    with SseClient(srv.port, "/api/me/events", u.token) as es:
        es.wait_for(lambda c: c.of("ready"))
        t0 = time.monotonic()
        srv.send_signal(15)
        assert srv.wait_exit(20) == 0
        assert time.monotonic() - t0 < scaled(10)  # not the 30 s drain


def test_opted_in_users_get_one_email(servers):
    with SmtpServer() as smtp:
        srv = servers.start(env={**FAST, **smtp.env(), "METRICS_TOKEN": METRICS_TOKEN})
        u = signup(srv)
        quiet = signup(srv)
        r = u.patch("/api/auth/me", json={"email_reminders": True})
        assert r.status_code == 200 and r.json()["email_reminders"] is True
        assert u.get("/api/auth/me").json()["email_reminders"] is True
        t = u.create(title="pay the rent", remind_at=at(-1))
        quiet.create(title="quiet one", remind_at=at(-1))
        got = smtp.wait_for(lambda: smtp.to(u.email))
        assert got, srv.tail()
        assert "pay the rent" in got[0].subject
        wait_notes(quiet, 1)
        time.sleep(scaled(1.0))
        assert len(smtp.to(u.email)) == 1 and smtp.to(quiet.email) == []
        assert f"task={t['id']}" in got[0].data
        text = requests.get(srv.url("/metrics"), timeout=scaled(5),
                            headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
        assert 'todo_reminders_sent_total{channel="in_app"} 2' in text, text
        assert 'todo_reminders_sent_total{channel="email"} 1' in text
        assert 'todo_emails_sent_total{kind="reminder"} 1' in text


def test_console_reminder_email_is_logged(servers):
    srv = servers.start(env=FAST)
    u = signup(srv)
    u.patch("/api/auth/me", json={"email_reminders": True})
    u.create(title="log me", remind_at=at(-1))

    def line():
        return [ln for ln in srv.logs().splitlines() if '"kind":"reminder"' in ln]
    got = wait_until(line, scaled(10))
    assert got and "log me" in got[0]


def test_reminders_survive_a_restart(servers, backend, tmp_path):
    """A reminder due while no server runs fires once the server is back — and only once."""
    srv = servers.start(env=FAST)
    u = fresh_user(srv)
    u.create(title="while away", remind_at=at(3))
    srv.stop()
    time.sleep(3.5)
    again = servers.start(env=FAST, database_url=srv.env["DATABASE_URL"],
                          data_dir=srv.data_dir)
    u.srv = again
    wait_notes(u, 1)
    again.stop()
    third = servers.start(env=FAST, database_url=srv.env["DATABASE_URL"], data_dir=srv.data_dir)
    u.srv = third
    time.sleep(scaled(1.0))
    assert len(notes(u)) == 1
