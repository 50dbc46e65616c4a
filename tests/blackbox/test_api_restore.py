"""Undoing a delete (issue 13): POST /api/{user_id}/tasks/{id}/restore brings a task deleted
less than 30 seconds ago back exactly as it was; anything else is 404, another user never
restores or learns about someone else's task, and expired copies are purged.

The 30-second window is not waited out: the tests age the stored copy in the database itself
(sqlite3 module or psql), which is what the clock would have done."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time

import pytest

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    _attach_module_server_logs, anon_request, assert_error, assert_status, assert_task_shape,
    module_server, signup, unique_email,
)
from helpers import scaled

WHO = pytest.mark.parametrize("who", ["me", "{uid}"], ids=["me", "user_id"])
WINDOW = 30


@pytest.fixture(scope="module")
def alice(module_server):
    return signup(module_server, email=unique_email("alice"), name="Alice")


@pytest.fixture(scope="module")
def bob(module_server):
    return signup(module_server, email=unique_email("bob"), name="Bob")


def _sql(srv, statement: str) -> list:
    """Runs one statement on the server's database and returns its rows (as text)."""
    url = srv.env["DATABASE_URL"]
    if url.startswith("sqlite:"):
        path = url.split("sqlite:///", 1)[1]
        con = sqlite3.connect(path, timeout=scaled(10))
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


