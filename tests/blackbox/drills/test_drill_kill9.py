"""Fault drill: kill -9 the server in the middle of a write load (creates with tags,
completions, chat turns with the offline assistant), restart it on the same database, and
check that every request answered 2xx is there — and nothing half-written: every task that
exists carries all of its tags and its description, every conversation a 2xx turn named
holds that turn's user message and the assistant's answer. On SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import sqlite3
import time
import uuid

import pytest

from api_helpers import fresh_user
from drill_load import Load, Outcome, record, summary, timed
from helpers import scaled, wait_until

ENV = {"CHAT_RATE_LIMIT_PER_MINUTE": "1000000", "WORKERS": "4", "LLM_PROVIDER": "offline"}
THREADS = 6
USERS = 3
KILL_AFTER_OK = 1500  # 2xx answers before the kill (bounded by LOAD_SECONDS anyway)
LOAD_SECONDS = 60


def _tags(title: str) -> list:
    return ["drill", "t" + title.rsplit("-", 1)[-1][:8]]


def test_kill_9_during_writes_loses_no_answered_request(servers, backend):
    db = servers.new_database_url()
    srv = servers.start(env=ENV, database_url=db)
    users = [fresh_user(srv, f"kill9-{i}") for i in range(USERS)]
    created: dict = {i: [] for i in range(THREADS)}  # per thread: ids it may complete

    def step(i: int, n: int) -> Outcome:
        user = users[i % USERS]
        mine = created[i]
        kind = ("create", "create", "complete", "chat")[n % 4]
        if kind == "complete" and mine:
            tid = mine.pop(0)
            return timed("complete", lambda: user.patch(f"/api/me/tasks/{tid}/complete",
                                                        timeout=scaled(10)),
                         {"user": user, "id": tid})
        if kind == "chat":
            word = uuid.uuid4().hex[:10]
            msg = f"add errand {word}"
            out = timed("chat", lambda: user.post("/api/me/chat", json={"message": msg},
                                                  timeout=scaled(10)),
                        {"user": user, "message": msg, "word": word}, keep_body=True)
            return out
        title = f"drill task {i}-{n}-{uuid.uuid4().hex[:8]}"
        body = {"title": title, "description": "d" * 200, "tags": _tags(title), "priority": "high"}
        out = timed("create", lambda: user.post("/api/me/tasks", json=body, timeout=scaled(10)),
                    {"user": user, "title": title}, keep_body=True)
        if out.ok and isinstance(out.body, dict):
            mine.append(out.body["id"])
        return out

    load = Load(step, THREADS, scaled(LOAD_SECONDS)).start()
    reached = wait_until(lambda: load.count() >= KILL_AFTER_OK, scaled(LOAD_SECONDS),
                         interval=0.02, max_polls=100_000)
    kill_at = time.monotonic()
    srv.send_signal(signal.SIGKILL)
    assert srv.wait_exit(10) == -signal.SIGKILL
    outcomes = load.stop()
    assert reached, f"only {load.count()} writes answered 2xx before the load's deadline"
    before_kill = [o for o in outcomes if o.started < kill_at]
    unanswered = [o for o in outcomes if o.status is None]
    bad = [(o.kind, o.status, o.info.get("error_body")) for o in outcomes
           if o.status is not None and not o.ok]
    assert not bad, f"answers other than 2xx before the kill: {bad[:10]}"

    if backend.name == "sqlite":
        path = db.removeprefix("sqlite:///")
        con = sqlite3.connect(path)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            con.close()

    t0 = time.monotonic()
    srv2 = servers.start(env=ENV, database_url=db)
    assert srv2.wait_ready() == 200
    restart_s = time.monotonic() - t0
    for u in users:
        u.srv = srv2

    # Everything the users own, as the restarted server sees it.
    tasks = {}
    for u in users:
        for offset in range(0, 100_000, 200):
            r = u.get("/api/me/tasks", params={"limit": 200, "offset": offset, "status": "all"})
            assert r.status_code == 200, r.text
            page = r.json()
            for t in page:
                tasks[t["id"]] = t
            if len(page) < 200:
                break
    by_title = {t["title"]: t for t in tasks.values()}

    ok = [o for o in outcomes if o.ok]
    for o in ok:
        if o.kind == "create":
            t = by_title.get(o.info["title"])
            assert t is not None, f"task answered 201 is gone after kill -9: {o.info['title']}"
            assert t["id"] == o.body["id"]
        elif o.kind == "complete":
            t = tasks.get(o.info["id"])
            assert t is not None and t["completed"], f"completion answered 200 is lost: {t}"
        elif o.kind == "chat":
            assert any(o.info["word"] in t["title"] for t in tasks.values()), \
                f"the task of an answered chat turn is gone: {o.info['message']}"
            cid = o.body["conversation_id"]
            r = o.info["user"].get(f"/api/me/conversations/{cid}")
            assert r.status_code == 200, f"conversation {cid} of an answered turn: {r.status_code}"
            msgs = r.json()["messages"]
            contents = [(m["role"], m["content"]) for m in msgs]
            assert ("user", o.info["message"]) in contents, contents
            assert ("assistant", o.body["response"]) in contents, contents
    # Nothing half-written: every task of the load (answered or not) is whole.
    for t in tasks.values():
        if t["title"].startswith("drill task "):
            assert sorted(t["tags"]) == sorted(_tags(t["title"])), t
            assert t["description"] == "d" * 200 and t["priority"] == "high", t
    # The restarted server takes writes.
    assert users[0].post("/api/me/tasks", json={"title": "after the restart"}).status_code == 201

    s = summary(before_kill)
    record(f"kill-9 during writes ({backend.name})", **s,
           creates_2xx=sum(1 for o in ok if o.kind == "create"),
           completes_2xx=sum(1 for o in ok if o.kind == "complete"),
           chats_2xx=sum(1 for o in ok if o.kind == "chat"),
           unanswered_at_kill=len(unanswered), verified_2xx=len(ok), tasks_after=len(tasks),
           restart_to_ready_ms=round(restart_s * 1000))
