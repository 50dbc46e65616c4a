"""The MCP tools (issue 11), called through the official Python SDK: every tool with the
hackathon's parameter names and result shapes plus the extended fields, structured content
that matches each tool's output schema and the same JSON as text, tool errors a model can act
on (isError), and isolation — one user's tools never see or change another user's tasks,
whatever user_id they are given."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    _attach_module_server_logs, assert_error, assert_status, fresh_user, module_server,
    pat_user, signup, unique_email,
)
from mcp_helpers import Raw, http_client, run, structured, tool_error


@pytest.fixture(scope="module")
def schemas(module_server):
    user = fresh_user(module_server)
    raw = Raw(module_server, user.token)
    raw.initialize()
    tools = raw.request("tools/list").json()["result"]["tools"]
    return {t["name"]: t for t in tools}


def check_output(schemas, tool, value):
    errors = list(Draft202012Validator(schemas[tool]["outputSchema"]).iter_errors(value))
    assert not errors, f"{tool}: {errors[0].message} in {value}"


def calls(srv, token, steps):
    """Runs [(tool, args), …] in one SDK session; returns the results."""
    async def go():
        async with http_client(srv.url("/mcp"), token) as c:
            return [await c.call_tool(name, args) for name, args in steps]
    return run(go())


def one(srv, token, tool, args=None):
    return calls(srv, token, [(tool, args or {})])[0]


# --- every tool -------------------------------------------------------------------------------


def test_add_task_hackathon_shape_and_extended_fields(module_server, schemas):
    u = fresh_user(module_server)
    res = structured(one(module_server, u.token, "add_task",
                         {"user_id": u.id, "title": "Buy milk", "description": "2 litres"}))
    check_output(schemas, "add_task", res)
    assert res["status"] == "created" and res["title"] == "Buy milk"
    assert isinstance(res["task_id"], int) and res["task"]["id"] == res["task_id"]
    assert res["task"]["description"] == "2 litres" and res["task"]["user_id"] == u.id
    rich = structured(one(module_server, u.token, "add_task", {
        "title": "Water plants", "priority": "high", "tags": ["home", "garden"],
        "due_at": "2030-05-01T17:00:00+02:00", "remind_at": "2030-05-01",
        "recurrence": "weekly", "recurrence_interval": 2}))
    t = rich["task"]
    assert (t["priority"], t["tags"], t["due_at"], t["remind_at"], t["recurrence"],
            t["recurrence_interval"]) == ("high", ["home", "garden"], "2030-05-01T15:00:00Z",
                                          "2030-05-01T00:00:00Z", "weekly", 2)
    assert_status(u.task(rich["task_id"]), 200)


def test_list_tasks_status_filters_sort_and_paging(module_server, schemas):
    u = fresh_user(module_server)
    ids = {}
    for title, extra in (("alpha", {"priority": "low", "tags": ["x"]}),
                         ("bravo", {"priority": "high", "due_at": "2020-01-01"}),
                         ("charlie", {"priority": "high", "tags": ["x", "y"]}),
                         ("delta milk", {"description": "with MILK"})):
        ids[title] = u.create(title=title, **extra)["id"]
    u.patch(f"/api/me/tasks/{ids['alpha']}/complete", json={"completed": True})

    def listed(**args):
        res = structured(one(module_server, u.token, "list_tasks", args))
        check_output(schemas, "list_tasks", res)
        return res
    everything = listed()
    assert everything["total"] == 4 and len(everything["tasks"]) == 4
    assert everything["next_offset"] is None
    assert {t["title"] for t in listed(status="pending")["tasks"]} == {
        "bravo", "charlie", "delta milk"}
    assert [t["title"] for t in listed(status="completed")["tasks"]] == ["alpha"]
    assert {t["title"] for t in listed(priority="high")["tasks"]} == {"bravo", "charlie"}
    assert {t["title"] for t in listed(tag="x")["tasks"]} == {"alpha", "charlie"}
    assert [t["title"] for t in listed(tag=["x", "y"])["tasks"]] == ["charlie"]
    assert [t["title"] for t in listed(search="milk")["tasks"]] == ["delta milk"]
    assert [t["title"] for t in listed(overdue=True)["tasks"]] == ["bravo"]
    assert [t["title"] for t in listed(due_before="2021-01-01")["tasks"]] == ["bravo"]
    assert [t["title"] for t in listed(sort="title", order="asc")["tasks"]] == [
        "alpha", "bravo", "charlie", "delta milk"]
    page = listed(sort="title", order="asc", limit=3)
    assert [t["title"] for t in page["tasks"]] == ["alpha", "bravo", "charlie"]
    assert page["total"] == 4 and page["next_offset"] == 3
    rest = listed(sort="title", order="asc", limit=3, offset=page["next_offset"])
    assert [t["title"] for t in rest["tasks"]] == ["delta milk"] and rest["next_offset"] is None
    for bad in ({"status": "done"}, {"limit": 0}, {"limit": 201}, {"sort": "random"},
                {"due_before": "next week"}, {"overdue": "yes"}, {"tag": ""}, {"offset": -1}):
        msg = tool_error(one(module_server, u.token, "list_tasks", bad))
        assert list(bad)[0] in msg, (bad, msg)


def test_get_complete_update_delete(module_server, schemas):
    u = fresh_user(module_server)
    tid = u.create(title="weekly review", due_at="2030-01-07T09:00:00Z",
                   recurrence="weekly")["id"]
    got = structured(one(module_server, u.token, "get_task", {"task_id": tid}))
    check_output(schemas, "get_task", got)
    assert got["id"] == tid and got["title"] == "weekly review"
    done = structured(one(module_server, u.token, "complete_task", {"task_id": tid}))
    check_output(schemas, "complete_task", done)
    assert (done["task_id"], done["status"], done["title"]) == (tid, "completed", "weekly review")
    assert done["task"]["completed"] is True
    nxt = done["next_task"]
    assert nxt["due_at"] == "2030-01-14T09:00:00Z" and nxt["completed"] is False
    again = structured(one(module_server, u.token, "complete_task", {"task_id": tid}))
    assert again["next_task"] is None  # idempotent: no second occurrence
    assert len(u.list_ids(limit=200)) == 2
    upd = structured(one(module_server, u.token, "update_task", {
        "task_id": nxt["id"], "title": "weekly review v2", "description": None,
        "priority": "low", "tags": ["work"]}))
    check_output(schemas, "update_task", upd)
    assert (upd["status"], upd["title"], upd["task"]["priority"], upd["task"]["tags"]) == (
        "updated", "weekly review v2", "low", ["work"])
    cleared = structured(one(module_server, u.token, "update_task",
                             {"task_id": nxt["id"], "due_at": None, "tags": None}))
    assert cleared["task"]["due_at"] is None and cleared["task"]["tags"] == []
    assert cleared["task"]["title"] == "weekly review v2"  # untouched fields stay
    gone = structured(one(module_server, u.token, "delete_task", {"task_id": tid}))
    check_output(schemas, "delete_task", gone)
    assert (gone["task_id"], gone["status"], gone["title"]) == (tid, "deleted", "weekly review")
    assert_error(u.task(tid), 404)


def test_task_ids_may_be_written_as_text(module_server):
    u = fresh_user(module_server)
    tid = u.create(title="t")["id"]
    got = structured(one(module_server, u.token, "get_task", {"task_id": str(tid)}))
    assert got["id"] == tid
    for bad in ("+1", "01", "abc", 0, -3, 1.5, None, True):
        msg = tool_error(one(module_server, u.token, "get_task", {"task_id": bad}))
        assert "task_id" in msg, (bad, msg)


def test_list_tags_and_task_stats(module_server, schemas):
    u = fresh_user(module_server)
    u.create(title="a", tags=["home", "Garden"])
    u.create(title="b", tags=["home"], due_at="2020-01-01")
    done = u.create(title="c")
    u.patch(f"/api/me/tasks/{done['id']}/complete", json={"completed": True})
    tags = structured(one(module_server, u.token, "list_tags"))
    check_output(schemas, "list_tags", tags)
    assert tags["tags"][0] == {"name": "home", "count": 2}
    assert {t["name"] for t in tags["tags"]} == {"home", "Garden"}
    stats = structured(one(module_server, u.token, "task_stats", {"user_id": "whoever"}))
    check_output(schemas, "task_stats", stats)
    assert stats == {"total": 3, "completed": 1, "pending": 2, "overdue": 1, "due_today": 0}
    assert stats == u.get("/api/me/tasks/stats").json()


# --- tool errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("tool,args,mentions", [
    ("add_task", {}, "title"),
    ("add_task", {"title": ""}, "title"),
    ("add_task", {"title": "x" * 201}, "title"),
    ("add_task", {"title": "ok", "priority": "urgent"}, "priority"),
    ("add_task", {"title": "ok", "due_at": "tomorrow"}, "due_at"),
    ("add_task", {"title": "ok", "tags": ["a", "A"]}, "tags"),
    ("add_task", {"title": "ok", "recurrence": "hourly"}, "recurrence"),
    ("add_task", {"title": "ok", "due_date": "2030-01-01"}, "due_date"),
    ("update_task", {"title": "no id"}, "task_id"),
    ("update_task", {"task_id": 1}, "field"),
    ("get_task", {}, "task_id"),
    ("list_tags", {"extra": 1}, "extra"),
])
def test_bad_arguments_are_tool_errors_that_say_what_is_wrong(module_server, tool, args,
                                                              mentions):
    u = fresh_user(module_server)
    msg = tool_error(one(module_server, u.token, tool, args))
    assert mentions in msg, msg
    assert u.list_ids(limit=200) == []  # nothing was made


@pytest.mark.parametrize("tool", ["get_task", "complete_task", "delete_task", "update_task"])
def test_missing_task_is_a_tool_error(module_server, tool):
    u = fresh_user(module_server)
    args = {"task_id": 987654321}
    if tool == "update_task":
        args["title"] = "x"
    msg = tool_error(one(module_server, u.token, tool, args))
    assert "987654321" in msg and "not found" in msg.lower()


def test_results_are_valid_for_the_raw_protocol_too(module_server):
    """The wire form: content[0] is text holding the JSON of structuredContent; errors carry
    isError true and no structuredContent."""
    u = fresh_user(module_server)
    raw = Raw(module_server, u.token)
    raw.initialize()
    ok = raw.call("add_task", {"title": "wire"})
    assert ok["isError"] is False and ok["content"][0]["type"] == "text"
    assert json.loads(ok["content"][0]["text"]) == ok["structuredContent"]
    bad = raw.call("get_task", {"task_id": 424242})
    assert bad["isError"] is True and "structuredContent" not in bad


# --- isolation --------------------------------------------------------------------------------


def _snapshot(user):
    lst = user.list(limit=200, sort="created", order="asc")
    assert_status(lst, 200)
    return {"tasks": lst.json(), "tags": user.get("/api/me/tags").json(),
            "stats": user.get("/api/me/tasks/stats").json()}


def test_tools_never_see_or_change_another_users_tasks(module_server):
    a = signup(module_server, email=unique_email("mcp-owner"), name="A")
    b = signup(module_server, email=unique_email("mcp-intruder"), name="B")
    secret = a.create(title="A's secret", description="private", tags=["a-only"],
                      priority="high", due_at="2020-01-01", recurrence="daily")
    before = _snapshot(a)
    tid = secret["id"]
    steps = [
        ("list_tasks", {"user_id": a.id}),
        ("list_tasks", {"user_id": a.id, "search": "secret"}),
        ("list_tasks", {"user_id": a.id, "tag": "a-only", "overdue": True}),
        ("get_task", {"user_id": a.id, "task_id": tid}),
        ("complete_task", {"user_id": a.id, "task_id": tid}),
        ("update_task", {"user_id": a.id, "task_id": tid, "title": "hacked"}),
        ("delete_task", {"user_id": a.id, "task_id": tid}),
        ("list_tags", {"user_id": a.id}),
        ("task_stats", {"user_id": a.id}),
        ("add_task", {"user_id": a.id, "title": "planted by B"}),
    ]
    results = dict(zip([f"{n}{i}" for i, (n, _a) in enumerate(steps)],
                       calls(module_server, b.token, steps)))
    for key, res in results.items():
        text = json.dumps([c.text for c in res.content if c.type == "text"])
        assert "secret" not in text and "private" not in text and "a-only" not in text, (key,
                                                                                          text)
    for key in ("get_task3", "complete_task4", "update_task5", "delete_task6"):
        assert "not found" in tool_error(results[key]).lower(), key
    assert structured(results["list_tasks0"])["total"] == 0
    assert structured(results["task_stats8"])["total"] == 0
    assert structured(results["list_tags7"])["tags"] == []
    planted = structured(results["add_task9"])
    assert planted["task"]["user_id"] == b.id  # made for B, whatever user_id said
    assert _snapshot(a) == before
    assert_status(a.task(tid), 200)
    assert a.task(tid).json() == secret
    # a personal access token is its user too
    b_pat = pat_user(b, "B's client")
    res = one(module_server, b_pat.token, "get_task", {"user_id": a.id, "task_id": tid})
    assert "not found" in tool_error(res).lower()
    assert _snapshot(a) == before


def test_a_foreign_user_id_is_ignored_and_logged_at_debug(servers):
    """user_id never selects the user; a value other than the caller's is logged at DEBUG
    (with the tool and the caller, never anything of the other account's)."""
    srv = servers.start(env={"RATE_LIMIT_PER_MINUTE": "100000", "LOG_LEVEL": "DEBUG"})
    me, other = fresh_user(srv, "dbg-me"), fresh_user(srv, "dbg-other")

    def ignored():
        recs, _bad = srv.log_records()
        return [r for r in recs if "user_id ignored" in r.get("msg", "")]
    made = structured(one(srv, me.token, "add_task", {"user_id": me.id, "title": "mine"}))
    assert made["task"]["user_id"] == me.id
    structured(one(srv, me.token, "task_stats", {}))
    assert ignored() == []  # the caller's own id, or none: nothing to say
    res = structured(one(srv, me.token, "add_task", {"user_id": other.id, "title": "still mine"}))
    assert res["task"]["user_id"] == me.id
    assert other.list_ids(limit=200) == []
    recs = ignored()
    assert len(recs) == 1 and recs[0]["level"] == "DEBUG", recs
    assert recs[0]["tool"] == "add_task" and recs[0]["user_id"] == me.id, recs
    assert other.id not in json.dumps(recs)
    structured(one(srv, me.token, "list_tasks", {"user_id": 42}))  # not even a string
    assert [r["tool"] for r in ignored()] == ["add_task", "list_tasks"]


def test_tool_schemas_are_the_rest_apis_fields(module_server, schemas):
    """The tools' arguments come from the task schema the REST API is described by: the
    same fields, types, bounds and enums as OpenAPI's TaskCreate, TaskUpdate and the list's
    query parameters (task_id and the ignored user_id added)."""
    doc = module_server.get("/openapi.json").json()
    comps = doc["components"]["schemas"]

    def resolve(s):
        while isinstance(s, dict) and "$ref" in s:
            extra = {k: v for k, v in s.items() if k != "$ref"}
            s = {**comps[s["$ref"].rsplit("/", 1)[1]], **extra}
        return s
    for tool, schema, extra in (("add_task", "TaskCreate", {"user_id"}),
                                ("update_task", "TaskUpdate", {"user_id", "task_id"})):
        rest = resolve(comps[schema])["properties"]
        props = schemas[tool]["inputSchema"]["properties"]
        assert set(props) == set(rest) | extra, (tool, sorted(props), sorted(rest))
        for name, spec in rest.items():
            spec = resolve(spec)
            for key in ("type", "enum", "maxLength", "minLength", "maxItems", "minimum",
                        "maximum"):
                if key in spec:
                    assert props[name].get(key) == spec[key], (tool, name, key, props[name])
    params = {p["name"]: p for p in doc["paths"]["/api/{user_id}/tasks"]["get"]["parameters"]
              if "name" in p and p.get("in") == "query"}
    props = schemas["list_tasks"]["inputSchema"]["properties"]
    assert set(props) == set(params) | {"user_id"}, (sorted(props), sorted(params))
    for name in ("status", "priority", "sort", "order"):
        assert props[name]["enum"] == resolve(params[name]["schema"])["enum"], name
    for key in ("minimum", "maximum"):
        assert props["limit"].get(key) == resolve(params["limit"]["schema"]).get(key)


@pytest.mark.postgres_only
def test_parallel_tool_calls_on_one_task_race_safely(servers):
    """Many MCP clients at once on PostgreSQL: completing one recurring task makes exactly
    one next occurrence, and deleting one task reports it deleted exactly once (the rest are
    tool errors), whatever the interleaving."""
    import threading

    import requests as rq
    srv = servers.start(env={"RATE_LIMIT_PER_MINUTE": "100000", "WORKERS": "16",
                             "DATABASE_POOL_SIZE": "16", "DATABASE_MAX_OVERFLOW": "4"})
    u = fresh_user(srv, "mcp-race")
    n = 12
    clients = []
    for _ in range(n):
        r = Raw(srv, u.token)
        r.initialize()
        clients.append(r)

    def at_once(tool, args):
        barrier, out = threading.Barrier(n), [None] * n

        def go(i):
            try:
                barrier.wait(timeout=30)
                out[i] = clients[i].call(tool, args)
            except (AssertionError, rq.RequestException, threading.BrokenBarrierError) as e:
                out[i] = e
        threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert all(isinstance(x, dict) for x in out), out
        return out
    for _round in range(3):
        t = u.create(title="water the plants", due_at="2030-03-01T08:00:00Z",
                     recurrence="daily")
        done = at_once("complete_task", {"task_id": t["id"]})
        assert all(not x["isError"] for x in done), done
        nexts = [x["structuredContent"]["next_task"] for x in done
                 if x["structuredContent"]["next_task"]]
        assert len(nexts) == 1, f"{len(nexts)} next occurrences reported"
        pending = [x for x in u.list(search="water the plants", status="pending",
                                     limit=200).json()]
        assert [x["id"] for x in pending] == [nexts[0]["id"]], pending
        gone = at_once("delete_task", {"task_id": nexts[0]["id"]})
        assert sum(1 for x in gone if not x["isError"]) == 1, gone
        assert all("not found" in x["content"][0]["text"] for x in gone if x["isError"])
        u.delete(f"/api/me/tasks/{t['id']}")
