"""The agent loop against a scripted OpenAI-compatible server (tests/blackbox/fake_llm.py) on
loopback, driving the real binary end to end (issue 12): tool calls (one, parallel, streamed
in fragments split mid-argument), invalid arguments, a model that names another user's id,
retries after 429 and 5xx, a provider that never answers (504, while other requests keep
their latency), one that disconnects mid-stream, history on the second turn, the system
prompt, the round limit, the size cap, SSE event order and a client that disconnects
mid-stream, and each provider's base URL and Authorization header."""

from __future__ import annotations

import datetime as dt
import json
import socket
import statistics
import threading
import time

import pytest
import requests

from api_helpers import (assert_error, assert_status, fresh_user, start_module_server,
                         _attach_module_server_logs)  # noqa: F401
from fake_llm import FakeLLM, sse_events
from helpers import scaled, wait_until

TIMEOUT_S = 3  # LLM_TIMEOUT_SECONDS of these servers


@pytest.fixture(scope="module")
def fake():
    with FakeLLM(hang_s=scaled(TIMEOUT_S * 4)) as f:
        yield f


@pytest.fixture(scope="module")
def module_server(request, todo_bin, backend, tmp_path_factory, fake):
    _f, srv = start_module_server(request, todo_bin, backend, tmp_path_factory, env={
        "LLM_PROVIDER": "custom", "LLM_BASE_URL": fake.url("/v1"), "LLM_MODEL": "scripted-model",
        "LLM_API_KEY": "test-key-0123456789", "LLM_TIMEOUT_SECONDS": str(TIMEOUT_S),
        "AGENT_NAME": "Jarvis", "AGENT_INSTRUCTIONS": "Always answer in one short sentence.",
        "MAX_TOKENS": "321", "TEMPERATURE": "0.25", "CHAT_RATE_LIMIT_PER_MINUTE": "1000"})
    return srv


@pytest.fixture(autouse=True)
def _clean_script(fake):
    with fake.lock:
        fake.script.clear()
        fake.responder = None
        fake.requests.clear()
    yield


def chat(user, message, conversation_id=None, **kw):
    body = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    kw.setdefault("timeout", scaled(TIMEOUT_S * 4 + 10))
    return user.post("/api/me/chat", json=body, **kw)


def chat_ok(user, message, conversation_id=None) -> dict:
    r = chat(user, message, conversation_id)
    assert_status(r, 200)
    return r.json()


def messages_of(req) -> list:
    return req["body"]["messages"]


# --------------------------------------------------------------------------------------------
# Tool calls
# --------------------------------------------------------------------------------------------


def test_one_tool_call(module_server, fake):
    u = fresh_user(module_server)
    fake.push({"calls": [("add_task", '{"title": "buy milk", "priority": "high"}')]},
              {"text": "Added buy milk."})
    body = chat_ok(u, "add buy milk, high priority")
    assert body["response"] == "Added buy milk."
    assert [c["tool"] for c in body["tool_calls"]] == ["add_task"]
    call = body["tool_calls"][0]
    assert call["arguments"] == {"title": "buy milk", "priority": "high"}
    tid = call["result"].get("task_id", call["result"].get("id"))
    tasks = u.get("/api/me/tasks").json()
    assert [(t["id"], t["title"], t["priority"]) for t in tasks] == [(tid, "buy milk", "high")]
    reqs = fake.completions()
    assert len(reqs) == 2
    first = reqs[0]["body"]
    assert first["model"] == "scripted-model" and first["stream"] is True
    assert first["max_tokens"] == 321 and abs(first["temperature"] - 0.25) < 1e-9
    names = {t["function"]["name"] for t in first["tools"]}
    assert {"add_task", "list_tasks", "complete_task", "delete_task", "update_task"} <= names
    for t in first["tools"]:
        assert t["type"] == "function" and t["function"]["parameters"]["type"] == "object"
        assert "user_id" not in t["function"]["parameters"].get("required", []), t
    assert first["tool_choice"] == "auto"
    # the follow-up carries the assistant's tool call and the tool's answer, matched by id
    m = messages_of(reqs[1])
    asst = [x for x in m if x["role"] == "assistant" and x.get("tool_calls")][-1]
    tool = [x for x in m if x["role"] == "tool"][-1]
    assert tool["tool_call_id"] == asst["tool_calls"][0]["id"]
    assert json.loads(tool["content"]).get("title") == "buy milk", tool


