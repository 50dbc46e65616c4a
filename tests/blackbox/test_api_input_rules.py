"""Input rules (issue 7) on both backends: canonical task ids, no time past year 9999 (nor an
empty time) anywhere, and no NUL smuggled inside a JSON string."""

from __future__ import annotations

import pytest

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    _attach_module_server_logs, assert_422, assert_status, fresh_user, module_server,
)

PAST_9999 = ["9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59-00:01", "10000-01-01T00:00:00Z"]


@pytest.fixture(scope="module")
def user(module_server):
    return fresh_user(module_server, "rules")


def _no_empty_times(user):
    r = user.list(limit=200)
    assert_status(r, 200)
    for t in r.json():
        for k in ("due_at", "remind_at", "completed_at", "created_at", "updated_at"):
            assert t[k] != "", f"task {t['id']} has an empty {k}: {t!r}"


# --------------------------------------------------------------------------------------------
# Task ids
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["+{id}", "0{id}", "00{id}", "%20{id}", "{id}%20", "%09{id}",
                                      "{id}.0", "-{id}", "0x{id}"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_only_the_canonical_task_id_names_a_task(user, method, spelling):
    """Regression: "+2", "02" and " 2" all reached task 2. One task, one spelling."""
    t = user.create(title="canonical")
    path = "/api/me/tasks/" + spelling.replace("{id}", str(t["id"]))
    kw = {"json": {"title": "renamed"}} if method in ("PUT", "PATCH") else {}
    r = user.request(method, path, **kw)
    assert_422(r, ["path", "task_id"])
    r = user.request("PATCH", "/api/me/tasks/" + spelling.replace("{id}", str(t["id"])) + "/complete")
    assert_422(r, ["path", "task_id"])
    # Nothing happened to the task.
    r = user.task(t["id"])
    assert_status(r, 200)
    assert r.json()["title"] == "canonical" and r.json()["completed"] is False


# --------------------------------------------------------------------------------------------
# Times past year 9999
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", PAST_9999)
@pytest.mark.parametrize("field", ["due_at", "remind_at"])
def test_times_past_year_9999_are_422_on_create_put_and_patch(user, field, value):
    r = user.post("/api/me/tasks", json={"title": "far", field: value})
    assert_422(r, ["body", field])
    t = user.create(title="near", due_at="2030-01-01T00:00:00Z")
    for method in ("PUT", "PATCH"):
        r = user.request(method, f"/api/me/tasks/{t['id']}", json={field: value})
        assert_422(r, ["body", field])
    r = user.task(t["id"])
    assert r.json()["due_at"] == "2030-01-01T00:00:00Z"
    _no_empty_times(user)


def test_the_last_second_of_9999_is_accepted(user):
    t = user.create(title="edge", due_at="9999-12-31T18:59:59-05:00")
    assert t["due_at"] == "9999-12-31T23:59:59Z"


@pytest.mark.parametrize("value", PAST_9999)
@pytest.mark.parametrize("name", ["due_after", "due_before"])
def test_filters_past_year_9999_are_422(user, name, value):
    r = user.list(**{name: value})
    assert_422(r, ["query", name])


@pytest.mark.parametrize("how", ["complete", "patch", "put"])
def test_next_reminder_past_year_9999_is_422_and_changes_nothing(user, how):
    """A yearly task whose reminder comes after its due date: the next occurrence's reminder
    would fall in year 10000 (it used to be stored as ""). Completing is refused."""
    t = user.create(title="far reminder", due_at="9998-12-01T00:00:00Z",
                    remind_at="9999-06-01T00:00:00Z", recurrence="yearly")
    path = f"/api/me/tasks/{t['id']}"
    if how == "complete":
        r = user.patch(path + "/complete", json={"completed": True})
    else:
        r = user.request("PATCH" if how == "patch" else "PUT", path, json={"completed": True})
    assert_422(r, ["body", "remind_at"])
    r = user.task(t["id"])
    assert r.json()["completed"] is False, r.json()
    _no_empty_times(user)


# --------------------------------------------------------------------------------------------
# NUL inside JSON strings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field,value", [
    ("due_at", "2026-01-31T17:00:00Z\x00junk"),
    ("remind_at", "2026-01-31\x00"),
    ("priority", "high\x00x"),
    ("recurrence", "daily\x00"),
    ("title", "a\x00b"),
    ("description", "x\x00y"),
    ("tags", ["ok", "b\x00d"]),
])
def test_a_nul_inside_a_string_is_422(user, field, value):
    r = user.post("/api/me/tasks", json={"title": "nul", field: value} if field != "title"
                  else {"title": value})
    assert_422(r, ["body", field])
    t = user.create(title="target")
    r = user.patch(f"/api/me/tasks/{t['id']}", json={field: value})
    assert_422(r, ["body", field])
    assert user.task(t["id"]).json()["title"] == "target"
