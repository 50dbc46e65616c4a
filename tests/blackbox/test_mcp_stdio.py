"""`todo mcp --stdio` (issue 11): the same tools over stdin/stdout for local clients, as the
user of TODO_TOKEN (a personal access token or a JWT) against the configured database. The
official Python SDK's stdio client drives it; raw pipes check that stdout carries nothing but
JSON-RPC, that bad lines get errors and the session goes on, and that a credential revoked
mid-session stops working at once."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time

import pytest
from mcp import Client, StdioServerParameters

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    _attach_module_server_logs, assert_status, create_pat, module_server, signup, sql_on,
    unique_email,
)
from conftest import CRASH_SIGNALS, SANITIZER_MARKERS, base_env
from helpers import scaled
from mcp_helpers import LATEST, TOOLS, leaf_errors, run, structured, tool_error


@pytest.fixture(scope="module")
def owner(module_server):
    return signup(module_server, email=unique_email("stdio"), name="Stdio")


def stdio_env(srv, tmp_path, token, **extra) -> dict:
    """The environment of a `todo mcp --stdio` sharing srv's database and secret."""
    env = base_env(tmp_path, srv.env["DATABASE_URL"])
    env["JWT_SECRET"] = srv.env["JWT_SECRET"]
    env["DATA_DIR"] = str(tmp_path / "var")
    if token is not None:
        env["TODO_TOKEN"] = token
    env.update({k: str(v) for k, v in extra.items()})
    return env


def check_stderr(text: str) -> None:
    for marker in SANITIZER_MARKERS:
        assert marker not in text, text[-3000:]


class Pipe:
    """`todo mcp --stdio` on pipes: one JSON line in, one JSON line out, bounded waits."""

    def __init__(self, todo_bin, env):
        self.proc = subprocess.Popen([str(todo_bin), "mcp", "--stdio"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""

    def send(self, obj_or_text, newline: bool = True) -> None:
        line = obj_or_text if isinstance(obj_or_text, (bytes, str)) else json.dumps(obj_or_text)
        data = line.encode() if isinstance(line, str) else line
        self.proc.stdin.write(data + (b"\n" if newline else b""))
        self.proc.stdin.flush()

    def recv(self, timeout: float = 15) -> dict:
        deadline = time.monotonic() + scaled(timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no answer within {timeout}s; stderr: {self.stderr_now()}"
            if self.sel.select(left):
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"stdout closed; stderr: {self.stderr_now()}"
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, obj) -> dict:
        self.send(obj)
        return self.recv()

    def stderr_now(self) -> str:
        return "(running)" if self.proc.poll() is None else self.proc.stderr.read().decode()

    def close(self) -> tuple:
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() then only reads
        try:
            rest, err = self.proc.communicate(timeout=scaled(15))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, err = self.proc.communicate(timeout=30)
        assert -self.proc.returncode not in CRASH_SIGNALS, err.decode()[-3000:]
        check_stderr(err.decode(errors="replace"))
        return self.proc.returncode, self.buf + rest, err.decode(errors="replace")


def init_msg(version=LATEST, id_=1):
    return {"jsonrpc": "2.0", "id": id_, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "pipe", "version": "1"}}}


def call_msg(id_, tool, args=None):
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call",
            "params": {"name": tool, "arguments": args or {}}}


# --- the SDK's stdio client ------------------------------------------------------------------


@pytest.mark.parametrize("credential", ["pat", "jwt"])
def test_sdk_stdio_client_calls_every_tool(module_server, owner, tmp_path, todo_bin, credential):
    token = create_pat(owner, "stdio")["token"] if credential == "pat" else owner.token
    env = stdio_env(module_server, tmp_path, token)
    params = StdioServerParameters(command=str(todo_bin), args=["mcp", "--stdio"], env=env)

    async def go():
        async with Client(params, raise_exceptions=True, cache=None) as c:
            assert c.session.protocol_version == LATEST
            assert sorted(t.name for t in (await c.list_tools()).tools) == sorted(TOOLS)
            added = structured(await c.call_tool("add_task", {"title": f"via {credential}",
                                                              "tags": ["stdio"]}))
            tid = added["task_id"]
            got = structured(await c.call_tool("get_task", {"task_id": tid}))
            upd = structured(await c.call_tool("update_task", {"task_id": tid,
                                                               "priority": "high"}))
            lst = structured(await c.call_tool("list_tasks", {"tag": "stdio"}))
            tags = structured(await c.call_tool("list_tags", {}))
            done = structured(await c.call_tool("complete_task", {"task_id": tid}))
            stats = structured(await c.call_tool("task_stats", {}))
            gone = structured(await c.call_tool("delete_task", {"task_id": tid}))
            missing = tool_error(await c.call_tool("get_task", {"task_id": tid}))
            return added, got, upd, lst, tags, done, stats, gone, missing
    added, got, upd, lst, tags, done, stats, gone, missing = run(go())
    assert added["task"]["user_id"] == owner.id and got["title"] == f"via {credential}"
    assert upd["task"]["priority"] == "high"
    assert tid_in(lst, added["task_id"])
    assert {"name": "stdio", "count": lst["total"]} in tags["tags"]
    assert done["status"] == "completed" and stats["completed"] >= 1
    assert gone["status"] == "deleted" and "not found" in missing.lower()