def test_parallel_calls_and_split_arguments(module_server, fake):
    u = fresh_user(module_server)
    args1 = json.dumps({"title": 'say "hi" to café', "tags": ["home"]}, ensure_ascii=False)
    args2 = '{"title": "eggs"}'
    cut = args1.index("\\") + 1  # between a backslash and the quote it escapes
    fake.push({"calls": [("add_task", args1), ("add_task", args2)], "split": [3, cut, cut + 4, 20]},
              {"text": "Added both."})
    body = chat_ok(u, "add two things")
    assert [c["tool"] for c in body["tool_calls"]] == ["add_task", "add_task"]
    assert body["tool_calls"][0]["arguments"] == json.loads(args1)
    titles = sorted(t["title"] for t in u.get("/api/me/tasks").json())
    assert titles == sorted(['say "hi" to café', "eggs"]), titles
    tools = [x for x in messages_of(fake.completions()[1]) if x["role"] == "tool"]
    assert len(tools) == 2 and tools[0]["tool_call_id"] != tools[1]["tool_call_id"]


def test_invalid_arguments_are_a_tool_error(module_server, fake):
    u = fresh_user(module_server)
    fake.push({"calls": [("add_task", '{"title": "milk"')]},
              {"calls": [("add_task", '{"title": "milk"}')]},
              {"text": "Added milk."})
    body = chat_ok(u, "add milk")
    assert [c["tool"] for c in body["tool_calls"]] == ["add_task", "add_task"]
    bad = body["tool_calls"][0]["result"]
    assert "JSON" in bad["error"], bad
    assert [t["title"] for t in u.get("/api/me/tasks").json()] == ["milk"]
    tool_msg = [x for x in messages_of(fake.completions()[1]) if x["role"] == "tool"][0]
    assert "JSON" in json.loads(tool_msg["content"])["error"]
    # an unknown tool and a rule-breaking argument are tool errors too, not failures
    fake.push({"calls": [("drop_database", "{}"), ("add_task", '{"title": ""}')]},
              {"text": "I could not."})
    body = chat_ok(u, "do bad things")
    assert all("error" in c["result"] for c in body["tool_calls"]), body


def test_model_cannot_choose_the_user(module_server, fake):
    a, b = fresh_user(module_server, "alice"), fresh_user(module_server, "bob")
    b.create(title="bob's secret")
    fake.push({"calls": [("add_task", json.dumps({"user_id": b.id, "title": "planted"})),
                         ("list_tasks", json.dumps({"user_id": b.id}))]},
              {"text": "Done."})
    body = chat_ok(a, "add planted for bob and show bob's tasks")
    assert [t["title"] for t in b.get("/api/me/tasks").json()] == ["bob's secret"]
    assert [t["title"] for t in a.get("/api/me/tasks").json()] == ["planted"]
    listed = json.dumps(body["tool_calls"][1]["result"])
    assert "bob's secret" not in listed and "planted" in listed, listed


# --------------------------------------------------------------------------------------------
# Provider failures
# --------------------------------------------------------------------------------------------


def test_429_and_5xx_are_retried(module_server, fake):
    u = fresh_user(module_server)
    fake.push({"status": 429, "retry_after": 0}, {"status": 503}, {"text": "Hello after retries."})
    body = chat_ok(u, "hello")
    assert body["response"] == "Hello after retries."
    assert len(fake.completions()) == 3


def test_persistent_failures_are_503_and_keep_the_message(module_server, fake):
    u = fresh_user(module_server)
    fake.responder = lambda body: {"status": 500}
    r = chat(u, "hello there")
    body = assert_error(r, 503)
    assert 2 <= len(fake.completions()) <= 4, "retried within the deadline, then gave up"
    fake.responder = None
    cid = body["conversation_id"]
    msgs = u.get(f"/api/me/conversations/{cid}").json()["messages"]
    assert [(m["role"], m["content"]) for m in msgs] == [("user", "hello there")]
    # the conversation continues
    fake.push({"text": "Back again."})
    assert chat_ok(u, "again", conversation_id=cid)["conversation_id"] == cid


def test_bad_answers_are_502(module_server, fake):
    u = fresh_user(module_server)
    for step in [{"raw": "not json"}, {"status": 401, "message": "Incorrect API key sk-abc"},
                 {"status": 400}, {"text": "half an ans", "cut": True}]:
        fake.push(step)
        assert_error(chat(u, "hi"), 502)
    text = module_server.logs()
    assert "test-key-0123456789" not in text, "the API key reached the logs"


