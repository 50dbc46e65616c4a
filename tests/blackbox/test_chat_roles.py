"""The assistant across roles (issue 12): the web role's proxy passes the chat's events on as
they come (unbuffered), and `serve --role agent` (seed 003's ai-agent, on AGENT_PORT) runs
the chat with its tools on the mcp role (on MCP_SERVER_PORT) over Streamable HTTP, forwarding
the caller's token — against the database the API uses."""

from __future__ import annotations

import json
import time

import pytest
import requests

from api_helpers import (NO_LIMIT, assert_error, assert_status, fresh_user, pat_user, signup,
                         sql_on)
from conftest import free_port
from fake_llm import FakeLLM, sse_events
from helpers import scaled


@pytest.fixture
def fake():
    with FakeLLM(hang_s=scaled(20)) as f:
        yield f


def llm_env(fake) -> dict:
    return {"LLM_PROVIDER": "custom", "LLM_BASE_URL": fake.url("/v1"), "LLM_MODEL": "scripted",
            "LLM_TIMEOUT_SECONDS": "5"}


def test_web_role_passes_events_unbuffered(servers, fake):
    api = servers.start(env={**NO_LIMIT, **llm_env(fake), "ROLE": "api"})
    web = servers.start(env={**NO_LIMIT, "ROLE": "web", "API_URL": api.base_url},
                        database_url=api.env["DATABASE_URL"])
    u = fresh_user(api)
    # four pieces of text, 0.6 s apart: the client must see the first long before the last
    fake.push({"pieces": ["One. ", "Two. ", "Three. ", "Four."], "delay": 0.6})
    t0 = time.monotonic()
    r = requests.post(web.url("/api/me/chat"), json={"message": "count"}, stream=True,
                      headers={**u.headers(), "Accept": "text/event-stream"}, timeout=scaled(20))
    assert_status(r, 200)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    arrivals = []
    for ev, data in sse_events(r):
        arrivals.append((ev, data, time.monotonic() - t0))
    names = [a[0] for a in arrivals]
    assert names[0] == "start" and names[-1] == "done", names
    deltas = [a for a in arrivals if a[0] == "delta"]
    assert len(deltas) == 4, deltas
    # the stream is not buffered to the end: a piece arrives ~0.6 s after the one before it
    assert deltas[-1][2] - deltas[0][2] >= 1.2, [d[2] for d in deltas]
    assert arrivals[-1][1]["response"] == "One. Two. Three. Four."


@pytest.fixture
def topology(servers):
    """The mcp role and the agent role on one database (and the API on it too, to look)."""
    mcp_port, agent_port = free_port(), free_port()
    mcp = servers.start(env={**NO_LIMIT, "ROLE": "mcp", "PORT": str(mcp_port),
                             "MCP_SERVER_PORT": str(mcp_port)})
    db = mcp.env["DATABASE_URL"]
    api = servers.start(env={**NO_LIMIT, "ROLE": "api"}, database_url=db)
    return servers, db, mcp, api, agent_port


def start_agent(topology, env: dict):
    servers, db, mcp, api, port = topology
    # PORT is ignored by the agent role: AGENT_PORT is where it listens
    return servers.start(env={**NO_LIMIT, "ROLE": "agent", "PORT": str(port),
                              "AGENT_PORT": str(port), "MCP_SERVER_URL": mcp.url("/mcp"),
                              **env}, database_url=db)


def titles(api, user) -> list:
    r = requests.get(api.url("/api/me/tasks"), headers=user.headers(), timeout=scaled(5))
    assert_status(r, 200)
    return sorted(t["title"].lower() for t in r.json())


def test_agent_role_offline_through_mcp(topology):
    servers, db, mcp, api, port = topology
    agent = start_agent(topology, {})
    assert agent.port == port
    u = fresh_user(agent)
    r = u.post("/api/me/chat", json={"message": "add milk and eggs"})
    assert_status(r, 200)
    body = r.json()
    assert [c["tool"] for c in body["tool_calls"]] == ["add_task", "add_task"], body
    assert titles(api, u) == ["eggs", "milk"]
    # the MCP server saw the calls as this user: the tasks are theirs
    assert all(c["result"]["task"]["user_id"] == u.id for c in body["tool_calls"]), body
    # streamed, with the conversation continued
    r = u.post("/api/me/chat", json={"message": "what's pending?",
                                     "conversation_id": body["conversation_id"]},
               headers={"Accept": "text/event-stream"}, stream=True, timeout=scaled(20))
    names = [e for e, _ in sse_events(r)]
    assert names[0] == "start" and "tool_call" in names and names[-1] == "done", names
    conv = u.get(f"/api/me/conversations/{body['conversation_id']}").json()
    assert len(conv["messages"]) == 4
    # the agent serves the chat and its conversations only
    for path in ("/api/me/tasks", "/api/auth/me", "/mcp", "/openapi.json"):
        r = u.get(path)
        assert r.status_code == 404, (path, r.status_code)
    assert agent.get("/health").status_code == 200 and agent.get("/ready").status_code == 200


