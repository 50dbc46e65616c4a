"""The chat API with the offline assistant (issue 12): what `make run` gives with no key at
all. POST /api/{user_id}/chat as JSON and as Server-Sent Events, conversations made by
chatting (history, titles, rename, delete), the user's time zone, every error code of the
contract, the per-user rate limit, and isolation between users on every route — on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import requests

from api_helpers import (CONV_ROUTES, anon_request, assert_422, assert_error, assert_status,
                         fresh_user, module_server, pat_user, signup, start_module_server)  # noqa: F401
from fake_llm import sse_events
from helpers import scaled

ANSWER_KEYS = {"conversation_id", "response", "tool_calls"}


def chat(user, message, conversation_id=None, **kw):
    body = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    return user.post("/api/me/chat", json=body, **kw)


def chat_ok(user, message, conversation_id=None) -> dict:
    r = chat(user, message, conversation_id)
    assert_status(r, 200)
    body = r.json()
    assert set(body) == ANSWER_KEYS, body
    assert isinstance(body["conversation_id"], int) and body["conversation_id"] > 0, body
    assert isinstance(body["response"], str) and body["response"], body
    assert isinstance(body["tool_calls"], list), body
    return body


def stream(user, message, conversation_id=None):
    body = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    r = user.post("/api/me/chat", json=body, headers={"Accept": "text/event-stream"}, stream=True,
                  timeout=scaled(20))
    assert_status(r, 200)
    assert r.headers["Content-Type"].startswith("text/event-stream"), r.headers
    events = list(sse_events(r))
    r.close()
    return events


# --------------------------------------------------------------------------------------------
# Turns
# --------------------------------------------------------------------------------------------


def test_add_task_json(module_server):
    u = fresh_user(module_server)
    body = chat_ok(u, "add buy milk tomorrow at 5pm, high priority #shopping")
    assert [c["tool"] for c in body["tool_calls"]] == ["add_task"], body
    call = body["tool_calls"][0]
    assert set(call) == {"tool", "arguments", "result"}, call
    assert call["arguments"]["title"].lower() == "buy milk", call
    assert call["arguments"]["priority"] == "high" and call["arguments"]["tags"] == ["shopping"]
    assert "user_id" not in call["arguments"], "the assistant never supplies a user id"
    tasks = u.get("/api/me/tasks").json()
    assert len(tasks) == 1 and tasks[0]["title"].lower() == "buy milk", tasks
    t = tasks[0]
    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).date()
    assert t["due_at"] == f"{tomorrow}T17:00:00Z", t  # the user's zone is UTC by default
    assert t["priority"] == "high" and t["tags"] == ["shopping"], t
    assert "milk" in body["response"].lower(), body["response"]


def test_list_and_complete_by_title(module_server):
    u = fresh_user(module_server)
    u.create(title="Water the plants", priority="high")
    u.create(title="File taxes")
    body = chat_ok(u, "show my high priority tasks")
    assert body["tool_calls"][0]["tool"] == "list_tasks", body
    assert "Water the plants" in body["response"], body["response"]
    body = chat_ok(u, "complete water the plants")
    tools = [c["tool"] for c in body["tool_calls"]]
    assert tools[-1] == "complete_task", body
    done = [t for t in u.get("/api/me/tasks").json() if t["completed"]]
    assert [t["title"] for t in done] == ["Water the plants"], done


def test_not_understood_gets_help(module_server):
    u = fresh_user(module_server)
    body = chat_ok(u, "colorless green ideas sleep furiously")
    assert body["tool_calls"] == [], body
    assert "add" in body["response"].lower(), body["response"]


def test_users_time_zone_sets_tomorrow(module_server):
    """"tomorrow" is the user's tomorrow: in Pacific/Kiritimati (UTC+14) it is usually a
    different calendar day than in UTC; the task is due 09:00 there."""
    u = fresh_user(module_server)
    zone = "Pacific/Kiritimati"
    assert_status(u.patch("/api/auth/me", json={"timezone": zone}), 200)
    body = chat_ok(u, "add call mom tomorrow at 9am")
    assert body["tool_calls"][0]["tool"] == "add_task", body
    due = dt.datetime.fromisoformat(u.get("/api/me/tasks").json()[0]["due_at"].replace("Z", "+00:00"))
    local_now = dt.datetime.now(ZoneInfo(zone))
    want = dt.datetime.combine(local_now.date() + dt.timedelta(days=1), dt.time(9, 0),
                               ZoneInfo(zone))
    assert due == want, (due, want)


def test_streamed_events_in_order(module_server):
    u = fresh_user(module_server)
    events = stream(u, "add eggs and bread")
    names = [e for e, _ in events]
    assert names[0] == "start" and names[-1] == "done", names
    assert names.count("done") == 1 and "error" not in names, names
    start, done = events[0][1], events[-1][1]
    assert isinstance(start["conversation_id"], int)
    assert set(done) == ANSWER_KEYS and done["conversation_id"] == start["conversation_id"], done
    calls = [d for e, d in events if e == "tool_call"]
    results = [d for e, d in events if e == "tool_result"]
    assert [c["tool"] for c in calls] == ["add_task", "add_task"], calls
    assert [r["id"] for r in results] == [c["id"] for c in calls]
    for c in calls:
        assert set(c) >= {"id", "tool", "arguments"} and isinstance(c["arguments"], dict), c
    for r in results:
        assert set(r) >= {"id", "result", "is_error"} and r["is_error"] is False, r
    # each tool_result follows its tool_call; text comes as deltas and adds up to the response
    for c in calls:
        assert names.index("tool_call") <= [i for i, (e, d) in enumerate(events)
                                            if e == "tool_result" and d["id"] == c["id"]][0]
    text = "".join(d["text"] for e, d in events if e == "delta")
    assert text == done["response"] and text, (text, done)
    assert [c["tool"] for c in done["tool_calls"]] == ["add_task", "add_task"]
    titles = sorted(t["title"].lower() for t in u.get("/api/me/tasks").json())
    assert titles == ["bread", "eggs"], titles


# --------------------------------------------------------------------------------------------
# Conversations
# --------------------------------------------------------------------------------------------


def test_conversation_history_title_rename_delete(module_server):
    u = fresh_user(module_server)
    first = chat_ok(u, "add renew passport next friday")
    cid = first["conversation_id"]
    second = chat_ok(u, "what's due this week", conversation_id=cid)
    assert second["conversation_id"] == cid
    other = chat_ok(u, "hello")
    assert other["conversation_id"] != cid
    r = u.get("/api/me/conversations")
    assert_status(r, 200)
    convs = r.json()
    assert [c["id"] for c in convs] == [other["conversation_id"], cid], convs
    assert r.headers["X-Total-Count"] == "2"
    assert convs[1]["title"] == "add renew passport next friday", convs  # the first message
    for c in convs:
        assert set(c) == {"id", "title", "created_at", "updated_at"}, c
    assert "Link" not in r.headers  # one page
    r = u.get("/api/me/conversations?limit=1&offset=1")
    assert [c["id"] for c in r.json()] == [cid]
    # The page envelope of the task list (handlers/paging.h): the previous page, no next one.
    assert r.headers["X-Total-Count"] == "2"
    assert r.headers["Link"] == '</api/me/conversations?limit=1&offset=0>; rel="prev"', r.headers
    r = u.get("/api/me/conversations?limit=1")
    assert r.headers["Link"] == '</api/me/conversations?limit=1&offset=1>; rel="next"', r.headers
    r = u.get(f"/api/me/conversations/{cid}")
    assert_status(r, 200)
    conv = r.json()
    msgs = conv["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"], msgs
    assert msgs[0]["content"] == "add renew passport next friday" and msgs[0]["tool_calls"] == []
    stored = msgs[1]["tool_calls"]
    assert [c["tool"] for c in stored] == ["add_task"], stored
    assert set(stored[0]) >= {"tool", "arguments", "result"} and stored[0]["result"], stored
    assert msgs[1]["content"] == first["response"]
    r = u.patch(f"/api/me/conversations/{cid}", json={"title": "  Passport  "})
    assert_status(r, 200)
    assert r.json()["title"] == "Passport"
    assert_422(u.patch(f"/api/me/conversations/{cid}", json={"title": ""}), ["body", "title"])
    assert_422(u.patch(f"/api/me/conversations/{cid}", json={"title": "x" * 201}), ["body", "title"])
    assert_422(u.patch(f"/api/me/conversations/{cid}", json={}), ["body", "title"])
    assert u.get(f"/api/me/conversations/{cid}").json()["title"] == "Passport"
    assert_status(u.delete(f"/api/me/conversations/{cid}"), 204)
    assert_error(u.get(f"/api/me/conversations/{cid}"), 404)
    assert_error(u.delete(f"/api/me/conversations/{cid}"), 404)
    assert_error(chat(u, "more", conversation_id=cid), 404)
    assert [c["id"] for c in u.get("/api/me/conversations").json()] == [other["conversation_id"]]


def test_isolation_on_every_route(module_server):
    a, b = fresh_user(module_server, "alice"), fresh_user(module_server, "bob")
    cid = chat_ok(a, "add secret plan")["conversation_id"]
    before = a.get(f"/api/me/conversations/{cid}").json()
    checked = set()
    for method, template in CONV_ROUTES:
        path = template.replace("{uid}", "me").replace("{cid}", str(cid))
        kw = {"json": {"title": "stolen"}} if method == "PATCH" else {}
        r = b.request(method, path, **kw)
        if "{cid}" in template:
            assert_error(r, 404)
        else:
            assert_status(r, 200)
            assert cid not in [c["id"] for c in r.json()]
        # the other user's id in the path is 403, whatever the route
        assert_error(b.request(method, template.replace("{uid}", a.id).replace("{cid}", str(cid)),
                               **kw), 403)
        checked.add((method, template))
    assert checked == set(CONV_ROUTES)
    # chatting into someone else's conversation is 404 and stores nothing
    assert_error(chat(b, "add my task", conversation_id=cid), 404)
    assert_error(b.post(f"/api/{a.id}/chat", json={"message": "hi"}), 403)
    assert a.get(f"/api/me/conversations/{cid}").json() == before
    assert b.get("/api/me/tasks").json() == []
    assert [t["title"].lower() for t in a.get("/api/me/tasks").json()] == ["secret plan"]


def test_personal_access_token_chats(module_server):
    u = signup(module_server)
    p = pat_user(u)
    body = chat_ok(p, "add water plants")
    assert body["tool_calls"][0]["tool"] == "add_task"
    assert [t["title"].lower() for t in u.get("/api/me/tasks").json()] == ["water plants"]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_bad_requests(module_server):
    u = fresh_user(module_server)
    for body, loc in [({}, ["body", "message"]), ({"message": ""}, ["body", "message"]),
                      ({"message": "   \n "}, ["body", "message"]),
                      ({"message": "x" * 4001}, ["body", "message"]),
                      ({"message": 5}, ["body", "message"]),
                      ({"message": "hi", "conversation_id": "abc"}, ["body", "conversation_id"]),
                      ({"message": "hi", "conversation_id": 0}, ["body", "conversation_id"]),
                      ({"message": "hi", "conversation_id": -3}, ["body", "conversation_id"]),
                      ({"message": "hi", "conversation_id": 1.5}, ["body", "conversation_id"])]:
        assert_422(u.post("/api/me/chat", json=body), loc)
    assert_422(u.post("/api/me/chat", json=["hi"]), ["body"])
    r = u.post("/api/me/chat", data=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    r = u.post("/api/me/chat", data=b"hi", headers={"Content-Type": "text/plain"})
    assert_error(r, 415)
    assert_error(chat(u, "hi", conversation_id=987654321), 404)
    assert_error(anon_request(module_server, "POST", "/api/me/chat", json={"message": "hi"}), 401)
    # 4000 characters (of any script) are accepted
    body = chat_ok(u, "é" * 4000)
    assert body["tool_calls"] == []
    # nothing was stored by the refused requests: one conversation, from the last one
    assert len(u.get("/api/me/conversations").json()) == 1


@pytest.fixture(scope="module")
def limited_server(request, todo_bin, backend, tmp_path_factory):
    _f, srv = start_module_server(request, todo_bin, backend, tmp_path_factory,
                                  env={"CHAT_RATE_LIMIT_PER_MINUTE": "3"})
    return srv


def test_rate_limit_per_user(limited_server):
    u, other = fresh_user(limited_server), fresh_user(limited_server)
    for _ in range(3):
        chat_ok(u, "hello")
    r = chat(u, "hello")
    assert_error(r, 429)
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60, r.headers
    chat_ok(other, "hello")  # per user, not per server


def test_config_check_shows_offline(cli):
    r = cli.run("config", "check", env={"OPENAI_API_KEY": None})
    assert r.returncode == 0, r.describe()
    assert "LLM_PROVIDER=" in r.stdout, r.stdout