def test_never_answers_is_504_and_others_keep_their_latency(module_server, fake):
    u = fresh_user(module_server)
    for i in range(30):
        u.create(title=f"task {i}")

    def list_latency(n=20):
        out = []
        for _ in range(n):
            t0 = time.monotonic()
            assert_status(u.get("/api/me/tasks"), 200)
            out.append(time.monotonic() - t0)
        return out

    before = statistics.median(list_latency())
    fake.responder = lambda body: {"hang": True}
    results = []

    def one():
        t0 = time.monotonic()
        r = chat(fresh_user(module_server), "are you there?")
        results.append((r.status_code, time.monotonic() - t0))

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    during = list_latency()
    for t in threads:
        t.join(scaled(TIMEOUT_S * 4 + 10))
    assert len(results) == 12 and all(s == 504 for s, _ in results), results
    assert all(TIMEOUT_S - 0.5 <= d <= TIMEOUT_S + scaled(3) for _, d in results), results
    # 12 chats waiting on a hung provider do not slow the list down (generous bound: the
    # measured figure is in `make bench`)
    assert statistics.median(during) < max(0.25, before * 10), (before, during)
    assert max(during) < scaled(2.0), during


def test_unreachable_provider_is_503(request, todo_bin, backend, tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _f, srv = start_module_server(request, todo_bin, backend, tmp_path_factory, env={
        "LLM_PROVIDER": "custom", "LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "LLM_MODEL": "m", "LLM_TIMEOUT_SECONDS": "2"})
    u = fresh_user(srv)
    t0 = time.monotonic()
    assert_error(chat(u, "hi"), 503)
    assert time.monotonic() - t0 < scaled(6)


def test_no_provider_configured_is_503(request, todo_bin, backend, tmp_path_factory):
    _f, srv = start_module_server(request, todo_bin, backend, tmp_path_factory,
                                  env={"LLM_PROVIDER": "openai", "OPENAI_API_KEY": None})
    u = fresh_user(srv)
    body = assert_error(chat(u, "hi"), 503)
    assert "OPENAI_API_KEY" in body["detail"], body


# --------------------------------------------------------------------------------------------
# Conversation, prompt, limits
# --------------------------------------------------------------------------------------------


def test_history_and_system_prompt(module_server, fake):
    u = fresh_user(module_server)
    assert_status(u.patch("/api/auth/me", json={"timezone": "Asia/Tokyo"}), 200)
    fake.push({"calls": [("add_task", '{"title": "book flights"}')]}, {"text": "Booked it."})
    cid = chat_ok(u, "add book flights")["conversation_id"]
    fake.push({"text": "You have one task."})
    chat_ok(u, "what do I have?", conversation_id=cid)
    reqs = fake.completions()
    system = messages_of(reqs[0])[0]
    assert system["role"] == "system"
    text = system["content"]
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date().isoformat()
    assert "Jarvis" in text and "Always answer in one short sentence." in text, text
    assert today in text and "Asia/Tokyo" in text and "+09:00" in text, text
    m = messages_of(reqs[-1])
    roles = [x["role"] for x in m]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"], roles
    assert m[1]["content"] == "add book flights" and m[-1]["content"] == "what do I have?"
    assert m[2]["tool_calls"][0]["function"]["name"] == "add_task"
    assert m[3]["tool_call_id"] == m[2]["tool_calls"][0]["id"]
    assert m[4]["content"] == "Booked it."


def test_at_most_eight_tool_rounds(module_server, fake):
    u = fresh_user(module_server)
    fake.responder = lambda body: ({"text": "Enough."} if body.get("tool_choice") == "none"
                                   else {"calls": [("list_tags", "{}")]})
    body = chat_ok(u, "loop forever")
    reqs = fake.completions()
    assert len(reqs) == 9, len(reqs)
    assert reqs[-1]["body"]["tool_choice"] == "none"
    assert len(body["tool_calls"]) == 8 and body["response"] == "Enough."


def test_answer_size_cap(module_server, fake):
    u = fresh_user(module_server)
    fake.push({"pieces": ["x" * 65536] * 6})
    assert_error(chat(u, "write a novel"), 502)


def test_unstreamed_answer(module_server, fake):
    u = fresh_user(module_server)
    fake.push({"calls": [("add_task", '{"title": "json mode"}')], "json": True},
              {"text": "Done in JSON.", "json": True})
    body = chat_ok(u, "add json mode")
    assert body["response"] == "Done in JSON." and body["tool_calls"][0]["tool"] == "add_task"


# --------------------------------------------------------------------------------------------
# Server-Sent Events
# --------------------------------------------------------------------------------------------


def test_sse_event_order(module_server, fake):
    u = fresh_user(module_server)
    fake.push({"text": "Let me add that.", "calls": [("add_task", '{"title": "streamed"}')]},
              {"text": "Added streamed to your list.", "delay": 0.05})
    r = u.post("/api/me/chat", json={"message": "add streamed"},
               headers={"Accept": "text/event-stream"}, stream=True, timeout=scaled(20))
    assert_status(r, 200)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = list(sse_events(r))
    names = [e for e, _ in events]
    assert names[0] == "start" and names[-1] == "done", names
    i_call, i_result = names.index("tool_call"), names.index("tool_result")
    assert "delta" in names[1:i_call], names  # the first round's text streams before its call
    assert i_call < i_result < len(names) - 1
    assert names[i_result + 1:-1] and set(names[i_result + 1:-1]) == {"delta"}, names
    assert len([n for n in names if n == "delta"]) >= 4, "text must stream in pieces"
    done = events[-1][1]
    text = "".join(d["text"] for e, d in events if e == "delta")
    assert text == done["response"] and done["response"].startswith("Let me add that."), done
    assert done["conversation_id"] == events[0][1]["conversation_id"]
    call, result = events[i_call][1], events[i_result][1]
    assert call["id"] == result["id"] and call["tool"] == "add_task"
    assert call["arguments"] == {"title": "streamed"} and result["is_error"] is False


def test_sse_error_event(module_server, fake):
    u = fresh_user(module_server)
    fake.push({"text": "partial", "cut": True})
    r = u.post("/api/me/chat", json={"message": "hi"}, headers={"Accept": "text/event-stream"},
               stream=True, timeout=scaled(20))
    events = list(sse_events(r))
    names = [e for e, _ in events]
    assert names[0] == "start" and names[-1] == "error" and "done" not in names, names
    err = events[-1][1]
    assert err["status"] == 502 and err["detail"], err


def test_client_disconnect_mid_stream_leaves_a_consistent_conversation(module_server, fake):
    u = fresh_user(module_server)
    fake.push({"calls": [("add_task", '{"title": "before the cut"}')]},
              {"pieces": ["word "] * 60, "delay": 0.1})
    r = u.post("/api/me/chat", json={"message": "add before the cut and tell a story"},
               headers={"Accept": "text/event-stream"}, stream=True, timeout=scaled(20))
    seen = []
    for ev, data in sse_events(r):
        seen.append(ev)
        if seen.count("delta") >= 3:
            break
    cid = None
    r.close()  # the client goes away mid-stream
    convs = u.get("/api/me/conversations").json()
    cid = convs[0]["id"]

    def settled():
        msgs = u.get(f"/api/me/conversations/{cid}").json()["messages"]
        return msgs if len(msgs) == 2 else None

    msgs = wait_until(settled, scaled(15), interval=0.2, max_polls=200)
    assert msgs, u.get(f"/api/me/conversations/{cid}").json()
    assert msgs[0]["role"] == "user" and msgs[1]["role"] == "assistant"
    calls = msgs[1]["tool_calls"]
    assert [c["tool"] for c in calls] == ["add_task"] and calls[0]["result"], calls
    assert [t["title"] for t in u.get("/api/me/tasks").json()] == ["before the cut"]
    # the provider's stream was ended early, not read to its end
    time.sleep(0.5)
    # and the conversation continues with a well-formed history
    fake.push({"text": "Continuing."})
    assert chat_ok(u, "go on", conversation_id=cid)["response"] == "Continuing."
    m = messages_of(fake.completions()[-1])
    for i, x in enumerate(m):
        if x["role"] == "assistant" and x.get("tool_calls"):
            ids = [c["id"] for c in x["tool_calls"]]
            assert [y.get("tool_call_id") for y in m[i + 1:i + 1 + len(ids)]] == ids, m


# --------------------------------------------------------------------------------------------
# Providers
# --------------------------------------------------------------------------------------------

PROVIDERS = [
    # (env, expected path, expected Authorization, expected model, extra header)
    ({"LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test-openai-123456", "LLM_BASE_URL": "{url}/v1"},
     "/v1/chat/completions", "Bearer sk-test-openai-123456", "gpt-4o-mini", None),
    ({"LLM_PROVIDER": "OpenAI", "OPENAI_API_KEY": "sk-test-openai-123456", "OPENAI_MODEL": "gpt-4.1",
      "LLM_BASE_URL": "{url}/v1"},
     "/v1/chat/completions", "Bearer sk-test-openai-123456", "gpt-4.1", None),
    ({"LLM_PROVIDER": "GROQ", "GROQ_API_KEY": "gsk_test_groq_123456", "GROQ_BASE_URL": "{url}/openai/v1",
      "GROQ_MODEL": "llama-test"},
     "/openai/v1/chat/completions", "Bearer gsk_test_groq_123456", "llama-test", None),
    ({"LLM_PROVIDER": "gemini", "GEMINI_API_KEY": "AIzaTestGemini123456", "GEMINI_MODEL": "gemini-test",
      "LLM_BASE_URL": "{url}/v1beta/openai/"},
     "/v1beta/openai/chat/completions", "Bearer AIzaTestGemini123456", "gemini-test", None),
    ({"LLM_PROVIDER": "openrouter", "OPENROUTER_API_KEY": "sk-or-v1-test123456",
      "OPENROUTER_BASE_URL": "{url}/api/v1", "OPENROUTER_MODEL": "vendor/model"},
     "/api/v1/chat/completions", "Bearer sk-or-v1-test123456", "vendor/model", "x-title"),
    ({"LLM_PROVIDER": "ollama", "OLLAMA_BASE_URL": "{url}/v1", "OLLAMA_MODEL": "qwen-test"},
     "/v1/chat/completions", None, "qwen-test", None),
    ({"LLM_PROVIDER": "custom", "LLM_BASE_URL": "{url}/llama/v1", "LLM_API_KEY": "local-key-123456",
      "LLM_MODEL": "local"},
     "/llama/v1/chat/completions", "Bearer local-key-123456", "local", None),
    ({"GROQ_API_KEY": "gsk_test_groq_123456", "GROQ_BASE_URL": "{url}/g/v1"},  # chosen by its key
     "/g/v1/chat/completions", "Bearer gsk_test_groq_123456", "llama-3.3-70b-versatile", None),
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("env,path,auth,model,extra", PROVIDERS,
                         ids=[p[0].get("LLM_PROVIDER", "auto") for p in PROVIDERS])
def test_provider_base_url_and_auth_header(servers, fake, env, path, auth, model, extra):
    env = {k: v.replace("{url}", f"http://127.0.0.1:{fake.port}") for k, v in env.items()}
    srv = servers.start(env=env)
    u = fresh_user(srv)
    fake.push({"text": "Hi."})
    assert chat_ok(u, "hello")["response"] == "Hi."
    req = fake.completions()[-1]
    assert req["path"] == path, req["path"]
    assert req["headers"].get("authorization") == auth, req["headers"]
    assert req["body"]["model"] == model
    if extra:
        assert req["headers"].get(extra), req["headers"]
    r = requests.get(srv.url("/health"), timeout=scaled(5))
    assert r.status_code == 200
    for v in env.values():
        if "key" in v.lower() or v.startswith(("sk-", "gsk_", "AIza")):
            assert v not in srv.logs(), "a key reached the logs"


@pytest.mark.sqlite_only
def test_keys_are_checked_and_redacted(cli):
    r = cli.run("config", "check", env={"LLM_PROVIDER": "openai", "OPENAI_API_KEY": "not-an-openai-key"})
    assert r.returncode == 2, r.describe()
    assert "OPENAI_API_KEY" in r.output and "not-an-openai-key" not in r.output, r.describe()
    r = cli.run("config", "check", env={"OPENAI_API_KEY": "sk-secret-value-123456"})
    assert r.returncode == 0, r.describe()
    assert "sk-secret-value-123456" not in r.output, r.describe()
    assert "OPENAI_API_KEY=(set, redacted)" in r.stdout, r.stdout
    r = cli.run("config", "check", env={"LLM_PROVIDER": "groq", "GROQ_API_KEY": "gsk_ok_value_123",
                                        "GROQ_BASE_URL": "http://api.example.com/v1"})
    assert r.returncode == 2 and "https" in r.output, r.describe()
    r = cli.run("config", "check", env={"LLM_PROVIDER": "chatgpt"})
    assert r.returncode == 2 and "LLM_PROVIDER" in r.output, r.describe()
