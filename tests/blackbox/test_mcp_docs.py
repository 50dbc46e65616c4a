"""docs/mcp.md's client configurations work (issue 11): every configuration the page shows —
MCP Inspector, Claude Desktop (stdio and remote), Claude Code, Cursor, VS Code — is read from
the page itself, its placeholders replaced by a real server, a personal access token and that
server's database, and then used as the client would use it: the HTTP ones by the official
SDK's client with exactly the documented URL path and headers, the stdio ones by starting the
documented command with the documented arguments and environment (nothing else: no
JWT_SECRET) under the SDK's stdio client. Both must list the tools
and call one."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from api_helpers import create_pat, signup, unique_email
from conftest import REPO_ROOT
from mcp_helpers import LATEST, TOOLS, http_client, run, structured

DOC = REPO_ROOT / "docs" / "mcp.md"
# The page's placeholders.
DOC_BASES = ("http://127.0.0.1:8000", "https://todo.example.com")
DOC_TOKENS = ("todo_pat_…", "${TODO_TOKEN}", "${input:todo-token}")
DOC_DATA_DIRS = ("/home/ann/todo/var", "$HOME/todo/var", "$PWD/var")
DOC_BINARIES = ("/usr/local/bin/todo", "build/todo")


def blocks():
    """[(section heading, language, text)] of the page's fenced code blocks."""
    out, section, lang, buf = [], "", None, []
    for line in DOC.read_text().splitlines():
        if lang is None and line.startswith("#"):
            section = line.lstrip("#").strip()
        elif line.startswith("```"):
            if lang is None:
                lang, buf = line[3:].strip(), []
            else:
                out.append((section, lang, "\n".join(buf)))
                lang = None
        elif lang is not None:
            buf.append(line)
    return out


class Target:
    """The server a documented configuration is pointed at."""

    def __init__(self, srv, token: str, data_dir: Path, database_url: str, todo_bin):
        self.srv, self.token, self.data_dir = srv, token, data_dir
        self.database_url, self.todo_bin = database_url, str(todo_bin)

    def sub(self, text: str) -> str:
        for t in DOC_TOKENS:
            text = text.replace(t, self.token)
        for b in DOC_BASES:
            text = text.replace(b, self.srv.base_url)
        for d in DOC_DATA_DIRS:
            text = text.replace(d, str(self.data_dir))
        return text

    def binary(self, command: str) -> str:
        assert command in DOC_BINARIES, command
        return self.todo_bin

    def stdio_env(self, documented: dict) -> dict:
        """The documented environment, as the client passes it; PostgreSQL runs name the
        database with DATABASE_URL where the page says DATA_DIR (it offers both)."""
        assert set(documented) == {"TODO_TOKEN", "DATA_DIR"}, documented
        env = {k: self.sub(v) for k, v in documented.items()}
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        return env


def use_http(t: Target, url: str, headers: dict) -> None:
    url = t.sub(url)
    assert url == t.srv.url("/mcp"), url
    headers = {k: t.sub(v) for k, v in headers.items()}

    async def go():
        async with http_client(url, None, headers=headers) as c:
            assert c.session.protocol_version == LATEST
            assert sorted(x.name for x in (await c.list_tools()).tools) == sorted(TOOLS)
            return structured(await c.call_tool("task_stats", {}))
    assert "total" in run(go())


def use_stdio(t: Target, command: str, args: list, env: dict) -> None:
    assert args[:2] == ["mcp", "--stdio"], args
    params = StdioServerParameters(command=t.binary(command), args=list(args[:2]),
                                   env=t.stdio_env(env))

    async def go():
        async with Client(params, raise_exceptions=True, cache=None) as c:
            assert sorted(x.name for x in (await c.list_tools()).tools) == sorted(TOOLS)
            return structured(await c.call_tool("add_task", {"title": "from the docs"}))
    added = run(go())
    assert added["task"]["user_id"] == t.srv_user_id


def header_pair(text: str) -> tuple:
    name, value = text.split(":", 1)
    return name.strip(), value.strip()


def use_entry(t: Target, entry: dict) -> str:
    """Uses one mcpServers / servers entry; returns its kind (http or stdio)."""
    if "url" in entry:
        assert entry.get("type", "http") == "http", entry
        use_http(t, entry["url"], entry["headers"])
        return "http"
    if entry["command"] == "npx":  # mcp-remote bridging a remote server for Claude Desktop
        args = entry["args"]
        assert "mcp-remote" in args and args[args.index("--transport") + 1] == "http-only"
        url = next(a for a in args if a.startswith(("http://", "https://")))
        header = args[args.index("--header") + 1]
        for k, v in entry.get("env", {}).items():
            header = header.replace("${" + k + "}", v)
        use_http(t, url, dict([header_pair(header)]))
        return "http"
    use_stdio(t, entry["command"], entry["args"], entry["env"])
    return "stdio"


def use_command(t: Target, line: str) -> str:
    """Uses one documented shell command (claude mcp add …, npx …inspector --cli …)."""
    argv = shlex.split(line)
    headers = dict(header_pair(argv[i + 1]) for i, a in enumerate(argv) if a == "--header")
    if argv[:3] == ["claude", "mcp", "add"]:
        if "--transport" in argv and argv[argv.index("--transport") + 1] == "http":
            url = next(a for a in argv if a.startswith(("http://", "https://")))
            use_http(t, url, headers)
            return "http"
        env = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--env")
        rest = argv[argv.index("--") + 1:]
        use_stdio(t, rest[0], rest[1:], env)
        return "stdio"
    assert argv[:3] == ["npx", "@modelcontextprotocol/inspector", "--cli"], argv
    if "--transport" in argv:
        assert argv[argv.index("--transport") + 1] == "http"
        use_http(t, argv[3], headers)
        return "http"
    env = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "-e")
    cmd = [a for i, a in enumerate(argv[3:], 3) if a != "-e" and argv[i - 1] != "-e"]
    use_stdio(t, cmd[0], cmd[1:], env)
    return "stdio"


@pytest.fixture
def target(servers, backend, todo_bin, tmp_path):
    data = tmp_path / "var"
    if backend.name == "sqlite":  # DATA_DIR alone names the database, as the page says
        srv = servers.start(env={"DATABASE_URL": None}, data_dir=data)
        url = ""
    else:
        srv = servers.start()
        url = srv.env["DATABASE_URL"]
    user = signup(srv, email=unique_email("docs"))
    t = Target(srv, create_pat(user, "Claude Desktop", expires_in_days=365)["token"], data, url,
               todo_bin)
    t.srv_user_id = user.id
    return t


def test_every_documented_client_configuration_works(target):
    used = {}
    for section, lang, text in blocks():
        if lang == "json":
            doc = json.loads(text)
            entries = doc.get("mcpServers") or doc.get("servers")
            if not entries:
                continue
            for entry in entries.values():
                used.setdefault(section, set()).add(use_entry(target, entry))
        elif lang == "sh":
            for line in re.sub(r"\\\n\s*", " ", text).splitlines():
                line = line.strip()
                if line.startswith(("claude mcp add", "npx @modelcontextprotocol/inspector")):
                    used.setdefault(section, set()).add(use_command(target, line))
    assert used == {"MCP Inspector": {"http", "stdio"}, "Claude Desktop": {"http", "stdio"},
                    "Claude Code": {"http", "stdio"}, "Cursor": {"http", "stdio"},
                    "VS Code (GitHub Copilot agent mode)": {"http", "stdio"}}, used
