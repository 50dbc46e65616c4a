"""Tasks (issue 3): create/get/replace/patch/delete/complete, validation, recurrence, and the
protocol-level errors of the task routes (400/415/413/405/404/422, trailing slash, CORS).

Every CRUD test runs with the literal "me" and with the real user id in the path."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    TASK_KEYS, _attach_module_server_logs, anon_request, assert_422, assert_error,
    assert_status, assert_task_shape, fresh_user, module_server, signup, unique_email,
)

WHO = pytest.mark.parametrize("who", ["me", "{uid}"], ids=["me", "user_id"])
ORIGIN = "http://localhost:3000"


@pytest.fixture(scope="module")
def alice(module_server):
    return signup(module_server, email=unique_email("alice"), name="Alice")


def _utc(s: str) -> dt.datetime:
    return dt.datetime.strptime(s.replace(".000", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def _close_to_now(s: str, slack: float = 120) -> bool:
    return abs((_utc(s) - dt.datetime.now(dt.timezone.utc)).total_seconds()) < slack


# --------------------------------------------------------------------------------------------
# Create / get
# --------------------------------------------------------------------------------------------


@WHO
def test_create_returns_201_location_and_defaults(alice, who):
    r = alice.post(f"/api/{who}/tasks", json={"title": "Buy milk"})
    assert_status(r, 201)
    t = r.json()
    assert_task_shape(t)
    assert set(t) == TASK_KEYS, f"unexpected keys {sorted(set(t) - TASK_KEYS)}"
    assert t["title"] == "Buy milk"
    assert t["user_id"] == alice.id
    assert t["description"] is None
    assert t["completed"] is False and t["completed_at"] is None
    assert t["priority"] == "medium"
    assert t["tags"] == []
    assert t["due_at"] is None and t["remind_at"] is None
    assert t["recurrence"] == "none" and t["recurrence_interval"] == 1
    assert _close_to_now(t["created_at"]) and t["updated_at"] == t["created_at"], t
    loc = r.headers.get("Location")
    assert loc and loc.endswith(f"/tasks/{t['id']}"), f"Location {loc!r}"
    assert loc.startswith("/api/") or loc.startswith("http"), loc
    got = alice.get(loc if loc.startswith("/") else loc.split(str(alice.srv.port), 1)[1])
    assert_status(got, 200)
    assert got.json() == t


@WHO
def test_create_with_every_field_and_get_it_back(alice, who):
    body = {"title": "Pay rent", "description": "Line one\nLine two", "priority": "high",
            "tags": ["Home", "money"], "due_at": "2030-05-17T10:00:00Z", "remind_at": "2030-05-17T09:00:00Z",
            "recurrence": "monthly", "recurrence_interval": 2}
    t = alice.create(who, **body)
    assert_task_shape(t)
    for k in ("title", "description", "priority", "tags", "due_at", "remind_at", "recurrence",
              "recurrence_interval"):
        assert t[k] == body[k], f"{k}: sent {body[k]!r}, got {t[k]!r}"
    r = alice.task(t["id"], who)
    assert_status(r, 200)
    assert r.json() == t


def test_create_completed_sets_completed_at(alice):
    t = alice.create(title="already done", completed=True)
    assert t["completed"] is True and t["completed_at"] and _close_to_now(t["completed_at"]), t


@WHO
def test_get_unknown_task_is_404(alice, who):
    assert_error(alice.task(999999999, who), 404)


def test_title_is_trimmed_and_bounded(alice):
    assert alice.create(title="  \t spaced out \t ")["title"] == "spaced out"
    assert alice.create(title="x" * 200)["title"] == "x" * 200
    assert alice.create(title="  " + "y" * 200 + "  ")["title"] == "y" * 200  # trimmed before counting
    assert alice.create(title="é" * 200)["title"] == "é" * 200  # characters, not bytes
    for bad in ("", "   ", "\t\n", "x" * 201, "é" * 201):
        assert_422(alice.post("/api/me/tasks", json={"title": bad}), ["body", "title"])


@pytest.mark.parametrize("body,field", [
    ({}, "title"),
    ({"description": "no title"}, "title"),
    ({"title": None}, "title"),
    ({"title": 5}, "title"),
    ({"title": "ok", "description": "d" * 1001}, "description"),
    ({"title": "ok", "description": 5}, "description"),
    ({"title": "ok", "priority": "urgent"}, "priority"),
    ({"title": "ok", "priority": None}, "priority"),
    ({"title": "ok", "tags": "work"}, "tags"),
    ({"title": "ok", "tags": [f"t{i}" for i in range(21)]}, "tags"),
    ({"title": "ok", "tags": [""]}, "tags"),
    ({"title": "ok", "tags": ["  "]}, "tags"),
    ({"title": "ok", "tags": ["x" * 51]}, "tags"),
    ({"title": "ok", "tags": [5]}, "tags"),
    ({"title": "ok", "tags": ["Work", "work"]}, "tags"),
    ({"title": "ok", "tags": ["A", "b", "a"]}, "tags"),
    ({"title": "ok", "due_at": "tomorrow"}, "due_at"),
    ({"title": "ok", "due_at": "2030-02-30"}, "due_at"),
    ({"title": "ok", "due_at": "2030-01-01T25:00:00Z"}, "due_at"),
    ({"title": "ok", "due_at": "2030-01-01T10:00:00"}, "due_at"),  # no offset
    ({"title": "ok", "due_at": 1893456000}, "due_at"),
    ({"title": "ok", "remind_at": "soon"}, "remind_at"),
    ({"title": "ok", "recurrence": "hourly"}, "recurrence"),
    ({"title": "ok", "recurrence_interval": 0}, "recurrence_interval"),
    ({"title": "ok", "recurrence_interval": -1}, "recurrence_interval"),
    ({"title": "ok", "recurrence_interval": "2"}, "recurrence_interval"),
    ({"title": "ok", "recurrence_interval": 1.5}, "recurrence_interval"),
    ({"title": "ok", "completed": "yes"}, "completed"),
])
def test_create_validation_errors_are_422(alice, body, field):
    before = alice.list(limit=200).headers.get("X-Total-Count")
    assert_422(alice.post("/api/me/tasks", json=body), ["body", field])
    assert alice.list(limit=200).headers.get("X-Total-Count") == before, "a rejected task was stored"


def test_create_boundaries_are_accepted(alice):
    t = alice.create(title="bounds", description="d" * 1000, tags=[f"tag{i}" for i in range(20)])
    assert len(t["description"]) == 1000 and len(t["tags"]) == 20
    t = alice.create(title="tag len", tags=["x" * 50, "y"])
    assert t["tags"] == ["x" * 50, "y"]
    t = alice.create(title="order kept", tags=["zeta", "Alpha", "mid"])
    assert t["tags"] == ["zeta", "Alpha", "mid"], "tags keep their order and case"


def test_non_object_bodies_are_422(alice):
    for raw in ("[]", '"title"', "42", "null"):
        r = alice.post("/api/me/tasks", data=raw, headers={"Content-Type": "application/json"})
        assert_422(r, ["body"])


@pytest.mark.parametrize("sent,stored", [
    ("2030-05-17", "2030-05-17T23:59:59Z"),  # a date alone: the end of that day
    ("2030-05-17T10:00:00Z", "2030-05-17T10:00:00Z"),
    ("2030-05-17T10:00:00+02:00", "2030-05-17T08:00:00Z"),
    ("2030-05-17T10:00:00-05:30", "2030-05-17T15:30:00Z"),
    ("2030-05-17T23:30:00-01:00", "2030-05-18T00:30:00Z"),  # crosses the day
    ("2030-05-17T10:00:00.500Z", "2030-05-17T10:00:00Z"),
    ("2032-02-29", "2032-02-29T23:59:59Z"),
])
def test_due_at_is_normalised_to_utc(alice, sent, stored):
    t = alice.create(title="due", due_at=sent)
    assert t["due_at"] == stored, f"due_at {sent!r} stored as {t['due_at']!r}, expected {stored!r}"


def test_due_at_null_clears(alice):
    t = alice.create(title="due", due_at="2030-01-01")
    r = alice.patch(f"/api/me/tasks/{t['id']}", json={"due_at": None})
    assert_status(r, 200)
    assert r.json()["due_at"] is None


# --------------------------------------------------------------------------------------------
# PUT / PATCH / DELETE
# --------------------------------------------------------------------------------------------

FULL = {"title": "Full", "description": "desc", "priority": "high", "tags": ["a", "b"],
        "due_at": "2030-01-02T03:04:05Z", "remind_at": "2030-01-02T00:00:00Z",
        "recurrence": "weekly", "recurrence_interval": 3}


@WHO
def test_put_with_all_fields(alice, who):
    t = alice.create(title="before")
    body = dict(FULL, completed=True)
    r = alice.put(f"/api/{who}/tasks/{t['id']}", json=body)
    assert_status(r, 200)
    u = r.json()
    for k, v in body.items():
        assert u[k] == v, f"{k}: {u[k]!r} != {v!r}"
    assert u["completed_at"] is not None


@WHO
def test_put_unknown_task_is_404(alice, who):
    assert_error(alice.put(f"/api/{who}/tasks/999999999", json={"title": "x"}), 404)


@WHO
def test_patch_changes_only_given_fields(alice, who):
    t = alice.create(**FULL)
    cases = [
        ({"priority": "low"}, {"priority": "low"}),
        ({"title": "  New title "}, {"title": "New title"}),
        ({"tags": ["c"]}, {"tags": ["c"]}),
        ({"tags": []}, {"tags": []}),
        ({"description": None}, {"description": None}),
        ({"due_at": "2031-01-01"}, {"due_at": "2031-01-01T23:59:59Z"}),
        ({"recurrence": "daily", "recurrence_interval": 5}, {"recurrence": "daily", "recurrence_interval": 5}),
    ]
    cur = t
    for patch, expect in cases:
        r = alice.patch(f"/api/{who}/tasks/{t['id']}", json=patch)
        assert_status(r, 200)
        new = r.json()
        assert_task_shape(new)
        want = dict(cur, **expect)
        for k in TASK_KEYS - {"updated_at"}:
            assert new[k] == want[k], f"PATCH {patch!r}: {k} = {new[k]!r}, expected {want[k]!r}"
        cur = new
    assert alice.task(t["id"]).json() == cur


def test_patch_completed_sets_and_clears_completed_at(alice):
    t = alice.create(title="p")
    u = alice.patch(f"/api/me/tasks/{t['id']}", json={"completed": True}).json()
    assert u["completed"] is True and u["completed_at"], u
    u2 = alice.patch(f"/api/me/tasks/{t['id']}", json={"completed": False}).json()
    assert u2["completed"] is False and u2["completed_at"] is None, u2


def test_patch_empty_or_invalid_is_422(alice):
    t = alice.create(**FULL)
    assert_422(alice.patch(f"/api/me/tasks/{t['id']}", json={}), ["body"])
    assert_422(alice.patch(f"/api/me/tasks/{t['id']}", json={"title": ""}), ["body", "title"])
    assert_422(alice.patch(f"/api/me/tasks/{t['id']}", json={"title": None}), ["body", "title"])
    assert_422(alice.patch(f"/api/me/tasks/{t['id']}", json={"tags": ["a", "A"]}), ["body", "tags"])
    assert_422(alice.patch(f"/api/me/tasks/{t['id']}", json={"description": "d" * 1001}),
               ["body", "description"])
    assert alice.task(t["id"]).json() == t, "a rejected PATCH changed the task"


@WHO
def test_patch_unknown_task_is_404(alice, who):
    assert_error(alice.patch(f"/api/{who}/tasks/999999999", json={"title": "x"}), 404)


@WHO
def test_delete_is_204_then_404(alice, who):
    t = alice.create(title="to delete", tags=["gone"])
    r = alice.delete(f"/api/{who}/tasks/{t['id']}")
    assert_status(r, 204)
    assert r.content == b""
    assert_error(alice.task(t["id"], who), 404)
    assert_error(alice.delete(f"/api/{who}/tasks/{t['id']}"), 404)
    assert_error(alice.patch(f"/api/{who}/tasks/{t['id']}", json={"title": "x"}), 404)
    assert_error(alice.patch(f"/api/{who}/tasks/{t['id']}/complete"), 404)
    assert t["id"] not in alice.list_ids(limit=200)


# --------------------------------------------------------------------------------------------
# Completion and recurrence
# --------------------------------------------------------------------------------------------


def _complete(user, tid, who="me", body=None):
    kw = {"json": body} if body is not None else {}
    r = user.patch(f"/api/{who}/tasks/{tid}/complete", **kw)
    assert_status(r, 200)
    return r.json()


@WHO
def test_complete_toggles(alice, who):
    t = alice.create(title="toggle me")
    c = _complete(alice, t["id"], who)
    assert_task_shape(c)
    assert c["id"] == t["id"] and c["completed"] is True and _close_to_now(c["completed_at"]), c
    assert c.get("next_task") is None, "a non-recurring task has no next occurrence"
    assert alice.task(t["id"]).json()["completed"] is True
    o = _complete(alice, t["id"], who)
    assert o["completed"] is False and o["completed_at"] is None, o
    assert alice.task(t["id"]).json()["completed"] is False


@WHO
def test_complete_with_explicit_value(alice, who):
    t = alice.create(title="explicit")
    for value, expect in ((True, True), (True, True), (False, False), (False, False), (True, True)):
        c = _complete(alice, t["id"], who, {"completed": value})
        assert c["completed"] is expect, f"{{'completed': {value}}} → {c['completed']}"
        assert (c["completed_at"] is not None) == expect, c


def test_complete_keeps_the_first_completion_time(alice):
    t = alice.create(title="first time")
    c1 = _complete(alice, t["id"], body={"completed": True})
    time.sleep(1.05)
    c2 = _complete(alice, t["id"], body={"completed": True})
    assert c2["completed_at"] == c1["completed_at"], "completing again must not move completed_at"


def test_complete_body_validation(alice):
    t = alice.create(title="v")
    assert_422(alice.patch(f"/api/me/tasks/{t['id']}/complete", json={"completed": "yes"}),
               ["body", "completed"])
    assert_422(alice.patch(f"/api/me/tasks/{t['id']}/complete", json=[True]), ["body"])
    assert_error(alice.patch(f"/api/me/tasks/{t['id']}/complete", data="{",
                             headers={"Content-Type": "application/json"}), 400)
    assert alice.task(t["id"]).json()["completed"] is False


@pytest.mark.parametrize("rule,interval,due,next_due", [
    ("daily", 1, "2030-01-10T09:00:00Z", "2030-01-11T09:00:00Z"),
    ("daily", 2, "2030-01-10T09:00:00Z", "2030-01-12T09:00:00Z"),
    ("daily", 1, "2030-12-31T23:00:00Z", "2031-01-01T23:00:00Z"),
    ("weekly", 1, "2030-01-10T09:00:00Z", "2030-01-17T09:00:00Z"),
    ("weekly", 2, "2030-01-10T09:00:00Z", "2030-01-24T09:00:00Z"),
    ("monthly", 1, "2030-03-15T12:00:00Z", "2030-04-15T12:00:00Z"),
    ("monthly", 1, "2030-01-31T12:00:00Z", "2030-02-28T12:00:00Z"),
    ("monthly", 1, "2032-01-31T12:00:00Z", "2032-02-29T12:00:00Z"),  # leap year
    ("monthly", 2, "2030-12-31T12:00:00Z", "2031-02-28T12:00:00Z"),
    ("monthly", 1, "2030-12-15T12:00:00Z", "2031-01-15T12:00:00Z"),
    ("yearly", 1, "2030-03-15T12:00:00Z", "2031-03-15T12:00:00Z"),
    ("yearly", 2, "2030-03-15T12:00:00Z", "2032-03-15T12:00:00Z"),
    ("yearly", 1, "2032-02-29T12:00:00Z", "2033-02-28T12:00:00Z"),
])
def test_completing_a_recurring_task_creates_the_next(module_server, rule, interval, due, next_due):
    user = fresh_user(module_server)
    t = user.create(title="Water plants", description="all of them", priority="high",
                    tags=["home", "Garden"], due_at=due, recurrence=rule, recurrence_interval=interval)
    c = _complete(user, t["id"])
    assert c["id"] == t["id"] and c["completed"] is True, c
    nxt = c.get("next_task")
    assert isinstance(nxt, dict), f"completing a {rule} task gave next_task={nxt!r}"
    assert_task_shape(nxt)
    assert nxt["id"] != t["id"]
    assert nxt["due_at"] == next_due, f"{rule}/{interval} from {due}: next due {nxt['due_at']}, expected {next_due}"
    for k in ("title", "description", "priority", "tags", "recurrence", "recurrence_interval", "user_id"):
        assert nxt[k] == t[k], f"next_task.{k} = {nxt[k]!r}, expected a copy {t[k]!r}"
    assert nxt["completed"] is False and nxt["completed_at"] is None
    # the next occurrence exists and is listed
    got = user.task(nxt["id"])
    assert_status(got, 200)
    assert got.json() == {k: v for k, v in nxt.items()}
    assert sorted(user.list_ids()) == sorted([t["id"], nxt["id"]])
    # un-completing does not create another
    o = _complete(user, t["id"])
    assert o["completed"] is False and o.get("next_task") is None, o
    assert sorted(user.list_ids()) == sorted([t["id"], nxt["id"]])


def test_completing_an_already_completed_recurring_task_creates_nothing(module_server):
    user = fresh_user(module_server)
    t = user.create(title="daily", due_at="2030-01-01T08:00:00Z", recurrence="daily")
    c = _complete(user, t["id"], body={"completed": True})
    assert c["next_task"] and c["next_task"]["due_at"] == "2030-01-02T08:00:00Z"
    again = _complete(user, t["id"], body={"completed": True})
    assert again["completed"] is True and again.get("next_task") is None, again
    assert len(user.list_ids()) == 2, "completing a completed task created another occurrence"
    # setting it pending explicitly creates nothing either
    _complete(user, t["id"], body={"completed": False})
    assert len(user.list_ids()) == 2


def test_completing_the_next_occurrence_chains(module_server):
    user = fresh_user(module_server)
    t = user.create(title="weekly", due_at="2030-01-07T08:00:00Z", recurrence="weekly")
    n1 = _complete(user, t["id"])["next_task"]
    n2 = _complete(user, n1["id"])["next_task"]
    assert n2["due_at"] == "2030-01-21T08:00:00Z"
    assert len(user.list_ids()) == 3


def test_complete_unknown_task_is_404(alice):
    assert_error(alice.patch("/api/me/tasks/999999999/complete"), 404)


# --------------------------------------------------------------------------------------------
# Protocol errors on the task routes
# --------------------------------------------------------------------------------------------


def test_malformed_json_is_400(alice):
    for raw in (b'{"title": ', b"{title: 1}", b'{"title": "x"} trailing', b'{"title": "\xff"}'):
        r = alice.post("/api/me/tasks", data=raw, headers={"Content-Type": "application/json"})
        assert_error(r, 400)
    t = alice.create(title="x")
    assert_error(alice.put(f"/api/me/tasks/{t['id']}", data="{", headers={"Content-Type": "application/json"}), 400)
    assert_error(alice.patch(f"/api/me/tasks/{t['id']}", data="{", headers={"Content-Type": "application/json"}), 400)


def test_empty_body_on_create_is_rejected(alice):
    r = alice.post("/api/me/tasks", data=b"", headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422), f"empty body → {r.status_code} {r.text!r}"


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/jsonp",
                                   None])
def test_wrong_content_type_is_415(alice, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    s = requests.Session()
    req = requests.Request("POST", alice.srv.url("/api/me/tasks"), data=b'{"title": "x"}',
                           headers=dict(headers, Authorization=f"Bearer {alice.token}")).prepare()
    if ctype is None:
        req.headers.pop("Content-Type", None)
    r = s.send(req, timeout=10)
    assert_error(r, 415)


def test_json_content_type_with_charset_is_accepted(alice):
    r = alice.post("/api/me/tasks", data=b'{"title": "charset"}',
                   headers={"Content-Type": "application/json; charset=utf-8"})
    assert_status(r, 201)


def test_body_over_max_body_bytes_is_413(servers):
    srv = servers.start(env={"MAX_BODY_BYTES": "1024", "RATE_LIMIT_PER_MINUTE": "100000"})
    user = fresh_user(srv)
    r = user.post("/api/me/tasks", json={"title": "big", "description": "d" * 2000})
    assert_error(r, 413)
    user.session.close()
    user.session = requests.Session()
    assert_status(user.post("/api/me/tasks", json={"title": "small", "description": "d" * 500}), 201)
    assert [t["title"] for t in user.list().json()] == ["small"], "the oversized task was stored"


def test_wrong_method_on_a_task_path_is_405_with_allow(alice):
    t = alice.create(title="x")
    r = alice.post(f"/api/me/tasks/{t['id']}", json={"title": "x"})
    assert_error(r, 405)
    allow = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert {"GET", "PUT", "PATCH", "DELETE"} <= allow and "POST" not in allow, f"Allow: {r.headers.get('Allow')!r}"
    r = alice.request("PUT", "/api/me/tasks", json={"title": "x"})
    assert_error(r, 405)
    allow = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert {"GET", "POST"} <= allow and "PUT" not in allow, f"Allow: {r.headers.get('Allow')!r}"
    r = alice.request("GET", f"/api/me/tasks/{t['id']}/complete")
    assert_error(r, 405)
    assert "PATCH" in r.headers.get("Allow", ""), r.headers.get("Allow")
    r = alice.request("DELETE", "/api/me/tags")
    assert_error(r, 405)


@pytest.mark.parametrize("path", ["/api/nope", "/api/me/things", "/api/me/tasks/1/2", "/api/me/tasks/1/undo",
                                  "/apii/me/tasks", "/api/me/tags/x"])
def test_unknown_route_is_404(alice, path):
    assert_error(alice.get(path), 404)


@pytest.mark.parametrize("tid", ["abc", "1.5", "-1", "0", "1e3", "99999999999999999999999", "%20"])
def test_non_integer_task_id_is_422(alice, tid):
    r = alice.get(f"/api/me/tasks/{tid}")
    assert_422(r, ["path", "task_id"])
    assert_422(alice.delete(f"/api/me/tasks/{tid}"), ["path", "task_id"])
    assert_422(alice.patch(f"/api/me/tasks/{tid}/complete"), ["path", "task_id"])


def test_trailing_slash_works_without_redirect(alice):
    t = alice.create(title="slash")
    for path in ("/api/me/tasks/", f"/api/me/tasks/{t['id']}/", "/api/me/tags/", "/api/me/tasks/stats/"):
        r = alice.get(path, allow_redirects=False)
        assert_status(r, 200)
    r = alice.post("/api/me/tasks/", json={"title": "via slash"}, allow_redirects=False)
    assert_status(r, 201)


# --------------------------------------------------------------------------------------------
# CORS (the module server runs with CORS_ORIGINS=http://localhost:3000)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/me/tasks", "/api/me/tasks/1", "/api/me/tasks/1/complete",
                                  "/api/auth/login"])
def test_cors_preflight_from_an_allowed_origin(module_server, path):
    r = anon_request(module_server, "OPTIONS", path, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert_status(r, 204)
    assert r.headers.get("Access-Control-Allow-Origin") == ORIGIN, dict(r.headers)
    assert r.headers.get("Access-Control-Allow-Credentials") == "true", dict(r.headers)
    methods = r.headers.get("Access-Control-Allow-Methods", "").upper()
    assert "POST" in methods and "PATCH" in methods, methods
    allowed_headers = r.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers, allowed_headers


def test_cors_preflight_from_another_origin_is_refused(module_server):
    r = anon_request(module_server, "OPTIONS", "/api/me/tasks", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert_status(r, 403)
    assert "Access-Control-Allow-Origin" not in r.headers, dict(r.headers)


def test_cors_on_actual_requests(alice):
    ok = alice.get("/api/me/tasks", headers={"Origin": ORIGIN})
    assert_status(ok, 200)
    assert ok.headers.get("Access-Control-Allow-Origin") == ORIGIN
    assert ok.headers.get("Access-Control-Allow-Credentials") == "true"
    expose = ok.headers.get("Access-Control-Expose-Headers", "").lower()
    assert "x-total-count" in expose and "link" in expose, expose
    bad = alice.get("/api/me/tasks", headers={"Origin": "http://evil.example"})
    assert_status(bad, 200)
    assert "Access-Control-Allow-Origin" not in bad.headers, dict(bad.headers)
    # even errors from the allowed origin carry the header (the browser must see a 401)
    unauth = anon_request(alice.srv, "GET", "/api/me/tasks", headers={"Origin": ORIGIN})
    assert_status(unauth, 401)
    assert unauth.headers.get("Access-Control-Allow-Origin") == ORIGIN


@pytest.mark.parametrize("origin", [ORIGIN, "http://evil.example", "null", "*"])
def test_cors_never_answers_wildcard(module_server, origin):
    for method, extra in (("OPTIONS", {"Access-Control-Request-Method": "GET"}), ("GET", {})):
        r = anon_request(module_server, method, "/api/me/tasks", headers=dict(extra, Origin=origin))
        assert r.headers.get("Access-Control-Allow-Origin") != "*", dict(r.headers)


def test_tags_duplicate_check_is_case_insensitive_beyond_ascii(alice):
    assert_422(alice.post("/api/me/tasks", json={"title": "t", "tags": ["Ärger", "ärger"]}), ["body", "tags"])
    assert_422(alice.post("/api/me/tasks", json={"title": "t", "tags": ["ΣΟΦΙΑ", "σοφια"]}), ["body", "tags"])


def test_concurrent_signups_with_one_email_create_one_account(module_server):
    import concurrent.futures

    email = unique_email("race")
    body = {"email": email, "password": "correct horse battery staple"}
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        rs = list(ex.map(lambda e: anon_request(module_server, "POST", "/api/auth/signup",
                                                json=dict(body, email=e)),
                         [email, email.upper(), email]))
    codes = sorted(r.status_code for r in rs)
    assert codes == [201, 409, 409], f"concurrent sign-ups for one email → {codes}: {[r.text[:120] for r in rs]}"
