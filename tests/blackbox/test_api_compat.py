"""Compatibility with the hackathon's own clients (issue 8), on both backends:

- PUT is a partial update (their TaskUpdate has every field optional): omitted fields keep
  their values, an explicit null clears a nullable field, a body without any known field is a
  422 that says so; recurring completion through PUT still creates the next occurrence;
- the contract's limits: title 1-200, description at most 1000 characters;
- an unknown path under /api, /mcp, /docs, /openapi.json, /health (and /ready) is a JSON 404
  whatever the method, in the roles all, api and web; the UI's catch-all answers only GET/HEAD
  of other paths.
"""

from __future__ import annotations

import pytest

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    TASK_KEYS, _attach_module_server_logs, anon_request, assert_422, assert_error,
    assert_status, assert_task_shape, fresh_user, module_server, signup, start_module_server,
    unique_email,
)
from conftest import ServerFactory

WHO = pytest.mark.parametrize("who", ["me", "{uid}"], ids=["me", "user_id"])

# A task with every field set to a value other than its default.
FULL = {"title": "Full", "description": "keep me", "priority": "high", "tags": ["home", "Work"],
        "due_at": "2030-01-02T03:04:05Z", "remind_at": "2030-01-02T00:00:00Z",
        "recurrence": "weekly", "recurrence_interval": 3}

# One-field PUT bodies and what the field must read afterwards.
ONE_FIELD = [
    ({"title": "Updated"}, {"title": "Updated"}),
    ({"description": "changed"}, {"description": "changed"}),
    ({"priority": "low"}, {"priority": "low"}),
    ({"tags": ["garden"]}, {"tags": ["garden"]}),
    ({"due_at": "2031-05-06T07:08:09Z"}, {"due_at": "2031-05-06T07:08:09Z"}),
    ({"due_at": "2031-05-06"}, {"due_at": "2031-05-06T23:59:59Z"}),
    ({"remind_at": "2031-05-06T06:00:00Z"}, {"remind_at": "2031-05-06T06:00:00Z"}),
    ({"recurrence": "monthly"}, {"recurrence": "monthly"}),
    ({"recurrence_interval": 2}, {"recurrence_interval": 2}),
]

# Explicit nulls: the nullable fields clear; tags and recurrence take null as "none".
NULLS = [
    ({"description": None}, {"description": None}),
    ({"due_at": None}, {"due_at": None}),
    ({"remind_at": None}, {"remind_at": None}),
    ({"tags": None}, {"tags": []}),
    ({"recurrence": None}, {"recurrence": "none"}),
]


@pytest.fixture(scope="module")
def alice(module_server):
    return signup(module_server, email=unique_email("compat"), name="Alice")


def _unchanged_except(before: dict, after: dict, changed: dict, body) -> None:
    for k in TASK_KEYS - {"updated_at"} - set(changed):
        assert after[k] == before[k], f"PUT {body!r} changed {k}: {before[k]!r} -> {after[k]!r}"
    for k, v in changed.items():
        assert after[k] == v, f"PUT {body!r}: {k} = {after[k]!r}, expected {v!r}"


# --------------------------------------------------------------------------------------------
# Partial PUT
# --------------------------------------------------------------------------------------------


def test_put_with_only_a_title_keeps_description_and_priority(alice):
    """The issue's own example: a hackathon frontend renames a task."""
    t = alice.create(title="Buy milk", description="2 litres", priority="high")
    r = alice.put(f"/api/me/tasks/{t['id']}", json={"title": "Updated"})
    assert_status(r, 200)
    u = r.json()
    assert_task_shape(u)
    assert (u["title"], u["description"], u["priority"]) == ("Updated", "2 litres", "high"), u


@WHO
@pytest.mark.parametrize("body,changed", ONE_FIELD, ids=[next(iter(b)) + ("_date" if "due_at" in b and len(b["due_at"]) == 10 else "") for b, _ in ONE_FIELD])
def test_partial_put_changes_only_the_field_sent(alice, who, body, changed):
    t = alice.create(**FULL)
    r = alice.put(f"/api/{who}/tasks/{t['id']}", json=body)
    assert_status(r, 200)
    u = r.json()
    assert_task_shape(u)
    _unchanged_except(t, u, changed, body)
    assert alice.task(t["id"]).json() == u, "GET after PUT differs from the PUT answer"


@pytest.mark.parametrize("body,changed", NULLS, ids=[next(iter(b)) for b, _ in NULLS])
def test_partial_put_null_clears_a_nullable_field(alice, body, changed):
    t = alice.create(**FULL)
    r = alice.put(f"/api/me/tasks/{t['id']}", json=body)
    assert_status(r, 200)
    _unchanged_except(t, r.json(), changed, body)


def test_partial_put_of_several_fields(alice):
    t = alice.create(**FULL)
    body = {"title": "Two things", "tags": [], "due_at": None, "priority": "medium"}
    r = alice.put(f"/api/me/tasks/{t['id']}", json=body)
    assert_status(r, 200)
    _unchanged_except(t, r.json(), {"title": "Two things", "tags": [], "due_at": None,
                                    "priority": "medium"}, body)


