"""Accounts and tokens (issue 3): sign-up, login, /api/auth/me, rate limits, JWT verification."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    PASSWORD, RFC3339_Z, _attach_module_server_logs, anon_request, assert_422, assert_error,
    assert_status, b64u_json, claims_for, fresh_user, hs256, jwt_parts, make_jwt,
    module_server, request_from, server_secret, signup, unique_email,
)

SIGNUP = "/api/auth/signup"
LOGIN = "/api/auth/login"
ME = "/api/auth/me"


@pytest.fixture(scope="module")
def alice(module_server):
    return signup(module_server, email=unique_email("alice"), name="Alice")


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _me(srv, token) -> requests.Response:
    return anon_request(srv, "GET", ME, headers=_bearer(token))


def _assert_401(r, detail=None):
    assert_error(r, 401)
    www = r.headers.get("WWW-Authenticate", "")
    assert www.lower().startswith("bearer"), f"401 without WWW-Authenticate: Bearer (got {www!r})"
    if detail is not None:
        assert r.json()["detail"] == detail, r.json()


# --------------------------------------------------------------------------------------------
# Sign-up
# --------------------------------------------------------------------------------------------


def test_signup_returns_201_user_and_token(module_server):
    email = f"Mixed.Case-{uuid.uuid4().hex[:8]}@Example.COM"
    r = anon_request(module_server, "POST", SIGNUP, json={"email": email, "password": PASSWORD, "name": "Mixed"})
    assert_status(r, 201)
    body = r.json()
    assert set(body) >= {"user", "token"}, body
    assert body.get("token_type") == "bearer", body
    user = body["user"]
    assert set(user) == {"id", "email", "name", "created_at", "timezone", "email_reminders"}, user
    assert user["timezone"] == "UTC", "the default time zone is UTC"
    assert isinstance(user["id"], str) and user["id"], user
    assert user["email"] == email.lower(), "email must be stored lower-case"
    assert user["name"] == "Mixed"
    assert RFC3339_Z.match(user["created_at"]), user["created_at"]
    assert "password" not in r.text and "hash" not in r.text.lower(), "password material leaked"
    # the token is an HS256 JWT for this user, signed with JWT_SECRET
    header, claims, sig = jwt_parts(body["token"])
    assert header.get("alg") == "HS256", header
    h, p, _ = body["token"].split(".")
    assert hs256(server_secret(module_server), f"{h}.{p}") == sig, "token not signed with JWT_SECRET"
    assert claims["sub"] == user["id"] and claims["email"] == user["email"], claims
    now = time.time()
    assert claims["exp"] > now + 3600 and abs(claims["iat"] - now) < 300, claims
    assert claims.get("iss"), claims
    # and it authenticates
    me = _me(module_server, body["token"])
    assert_status(me, 200)
    assert me.json() == user


def test_signup_without_name_gives_null_name(module_server):
    r = anon_request(module_server, "POST", SIGNUP,
                     json={"email": unique_email("noname"), "password": "12345678"})  # 8: the minimum
    assert_status(r, 201)
    assert r.json()["user"]["name"] is None


def test_signup_duplicate_email_is_409_case_insensitively(module_server, alice):
    for email in (alice.email, alice.email.upper(), alice.email.capitalize()):
        r = anon_request(module_server, "POST", SIGNUP, json={"email": email, "password": PASSWORD})
        assert_error(r, 409)
    # the original account is untouched: its password still works
    r = anon_request(module_server, "POST", LOGIN, json={"email": alice.email, "password": PASSWORD})
    assert_status(r, 200)
    assert r.json()["user"]["id"] == alice.id


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "@example.com", "user@", "a b@example.com",
                                   "two@@example.com", "", "x" * 250 + "@example.com"])
def test_signup_invalid_email_is_422(module_server, email):
    r = anon_request(module_server, "POST", SIGNUP, json={"email": email, "password": PASSWORD})
    assert_422(r, ["body", "email"])


@pytest.mark.parametrize("password", ["", "1234567", "short"])
def test_signup_short_password_is_422(module_server, password):
    r = anon_request(module_server, "POST", SIGNUP, json={"email": unique_email(), "password": password})
    assert_422(r, ["body", "password"])


def test_signup_missing_fields_is_422(module_server):
    r = anon_request(module_server, "POST", SIGNUP, json={})
    detail = assert_422(r, ["body", "email"], ["body", "password"])
    assert {d["type"] for d in detail} == {"missing"}, detail
    r = anon_request(module_server, "POST", SIGNUP, json={"email": unique_email()})
    assert_422(r, ["body", "password"])


@pytest.mark.parametrize("name", ["a\x01b", "line\nbreak", "tab\r", "del\x7f", "nul\x00x",
                                  "c1\x85x", "x" * 101, "\u00e9" * 101],
                         ids=["soh", "lf", "cr", "del", "nul", "c1", "101-ascii", "101-accented"])
def test_signup_name_follows_the_title_text_rule(module_server, name):
    """One text rule for every user-supplied name: control characters are refused in user
    names as in task titles, and the limit counts characters."""
    r = anon_request(module_server, "POST", SIGNUP,
                     json={"email": unique_email("name"), "password": PASSWORD, "name": name})
    assert_422(r, ["body", "name"])


def test_signup_name_is_trimmed_and_counted_in_characters(module_server):
    r = anon_request(module_server, "POST", SIGNUP,
                     json={"email": unique_email("name"), "password": PASSWORD,
                           "name": "  \u00e9" * 1 + "\u00e9" * 99 + "\t "})
    assert r.status_code == 201, r.text
    assert r.json()["user"]["name"] == "\u00e9" * 100
    r = anon_request(module_server, "POST", SIGNUP,
                     json={"email": unique_email("name"), "password": PASSWORD, "name": "Ann\tLee"})
    assert r.status_code == 201, r.text
    assert r.json()["user"]["name"] == "Ann\tLee"
    r = anon_request(module_server, "POST", SIGNUP,
                     json={"email": unique_email("name"), "password": PASSWORD, "name": "   "})
    assert r.status_code == 201, r.text
    assert r.json()["user"]["name"] is None


def test_signup_wrong_types_are_422(module_server):
    r = anon_request(module_server, "POST", SIGNUP, json={"email": 42, "password": PASSWORD})
    assert_422(r, ["body", "email"])
    r = anon_request(module_server, "POST", SIGNUP, json={"email": unique_email(), "password": 12345678})
    assert_422(r, ["body", "password"])


@pytest.mark.parametrize("body", ["[]", '["a"]', '"string"', "42", "null", "true"])
def test_signup_non_object_body_is_422(module_server, body):
    r = anon_request(module_server, "POST", SIGNUP, data=body, headers={"Content-Type": "application/json"})
    assert_422(r, ["body"])


def test_signup_malformed_json_is_400(module_server):
    r = anon_request(module_server, "POST", SIGNUP, data='{"email": "a@example.com",',
                     headers={"Content-Type": "application/json"})
    assert_error(r, 400)


# --------------------------------------------------------------------------------------------
# Login and /me
# --------------------------------------------------------------------------------------------


def test_login_returns_user_and_token(module_server, alice):
    r = anon_request(module_server, "POST", LOGIN, json={"email": alice.email, "password": PASSWORD})
    assert_status(r, 200)
    body = r.json()
    assert body["user"] == alice.body["user"], (body["user"], alice.body["user"])
    assert isinstance(body["token"], str) and body["token"].count(".") == 2
    me = _me(module_server, body["token"])
    assert_status(me, 200)
    assert me.json()["id"] == alice.id


def test_login_email_is_case_insensitive(module_server, alice):
    r = anon_request(module_server, "POST", LOGIN, json={"email": alice.email.upper(), "password": PASSWORD})
    assert_status(r, 200)
    assert r.json()["user"]["id"] == alice.id


def test_login_failures_are_401_with_one_generic_body(module_server, alice):
    wrong_pw = anon_request(module_server, "POST", LOGIN,
                            json={"email": alice.email, "password": PASSWORD + "x"})
    unknown = anon_request(module_server, "POST", LOGIN,
                           json={"email": unique_email("nobody"), "password": PASSWORD})
    assert_error(wrong_pw, 401)
    assert_error(unknown, 401)
    assert wrong_pw.json() == unknown.json(), (
        f"account enumeration: wrong password → {wrong_pw.json()!r}, unknown email → {unknown.json()!r}")
    assert "token" not in wrong_pw.json()


def test_login_missing_fields_is_422(module_server):
    r = anon_request(module_server, "POST", LOGIN, json={"email": "a@example.com"})
    assert_422(r, ["body", "password"])
    r = anon_request(module_server, "POST", LOGIN, json=[])
    assert_422(r, ["body"])


def test_me_returns_the_user(module_server, alice):
    r = _me(module_server, alice.token)
    assert_status(r, 200)
    assert r.json() == alice.body["user"]


def test_me_without_token_is_401(module_server):
    _assert_401(anon_request(module_server, "GET", ME))


# --------------------------------------------------------------------------------------------
# Token verification
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [ME, "/api/me/tasks"])
def test_missing_authorization_header_is_401_with_bearer_challenge(module_server, path):
    r = anon_request(module_server, "GET", path)
    _assert_401(r)


@pytest.mark.parametrize("value", [
    "Bearer", "Bearer ", "Bearer notatoken", "Bearer a.b.c", "Bearer ...", "Basic dXNlcjpwYXNz",
    "Token {token}", "{token}", "Bearer {token}.x", "Bearer {token}x",
])
def test_garbage_tokens_are_401(module_server, alice, value):
    r = anon_request(module_server, "GET", ME, headers={"Authorization": value.format(token=alice.token)})
    _assert_401(r)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "AAAA", "real"])
def test_alg_none_is_rejected(module_server, alice, alg, signature):
    header = b64u_json({"alg": alg, "typ": "JWT"})
    payload = b64u_json(claims_for(alice.id, alice.email))
    if signature == "real":
        signature = hs256(server_secret(module_server), f"{header}.{payload}")
    _assert_401(_me(module_server, f"{header}.{payload}.{signature}"))


@pytest.mark.parametrize("header", [
    {"alg": "HS512", "typ": "JWT"}, {"alg": "HS384", "typ": "JWT"}, {"alg": "RS256", "typ": "JWT"},
    {"alg": "ES256", "typ": "JWT"}, {"alg": "EdDSA", "typ": "JWT"}, {"typ": "JWT"}, {"alg": ["HS256"]},
    # A NUL inside the JSON string: C string compares used to stop there and accept these.
    {"alg": "HS256\x00x", "typ": "JWT"}, {"alg": "HS256\x00", "typ": "JWT"},
    {"alg": "HS256", "typ": "JWT\x00junk"},
])
def test_algorithms_outside_the_allow_list_are_rejected(module_server, alice, header):
    # signed with HMAC-SHA256 and the right secret: only the header's alg is wrong
    _assert_401(_me(module_server, make_jwt(claims_for(alice.id, alice.email),
                                            server_secret(module_server), header=header)))


def test_hs256_with_a_wrong_key_is_rejected(module_server, alice):
    _assert_401(_me(module_server, make_jwt(claims_for(alice.id, alice.email),
                                            server_secret(module_server) + "x")))
    _assert_401(_me(module_server, make_jwt(claims_for(alice.id, alice.email), "secret")))


def test_truncated_or_altered_signature_is_rejected(module_server, alice):
    token = alice.token
    assert_status(_me(module_server, token), 200)
    h, p, s = token.split(".")
    for bad in (s[:-1], s[:-2], s[:-4], s[: len(s) // 2], "",
                ("A" if s[0] != "A" else "B") + s[1:]):
        _assert_401(_me(module_server, f"{h}.{p}.{bad}"))


def test_tampered_payload_is_rejected(module_server, alice):
    other = fresh_user(module_server)
    assert_status(_me(module_server, other.token), 200)  # other exists
    h, _p, s = alice.token.split(".")
    _, claims, _ = jwt_parts(alice.token)
    for change in ({"sub": other.id}, {"exp": claims["exp"] + 86400 * 365}, {"email": "x@example.com"}):
        forged = dict(claims, **change)
        _assert_401(_me(module_server, f"{h}.{b64u_json(forged)}.{s}"))


def test_expired_token_is_401_token_expired(module_server, alice):
    now = int(time.time())
    token = make_jwt(claims_for(alice.id, alice.email, iat=now - 7200, exp=now - 120),
                     server_secret(module_server))
    _assert_401(_me(module_server, token), detail="Token expired")
    # also refused on the task routes
    r = anon_request(module_server, "GET", "/api/me/tasks", headers=_bearer(token))
    _assert_401(r, detail="Token expired")


def test_expiry_within_the_60s_leeway_is_accepted(module_server, alice):
    now = int(time.time())
    token = make_jwt(claims_for(alice.id, alice.email, iat=now - 3600, exp=now - 30),
                     server_secret(module_server))
    r = _me(module_server, token)
    assert_status(r, 200)
    assert r.json()["id"] == alice.id


def test_not_before_in_the_future_is_rejected(module_server, alice):
    now = int(time.time())
    token = make_jwt(claims_for(alice.id, alice.email, nbf=now + 600), server_secret(module_server))
    _assert_401(_me(module_server, token))


def test_not_before_within_leeway_is_accepted(module_server, alice):
    now = int(time.time())
    token = make_jwt(claims_for(alice.id, alice.email, nbf=now + 20), server_secret(module_server))
    assert_status(_me(module_server, token), 200)


@pytest.mark.parametrize("drop", ["exp", "sub"])
def test_token_without_required_claim_is_rejected(module_server, alice, drop):
    claims = claims_for(alice.id, alice.email)
    del claims[drop]
    _assert_401(_me(module_server, make_jwt(claims, server_secret(module_server))))


def test_non_canonical_base64url_is_rejected(module_server, alice):
    h, p, s = alice.token.split(".")
    # standard-alphabet padding and characters are not base64url
    _assert_401(_me(module_server, f"{h}=.{p}.{s}"))
    _assert_401(_me(module_server, f"{h}.{p}.{s}="))
    _assert_401(_me(module_server, f"{h}.{p}.{s.replace('-', '+').replace('_', '/')}+"))


def test_token_for_a_never_seen_user_creates_the_user(module_server):
    sub = "external-user-123"
    email = f"external-{uuid.uuid4().hex[:8]}@example.com"
    token = make_jwt(claims_for(sub, email), server_secret(module_server))
    r = _me(module_server, token)
    assert_status(r, 200)
    user = r.json()
    assert user["id"] == sub and user["email"] == email, user
    assert RFC3339_Z.match(user["created_at"]), user
    # the account is usable for tasks, with the real id and with "me"
    r = anon_request(module_server, "POST", f"/api/{sub}/tasks", json={"title": "from elsewhere"},
                     headers=_bearer(token))
    assert_status(r, 201)
    assert r.json()["user_id"] == sub
    r = anon_request(module_server, "GET", "/api/me/tasks", headers=_bearer(token))
    assert_status(r, 200)
    assert [t["title"] for t in r.json()] == ["from elsewhere"]
    # a second request (user already exists) works the same
    assert_status(_me(module_server, token), 200)


# --------------------------------------------------------------------------------------------
# Rate limits (RATE_LIMIT_PER_MINUTE=3, fixed one-minute windows)
# --------------------------------------------------------------------------------------------

LIMIT = 3


def _avoid_window_edge(need: float = 15.0):
    """The limiter's windows are aligned minutes: start well inside one so a test's requests
    all land in the same window."""
    into = time.time() % 60
    if into > 60 - need:
        time.sleep(60 - into + 0.2)


def _assert_429(status, headers, body, what):
    assert status == 429, f"{what}: expected 429, got {status} {body!r}"
    ra = headers.get("retry-after")
    assert ra is not None and ra.isdigit() and 1 <= int(ra) <= 60, f"{what}: Retry-After {ra!r}"
    assert isinstance(body, dict) and isinstance(body.get("detail"), str), body


@pytest.fixture
def limited(servers):
    return servers.start(env={"RATE_LIMIT_PER_MINUTE": str(LIMIT)})


def test_signup_is_rate_limited_per_address(limited):
    _avoid_window_edge()
    ip = "127.0.0.1"
    for i in range(LIMIT):
        st, _h, body = request_from(limited, ip, "POST", SIGNUP,
                                    {"email": unique_email("rl"), "password": PASSWORD})
        assert st == 201, f"sign-up {i + 1} of {LIMIT} → {st} {body!r}"
    st, h, body = request_from(limited, ip, "POST", SIGNUP, {"email": unique_email("rl"), "password": PASSWORD})
    _assert_429(st, h, body, f"sign-up {LIMIT + 1}")
    # another address is not affected
    st, _h, body = request_from(limited, "127.0.0.2", "POST", SIGNUP,
                                {"email": unique_email("rl"), "password": PASSWORD})
    assert st == 201, f"sign-up from another address → {st} {body!r}"


def test_signup_is_rate_limited_per_email(limited):
    """README: sign-up and login are limited per address and per email. Sign-ups for one email
    from many addresses (409 once it exists, which tells whether an email is registered) stop
    at the limit; other emails are not affected."""
    _avoid_window_edge()
    email = unique_email("signup-victim")
    statuses = []
    for i in range(LIMIT):
        st, _h, body = request_from(limited, f"127.0.3.{10 + i}", "POST", SIGNUP,
                                    {"email": email, "password": PASSWORD})
        statuses.append(st)
    assert statuses == [201] + [409] * (LIMIT - 1), statuses
    st, h, body = request_from(limited, "127.0.3.20", "POST", SIGNUP,
                               {"email": email.upper(), "password": PASSWORD})
    _assert_429(st, h, body, f"sign-up {LIMIT + 1} for one email from a fresh address")
    st, _h, body = request_from(limited, "127.0.3.21", "POST", SIGNUP,
                                {"email": unique_email("other"), "password": PASSWORD})
    assert st == 201, f"sign-up for another email → {st} {body!r}"


def test_login_is_rate_limited_per_address(limited):
    _avoid_window_edge()
    ip = "127.0.0.2"
    for i in range(LIMIT):
        st, _h, body = request_from(limited, ip, "POST", LOGIN,
                                    {"email": unique_email("nobody"), "password": PASSWORD})
        assert st == 401, f"login {i + 1} → {st} {body!r}"
    st, h, body = request_from(limited, ip, "POST", LOGIN, {"email": unique_email("nobody"), "password": PASSWORD})
    _assert_429(st, h, body, f"login {LIMIT + 1} from one address (different emails)")
    st, _h, body = request_from(limited, "127.0.0.3", "POST", LOGIN,
                                {"email": unique_email("nobody"), "password": PASSWORD})
    assert st == 401, f"login from another address → {st} {body!r}"


def test_login_is_rate_limited_per_email(limited):
    _avoid_window_edge()
    email = unique_email("victim")
    for i in range(LIMIT):
        st, _h, body = request_from(limited, f"127.0.1.{10 + i}", "POST", LOGIN,
                                    {"email": email, "password": f"guess-{i}-xxxx"})
        assert st == 401, f"login {i + 1} → {st} {body!r}"
    st, h, body = request_from(limited, "127.0.1.20", "POST", LOGIN, {"email": email, "password": "guess-x-xxxx"})
    _assert_429(st, h, body, f"login {LIMIT + 1} for one email from a fresh address")
    # other emails from fresh addresses are not affected
    st, _h, body = request_from(limited, "127.0.1.21", "POST", LOGIN,
                                {"email": unique_email("other"), "password": PASSWORD})
    assert st == 401, f"login for another email → {st} {body!r}"


def test_login_email_limit_ignores_letter_case(limited):
    """Emails are case-insensitive, so the per-email limit must be too: otherwise changing the
    case of one letter buys another round of guesses."""
    _avoid_window_edge()
    email = unique_email("victim")
    for i in range(LIMIT):
        st, _h, body = request_from(limited, f"127.0.2.{10 + i}", "POST", LOGIN,
                                    {"email": email, "password": f"guess-{i}-xxxx"})
        assert st == 401, f"login {i + 1} → {st} {body!r}"
    st, h, body = request_from(limited, "127.0.2.20", "POST", LOGIN,
                               {"email": email.upper(), "password": "guess-x-xxxx"})
    _assert_429(st, h, body, f"login {LIMIT + 1} for the same email in upper case")


def test_behind_a_trusted_proxy_limits_apply_per_forwarded_client(limited):
    """The web role and ingresses reach the API from one address: behind a trusted proxy
    (FORWARDED_ALLOW_IPS, default 127.0.0.1) the limit must follow X-Forwarded-For, or all
    users would share one budget."""
    _avoid_window_edge()
    proxy = "127.0.0.1"
    for i in range(LIMIT):
        st, _h, body = request_from(limited, proxy, "POST", LOGIN,
                                    {"email": unique_email("fwd"), "password": PASSWORD},
                                    headers={"X-Forwarded-For": "198.51.100.7"})
        assert st == 401, f"login {i + 1} → {st} {body!r}"
    st, h, body = request_from(limited, proxy, "POST", LOGIN,
                               {"email": unique_email("fwd"), "password": PASSWORD},
                               headers={"X-Forwarded-For": "198.51.100.7"})
    _assert_429(st, h, body, "forwarded client over its limit")
    # Another client behind the same proxy has its own budget; a client-supplied first entry
    # cannot impersonate it (the proxy's own, rightmost entry counts).
    st, _h, body = request_from(limited, proxy, "POST", LOGIN,
                                {"email": unique_email("fwd"), "password": PASSWORD},
                                headers={"X-Forwarded-For": "198.51.100.7, 198.51.100.8"})
    assert st == 401, f"another forwarded client → {st} {body!r}"


def test_forwarded_header_from_an_untrusted_peer_is_ignored(limited):
    _avoid_window_edge()
    peer = "127.0.4.9"  # not in FORWARDED_ALLOW_IPS
    for i in range(LIMIT):
        st, _h, body = request_from(limited, peer, "POST", LOGIN,
                                    {"email": unique_email("spoof"), "password": PASSWORD},
                                    headers={"X-Forwarded-For": f"203.0.113.{i}"})
        assert st == 401, f"login {i + 1} → {st} {body!r}"
    st, h, body = request_from(limited, peer, "POST", LOGIN,
                               {"email": unique_email("spoof"), "password": PASSWORD},
                               headers={"X-Forwarded-For": "203.0.113.99"})
    _assert_429(st, h, body, "rotating X-Forwarded-For from an untrusted peer")
