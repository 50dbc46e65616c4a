"""The MCP server over Streamable HTTP (issue 11): the official Python SDK's client connects,
negotiates and lists; the transport's rules hold for everything else — version negotiation
and MCP-Protocol-Version, sessions (missing 400, unknown or ended 404, another user's 404,
shared by every replica), Origin 403, authentication 401 with RFC 9728 metadata, expired and
revoked personal access tokens, batches, malformed and oversized messages, GET 405."""

from __future__ import annotations

import json
import time

import pytest
import requests
from jsonschema import Draft202012Validator
from mcp_types import PaginatedRequestParams

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    NO_LIMIT, User, _attach_module_server_logs, assert_status, create_pat, fresh_user,
    pat_user, signup, sql_on, start_module_server, unique_email,
)
from helpers import scaled, wait_until
from mcp_helpers import (
    ACCEPT, LATEST, TOOLS, VERSIONS, Raw, assert_rpc_error, http_client, http_session,
    leaf_errors, run, structured,
)

ALLOWED_ORIGIN = "http://localhost:3000"


@pytest.fixture(scope="module")
def mcp_server(request, todo_bin, backend, tmp_path_factory):
    _f, srv = start_module_server(request, todo_bin, backend, tmp_path_factory,
                                  env={"CORS_ORIGINS": ALLOWED_ORIGIN,
                                       "MCP_SERVER_NAME": "todo-test"})
    return srv


@pytest.fixture(autouse=True)
def _logs(request):
    if "mcp_server" in request.fixturenames:
        srv = request.getfixturevalue("mcp_server")
        request.node.todo_servers = list(getattr(request.node, "todo_servers", []) or []) + [srv]
    yield


@pytest.fixture(scope="module")
def alice(mcp_server):
    return signup(mcp_server, email=unique_email("mcp-alice"), name="Alice")


# --- the SDK's view ---------------------------------------------------------------------------


def test_sdk_client_connects_lists_and_calls(mcp_server, alice):
    async def go():
        async with http_client(mcp_server.url("/mcp"), alice.token) as c:
            assert c.session.protocol_version == LATEST
            info = c.session.server_info
            assert info.name == "todo-test" and info.version and info.title
            caps = c.session.server_capabilities
            assert caps.tools is not None
            assert caps.resources is None and caps.prompts is None
            assert "list_tasks" in (c.session.initialize_result.instructions or "")
            tools = (await c.list_tools()).tools
            assert sorted(t.name for t in tools) == sorted(TOOLS)
            added = structured(await c.call_tool("add_task", {"title": "from the SDK"}))
            assert added["status"] == "created" and added["title"] == "from the SDK"
            return added["task_id"]
    tid = run(go())
    assert_status(alice.task(tid), 200)  # the REST API sees what the tool made


@pytest.mark.parametrize("version", VERSIONS)
def test_each_supported_version_is_agreed_as_asked(mcp_server, alice, version):
    raw = Raw(mcp_server, alice.token)
    result = raw.initialize(version)
    assert result["protocolVersion"] == version
    assert result["capabilities"]["tools"] == {"listChanged": False}
    assert result["serverInfo"]["name"] == "todo-test"
    ping = raw.request("ping")
    assert ping.status_code == 200 and ping.json() == {"jsonrpc": "2.0", "id": 2, "result": {}}
    listed = raw.request("tools/list")
    assert listed.status_code == 200
    assert len(listed.json()["result"]["tools"]) == len(TOOLS)


@pytest.mark.parametrize("asked", ["2024-11-05", "2099-01-01", "not-a-version"])
def test_an_unknown_version_is_answered_with_the_newest(mcp_server, alice, asked):
    raw = Raw(mcp_server, alice.token)
    assert raw.initialize(asked)["protocolVersion"] == LATEST


def test_initialize_without_a_version_is_invalid_params(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    r = raw.post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
                 session=False)
    assert r.status_code == 200 and r.json()["error"]["code"] == -32602, r.text
    assert "Mcp-Session-Id" not in r.headers


