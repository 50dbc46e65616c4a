"""Where /mcp is served (issue 11): `serve --role mcp` alone on MCP_SERVER_PORT (seed 003's
mcp-server, default 8001), `all` and `api` as well, and the web role's proxy in front of the
API, so an MCP client configured with the web origin works; MCP_SERVER_NAME names the server.
"""

from __future__ import annotations

import subprocess

import pytest
import requests

from api_helpers import NO_LIMIT, fresh_user, signup, unique_email
from conftest import free_port
from helpers import scaled, wait_until
from mcp_helpers import LATEST, TOOLS, Raw, http_client, run, structured


def sdk_round_trip(url, token):
    async def go():
        async with http_client(url, token) as c:
            assert c.session.protocol_version == LATEST
            names = sorted(t.name for t in (await c.list_tools()).tools)
            added = structured(await c.call_tool("add_task", {"title": "through " + url}))
            return c.session.server_info.name, names, added
    return run(go())


def test_mcp_role_alone_on_mcp_server_port(servers, cli):
    port = free_port()
    # PORT is ignored by the mcp role: MCP_SERVER_PORT is where it listens
    srv = servers.start(env={**NO_LIMIT, "ROLE": "mcp", "PORT": str(port),
                             "MCP_SERVER_PORT": str(port), "MCP_SERVER_NAME": "todo-mcp"})
    user = fresh_user(srv)
    name, names, added = sdk_round_trip(srv.url("/mcp"), user.token)
    assert name == "todo-mcp" and names == sorted(TOOLS)
    assert added["task"]["user_id"] == user.id
    assert srv.get("/health").status_code == 200
    assert srv.get("/ready").status_code == 200
    meta = srv.get("/.well-known/oauth-protected-resource/mcp")
    assert meta.status_code == 200 and meta.json()["resource"] == srv.url("/mcp")
    # nothing else: the REST API, the documents and the UI are the other roles'
    for path in ("/api/me/tasks", "/docs", "/openapi.json", "/", "/index.html"):
        r = srv.get(path, headers=user.headers())
        assert r.status_code == 404 and r.json() == {"detail": "Not Found"}, (path, r.text[:200])
    # the healthcheck command finds it where serve listens
    hc = cli.run("healthcheck", env={"ROLE": "mcp", "MCP_SERVER_PORT": str(port),
                                     "PORT": str(free_port())})
    assert hc.returncode == 0, hc.describe()


def test_mcp_server_port_wins_over_port_and_defaults_to_8001(servers, cli):
    mcp_port, other = free_port(), free_port()
    srv = servers.prepare(env={**NO_LIMIT, "ROLE": "mcp", "PORT": str(other),
                               "MCP_SERVER_PORT": str(mcp_port)})
    srv.start()

    def up():
        try:
            return requests.get(f"http://127.0.0.1:{mcp_port}/health",
                                timeout=scaled(1)).status_code == 200
        except requests.RequestException:
            return False
    assert wait_until(up, scaled(15)), srv.tail()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{other}/health", timeout=scaled(2))
    srv.port = mcp_port  # so that the harness stops the right server
    shown = cli.run("config", "check", env={"ROLE": "mcp", "MCP_SERVER_PORT": None,
                                            "PORT": "9999"})
    assert shown.returncode == 0, shown.describe()
    assert "ROLE=mcp" in shown.stdout and "PORT=8001" in shown.stdout.splitlines()
    assert "MCP_SERVER_PORT=8001" in shown.stdout


def test_bad_mcp_settings_are_refused(cli):
    for env, name in (({"MCP_SERVER_PORT": "0"}, "MCP_SERVER_PORT"),
                      ({"MCP_SERVER_PORT": "x"}, "MCP_SERVER_PORT"),
                      ({"MCP_SERVER_NAME": "a" * 65}, "MCP_SERVER_NAME"),
                      ({"MCP_SERVER_NAME": "tab\there"}, "MCP_SERVER_NAME"),
                      ({"MCP_TOOLS_PAGE_SIZE": "-1"}, "MCP_TOOLS_PAGE_SIZE")):
        r = cli.run("config", "check", env=env)
        assert r.returncode == 2 and name in r.stderr, r.describe()


def test_api_role_serves_mcp(servers):
    srv = servers.start(env={**NO_LIMIT, "ROLE": "api"})
    user = fresh_user(srv)
    _name, names, _added = sdk_round_trip(srv.url("/mcp"), user.token)
    assert names == sorted(TOOLS)


def test_through_the_web_roles_proxy(servers):
    api = servers.start(env={**NO_LIMIT, "ROLE": "api"})
    web = servers.start(env={**NO_LIMIT, "ROLE": "web", "API_URL": api.base_url})
    user = signup(web, email=unique_email("via-web"))
    _name, names, added = sdk_round_trip(web.url("/mcp"), user.token)
    assert names == sorted(TOOLS)
    assert user.task(added["task_id"]).status_code == 200
    # the 401's metadata and the metadata itself name the origin the client used: the web's
    r = requests.post(web.url("/mcp"), json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                      headers={"Accept": "application/json, text/event-stream"},
                      timeout=scaled(10))
    assert r.status_code == 401
    assert web.url("/.well-known/oauth-protected-resource/mcp") in r.headers["WWW-Authenticate"]
    meta = requests.get(web.url("/.well-known/oauth-protected-resource/mcp"), timeout=10)
    assert meta.status_code == 200 and meta.json()["resource"] == web.url("/mcp")
    # sessions, DELETE and GET's 405 pass through the proxy unchanged
    raw = Raw(web, user.token)
    raw.initialize()
    assert raw.request("ping").status_code == 200
    assert requests.get(web.url("/mcp"), headers=raw.headers(), timeout=10).status_code == 405
    assert raw.delete().status_code == 204
    assert raw.request("ping").status_code == 404
    # DNS-rebinding protection holds through the proxy: a foreign Origin is refused
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": LATEST, "capabilities": {},
                       "clientInfo": {"name": "page", "version": "1"}}}
    r = raw.post(init, headers={"Origin": "http://evil.example"}, session=False)
    assert r.status_code == 403 and "Mcp-Session-Id" not in r.headers, r.text