def test_partial_put_keeps_completion_state(alice):
    t = alice.create(title="done", completed=True)
    u = alice.put(f"/api/me/tasks/{t['id']}", json={"title": "done, renamed"}).json()
    assert u["completed"] is True and u["completed_at"] == t["completed_at"], u
    reopened = alice.put(f"/api/me/tasks/{t['id']}", json={"completed": False}).json()
    assert reopened["completed"] is False and reopened["completed_at"] is None, reopened
    assert reopened["title"] == "done, renamed"


@pytest.mark.parametrize("body", [{}, {"unknown": 1}, {"id": 5, "user_id": "someone-else",
                                                       "created_at": "2020-01-01T00:00:00Z"}],
                         ids=["empty", "unknown", "read_only_only"])
def test_put_without_a_known_field_is_422_saying_so(alice, body):
    t = alice.create(**FULL)
    detail = assert_422(alice.put(f"/api/me/tasks/{t['id']}", json=body), ["body"])
    msg = " ".join(d["msg"] for d in detail).lower()
    assert "field" in msg and "title" in msg, f"the 422 does not say what is missing: {detail}"
    assert alice.task(t["id"]).json() == t, "a rejected PUT changed the task"


@pytest.mark.parametrize("body,loc", [
    ({"title": None}, ["body", "title"]),
    ({"title": ""}, ["body", "title"]),
    ({"title": "x", "priority": "p1"}, ["body", "priority"]),
    ({"due_at": "tomorrow"}, ["body", "due_at"]),
    ({"tags": ["a", "A"]}, ["body", "tags"]),
    ({"recurrence_interval": 0}, ["body", "recurrence_interval"]),
], ids=["title_null", "title_empty", "bad_priority", "bad_due", "dup_tags", "interval_0"])
def test_put_with_an_invalid_field_is_422_and_changes_nothing(alice, body, loc):
    t = alice.create(**FULL)
    assert_422(alice.put(f"/api/me/tasks/{t['id']}", json=body), loc)
    assert alice.task(t["id"]).json() == t, "a rejected PUT changed the task"


def test_completing_a_recurring_task_through_put_creates_the_next(alice):
    t = alice.create(title="Water plants", tags=["home"], priority="high",
                     due_at="2030-03-01T09:00:00Z", recurrence="weekly", recurrence_interval=2)
    r = alice.put(f"/api/me/tasks/{t['id']}", json={"completed": True})
    assert_status(r, 200)
    done = r.json()
    assert done["completed"] is True and done["completed_at"], done
    assert done["recurrence"] == "weekly" and done["due_at"] == "2030-03-01T09:00:00Z", done
    nexts = [x for x in alice.list(search="Water plants", status="pending", limit=200).json()
             if x["id"] != t["id"]]
    assert len(nexts) == 1, f"expected one next occurrence, got {nexts}"
    n = nexts[0]
    assert n["due_at"] == "2030-03-15T09:00:00Z", n
    assert (n["tags"], n["priority"], n["recurrence"], n["recurrence_interval"]) == \
        (["home"], "high", "weekly", 2), n
    # Another PUT on the completed task creates nothing more.
    assert_status(alice.put(f"/api/me/tasks/{t['id']}", json={"completed": True}), 200)
    assert len(alice.list(search="Water plants", limit=200).json()) == 2


def test_patch_still_behaves_as_before(alice):
    t = alice.create(**FULL)
    assert_422(alice.patch(f"/api/me/tasks/{t['id']}", json={}), ["body"])
    u = alice.patch(f"/api/me/tasks/{t['id']}", json={"priority": "low"}).json()
    _unchanged_except(t, u, {"priority": "low"}, {"priority": "low"})


# --------------------------------------------------------------------------------------------
# The contract's limits
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ch", ["d", "é", "🙂"], ids=["ascii", "two_byte", "four_byte"])
def test_description_limit_is_1000_characters(alice, ch):
    ok = alice.post("/api/me/tasks", json={"title": "limit", "description": ch * 1000})
    assert_status(ok, 201)
    assert len(ok.json()["description"]) == 1000
    tid = ok.json()["id"]
    for method in ("post", "put", "patch"):
        path = "/api/me/tasks" if method == "post" else f"/api/me/tasks/{tid}"
        r = getattr(alice, method)(path, json={"title": "limit", "description": ch * 1001})
        assert_422(r, ["body", "description"])
    assert_status(alice.put(f"/api/me/tasks/{tid}", json={"description": ch * 999}), 200)
    assert_status(alice.patch(f"/api/me/tasks/{tid}", json={"description": ch * 1000}), 200)
    assert len(alice.task(tid).json()["description"]) == 1000