def tid_in(listing, tid):
    return tid in [t["id"] for t in listing["tasks"]]


# --- raw pipes ---------------------------------------------------------------------------------


def test_stdout_carries_only_json_rpc(module_server, owner, tmp_path, todo_bin):
    env = stdio_env(module_server, tmp_path, owner.token, LOG_LEVEL="DEBUG")
    p = Pipe(todo_bin, env)
    p.send(init_msg())
    p.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    p.send("")
    p.send("   ")
    p.send("this is not json")
    p.send({"jsonrpc": "2.0", "id": "p", "method": "ping"})
    p.send(call_msg(3, "task_stats"))
    p.send({"jsonrpc": "2.0", "id": 9, "result": {}})  # a response from the client: no answer
    p.send([{"jsonrpc": "2.0", "id": 4, "method": "ping"}])  # batches: not since 2025-06-18
    p.send(call_msg(5, "no_such_tool"))
    p.send(b'{"jsonrpc":"2.0","id":6,"method":"ping"}', newline=False)  # the last line
    rc, out, err = p.close()
    assert rc == 0, err
    lines = out.decode().splitlines()
    msgs = [json.loads(x) for x in lines]  # every line is JSON …
    assert all(m.get("jsonrpc") == "2.0" for m in msgs)  # … and JSON-RPC
    by_id = {json.dumps(m["id"]): m for m in msgs}
    assert by_id["1"]["result"]["protocolVersion"] == LATEST
    assert by_id['"p"']["result"] == {}
    assert by_id["3"]["result"]["isError"] is False
    assert by_id["5"]["error"]["code"] == -32602
    assert by_id["6"]["result"] == {}
    nulls = [m["error"]["code"] for m in msgs if m["id"] is None]
    assert sorted(nulls) == [-32700, -32600], msgs
    assert len(msgs) == 7, msgs
    assert '"level"' in err  # the logs went to stderr