def _age_deleted(srv, task_id: int, seconds: int) -> None:
    """Pretends the task was deleted `seconds` ago."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))
    _sql(srv, f"UPDATE deleted_tasks SET deleted_at = '{when}' WHERE task_id = {int(task_id)}")


def _rich_task(user, **over):
    fields = dict(title="Water the plants", description="Both balconies\nand the hall",
                  priority="high", tags=["home", "Garden"], due_at="2030-05-01T17:00:00Z",
                  remind_at="2030-05-01T16:00:00Z", recurrence="weekly", recurrence_interval=2)
    fields.update(over)
    return user.create(**fields)


def _counts(user):
    stats = user.get("/api/me/tasks/stats")
    tags = user.get("/api/me/tags")
    assert_status(stats, 200)
    assert_status(tags, 200)
    return stats.json(), {t["name"]: t["count"] for t in tags.json()}


@WHO
def test_restore_brings_the_task_back_exactly(alice, who):
    t = _rich_task(alice)
    stats_before, tags_before = _counts(alice)
    assert_status(alice.delete(f"/api/{who}/tasks/{t['id']}"), 204)
    assert_error(alice.task(t["id"]), 404)
    assert t["id"] not in alice.list_ids(limit=200)
    stats_gone, tags_gone = _counts(alice)
    assert stats_gone["total"] == stats_before["total"] - 1
    assert tags_gone.get("home", 0) == tags_before["home"] - 1

    r = alice.post(f"/api/{who}/tasks/{t['id']}/restore")
    assert_status(r, 200)
    back = r.json()
    assert_task_shape(back)
    same = {k: v for k, v in t.items() if k != "updated_at"}
    assert {k: v for k, v in back.items() if k != "updated_at"} == same
    assert back["updated_at"] >= t["updated_at"]
    # it is a real task again: readable, listed, counted, tagged, searchable, changeable
    assert_status(alice.task(t["id"]), 200)
    assert alice.task(t["id"]).json() == back
    assert t["id"] in alice.list_ids(limit=200)
    assert t["id"] in alice.list_ids(tag="garden", search="balconies")
    assert _counts(alice) == (stats_before, tags_before)
    r = alice.patch(f"/api/me/tasks/{t['id']}", json={"priority": "low"})
    assert_status(r, 200)
    assert r.json()["priority"] == "low" and r.json()["tags"] == ["home", "Garden"]


def test_restore_keeps_completion_and_creation_times(alice):
    t = alice.create(title="Done already", tags=["x"])
    done = alice.patch(f"/api/me/tasks/{t['id']}/complete", json={"completed": True}).json()
    assert done["completed"] and done["completed_at"]
    time.sleep(1.1)  # a restore that re-stamped the times would show a different second
    assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
    back = alice.post(f"/api/me/tasks/{t['id']}/restore").json()
    assert back["completed"] is True
    assert back["completed_at"] == done["completed_at"]
    assert back["created_at"] == t["created_at"]
    assert back["updated_at"] > done["updated_at"]


def test_a_recurring_task_restored_still_recurs(alice):
    t = _rich_task(alice, title="Recurring restored", due_at="2030-01-07T09:00:00Z",
                   remind_at=None, recurrence="daily", recurrence_interval=1)
    assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
    assert_status(alice.post(f"/api/me/tasks/{t['id']}/restore"), 200)
    r = alice.patch(f"/api/me/tasks/{t['id']}/complete")
    assert_status(r, 200)
    nxt = r.json()["next_task"]
    assert nxt and nxt["due_at"] == "2030-01-08T09:00:00Z" and nxt["tags"] == t["tags"]


def test_restore_twice_is_404_and_leaves_one_task(alice):
    t = alice.create(title="Only once")
    assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
    assert_status(alice.post(f"/api/me/tasks/{t['id']}/restore"), 200)
    assert_error(alice.post(f"/api/me/tasks/{t['id']}/restore"), 404)
    assert alice.list_ids(limit=200, search="Only once") == [t["id"]]


def test_restore_of_a_task_that_was_never_deleted_is_404(alice):
    t = alice.create(title="Still here")
    body = assert_error(alice.post(f"/api/me/tasks/{t['id']}/restore"), 404)
    assert "restore" in body["detail"].lower()
    assert_error(alice.post("/api/me/tasks/987654321/restore"), 404)
    assert alice.task(t["id"]).json() == t


def test_delete_restore_delete_again_then_restore_again(alice):
    t = alice.create(title="Back and forth", tags=["loop"])
    for _ in range(3):
        assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
        assert_status(alice.post(f"/api/me/tasks/{t['id']}/restore"), 200)
    assert alice.task(t["id"]).json()["tags"] == ["loop"]


def test_restore_after_the_window_is_404_and_the_copy_is_purged(module_server, alice):
    t = alice.create(title="Too late")
    assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
    _age_deleted(module_server, t["id"], WINDOW + 1)
    assert_error(alice.post(f"/api/me/tasks/{t['id']}/restore"), 404)
    assert_error(alice.task(t["id"]), 404)
    # the expired copy is gone from the database after the next delete or restore
    assert _sql(module_server, f"SELECT count(*) FROM deleted_tasks WHERE task_id = {t['id']}") == [("0",)]


def test_restore_just_inside_the_window_works(module_server, alice):
    t = alice.create(title="Just in time")
    assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
    _age_deleted(module_server, t["id"], WINDOW - 5)
    assert_status(alice.post(f"/api/me/tasks/{t['id']}/restore"), 200)


def test_any_delete_purges_everyones_expired_copies(module_server, alice, bob):
    t = alice.create(title="Alice's old delete", description="private words")
    assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
    _age_deleted(module_server, t["id"], WINDOW + 60)
    b = bob.create(title="Bob's delete")
    assert_status(bob.delete(f"/api/me/tasks/{b['id']}"), 204)
    left = _sql(module_server, f"SELECT task_id FROM deleted_tasks WHERE task_id IN ({t['id']}, {b['id']})")
    assert left == [(str(b["id"]),)], left


@pytest.mark.parametrize("who", ["me", "own_id"])
def test_another_user_cannot_restore_and_learns_nothing(alice, bob, who):
    t = alice.create(title="Alice's secret", description="private")
    assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
    uid = "me" if who == "me" else bob.id
    r = bob.post(f"/api/{uid}/tasks/{t['id']}/restore")
    body = assert_error(r, 404)
    assert "secret" not in r.text and "private" not in r.text
    missing = assert_error(bob.post(f"/api/{uid}/tasks/987654320/restore"), 404)
    assert body == missing, "the answer must not reveal that the task exists"
    assert t["id"] not in bob.list_ids(limit=200)
    # A's id in B's path is refused outright
    assert_error(bob.post(f"/api/{alice.id}/tasks/{t['id']}/restore"), 403)
    # and Alice still can
    assert_status(alice.post(f"/api/me/tasks/{t['id']}/restore"), 200)
    assert t["id"] not in bob.list_ids(limit=200)


def test_restore_needs_a_token(module_server, alice):
    t = alice.create(title="Anonymous undo")
    assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
    r = anon_request(module_server, "POST", f"/api/me/tasks/{t['id']}/restore")
    assert_error(r, 401)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert_status(alice.post(f"/api/me/tasks/{t['id']}/restore"), 200)


def test_restore_rejects_a_bad_task_id(alice):
    r = alice.post("/api/me/tasks/abc/restore")
    assert_status(r, 422)
    assert r.json()["detail"][0]["loc"] == ["path", "task_id"]


def test_restore_invalidates_the_cached_list(alice):
    t = alice.create(title="Cache me")
    assert t["id"] in alice.list_ids(limit=200, search="Cache me")
    assert_status(alice.delete(f"/api/me/tasks/{t['id']}"), 204)
    assert alice.list_ids(limit=200, search="Cache me") == []
    assert_status(alice.post(f"/api/me/tasks/{t['id']}/restore"), 200)
    assert alice.list_ids(limit=200, search="Cache me") == [t["id"]]
