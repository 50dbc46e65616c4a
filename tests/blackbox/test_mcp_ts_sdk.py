"""The official TypeScript MCP SDK as a client (issue 11): @modelcontextprotocol/sdk from npm
(pinned in package.json; MCP Inspector, Claude Code and VS Code are built on it) connects over
Streamable HTTP — directly, through the web role's proxy, with a personal access token — and
over stdio, lists the tools and calls every one; the SDK itself validates each result's
structuredContent against the tool's output schema. The script is mcp_ts_client.mjs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    NO_LIMIT, _attach_module_server_logs, create_pat, module_server, signup, unique_email,
)
from conftest import REPO_ROOT
from helpers import scaled
from mcp_helpers import LATEST, TOOLS

SCRIPT = Path(__file__).with_name("mcp_ts_client.mjs")
SDK = REPO_ROOT / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"


def ts_client(mode: str, where: str, token: str, env: dict | None = None) -> dict:
    node = shutil.which("node")
    assert node, "node is missing (scripts/install-deps installs nodejs)"
    assert SDK.is_file(), f"{SDK} missing: run `make npm-deps` (npm ci on package-lock.json)"
    e = dict(env or {})
    e.update({"TODO_TOKEN": token, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
              "TS_CLIENT_TIMEOUT_MS": str(int(scaled(60) * 1000))})
    cp = subprocess.run([node, str(SCRIPT), mode, where], env=e, capture_output=True,
                        timeout=scaled(90), cwd=str(REPO_ROOT))
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    return json.loads(cp.stdout.decode().strip().splitlines()[-1])


def check(out: dict, user_id: str) -> None:
    assert out["server"]["name"] and out["server"]["version"] and out["server"]["title"]
    assert "list_tasks" in out["instructions"]
    assert sorted(out["tools"]) == sorted(TOOLS)
    r = out["results"]
    assert r["add_task"]["status"] == "created" and r["add_task"]["task"]["user_id"] == user_id
    tid = r["add_task"]["task_id"]
    assert tid in [t["id"] for t in r["list_tasks"]["tasks"]]
    assert all("ts" in t["tags"] and not t["completed"] for t in r["list_tasks"]["tasks"])
    assert r["get_task"]["id"] == tid
    assert (r["update_task"]["status"], r["update_task"]["title"]) == ("updated", "renamed by TS")
    assert [t["count"] for t in r["list_tags"]["tags"] if t["name"] == "ts"] == [
        r["list_tasks"]["total"]]
    assert r["task_stats"]["pending"] >= 1
    assert r["complete_task"]["status"] == "completed" and r["complete_task"]["next_task"]
    assert r["delete_task"]["status"] == "deleted"
    assert out["toolError"]["isError"] is True and "not found" in out["toolError"]["text"]
    assert out["unknownTool"]["code"] == -32602, out["unknownTool"]


def test_ts_sdk_over_streamable_http(module_server):
    user = signup(module_server, email=unique_email("ts-http"))
    out = ts_client("http", module_server.url("/mcp"), user.token)
    assert out["protocolVersion"] == LATEST  # what SDK 1.32 asks for, agreed as asked
    check(out, user.id)
    pat = create_pat(user, "ts sdk")["token"]
    check(ts_client("http", module_server.url("/mcp"), pat), user.id)


def test_ts_sdk_through_the_web_roles_proxy(servers):
    api = servers.start(env={**NO_LIMIT, "ROLE": "api"})
    web = servers.start(env={**NO_LIMIT, "ROLE": "web", "API_URL": api.base_url})
    user = signup(web, email=unique_email("ts-web"))
    check(ts_client("http", web.url("/mcp"), user.token), user.id)


def test_ts_sdk_over_stdio(module_server, todo_bin, tmp_path):
    user = signup(module_server, email=unique_email("ts-stdio"))
    pat = create_pat(user, "ts stdio")["token"]
    env = {"DATABASE_URL": module_server.env["DATABASE_URL"], "DATA_DIR": str(tmp_path / "var")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    check(ts_client("stdio", str(todo_bin), pat, env), user.id)