def test_requests_before_initialize_and_old_versions(module_server, owner, tmp_path, todo_bin):
    p = Pipe(todo_bin, stdio_env(module_server, tmp_path, owner.token))
    assert p.ask({"jsonrpc": "2.0", "id": 1, "method": "ping"})["result"] == {}
    early = p.ask({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert early["error"]["code"] == -32600
    assert p.ask(init_msg("2025-03-26", 3))["result"]["protocolVersion"] == "2025-03-26"
    p.send([{"jsonrpc": "2.0", "id": 4, "method": "ping"},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            call_msg(5, "task_stats")])
    batch = p.recv()
    assert [m["id"] for m in batch] == [4, 5] and batch[1]["result"]["isError"] is False
    rc, _out, err = p.close()
    assert rc == 0, err


def test_an_oversized_line_is_an_error_and_the_session_goes_on(module_server, owner, tmp_path,
                                                                  todo_bin):
    p = Pipe(todo_bin, stdio_env(module_server, tmp_path, owner.token, MAX_BODY_BYTES=4096))
    p.ask(init_msg())
    p.send(call_msg(2, "add_task", {"title": "x" * 10000}))
    err = p.recv()
    assert err["id"] is None and err["error"]["code"] == -32600
    assert p.ask({"jsonrpc": "2.0", "id": 3, "method": "ping"})["result"] == {}
    assert p.ask(call_msg(4, "list_tasks", {"search": "xxxxxxxxxx"}))["result"][
        "structuredContent"]["total"] == 0
    rc, _out, stderr = p.close()
    assert rc == 0, stderr


def test_a_token_revoked_mid_session_stops_at_once(module_server, owner, tmp_path, todo_bin):
    pat = create_pat(owner, "revoked while running")
    p = Pipe(todo_bin, stdio_env(module_server, tmp_path, pat["token"]))
    p.ask(init_msg())
    assert p.ask(call_msg(2, "task_stats"))["result"]["isError"] is False
    assert_status(owner.delete(f"/api/me/tokens/{pat['id']}"), 204)
    refused = p.ask(call_msg(3, "task_stats"))
    assert refused["error"]["message"] == "Unauthorized: Invalid token", refused
    rc, _out, err = p.close()
    assert rc == 0, err


@pytest.mark.parametrize("token,why", [
    (None, "TODO_TOKEN is not set"),
    ("", "TODO_TOKEN is not set"),
    ("nonsense", "Invalid token"),
    ("todo_pat_" + "Z" * 43, "Invalid token"),
])
def test_missing_or_invalid_token_exits_2_with_a_reason(module_server, tmp_path, todo_bin,
                                                        token, why):
    env = stdio_env(module_server, tmp_path, token)
    cp = subprocess.run([str(todo_bin), "mcp", "--stdio"], env=env, input=b"",
                        capture_output=True, timeout=scaled(30))
    assert cp.returncode == 2, cp
    assert cp.stdout == b""  # nothing but JSON-RPC ever goes to stdout
    assert why in cp.stderr.decode()
    check_stderr(cp.stderr.decode())


def test_an_expired_token_exits_2(module_server, owner, tmp_path, todo_bin):
    pat = create_pat(owner, "old", expires_in_days=1)
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    sql_on(module_server, f"UPDATE access_tokens SET expires_at = '{past}' "
                          f"WHERE id = {int(pat['id'])}")
    cp = subprocess.run([str(todo_bin), "mcp", "--stdio"],
                        env=stdio_env(module_server, tmp_path, pat["token"]), input=b"",
                        capture_output=True, timeout=scaled(30))
    assert cp.returncode == 2 and b"Token expired" in cp.stderr and cp.stdout == b""


def test_a_personal_access_token_needs_no_jwt_secret(module_server, owner, tmp_path, todo_bin):
    """A local client given a PAT and a database (the documented configurations) starts in
    any ENVIRONMENT, with no JWT_SECRET and a DATA_DIR it cannot write to (a client's working
    directory): it verifies no JWT, so it needs no secret. A JWT still needs the secret."""
    pat = create_pat(owner, "desktop")["token"]
    env = stdio_env(module_server, tmp_path, pat, ENVIRONMENT="production",
                    DATA_DIR="/dev/null/var")  # not a directory anyone can make
    env.pop("JWT_SECRET")
    params = StdioServerParameters(command=str(todo_bin), args=["mcp", "--stdio"], env=env)

    async def go():
        async with Client(params, raise_exceptions=True, cache=None) as c:
            return structured(await c.call_tool("add_task", {"title": "no secret needed"}))
    assert run(go())["task"]["user_id"] == owner.id
    env["TODO_TOKEN"] = owner.token
    cp = subprocess.run([str(todo_bin), "mcp", "--stdio"], env=env, input=b"",
                        capture_output=True, timeout=scaled(30))
    assert cp.returncode == 2 and cp.stdout == b"", cp
    assert b"JWT_SECRET" in cp.stderr


def test_usage(module_server, owner, tmp_path, todo_bin):
    env = stdio_env(module_server, tmp_path, owner.token)
    cp = subprocess.run([str(todo_bin), "mcp"], env=env, input=b"", capture_output=True,
                        timeout=scaled(30))
    assert cp.returncode == 2 and cp.stdout == b"" and b"--stdio" in cp.stderr


def test_stdio_acts_only_for_its_user(module_server, owner, tmp_path, todo_bin):
    other = signup(module_server, email=unique_email("stdio-other"))
    theirs = other.create(title="other's private task")
    p = Pipe(todo_bin, stdio_env(module_server, tmp_path, owner.token))
    p.ask(init_msg())
    got = p.ask(call_msg(2, "get_task", {"user_id": other.id, "task_id": theirs["id"]}))
    assert got["result"]["isError"] is True
    lst = p.ask(call_msg(3, "list_tasks", {"user_id": other.id, "search": "private"}))
    assert lst["result"]["structuredContent"]["total"] == 0
    rm = p.ask(call_msg(4, "delete_task", {"user_id": other.id, "task_id": theirs["id"]}))
    assert rm["result"]["isError"] is True
    rc, _out, err = p.close()
    assert rc == 0, err
    assert_status(other.task(theirs["id"]), 200)


def test_sdk_reports_a_bad_token_as_a_failed_start(module_server, tmp_path, todo_bin):
    params = StdioServerParameters(command=str(todo_bin), args=["mcp", "--stdio"],
                                   env=stdio_env(module_server, tmp_path, "wrong"))

    async def go():
        async with Client(params, raise_exceptions=True, cache=None) as c:
            await c.list_tools()
    with pytest.raises(BaseException) as e:
        run(go(), timeout=30)
    assert leaf_errors(e.value)


def test_tools_list_pages_over_stdio_and_unknown_versions_get_the_newest(module_server, owner,
                                                                         tmp_path, todo_bin):
    from mcp_types import PaginatedRequestParams
    env = stdio_env(module_server, tmp_path, owner.token, MCP_TOOLS_PAGE_SIZE=3)
    params = StdioServerParameters(command=str(todo_bin), args=["mcp", "--stdio"], env=env)

    async def go():
        async with Client(params, raise_exceptions=True, cache=None, mode="legacy") as c:
            names, cursor, pages = [], None, 0
            for _ in range(10):
                page = await c.session.list_tools(
                    params=PaginatedRequestParams(cursor=cursor) if cursor else None)
                pages += 1
                names += [t.name for t in page.tools]
                cursor = page.next_cursor
                if not cursor:
                    break
            return names, pages
    names, pages = run(go())
    assert names == list(TOOLS) and pages == 3
    p = Pipe(todo_bin, env)
    assert p.ask(init_msg("2099-01-01"))["result"]["protocolVersion"] == LATEST
    bad = p.ask({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"cursor": "x"}})
    assert bad["error"]["code"] == -32602
    rc, _out, err = p.close()
    assert rc == 0, err