def test_title_limit_is_1_to_200_characters(alice):
    assert_status(alice.post("/api/me/tasks", json={"title": "t" * 200}), 201)
    assert_status(alice.post("/api/me/tasks", json={"title": "ü" * 200}), 201)
    assert_422(alice.post("/api/me/tasks", json={"title": "t" * 201}), ["body", "title"])
    t = alice.create(title="short")
    assert_422(alice.put(f"/api/me/tasks/{t['id']}", json={"title": "t" * 201}), ["body", "title"])
    assert_422(alice.put(f"/api/me/tasks/{t['id']}", json={"title": "   "}), ["body", "title"])
    assert alice.task(t["id"]).json() == t


# --------------------------------------------------------------------------------------------
# Unknown routes: JSON 404 under the API's prefixes, in every role
# --------------------------------------------------------------------------------------------

UNKNOWN = [
    ("POST", "/api/me/chatter"),
    ("POST", "/api/{uid}/chat/extra/more"),
    ("GET", "/api/me/chatter"),
    ("DELETE", "/api/me/nothing/here"),
    ("PUT", "/api/unknown"),
    ("PATCH", "/api/me/tasks/1/undo"),
    ("POST", "/api/auth/logout"),
    ("POST", "/mcp/extra"),
    ("GET", "/mcp/extra"),
    ("DELETE", "/docs/extra"),
    ("GET", "/docs/nothing"),
    ("POST", "/openapi.json/x"),
    ("GET", "/openapi.json/x"),
    ("GET", "/health/deep"),
    ("POST", "/health/deep"),
    ("GET", "/api/health/deep"),
    ("PATCH", "/ready/x"),
    ("HEAD", "/api/me/chatter"),
]


@pytest.fixture(scope="module")
def roles(request, todo_bin, backend, tmp_path_factory, module_server):
    """The three roles on the module's backend: all (the module server), api, and web in front
    of that api."""
    _f, api = start_module_server(request, todo_bin, backend, tmp_path_factory, env={"ROLE": "api"})
    tmp = tmp_path_factory.mktemp(f"web-{backend.name}")
    factory = ServerFactory(todo_bin, backend, tmp)

    def finish():
        problems = factory.stop_all()
        if problems:
            pytest.fail("web server crashed:\n" + "\n".join(problems), pytrace=False)

    request.addfinalizer(finish)
    web = factory.start(env={"ROLE": "web", "API_URL": api.base_url,
                             "RATE_LIMIT_PER_MINUTE": "100000"})
    return {"all": module_server, "api": api, "web": web}


@pytest.mark.parametrize("role", ["all", "api", "web"])
def test_unknown_paths_under_the_api_prefixes_are_json_404(roles, role):
    srv = roles[role]
    user = fresh_user(srv)
    failures = []
    for method, template in UNKNOWN:
        path = template.replace("{uid}", user.id)
        for auth in (True, False):
            headers = dict(user.headers()) if auth else {}
            headers["Accept"] = "text/html,application/xhtml+xml,*/*"  # as a browser would
            kw = {"headers": headers}
            if method in ("POST", "PUT", "PATCH"):
                kw["json"] = {"message": "hello"}
            r = anon_request(srv, method, path, **kw)
            ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
            ok = r.status_code == 404 and (method == "HEAD" or (
                ctype == "application/json" and isinstance(r.json().get("detail"), str)))
            if not ok:
                failures.append(f"{method} {path} auth={auth}: {r.status_code} {ctype} "
                                f"{r.text[:120]!r}")
    assert not failures, f"role {role}:\n" + "\n".join(failures)


@pytest.mark.parametrize("role", ["all", "web"])
def test_ui_catch_all_is_get_and_head_only_outside_the_api(roles, role):
    srv = roles[role]
    html = {"Accept": "text/html"}
    r = anon_request(srv, "GET", "/some/page", headers=html)
    assert_status(r, 200)
    assert r.headers.get("Content-Type", "").startswith("text/html"), r.headers
    assert_status(anon_request(srv, "HEAD", "/some/page", headers=html), 200)
    r = anon_request(srv, "POST", "/some/page", json={})
    assert_error(r, 405)
    allow = {m.strip() for m in r.headers.get("Allow", "").split(",")}
    assert allow == {"GET", "HEAD"}, r.headers.get("Allow")
    # A missing file is a 404 even for a browser.
    assert_error(anon_request(srv, "GET", "/missing.js", headers=html), 404)


@pytest.mark.parametrize("role", ["all", "api", "web"])
def test_known_paths_with_another_method_stay_405(roles, role):
    srv = roles[role]
    user = fresh_user(srv)
    tid = user.create(title="x")["id"]
    cases = [("GET", f"/api/me/tasks/{tid}/complete", {"PATCH"}),
             ("POST", f"/api/me/tasks/{tid}/complete", {"PATCH"}),
             ("DELETE", "/api/me/tags", {"GET", "HEAD"}),
             ("POST", "/health", {"GET", "HEAD"})]
    for method, path, allow in cases:
        r = anon_request(srv, method, path, headers=user.headers())
        assert_error(r, 405)
        got = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
        assert got == allow, f"role {role} {method} {path}: Allow {r.headers.get('Allow')!r}"
