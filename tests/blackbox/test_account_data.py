"""Your data, yours (issue 14): GET /api/{user_id}/export (versioned JSON of tasks, tags,
conversations), POST /api/{user_id}/import of that format and of a Todoist CSV export, all or
nothing, and DELETE /api/{user_id} with the password: afterwards no row of the database names
the account (checked by dumping every table), its tokens no longer work and cannot bring it
back. Every route acts only on the token's user."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import pytest
import requests

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    PASSWORD, _attach_module_server_logs, anon_request, assert_422, assert_error, assert_status,
    create_pat, fresh_user, module_server, pat_user, signup, unique_email,
)
from helpers import scaled

TODOIST_CSV = (
    "TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE\r\n"
    "section,Errands,,,,,,,,\r\n"
    "task,\"Buy milk @home @errand\",\"two litres, \"\"organic\"\"\",1,1,Me (1),,2026-05-01,en,UTC\r\n"
    "note,a comment on the task,,,,,,,,\r\n"
    "\r\n"
    "task,Water the plants,,4,1,Me (1),,every week,en,UTC\r\n"
    "task,Call mum,\"line one\nline two\",3,1,Me (1),,next friday,en,UTC\r\n"
)


def dump_text(srv) -> str:
    """Every row of every table of the server's database, as text."""
    url = srv.env["DATABASE_URL"]
    if url.startswith("sqlite:"):
        con = sqlite3.connect(url.split("sqlite:///", 1)[1], timeout=scaled(10))
        try:
            out = []
            for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                out += [repr(r) for r in con.execute(f'SELECT * FROM "{name}"')]
            return "\n".join(out)
        finally:
            con.close()
    pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    return subprocess.run([pg_dump, "--data-only", url], capture_output=True, text=True,
                          timeout=scaled(60), check=True).stdout


def _export(user) -> dict:
    r = user.get("/api/me/export")
    assert_status(r, 200)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("Content-Disposition", "").startswith("attachment")
    return r.json()


# --- export / import ---------------------------------------------------------------------


def test_export_has_the_versioned_format(module_server):
    u = signup(module_server, email=unique_email("exp"), name="Exporter")
    t1 = u.create(title="first", tags=["Home", "x"], priority="high", due_at="2030-01-02T03:04:05Z")
    t2 = u.create(title="second", description="d", recurrence="weekly", due_at="2030-02-01")
    u.patch(f"/api/me/tasks/{t2['id']}/complete", json={"completed": True})
    doc = _export(u)
    assert doc["format"] == "todo-export" and doc["version"] == 1
    assert doc["user"]["id"] == u.id and doc["user"]["email"] == u.email
    titles = [t["title"] for t in doc["tasks"]]
    assert "first" in titles and "second" in titles
    assert {t["id"] for t in doc["tasks"]} >= {t1["id"], t2["id"]}
    assert {"name": "Home", "count": 1} in doc["tags"]
    assert isinstance(doc["conversations"], list)


def test_export_import_round_trip_into_an_empty_account(module_server):
    a = signup(module_server, email=unique_email("src"))
    a.create(title="alpha", tags=["t1"], priority="low", due_at="2031-05-06T07:08:09Z",
             remind_at="2031-05-06T06:00:00Z", recurrence="monthly", recurrence_interval=2)
    done = a.create(title="beta", description="desc")
    a.patch(f"/api/me/tasks/{done['id']}/complete", json={"completed": True})
    doc = _export(a)
    doc["conversations"] = [{"title": "Planning", "created_at": "2025-01-01T10:00:00Z",
                             "updated_at": "2025-01-01T10:05:00Z",
                             "messages": [{"role": "user", "content": "hi", "created_at": "2025-01-01T10:00:00Z"},
                                          {"role": "assistant", "content": "hello", "tool_calls": [],
                                           "created_at": "2025-01-01T10:00:01Z"}]}]
    b = fresh_user(module_server, "imp")
    r = b.post("/api/me/import", json=doc)
    assert_status(r, 201)
    assert r.json() == {"imported": {"tasks": 2, "conversations": 1, "messages": 2}}
    got = {t["title"]: t for t in b.list(limit=200).json()}
    keys = ("description", "completed", "priority", "tags", "due_at", "remind_at", "recurrence",
            "recurrence_interval")
    for t in doc["tasks"]:
        mine = got[t["title"]]
        assert mine["user_id"] == b.id
        assert {k: mine[k] for k in keys} == {k: t[k] for k in keys}, (mine, t)
    convs = b.get("/api/me/conversations").json()
    assert [c["title"] for c in convs] == ["Planning"]
    msgs = b.get(f"/api/me/conversations/{convs[0]['id']}").json()["messages"]
    assert [m["content"] for m in msgs] == ["hi", "hello"]
    # A's data is untouched
    assert len(a.list(limit=200).json()) == 2


@pytest.mark.parametrize("bad", [
    {"format": "other", "version": 1, "tasks": []},
    {"format": "todo-export", "version": 2, "tasks": []},
    {"format": "todo-export", "version": 1, "tasks": {}},
    {"format": "todo-export", "version": 1, "tasks": [{"title": "fine"}, {"title": ""}]},
    {"format": "todo-export", "version": 1, "tasks": [{"title": "fine"}, {"title": "x", "priority": "urgent"}]},
    {"format": "todo-export", "version": 1, "tasks": [{"title": "fine"}],
     "conversations": [{"title": "c", "messages": [{"role": "system", "content": "x"}]}]},
    {"format": "todo-export", "version": 1, "tasks": [{"title": "fine"}],
     "conversations": [{"title": "c", "created_at": "yesterday"}]},
], ids=["format", "version", "tasks-not-list", "empty-title", "bad-priority", "bad-role", "bad-time"])
def test_import_is_all_or_nothing(module_server, bad):
    u = fresh_user(module_server, "aon")
    u.create(title="existing")
    before = _export(u)
    r = u.post("/api/me/import", json=bad)
    assert_422(r)
    after = _export(u)
    assert after["tasks"] == before["tasks"] and after["conversations"] == before["conversations"]


