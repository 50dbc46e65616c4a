"""Helpers for the MCP tests (test_mcp_*.py): the official Python SDK's client (the `mcp`
package from PyPI) over Streamable HTTP and stdio, and a raw JSON-RPC client for what an SDK
never sends (wrong headers, batches, malformed messages).

The SDK is asynchronous; `run()` drives one coroutine to completion with a bounded timeout,
so the tests themselves stay plain pytest functions."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Optional

import httpx2
import requests
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from helpers import scaled

ACCEPT = "application/json, text/event-stream"
LATEST = "2025-11-25"
VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
TOOLS = ("add_task", "list_tasks", "get_task", "complete_task", "delete_task", "update_task",
         "list_tags", "task_stats")


def run(coro, timeout: float = 60):
    """Runs coro to completion; fails after `timeout` (scaled) seconds."""
    async def bounded():
        return await asyncio.wait_for(coro, scaled(timeout))
    return asyncio.run(bounded())


@contextlib.asynccontextmanager
async def http_client(url: str, token: Optional[str], headers: Optional[dict] = None,
                      mode: str = "auto"):
    """An SDK Client connected to url (…/mcp) with a bearer token; `mode="auto"` is the SDK's
    default (it probes server/discover, then falls back to initialize)."""
    h = {"Authorization": f"Bearer {token}"} if token else {}
    h.update(headers or {})
    async with httpx2.AsyncClient(headers=h, timeout=scaled(30)) as hc:
        async with Client(streamable_http_client(url, http_client=hc), mode=mode,
                          raise_exceptions=True, cache=None) as c:
            yield c


@contextlib.asynccontextmanager
async def http_session(url: str, token: Optional[str], headers: Optional[dict] = None):
    """A bare SDK ClientSession (not yet initialized) over Streamable HTTP."""
    h = {"Authorization": f"Bearer {token}"} if token else {}
    h.update(headers or {})
    async with httpx2.AsyncClient(headers=h, timeout=scaled(30)) as hc:
        async with streamable_http_client(url, http_client=hc) as streams:
            async with ClientSession(streams[0], streams[1]) as s:
                yield s


def leaf_errors(exc: BaseException) -> list:
    """The exceptions inside (nested) exception groups, as anyio task groups raise them."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for e in exc.exceptions for leaf in leaf_errors(e)]
    return [exc]


def structured(result) -> dict:
    """A successful tools/call result: its structuredContent, after checking that the text
    block carries the same JSON."""
    assert not result.is_error, f"tool failed: {result.content}"
    sc = result.structured_content
    assert isinstance(sc, dict), result
    texts = [c for c in result.content if c.type == "text"]
    assert texts and json.loads(texts[0].text) == sc, (texts, sc)
    return sc


def tool_error(result) -> str:
    """A tool error's message (isError true, one text block)."""
    assert result.is_error, f"expected a tool error, got {result.structured_content}"
    texts = [c.text for c in result.content if c.type == "text"]
    assert texts and texts[0], result
    return texts[0]


class Raw:
    """JSON-RPC over plain HTTP, for the requests an SDK would never make."""

    def __init__(self, srv, token: Optional[str], url: Optional[str] = None):
        self.srv = srv
        self.url = url or srv.url("/mcp")
        self.token = token
        self.session: Optional[str] = None
        self.version: Optional[str] = None
        self.http = requests.Session()
        self._ids = 0

    def headers(self, extra: Optional[dict] = None, session: bool = True) -> dict:
        h = {"Content-Type": "application/json", "Accept": ACCEPT}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if session and self.session:
            h["Mcp-Session-Id"] = self.session
        if session and self.version:
            h["MCP-Protocol-Version"] = self.version
        h.update(extra or {})
        return {k: v for k, v in h.items() if v is not None}

    def post(self, body, headers: Optional[dict] = None, session: bool = True,
             raw: Optional[bytes] = None) -> requests.Response:
        data = raw if raw is not None else json.dumps(body).encode()
        return self.http.post(self.url, data=data, headers=self.headers(headers, session),
                              timeout=scaled(15))

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def initialize(self, version: str = LATEST, client: str = "raw-test") -> dict:
        r = self.post({"jsonrpc": "2.0", "id": self.next_id(), "method": "initialize",
                       "params": {"protocolVersion": version, "capabilities": {},
                                  "clientInfo": {"name": client, "version": "1"}}},
                      session=False)
        assert r.status_code == 200, r.text
        self.session = r.headers["Mcp-Session-Id"]
        result = r.json()["result"]
        self.version = result["protocolVersion"]
        n = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert n.status_code == 202 and n.content == b"", (n.status_code, n.text)
        return result

    def request(self, method: str, params: Optional[dict] = None, **kw) -> requests.Response:
        body = {"jsonrpc": "2.0", "id": self.next_id(), "method": method}
        if params is not None:
            body["params"] = params
        return self.post(body, **kw)

    def call(self, tool: str, arguments: Optional[dict] = None) -> dict:
        """tools/call → the JSON-RPC result (asserting HTTP 200 and no JSON-RPC error)."""
        r = self.request("tools/call", {"name": tool, "arguments": arguments or {}})
        assert r.status_code == 200, r.text
        body = r.json()
        assert "result" in body, body
        return body["result"]

    def delete(self) -> requests.Response:
        return self.http.delete(self.url, headers=self.headers(), timeout=scaled(15))


def assert_rpc_error(r: requests.Response, status: int, code: Optional[int] = None,
                     id_=None) -> dict:
    """An HTTP status whose body is a JSON-RPC error response (id null unless given)."""
    assert r.status_code == status, f"expected {status}, got {r.status_code} {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert body.get("jsonrpc") == "2.0" and "error" in body and "result" not in body, body
    assert body["id"] == id_, body
    assert isinstance(body["error"].get("code"), int) and body["error"].get("message"), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
