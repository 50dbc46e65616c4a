"""Isolation (issue 3): for every task route, a second user must get 403 (A's user id in the
path) or 404 (A's task id under "me" or under B's own id) and change nothing; B's list, tags
and stats never show A's tasks. The route table (api_helpers.TASK_ROUTES) is checked against
docs/openapi.json so a new route cannot be left out."""

from __future__ import annotations

import json

import pytest

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    ACCOUNT_ROUTES, ATTACHMENT_ROUTES, CALENDAR_ROUTES,
    CHAT_ROUTE, CONV_ROUTES, NOTIFY_ROUTES, TASK_ROUTES, TOKEN_ROUTES, _attach_module_server_logs, anon_request, assert_error,
    assert_status,
    module_server, signup, unique_email,
)
from conftest import REPO_ROOT

OPENAPI = REPO_ROOT / "docs" / "openapi.json"
ROUTE_IDS = [f"{m} {p}" for m, p in TASK_ROUTES]
TASK_ID_ROUTES = [(m, p) for m, p in TASK_ROUTES if "{tid}" in p]
TASK_ID_IDS = [f"{m} {p}" for m, p in TASK_ID_ROUTES]

# A body for each method that would succeed for the owner (so a missing check would show).
BODIES = {
    ("POST", "/api/{uid}/tasks"): {"title": "planted by B", "tags": ["b-tag"]},
    ("POST", "/api/{uid}/tasks/parse"): {"text": "planted by B tomorrow #b-tag"},
    ("PUT", "/api/{uid}/tasks/{tid}"): {"title": "replaced by B"},
    ("PATCH", "/api/{uid}/tasks/{tid}"): {"title": "patched by B", "priority": "low"},
    ("PATCH", "/api/{uid}/tasks/{tid}/complete"): {"completed": True},
}


@pytest.fixture(scope="module")
def users(module_server):
    a = signup(module_server, email=unique_email("owner-a"), name="A")
    b = signup(module_server, email=unique_email("intruder-b"), name="B")
    return a, b


def _a_task(a):
    return a.create(title="A's secret", description="private", priority="high", tags=["a-only"],
                    due_at="2020-01-01T00:00:00Z", recurrence="daily")


def _snapshot(a) -> dict:
    """Everything A can see about A's tasks."""
    lst = a.list(limit=200, sort="created", order="asc")
    assert_status(lst, 200)
    tags = a.get("/api/me/tags")
    stats = a.get("/api/me/tasks/stats")
    assert_status(tags, 200)
    assert_status(stats, 200)
    return {"tasks": lst.json(), "tags": sorted(map(json.dumps, tags.json())), "stats": stats.json()}


def _call(user, method, template, uid, tid):
    path = template.replace("{uid}", uid).replace("{tid}", str(tid))
    body = BODIES.get((method, template))
    kw = {"json": body} if body is not None else {}
    return user.request(method, path, **kw)


@pytest.mark.parametrize("method,template", TASK_ROUTES, ids=ROUTE_IDS)
def test_other_users_id_in_path_is_403_and_changes_nothing(users, method, template):
    a, b = users
    t = _a_task(a)
    before = _snapshot(a)
    r = _call(b, method, template, a.id, t["id"])
    assert_error(r, 403)
    assert "secret" not in r.text and "private" not in r.text, r.text
    assert _snapshot(a) == before, f"B's {method} {template} with A's id changed A's data"
    # and B's own account got nothing either
    assert b.list_ids(limit=200, search="planted by B") == []


@pytest.mark.parametrize("who", ["me", "own_id"])
@pytest.mark.parametrize("method,template", TASK_ID_ROUTES, ids=TASK_ID_IDS)
def test_other_users_task_is_404_and_unchanged(users, method, template, who):
    a, b = users
    t = _a_task(a)
    before = _snapshot(a)
    r = _call(b, method, template, "me" if who == "me" else b.id, t["id"])
    body = assert_error(r, 404)
    assert "secret" not in r.text and "private" not in r.text, r.text
    # the answer is the same as for a task that does not exist at all (never reveal which)
    missing = _call(b, method, template, "me", 999999999)
    assert_error(missing, 404)
    assert body == missing.json(), f"404 for A's task {body!r} differs from a missing task's {missing.json()!r}"
    # A's task is untouched, re-read as A
    got = a.task(t["id"])
    assert_status(got, 200)
    assert got.json() == t, f"B's {method} {template} changed A's task"
    assert _snapshot(a) == before
    # the completion of a recurring task did not create a next occurrence anywhere
    assert all(x["title"] != t["title"] for x in b.list(limit=200).json()), "A's task leaked into B's list"