def test_import_refuses_other_types_and_broken_json(module_server):
    u = fresh_user(module_server, "typ")
    assert_error(u.post("/api/me/import", data="x", headers={"Content-Type": "text/plain"}), 415)
    assert_error(u.post("/api/me/import", data="{", headers={"Content-Type": "application/json"}), 400)
    assert u.list().json() == []


def test_import_todoist_csv(module_server):
    u = fresh_user(module_server, "todoist")
    r = u.post("/api/me/import", data=TODOIST_CSV.encode(), headers={"Content-Type": "text/csv"})
    assert_status(r, 201)
    assert r.json()["imported"]["tasks"] == 3
    got = {t["title"]: t for t in u.list(limit=200).json()}
    assert set(got) == {"Buy milk", "Water the plants", "Call mum"}
    milk = got["Buy milk"]
    assert milk["priority"] == "high" and sorted(milk["tags"]) == ["errand", "home"]
    assert milk["description"] == 'two litres, "organic"'
    assert milk["due_at"].startswith("2026-05-01")
    assert got["Water the plants"]["recurrence"] == "weekly"
    assert got["Water the plants"]["priority"] == "low"
    assert got["Call mum"]["priority"] == "medium"
    assert "next friday" in got["Call mum"]["description"]


@pytest.mark.parametrize("csv", [
    "TITLE,WHEN\nx,y\n",
    "TYPE,CONTENT\ntask,\"unterminated\n",
    "TYPE,CONTENT\ntask,ok\ntask,\n",
], ids=["not-todoist", "unterminated-quote", "empty-title"])
def test_import_bad_csv_stores_nothing(module_server, csv):
    u = fresh_user(module_server, "badcsv")
    r = u.post("/api/me/import", data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert_422(r)
    assert u.list().json() == []


# --- deleting the account ----------------------------------------------------------------


def test_delete_account_removes_everything(module_server):
    email = unique_email("leaver")
    u = signup(module_server, email=email, name="Leaving Soon")
    u.create(title="secret plan", tags=["private-tag"], due_at="2030-01-01")
    gone = u.create(title="deleted one")
    u.delete(f"/api/me/tasks/{gone['id']}")
    pat = create_pat(u, "cli")
    other = signup(module_server, email=unique_email("stayer"))
    other.create(title="other's task")
    # a conversation through the offline assistant, when the chat route is there
    u.post("/api/me/chat", json={"message": "add a task to call the bank"})
    assert u.id in dump_text(module_server)
    r = u.request("DELETE", "/api/me", json={"password": PASSWORD})
    assert_status(r, 204)
    text = dump_text(module_server)
    assert u.id not in text, "a row still names the deleted user's id"
    assert email.lower() not in text.lower(), "a row still holds the deleted user's email"
    assert "secret plan" not in text and "private-tag" not in text
    # its sign-in token and personal access token are dead, and cannot recreate the account
    r = u.get("/api/me/tasks")
    assert_error(r, 401)
    assert_error(requests.get(module_server.url("/api/me/tasks"),
                              headers={"Authorization": f"Bearer {pat['token']}"},
                              timeout=scaled(10)), 401)
    assert u.id not in dump_text(module_server)
    # the email can sign up again (a new, empty account)
    again = signup(module_server, email=email)
    assert again.id != u.id and again.list().json() == []
    # the other user is untouched
    assert [t["title"] for t in other.list().json()] == ["other's task"]


def test_delete_account_needs_the_right_password_and_not_a_pat(module_server):
    u = signup(module_server, email=unique_email("careful"))
    u.create(title="keep me")
    assert_error(u.request("DELETE", "/api/me", json={"password": "not it"}), 403)
    assert_422(u.request("DELETE", "/api/me", json={}), ["body", "password"])
    assert_error(u.request("DELETE", "/api/me", data="{", headers={"Content-Type": "application/json"}), 400)
    p = pat_user(u)
    assert_error(p.request("DELETE", "/api/me", json={"password": PASSWORD}), 403)
    assert [t["title"] for t in u.list().json()] == ["keep me"]


def test_delete_account_without_a_password_confirms_with_the_id(module_server):
    u = fresh_user(module_server, "ext")
    u.create(title="external")
    assert_error(u.request("DELETE", "/api/me", json={"confirm": "someone-else"}), 403)
    assert_status(u.request("DELETE", "/api/me", json={"confirm": u.id}), 204)
    assert u.id not in dump_text(module_server)
    assert_error(u.get("/api/me/tasks"), 401)


# --- isolation -----------------------------------------------------------------------------


def test_routes_act_only_on_the_token_user(module_server):
    a = signup(module_server, email=unique_email("iso-a"))
    b = signup(module_server, email=unique_email("iso-b"))
    a.create(title="A's only")
    for method, path, kw in (("GET", f"/api/{a.id}/export", {}),
                             ("POST", f"/api/{a.id}/import",
                              {"json": {"format": "todo-export", "version": 1, "tasks": [{"title": "by B"}]}}),
                             ("DELETE", f"/api/{a.id}", {"json": {"password": PASSWORD}})):
        r = b.request(method, path, **kw)
        assert_error(r, 403)
        assert "A's only" not in r.text
        assert_error(anon_request(module_server, method, path, **kw), 401)
    assert [t["title"] for t in a.list().json()] == ["A's only"]
    assert "A's only" not in b.get("/api/me/export").text
    assert b.list().json() == []
