"""The conversations routes' guards (issue 12): authentication, the path's user, ids, and
404 for a conversation that does not exist. Conversations with messages, and isolation
between users on every route, are in test_chat_offline.py (they are made by chatting)."""

from __future__ import annotations

from api_helpers import (anon_request, assert_422, assert_error, assert_status, fresh_user,
                         module_server)  # noqa: F401

ROUTES = [("GET", "/api/{who}/conversations/{cid}"),
          ("PATCH", "/api/{who}/conversations/{cid}"),
          ("DELETE", "/api/{who}/conversations/{cid}")]


def test_empty_list(module_server):
    u = fresh_user(module_server)
    r = u.get("/api/me/conversations")
    assert_status(r, 200)
    assert r.json() == [] and r.headers["X-Total-Count"] == "0"
    assert_422(u.get("/api/me/conversations?limit=0"), ["query", "limit"])
    assert_422(u.get("/api/me/conversations?offset=-1"), ["query", "offset"])


def test_guards(module_server):
    u, other = fresh_user(module_server), fresh_user(module_server)
    assert_error(anon_request(module_server, "GET", "/api/me/conversations"), 401)
    assert_error(u.get(f"/api/{other.id}/conversations"), 403)
    for method, path in ROUTES:
        kw = {"json": {"title": "x"}} if method == "PATCH" else {}
        assert_error(anon_request(module_server, method, path.format(who="me", cid=1), **kw), 401)
        assert_error(u.request(method, path.format(who=other.id, cid=1), **kw), 403)
        assert_error(u.request(method, path.format(who="me", cid=999999), **kw), 404)
        assert_422(u.request(method, path.format(who="me", cid="abc"), **kw),
                   ["path", "conversation_id"])
