"""Personal access tokens (issue 11): POST/GET/DELETE /api/{user_id}/tokens.

A token is shown once, works wherever a sign-in token does, expires, and stops working at once
when revoked, on every server sharing the database. Every tokens route is isolated: another
user's id in the path is 403, another user's token id is 404, and nothing changes. Expiry is
not waited out: the tests move the stored time in the database itself."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest
import requests

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    NO_LIMIT, TOKEN_ROUTES, User, _attach_module_server_logs, anon_request, assert_422,
    assert_error, assert_status, create_pat, module_server, pat_user, signup, sql_on,
    unique_email,
)
from helpers import scaled

PAT_RE = re.compile(r"^todo_pat_[A-Za-z0-9_-]{43}$")
TOKEN_KEYS = {"id", "name", "hint", "created_at", "expires_at", "last_used_at"}
ROUTE_IDS = [f"{m} {p}" for m, p in TOKEN_ROUTES]


@pytest.fixture(scope="module")
def alice(module_server):
    return signup(module_server, email=unique_email("alice"), name="Alice")


@pytest.fixture(scope="module")
def bob(module_server):
    return signup(module_server, email=unique_email("bob"), name="Bob")


def _when(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def _token_ids(user) -> list:
    r = user.get("/api/me/tokens")
    assert_status(r, 200)
    return [t["id"] for t in r.json()]


# --- creating and listing ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["me", "{uid}"], ids=["me", "user_id"])
def test_create_shows_the_secret_once_and_lists_never_show_it(alice, who):
    r = alice.post(f"/api/{who}/tokens", json={"name": "  Claude Desktop  "})
    assert_status(r, 201)
    body = r.json()
    assert set(body) == TOKEN_KEYS | {"token"}, body
    assert PAT_RE.match(body["token"]), body["token"]
    assert body["name"] == "Claude Desktop"  # trimmed like every name
    assert body["hint"].startswith("todo_pat_") and body["hint"].endswith(body["token"][-4:])
    assert body["last_used_at"] is None
    assert r.headers["Location"] == f"/api/{who.replace('{uid}', alice.id)}/tokens/{body['id']}"
    assert "no-store" in r.headers.get("Cache-Control", "")
    # 90 days by default
    assert abs(_when(body["expires_at"]) - _when(body["created_at"]) - 90 * 86400) <= 1
    listed = alice.get(f"/api/{who}/tokens")
    assert_status(listed, 200)
    mine = [t for t in listed.json() if t["id"] == body["id"]]
    assert len(mine) == 1 and set(mine[0]) == TOKEN_KEYS, listed.json()
    assert body["token"] not in listed.text and body["token"][9:] not in listed.text


def test_two_tokens_never_share_a_secret(alice):
    a, b = create_pat(alice, "one"), create_pat(alice, "two")
    assert a["token"] != b["token"] and a["id"] != b["id"]


def test_lifetime_days_and_tokens_that_never_expire(alice):
    t = create_pat(alice, "a year", expires_in_days=365)
    assert abs(_when(t["expires_at"]) - _when(t["created_at"]) - 365 * 86400) <= 1
    forever = create_pat(alice, "forever", expires_in_days=None)
    assert forever["expires_at"] is None
    u = User(alice.srv, alice.id, forever["token"])
    assert_status(u.get("/api/me/tasks"), 200)


@pytest.mark.parametrize("body,loc", [
    ({}, ["body", "name"]),
    ({"name": ""}, ["body", "name"]),
    ({"name": "   "}, ["body", "name"]),
    ({"name": "x" * 101}, ["body", "name"]),
    ({"name": "two\nlines"}, ["body", "name"]),
    ({"name": 7}, ["body", "name"]),
    ({"name": "ok", "expires_in_days": 0}, ["body", "expires_in_days"]),
    ({"name": "ok", "expires_in_days": 3651}, ["body", "expires_in_days"]),
    ({"name": "ok", "expires_in_days": 1.5}, ["body", "expires_in_days"]),
    ({"name": "ok", "expires_in_days": "30"}, ["body", "expires_in_days"]),
])
def test_invalid_create_is_422_and_creates_nothing(alice, body, loc):
    before = _token_ids(alice)
    assert_422(alice.post("/api/me/tokens", json=body), loc)
    assert _token_ids(alice) == before


def test_malformed_bodies(alice):
    r = alice.post("/api/me/tokens", data="{", headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    r = alice.post("/api/me/tokens", data="name=x", headers={"Content-Type": "text/plain"})
    assert_error(r, 415)
    assert_422(alice.post("/api/me/tokens", json=["name"]), ["body"])


# --- using a token -------------------------------------------------------------------------


def test_a_token_works_like_a_sign_in_for_the_rest_api(alice):
    pat = pat_user(alice, "script")
    created = pat.create(title="made with a token")
    assert created["user_id"] == alice.id
    assert created["id"] in alice.list_ids(limit=200)
    assert_status(pat.get("/api/auth/me"), 200)
    assert pat.get("/api/auth/me").json()["id"] == alice.id
    assert_status(pat.get(f"/api/{alice.id}/tasks/stats"), 200)
    assert_status(pat.delete(f"/api/me/tasks/{created['id']}"), 204)


def test_last_used_at_records_use(alice):
    t = create_pat(alice, "used")
    assert_status(User(alice.srv, alice.id, t["token"]).get("/api/me/tasks"), 200)
    listed = {x["id"]: x for x in alice.get("/api/me/tokens").json()}
    used = listed[t["id"]]["last_used_at"]
    assert used is not None and abs(_when(used) - time.time()) < scaled(60), used


def test_a_token_cannot_create_tokens_but_can_list_and_revoke(alice):
    pat = pat_user(alice, "limited")
    before = _token_ids(alice)
    r = pat.post("/api/me/tokens", json={"name": "successor"})
    assert_error(r, 403)
    assert _token_ids(alice) == before
    assert_status(pat.get("/api/me/tokens"), 200)
    assert_status(pat.delete(f"/api/me/tokens/{pat.body['id']}"), 204)  # revokes itself
    assert_error(pat.get("/api/me/tasks"), 401)


@pytest.mark.parametrize("token", [
    "todo_pat_", "todo_pat_" + "A" * 43, "todo_pat_" + "A" * 42, "todo_pat_" + "A" * 44,
    "todo_pat_" + "!" * 43, "todo_pat_" + "A" * 40 + "%00x",
])
def test_unknown_or_malformed_tokens_are_401(module_server, token):
    r = anon_request(module_server, "GET", "/api/me/tasks",
                     headers={"Authorization": f"Bearer {token}"})
    assert_error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401_at_once(alice):
    pat = pat_user(alice, "to revoke")
    assert_status(pat.get("/api/me/tasks"), 200)
    assert_status(alice.delete(f"/api/me/tokens/{pat.body['id']}"), 204)
    r = pat.get("/api/me/tasks")
    assert_error(r, 401)
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert pat.body["id"] not in _token_ids(alice)
    assert_error(alice.delete(f"/api/me/tokens/{pat.body['id']}"), 404)  # gone for good
    assert_status(alice.get("/api/me/tasks"), 200)  # the sign-in still works


def test_expired_token_is_401(module_server, alice):
    pat = pat_user(alice, "short-lived", expires_in_days=1)
    assert_status(pat.get("/api/me/tasks"), 200)
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
    sql_on(module_server, f"UPDATE access_tokens SET expires_at = '{past}' "
                          f"WHERE id = {int(pat.body['id'])}")
    r = pat.get("/api/me/tasks")
    assert_error(r, 401)
    assert r.json()["detail"] == "Token expired"
    # still listed, so the user sees why it stopped working
    listed = {x["id"]: x for x in alice.get("/api/me/tokens").json()}
    assert listed[pat.body["id"]]["expires_at"] is not None


def test_at_most_fifty_tokens(servers):
    srv = servers.start(env=NO_LIMIT)
    u = signup(srv, email=unique_email("many"))
    for i in range(50):
        create_pat(u, f"t{i}")
    r = u.post("/api/me/tokens", json={"name": "one too many"})
    assert_error(r, 409)
    assert len(_token_ids(u)) == 50
    assert_status(u.delete(f"/api/me/tokens/{_token_ids(u)[0]}"), 204)
    create_pat(u, "room again")


def test_revocation_holds_on_every_replica(servers):
    """Two servers on one database: a token revoked through one is refused by the other on
    its very next request (nothing is cached)."""
    one = servers.start(env=NO_LIMIT)
    two = servers.start(env=NO_LIMIT, database_url=one.env["DATABASE_URL"])
    u = signup(one, email=unique_email("replicas"))
    pat = pat_user(u, "shared")
    other = User(two, u.id, pat.token)
    assert_status(other.get("/api/me/tasks"), 200)
    assert_status(u.delete(f"/api/me/tokens/{pat.body['id']}"), 204)
    assert_error(other.get("/api/me/tasks"), 401)
    assert_error(pat.get("/api/me/tasks"), 401)


# --- isolation, for every tokens route -----------------------------------------------------


def _call(user, method, template, uid, tokid):
    path = template.replace("{uid}", uid).replace("{tokid}", str(tokid))
    kw = {"json": {"name": "planted by B"}} if method == "POST" else {}
    return user.request(method, path, **kw)


@pytest.mark.parametrize("method,template", TOKEN_ROUTES, ids=ROUTE_IDS)
def test_other_users_id_in_path_is_403_and_changes_nothing(alice, bob, method, template):
    a_pat = pat_user(alice, "A's")
    before_a, before_b = alice.get("/api/me/tokens").json(), _token_ids(bob)
    r = _call(bob, method, template, alice.id, a_pat.body["id"])
    assert_error(r, 403)
    assert a_pat.token not in r.text
    assert alice.get("/api/me/tokens").json() == before_a
    assert _token_ids(bob) == before_b
    assert_status(a_pat.get("/api/me/tasks"), 200)


@pytest.mark.parametrize("who", ["me", "own_id"])
def test_other_users_token_cannot_be_revoked(alice, bob, who):
    a_pat = pat_user(alice, "A's to keep")
    r = bob.delete(f"/api/{'me' if who == 'me' else bob.id}/tokens/{a_pat.body['id']}")
    body = assert_error(r, 404)
    missing = bob.delete("/api/me/tokens/999999999")
    assert body == assert_error(missing, 404)  # never reveals that the id exists
    assert a_pat.body["id"] in _token_ids(alice)
    assert_status(a_pat.get("/api/me/tasks"), 200)


def test_lists_show_only_own_tokens_and_a_token_acts_only_as_its_user(alice, bob):
    a_pat = pat_user(alice, "A's listed")
    b_ids = _token_ids(bob)
    assert a_pat.body["id"] not in b_ids
    # A's token is A: it sees A's tasks and never B's, and cannot reach B's path
    b_task = bob.create(title="B's private task")
    assert b_task["id"] not in a_pat.list_ids(limit=200)
    assert_error(a_pat.get(f"/api/me/tasks/{b_task['id']}"), 404)
    assert_error(a_pat.get(f"/api/{bob.id}/tasks"), 403)
    assert_error(a_pat.get(f"/api/{bob.id}/tokens"), 403)


@pytest.mark.parametrize("method,template", TOKEN_ROUTES, ids=ROUTE_IDS)
def test_every_tokens_route_requires_a_token(module_server, alice, method, template):
    before = alice.get("/api/me/tokens").json()
    for uid in ("me", alice.id):
        path = template.replace("{uid}", uid).replace("{tokid}", "1")
        kw = {"json": {"name": "anon"}} if method == "POST" else {}
        for headers in ({}, {"Authorization": "Bearer x.y.z"}):
            r = anon_request(module_server, method, path, headers=headers, **kw)
            assert_error(r, 401)
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert alice.get("/api/me/tokens").json() == before


def test_token_id_must_be_canonical(alice):
    for bad in ("x", "0", "+1", "01", "-1"):
        assert_422(alice.delete(f"/api/me/tokens/{bad}"), ["path", "token_id"])


def test_unknown_methods_on_tokens_routes(alice):
    r = alice.request("PUT", "/api/me/tokens")
    assert r.status_code == 405 and "GET" in r.headers.get("Allow", "")
    r = requests.request("GET", alice.srv.url("/api/me/tokens/1"),
                         headers=alice.headers(), timeout=scaled(5))
    assert r.status_code == 405 and "DELETE" in r.headers.get("Allow", "")