def test_agent_role_with_a_model_and_a_personal_access_token(topology, fake):
    servers, db, mcp, api, port = topology
    agent = start_agent(topology, llm_env(fake))
    owner = signup(api)
    other = fresh_user(api)
    requests.post(api.url("/api/me/tasks"), json={"title": "other's secret"},
                  headers=other.headers(), timeout=scaled(5))
    u = pat_user(owner)
    u.srv = agent
    fake.push({"calls": [("add_task", json.dumps({"title": "via mcp", "user_id": other.id})),
                         ("list_tasks", json.dumps({"user_id": other.id}))]},
              {"text": "Added via mcp."})
    r = u.post("/api/me/chat", json={"message": "add via mcp"})
    assert_status(r, 200)
    body = r.json()
    assert body["response"] == "Added via mcp."
    assert titles(api, owner) == ["via mcp"]
    assert titles(api, other) == ["other's secret"]
    assert "other's secret" not in json.dumps(body["tool_calls"][1]["result"])
    # the model was offered the MCP server's tools
    names = {t["function"]["name"] for t in fake.completions()[0]["body"]["tools"]}
    assert {"add_task", "list_tasks", "complete_task"} <= names, names
    # a bad token never reaches the tools
    r = requests.post(agent.url("/api/me/chat"), json={"message": "add x"},
                      headers={"Authorization": "Bearer todo_pat_" + "x" * 43}, timeout=scaled(5))
    assert_error(r, 401)


def test_agent_role_without_its_mcp_server_is_503(servers, fake):
    dead = free_port()
    port = free_port()
    agent = servers.start(env={**NO_LIMIT, "ROLE": "agent", "AGENT_PORT": str(port),
                               "PORT": str(port), "MCP_SERVER_URL": f"http://127.0.0.1:{dead}/mcp"})
    u = fresh_user(agent)
    r = u.post("/api/me/chat", json={"message": "add milk"}, timeout=scaled(20))
    body = assert_error(r, 503)
    cid = body["conversation_id"]
    msgs = u.get(f"/api/me/conversations/{cid}").json()["messages"]
    assert msgs[0]["content"] == "add milk", msgs


def paths_served(srv) -> list:
    out = []
    for line in srv.logs().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("msg") == "request":
            out.append(rec.get("path"))
    return out


def test_web_role_sends_the_chat_to_agent_url(topology):
    """Seed 003 behind its frontend: with AGENT_URL the web role sends /api/{user}/chat and
    /api/{user}/conversations… to the agent role, and everything else to API_URL."""
    servers, db, mcp, api, port = topology
    agent = start_agent(topology, {})
    web = servers.start(env={**NO_LIMIT, "ROLE": "web", "API_URL": api.base_url,
                             "AGENT_URL": agent.base_url + "/"}, database_url=db)
    u = fresh_user(api)
    u.srv = web
    r = u.post("/api/me/chat", json={"message": "add buy milk"})
    assert_status(r, 200)
    cid = r.json()["conversation_id"]
    r = requests.post(web.url(f"/api/{u.id}/chat"), json={"message": "what's pending?", "conversation_id": cid},
                      headers={**u.headers(), "Accept": "text/event-stream"}, stream=True, timeout=scaled(20))
    names = [e for e, _ in sse_events(r)]
    assert names[0] == "start" and names[-1] == "done", names
    assert_status(u.get("/api/me/conversations"), 200)
    assert_status(u.get(f"/api/me/conversations/{cid}"), 200)
    assert_status(u.get("/api/me/tasks"), 200)
    assert_status(u.get("/api/me/chatter"), 404)
    deadline = time.monotonic() + scaled(5)
    want_agent = ["/api/me/chat", f"/api/{u.id}/chat", "/api/me/conversations", f"/api/me/conversations/{cid}"]
    want_api = ["/api/me/tasks", "/api/me/chatter"]
    # a request's log line is written once its answer is sent: wait (bounded) for them all
    while time.monotonic() < deadline and not (all(p in paths_served(agent) for p in want_agent)
                                               and all(p in paths_served(api) for p in want_api)):
        time.sleep(0.05)
    served_by_agent, served_by_api = paths_served(agent), paths_served(api)
    assert all(p in served_by_agent for p in want_agent), served_by_agent
    assert not any(p in served_by_api for p in want_agent), served_by_api
    assert "/api/me/tasks" in served_by_api and "/api/me/chatter" in served_by_api, served_by_api
    assert "/api/me/tasks" not in served_by_agent
    # the agent's tools ran on the mcp role against the one database: the API sees the task
    assert titles(api, u) == ["buy milk"]