def test_tools_are_described_for_models(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    tools = {t["name"]: t for t in raw.request("tools/list").json()["result"]["tools"]}
    for name, t in tools.items():
        assert t["title"] and len(t["description"]) > 20, t
        Draft202012Validator.check_schema(t["inputSchema"])
        Draft202012Validator.check_schema(t["outputSchema"])
        assert t["inputSchema"]["type"] == "object" and t["outputSchema"]["type"] == "object"
        assert "user_id" in t["inputSchema"]["properties"], name
        assert "user_id" not in t["inputSchema"].get("required", []), name
        ann = t["annotations"]
        assert ann["openWorldHint"] is False
    read_only = {"list_tasks", "get_task", "list_tags", "task_stats"}
    for name in TOOLS:
        assert tools[name]["annotations"]["readOnlyHint"] is (name in read_only), name
    assert tools["delete_task"]["annotations"]["destructiveHint"] is True
    assert tools["add_task"]["annotations"]["destructiveHint"] is False
    assert tools["add_task"]["annotations"]["idempotentHint"] is False
    assert tools["complete_task"]["annotations"]["idempotentHint"] is True
    # the hackathon's parameter names
    assert tools["add_task"]["inputSchema"]["required"] == ["title"]
    for name in ("complete_task", "delete_task", "update_task", "get_task"):
        assert tools[name]["inputSchema"]["required"] == ["task_id"], name
    for arg in ("title", "description"):
        assert arg in tools["add_task"]["inputSchema"]["properties"]
        assert arg in tools["update_task"]["inputSchema"]["properties"]
    assert tools["list_tasks"]["inputSchema"]["properties"]["status"]["enum"] == [
        "all", "pending", "completed"]


def test_tools_list_pages_with_cursors(servers):
    srv = servers.start(env={**NO_LIMIT, "MCP_TOOLS_PAGE_SIZE": "3"})
    user = fresh_user(srv)

    async def go():
        async with http_session(srv.url("/mcp"), user.token) as s:
            await s.initialize()
            names, cursor, pages = [], None, 0
            for _ in range(10):
                page = await s.list_tools(
                    params=PaginatedRequestParams(cursor=cursor) if cursor else None)
                pages += 1
                assert len(page.tools) <= 3
                names += [t.name for t in page.tools]
                cursor = page.next_cursor
                if not cursor:
                    break
            return names, pages
    names, pages = run(go())
    assert names == list(TOOLS) and pages == 3
    raw = Raw(srv, user.token)
    raw.initialize()
    for bad in ("nope", "tools-99", "tools-", "", 7):
        r = raw.request("tools/list", {"cursor": bad})
        assert r.status_code == 200 and r.json()["error"]["code"] == -32602, (bad, r.text)


def test_sessions_end_with_delete(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    assert raw.request("ping").status_code == 200
    bad = raw.http.delete(raw.url, headers=raw.headers({"MCP-Protocol-Version": "1999-01-01"}),
                          timeout=scaled(15))
    assert_rpc_error(bad, 400, -32600)  # the version is checked on DELETE too …
    assert raw.request("ping").status_code == 200  # … and the session was not ended
    d = raw.delete()
    assert d.status_code == 204, d.text
    assert_rpc_error(raw.request("ping"), 404, -32001)
    assert_rpc_error(raw.delete(), 404, -32001)


def test_the_sdk_ends_its_session_on_close(mcp_server, alice):
    def deletes():
        recs, _ = mcp_server.log_records()
        return [r["status"] for r in recs if r.get("msg") == "request"
                and r.get("method") == "DELETE" and r.get("path") == "/mcp"]
    before = len(deletes())

    async def go():
        async with http_client(mcp_server.url("/mcp"), alice.token) as c:
            await c.list_tools()
    run(go())
    # the server logs a request once it is complete: wait (bounded) for the line
    assert wait_until(lambda: len(deletes()) > before, scaled(5)), "no DELETE /mcp logged"
    assert deletes()[before:] == [204]


def test_requests_need_a_session(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    for body in ({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                 {"jsonrpc": "2.0", "method": "notifications/initialized"}):
        assert_rpc_error(raw.post(body), 400, -32600)
    r = raw.http.delete(raw.url, headers=raw.headers(), timeout=scaled(10))
    assert_rpc_error(r, 400, -32600)


@pytest.mark.parametrize("sid", ["0" * 64, "deadbeef", "x" * 64, "f" * 65, "%00"])
def test_unknown_sessions_are_404(mcp_server, alice, sid):
    raw = Raw(mcp_server, alice.token)
    raw.session = sid
    assert_rpc_error(raw.request("tools/list"), 404, -32001)


def test_another_users_session_is_unknown(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    bob = fresh_user(mcp_server, "mcp-bob")
    theirs = Raw(mcp_server, bob.token)
    theirs.session, theirs.version = raw.session, raw.version
    assert_rpc_error(theirs.request("tools/call", {"name": "task_stats"}), 404, -32001)
    assert_rpc_error(theirs.delete(), 404, -32001)
    assert raw.request("ping").status_code == 200  # still Alice's


def test_sessions_work_on_every_replica(servers):
    """Two servers on one database, no sticky routing: a session begun on one is served by
    the other, and ended there for both."""
    one = servers.start(env=NO_LIMIT)
    two = servers.start(env=NO_LIMIT, database_url=one.env["DATABASE_URL"])
    user = signup(one, email=unique_email("replica"))
    a = Raw(one, user.token)
    a.initialize()
    b = Raw(two, user.token)
    b.session, b.version = a.session, a.version
    made = b.call("add_task", {"title": "made on replica two"})
    assert made["isError"] is False
    listed = a.call("list_tasks", {})
    assert [t["title"] for t in listed["structuredContent"]["tasks"]] == ["made on replica two"]
    assert b.delete().status_code == 204
    assert_rpc_error(a.request("ping"), 404, -32001)


def test_protocol_version_header(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize("2025-06-18")
    for v in VERSIONS:
        assert raw.request("ping", headers={"MCP-Protocol-Version": v}).status_code == 200
    assert raw.request("ping", headers={"MCP-Protocol-Version": None}).status_code == 200
    for bad in ("2024-11-05", "2026-07-28", "garbage", ""):
        err = assert_rpc_error(raw.request("ping", headers={"MCP-Protocol-Version": bad}), 400,
                               -32600)
        assert "2025-06-18" in err["message"]
        assert err["data"]["supported"] == list(VERSIONS), err
        assert err["data"].get("requested") == (bad or None), err


def test_the_sdks_newer_era_probe_falls_back_to_initialize(mcp_server, alice):
    """The Python SDK's default connect first probes `server/discover` at its newest,
    session-less protocol era (2026-07-28, no initialize). This server negotiates through
    initialize, so the probe gets 400 naming the versions it speaks, and the SDK goes on with
    initialize at 2025-11-25 (what test_sdk_client_connects_lists_and_calls sees)."""
    raw = Raw(mcp_server, alice.token)
    r = raw.post({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}},
                 headers={"MCP-Protocol-Version": "2026-07-28"}, session=False)
    err = assert_rpc_error(r, 400, -32600)
    assert err["data"] == {"supported": list(VERSIONS), "requested": "2026-07-28"}
    assert "Mcp-Session-Id" not in r.headers

    async def go():
        async with http_client(mcp_server.url("/mcp"), alice.token) as c:
            return c.session.protocol_version, (await c.call_tool("task_stats", {}))
    version, stats = run(go())
    assert version == LATEST and "total" in structured(stats)


def test_origin_is_checked(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": LATEST, "capabilities": {},
                       "clientInfo": {"name": "browser", "version": "1"}}}
    for origin in ("http://evil.example", "http://localhost:3001", "null",
                   "http://localhost:3000.evil.example"):
        r = raw.post(init, headers={"Origin": origin}, session=False)
        assert_rpc_error(r, 403)
        assert "Mcp-Session-Id" not in r.headers
    ok = raw.post(init, headers={"Origin": ALLOWED_ORIGIN}, session=False)
    assert ok.status_code == 200 and ok.headers.get("Mcp-Session-Id"), ok.text
    assert ok.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert "Mcp-Session-Id" in ok.headers.get("Access-Control-Expose-Headers", "")
    # the preflight of a foreign page is refused as well
    pre = requests.options(mcp_server.url("/mcp"), timeout=scaled(5),
                           headers={"Origin": "http://evil.example",
                                    "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 403


def test_unauthenticated_requests_get_401_pointing_at_the_metadata(mcp_server):
    raw = Raw(mcp_server, None)
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": LATEST, "capabilities": {},
                       "clientInfo": {"name": "x", "version": "1"}}}
    for token in (None, "x.y.z", "todo_pat_" + "A" * 43, "not-a-token"):
        raw.token = token
        r = raw.post(body, session=False)
        assert_rpc_error(r, 401)
        challenge = r.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ")
        url = challenge.split('resource_metadata="', 1)[1].split('"', 1)[0]
        assert url == mcp_server.url("/.well-known/oauth-protected-resource/mcp")
        if token:
            assert 'error="invalid_token"' in challenge
        meta = requests.get(url, timeout=scaled(5))
        assert meta.status_code == 200
        assert meta.json()["resource"] == mcp_server.url("/mcp")
        assert meta.json()["bearer_methods_supported"] == ["header"]
    root = requests.get(mcp_server.url("/.well-known/oauth-protected-resource"), timeout=5)
    assert root.status_code == 200 and root.json()["resource"] == mcp_server.url("/mcp")


def test_the_sdk_fails_cleanly_without_a_valid_token(mcp_server):
    for token in (None, "wrong"):
        with pytest.raises(Exception) as e:
            run(_connect_and_list(mcp_server.url("/mcp"), token), timeout=30)
        messages = [str(x) for x in leaf_errors(e.value)]
        assert any(m in ("Not authenticated", "Invalid token") for m in messages), messages


async def _connect_and_list(url, token):
    async with http_client(url, token) as c:
        await c.list_tools()


def test_expired_and_revoked_tokens(mcp_server, alice):
    pat = pat_user(alice, "mcp client")

    async def call(token):
        async with http_client(mcp_server.url("/mcp"), token) as c:
            return structured(await c.call_tool("task_stats", {}))
    assert "total" in run(call(pat.token))
    # revoked: refused at once, even in a session begun with it
    raw = Raw(mcp_server, pat.token)
    raw.initialize()
    assert_status(alice.delete(f"/api/me/tokens/{pat.body['id']}"), 204)
    assert_rpc_error(raw.request("tools/list"), 401)
    with pytest.raises(Exception):
        run(call(pat.token))
    # expired
    late = pat_user(alice, "expiring", expires_in_days=1)
    raw = Raw(mcp_server, late.token)
    raw.initialize()
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    sql_on(mcp_server, f"UPDATE access_tokens SET expires_at = '{past}' "
                       f"WHERE id = {int(late.body['id'])}")
    err = assert_rpc_error(raw.request("tools/list"), 401)
    assert err["message"] == "Token expired"


def test_a_session_belongs_to_the_user_not_the_credential(mcp_server, alice):
    """A session begun with a JWT goes on with the same user's personal access token."""
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    raw.token = create_pat(alice, "second credential")["token"]
    assert raw.request("ping").status_code == 200


def test_notifications_and_responses_are_accepted_with_202(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    for body in ({"jsonrpc": "2.0", "method": "notifications/cancelled",
                  "params": {"requestId": 5}},
                 {"jsonrpc": "2.0", "method": "notifications/whatever"},
                 {"jsonrpc": "2.0", "id": 9, "result": {}},
                 {"jsonrpc": "2.0", "id": "x", "error": {"code": -1, "message": "no"}}):
        r = raw.post(body)
        assert r.status_code == 202 and r.content == b"", (body, r.status_code, r.text)


def test_get_is_405_and_other_paths_404(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    r = raw.http.get(raw.url, headers={**raw.headers(), "Accept": "text/event-stream"},
                     timeout=scaled(5))
    assert r.status_code == 405 and set(r.headers["Allow"].replace(" ", "").split(",")) == {
        "POST", "DELETE"}
    for method in ("PUT", "PATCH"):
        assert raw.http.request(method, raw.url, headers=raw.headers(),
                                timeout=scaled(5)).status_code == 405
    assert requests.post(mcp_server.url("/mcp/extra"), timeout=scaled(5)).status_code == 404


def test_unknown_methods_and_protocol_errors(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    for method in ("resources/list", "prompts/list", "logging/setLevel", "server/discover",
                   "completion/complete", "tools/lists"):
        r = raw.request(method, {})
        assert r.status_code == 200, r.text
        assert r.json()["error"]["code"] == -32601, r.text
    r = raw.request("tools/call", {"name": "no_such_tool", "arguments": {}})
    assert r.json()["error"]["code"] == -32602 and "no_such_tool" in r.json()["error"]["message"]
    for params in ({}, {"name": 7}, {"name": "add_task", "arguments": [1]},
                   {"name": "add_task", "arguments": "title"}):
        r = raw.request("tools/call", params)
        assert r.json()["error"]["code"] == -32602, (params, r.text)


@pytest.mark.parametrize("body,code", [
    ('{"jsonrpc":"2.0","id":1,"method":"ping"', -32700),
    ("not json", -32700),
    ("", -32700),
    ('{"jsonrpc":"2.0","id":1,"method":"ping","id":2}', -32700),  # a repeated key
    ("[" * 40 + "]" * 40, -32700),  # too deep
    ('{"jsonrpc":"1.0","id":1,"method":"ping"}', -32600),
    ('{"id":1,"method":"ping"}', -32600),
    ('{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600),
    ('{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600),
    ('{"jsonrpc":"2.0","id":{},"method":"ping"}', -32600),
    ('{"jsonrpc":"2.0","id":1,"method":7}', -32600),
    ('{"jsonrpc":"2.0","id":1,"method":""}', -32600),
    ('{"jsonrpc":"2.0","id":1}', -32600),
    ('{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}', -32602),
    ('"a string"', -32600),
    ("42", -32600),
    ("null", -32600),
])
def test_malformed_messages(mcp_server, alice, body, code):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    r = raw.post(None, raw=body.encode())
    assert r.status_code == 400, (body, r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == code, (body, r.text)
    assert raw.request("ping").status_code == 200  # the session and server are fine


def test_batches_are_refused_since_2025_06_18(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize("2025-06-18")
    r = raw.post([{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
    assert_rpc_error(r, 400, -32600)
    raw = Raw(mcp_server, alice.token)
    raw.initialize(LATEST)
    assert_rpc_error(raw.post([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]), 400, -32600)


def test_batches_of_2025_03_26(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize("2025-03-26")
    r = raw.post([
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": "t", "method": "tools/call",
         "params": {"name": "task_stats", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {}},
        {"jsonrpc": "1.0", "id": 4, "method": "ping"},
    ])
    assert r.status_code == 200, r.text
    out = {json.dumps(x["id"]): x for x in r.json()}
    assert out["1"]["result"] == {}
    assert out['"t"']["result"]["isError"] is False
    assert out["3"]["error"]["code"] == -32600
    assert out["4"]["error"]["code"] == -32600
    only_notes = raw.post([{"jsonrpc": "2.0", "method": "notifications/initialized"}])
    assert only_notes.status_code == 202
    assert_rpc_error(raw.post([]), 400, -32600)
    assert_rpc_error(raw.post([{"jsonrpc": "2.0", "id": i, "method": "ping"}
                               for i in range(33)]), 400, -32600)


def test_oversized_messages_are_413(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    big = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": "add_task", "arguments": {"title": "x" * (1024 * 1024 + 10)}}}
    r = raw.post(big)
    assert r.status_code == 413
    assert raw.request("ping").status_code == 200


def test_large_but_allowed_arguments_are_tool_errors(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    res = raw.call("add_task", {"title": "x" * 5000})
    assert res["isError"] is True and "title" in res["content"][0]["text"]


def test_accept_must_allow_json(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    for accept in ("text/event-stream", "text/html", "application/xml"):
        assert_rpc_error(raw.request("ping", headers={"Accept": accept}), 406)
    for accept in (ACCEPT, "application/json", "*/*", "application/*"):
        assert raw.request("ping", headers={"Accept": accept}).status_code == 200, accept


def test_content_type_must_be_json(mcp_server, alice):
    raw = Raw(mcp_server, alice.token)
    raw.initialize()
    r = raw.post(None, raw=b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
                 headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_tool_calls_are_rate_limited_per_user(servers):
    srv = servers.start(env={**NO_LIMIT, "MCP_RATE_LIMIT_PER_MINUTE": "3"})
    a, b = fresh_user(srv, "limited-a"), fresh_user(srv, "limited-b")
    raw = Raw(srv, a.token)
    raw.initialize()
    for _ in range(3):
        assert raw.call("task_stats")["isError"] is False
    r = raw.request("tools/call", {"name": "task_stats", "arguments": {}})
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json()["error"]["code"] == -32029 and r.json()["id"] == raw._ids
    assert raw.request("tools/list").status_code == 200  # only tool calls count
    assert raw.request("ping").status_code == 200
    other = Raw(srv, b.token)
    other.initialize()
    assert other.call("task_stats")["isError"] is False  # per user


def test_the_database_keeps_no_session_id_or_token_in_the_clear(mcp_server, alice):
    """Only hashes are stored: a copy of the database lets nobody continue a session or use
    a personal access token (both backends)."""
    pat = create_pat(alice, "stored as a hash")["token"]
    raw = Raw(mcp_server, pat)
    raw.initialize()
    assert raw.call("task_stats")["isError"] is False  # the session and token are live
    dump = json.dumps(sql_on(mcp_server, "SELECT * FROM mcp_sessions")
                      + sql_on(mcp_server, "SELECT * FROM access_tokens"))
    assert sql_on(mcp_server, "SELECT count(*) FROM mcp_sessions")[0][0] != "0"
    assert raw.session not in dump and raw.session.lower() not in dump.lower()
    assert pat not in dump and pat[len("todo_pat_"):] not in dump


def test_idle_sessions_end_after_30_days(mcp_server):
    user = fresh_user(mcp_server, "idle")
    raw = Raw(mcp_server, user.token)
    raw.initialize()
    assert raw.request("ping").status_code == 200

    def idle_for(days):
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * 86400))
        sql_on(mcp_server, f"UPDATE mcp_sessions SET last_seen_at = '{when}' "
                           f"WHERE user_id = '{user.id}'")
    idle_for(29)
    assert raw.request("ping").status_code == 200  # 29 days idle: still there (and touched)
    idle_for(31)
    assert_rpc_error(raw.request("ping"), 404, -32001)


def test_a_user_keeps_at_most_64_sessions_the_least_recently_used_end(mcp_server):
    user = fresh_user(mcp_server, "many-sessions")
    http = requests.Session()  # one connection for them all (the per-address cap)

    def session():
        r = Raw(mcp_server, user.token)
        r.http = http
        r.initialize()
        return r
    first, used = session(), session()
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    sql_on(mcp_server, f"UPDATE mcp_sessions SET last_seen_at = '{hour_ago}', "
                       f"created_at = '{hour_ago}' WHERE user_id = '{user.id}'")
    # both were last seen an hour ago; using `used` now (past the once-a-minute touch)
    # leaves `first` the least recently used
    assert used.request("ping").status_code == 200
    others = [session() for _ in range(63)]
    count = sql_on(mcp_server, f"SELECT count(*) FROM mcp_sessions WHERE user_id = '{user.id}'")
    assert count[0][0] == "64", count
    assert_rpc_error(first.request("ping"), 404, -32001)
    for r in (used, others[0], others[-1]):
        assert r.request("ping").status_code == 200
