#!/usr/bin/env python3
"""An MCP client's round trip against a deployed todo (make k8s-test), standard library only.

usage: mcp_flow.py MCP_URL --state STATE.json [--api BASE_URL]

STATE.json is api_flow.py's (a signed-up user's token and the title of a task it created).
With --api, a personal access token is made through BASE_URL's REST API first and the MCP
exchange uses it (else the sign-in token). The exchange, over Streamable HTTP at MCP_URL:
initialize (2025-11-25) → Mcp-Session-Id, notifications/initialized → 202, tools/list (the
eight tools), tools/call list_tasks finds the task api_flow.py made, add_task, an unknown
session → 404, no token → 401 with resource_metadata, DELETE ends the session. Prints one
line; exit 0 only when every step held."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

TIMEOUT = 15
TOOLS = {"add_task", "list_tasks", "get_task", "complete_task", "delete_task", "update_task",
         "list_tags", "task_stats"}


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json, text/event-stream")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            raw = r.read()
            return r.status, dict(r.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return e.code, dict(e.headers), parsed


def main(argv):
    url = argv[1]
    state = json.load(open(argv[argv.index("--state") + 1]))
    token = state["token"]
    how = "sign-in JWT"
    if "--api" in argv:
        api = argv[argv.index("--api") + 1].rstrip("/")
        code, _h, body = http("POST", f"{api}/api/me/tokens", {"name": "k8s-test MCP client"},
                              {"Authorization": f"Bearer {token}"})
        if code != 201 or not str((body or {}).get("token", "")).startswith("todo_pat_"):
            return f"creating a personal access token answered {code}: {body}"
        token, how = body["token"], "personal access token"
    auth = {"Authorization": f"Bearer {token}"}
    code, headers, body = http("POST", url, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                             "params": {"protocolVersion": "2025-11-25",
                                                        "capabilities": {},
                                                        "clientInfo": {"name": "k8s-test",
                                                                       "version": "1"}}}, auth)
    sid = {k.lower(): v for k, v in headers.items()}.get("mcp-session-id")
    if code != 200 or not sid or body.get("result", {}).get("protocolVersion") != "2025-11-25":
        return f"initialize answered {code} {body}"
    sess = {**auth, "Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"}
    code, _h, _b = http("POST", url, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                        sess)
    if code != 202:
        return f"notifications/initialized answered {code}"
    code, _h, body = http("POST", url, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, sess)
    names = {t["name"] for t in (body or {}).get("result", {}).get("tools", [])}
    if code != 200 or names != TOOLS:
        return f"tools/list answered {code}: {sorted(names)}"
    code, _h, body = http("POST", url, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                        "params": {"name": "list_tasks",
                                                   "arguments": {"search": state["title"]}}},
                          sess)
    found = [t["title"] for t in ((body or {}).get("result", {}).get("structuredContent") or {})
             .get("tasks", [])]
    if code != 200 or state["title"] not in found:
        return f"list_tasks did not find {state['title']!r}: {code} {body}"
    code, _h, body = http("POST", url, {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                                        "params": {"name": "add_task",
                                                   "arguments": {"title": "added over MCP"}}},
                          sess)
    added = ((body or {}).get("result") or {}).get("structuredContent") or {}
    if code != 200 or added.get("status") != "created":
        return f"add_task answered {code} {body}"
    code, _h, _b = http("POST", url, {"jsonrpc": "2.0", "id": 5, "method": "ping"},
                        {**sess, "Mcp-Session-Id": "0" * 64})
    if code != 404:
        return f"an unknown session answered {code}, expected 404"
    code, headers, _b = http("POST", url, {"jsonrpc": "2.0", "id": 6, "method": "ping"})
    challenge = {k.lower(): v for k, v in headers.items()}.get("www-authenticate", "")
    if code != 401 or "resource_metadata=" not in challenge:
        return f"no token answered {code} {challenge!r}, expected 401 with resource_metadata"
    code, _h, _b = http("DELETE", url, None, sess)
    if code != 204:
        return f"DELETE answered {code}"
    code, _h, _b = http("POST", url, {"jsonrpc": "2.0", "id": 7, "method": "ping"}, sess)
    if code != 404:
        return f"the ended session answered {code}, expected 404"
    print(f"MCP at {url} with a {how}: initialize, 8 tools, list_tasks found the task, "
          f"add_task #{added.get('task_id')}, unknown session 404, no token 401, session ended")
    return None


if __name__ == "__main__":
    try:
        problem = main(sys.argv)
    except Exception as e:  # a network error is a failed step, with its reason
        problem = f"{type(e).__name__}: {e}"
    if problem:
        print(problem)
        sys.exit(1)