@pytest.mark.parametrize("who", ["me", "own_id"])
def test_b_sees_none_of_as_tasks(module_server, users, who):
    a, b = users
    t = _a_task(a)
    uid = "me" if who == "me" else b.id
    own = b.create(title="B's own", tags=["b-only"])
    lst = b.get(f"/api/{uid}/tasks", params={"limit": 200})
    assert_status(lst, 200)
    ids = [x["id"] for x in lst.json()]
    assert t["id"] not in ids and own["id"] in ids
    assert all(x["user_id"] == b.id for x in lst.json()), lst.json()
    assert int(lst.headers["X-Total-Count"]) == len(ids)
    # every filter that would match A's task still finds nothing of A's
    for params in ({"search": "secret"}, {"tag": "a-only"}, {"overdue": "true"}, {"priority": "high"},
                   {"status": "pending", "sort": "due_date"}, {"due_before": "2021-01-01"}):
        got = b.get(f"/api/{uid}/tasks", params=params).json()
        assert t["id"] not in [x["id"] for x in got], f"{params}: {got}"
    tags = b.get(f"/api/{uid}/tags")
    assert_status(tags, 200)
    assert "a-only" not in [x["name"] for x in tags.json()], tags.json()
    stats = b.get(f"/api/{uid}/tasks/stats")
    assert_status(stats, 200)
    own_total = int(lst.headers["X-Total-Count"])
    assert stats.json()["total"] == own_total, (stats.json(), own_total)
    assert stats.json()["overdue"] == 0, stats.json()  # only A has an overdue task


def test_b_creating_under_me_never_lands_in_as_account(users):
    a, b = users
    before = _snapshot(a)
    r = b.post("/api/me/tasks", json={"title": "B under me"})
    assert_status(r, 201)
    assert r.json()["user_id"] == b.id
    assert _snapshot(a) == before
    assert_error(a.task(r.json()["id"]), 404)


@pytest.mark.parametrize("method,template", TASK_ROUTES, ids=ROUTE_IDS)
def test_every_task_route_requires_a_token(module_server, users, method, template):
    a, _b = users
    t = _a_task(a)
    before = _snapshot(a)
    for uid in ("me", a.id):
        path = template.replace("{uid}", uid).replace("{tid}", str(t["id"]))
        body = BODIES.get((method, template))
        kw = {"json": body} if body is not None else {}
        r = anon_request(module_server, method, path, **kw)
        assert_error(r, 401)
        assert r.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), dict(r.headers)
        r = anon_request(module_server, method, path, headers={"Authorization": "Bearer x.y.z"}, **kw)
        assert_error(r, 401)
    assert _snapshot(a) == before


def test_route_table_matches_openapi():
    assert OPENAPI.exists(), f"{OPENAPI} is missing: the route table cannot be checked against it"
    doc = json.loads(OPENAPI.read_text())
    documented = set()
    for path, item in doc.get("paths", {}).items():
        if not path.startswith("/api/{user_id}/"):
            continue
        for method in item:
            if method.lower() in ("get", "put", "post", "patch", "delete", "head", "options"):
                documented.add((method.upper(),
                                path.replace("{user_id}", "{uid}").replace("{task_id}", "{tid}")))
    tested = (set(TASK_ROUTES) | {(m, p.replace("{tokid}", "{token_id}")) for m, p in TOKEN_ROUTES}
              | {(m, p.replace("{cid}", "{conversation_id}")) for m, p in CONV_ROUTES}
              | {(m, p.replace("{nid}", "{notification_id}")) for m, p in NOTIFY_ROUTES}
              | {CHAT_ROUTE} | set(ACCOUNT_ROUTES) | set(ATTACHMENT_ROUTES)
              | set(CALENDAR_ROUTES))
    assert documented == tested, (
        f"routes documented but not tested: {sorted(documented - tested)}; "
        f"tested but not documented: {sorted(tested - documented)}")
