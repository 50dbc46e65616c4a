"""Request bodies on a JSON route (POST /api/auth/signup): 413, 415, 400.

A 404 from the route fails these tests (require_route): the route must exist.
"""

import json

import pytest

from helpers import SIGNUP, RawHttpConnection, assert_json_error, require_route

SMALL_LIMIT = 1024


@pytest.fixture
def limited(servers):
    srv = servers.start(env={"MAX_BODY_BYTES": str(SMALL_LIMIT)})
    require_route(srv, "POST", SIGNUP, json={})
    return srv


def _big_json(size):
    pad = "x" * size
    return json.dumps({"email": "big@example.com", "password": "correct horse battery", "name": pad})


def test_body_over_max_body_bytes_is_413(limited):
    body = _big_json(4096)
    r = limited.request("POST", SIGNUP, data=body, headers={"Content-Type": "application/json"})
    assert_json_error(r, 413)


def test_chunked_body_over_max_body_bytes_is_413(limited):
    body = _big_json(4096).encode()
    chunks = [body[i:i + 512] for i in range(0, len(body), 512)]
    with RawHttpConnection(limited.port) as c:
        head = (f"POST {SIGNUP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n").encode()
        payload = head + b"".join(b"%x\r\n%s\r\n" % (len(ch), ch) for ch in chunks) + b"0\r\n\r\n"
        try:
            c.send(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close early; the response must still be readable
        r = c.read_response()
    assert r.status == 413, f"chunked 4 KiB body with MAX_BODY_BYTES={SMALL_LIMIT} → {r.status} {r.body[:200]!r}"
    assert r.json().get("detail"), r.body


def test_body_just_under_limit_is_not_413(limited):
    body = json.dumps({"email": "small@example.com", "password": "correct horse battery"})
    assert len(body) < SMALL_LIMIT
    r = limited.request("POST", SIGNUP, data=body, headers={"Content-Type": "application/json"})
    assert r.status_code != 413, f"{len(body)}-byte body rejected as too large: {r.text!r}"


def test_text_plain_body_on_json_route_is_415(server):
    require_route(server, "POST", SIGNUP, json={})
    r = server.request("POST", SIGNUP, data='{"email":"a@example.com"}', headers={"Content-Type": "text/plain"})
    assert_json_error(r, 415)


def test_missing_content_type_with_body_is_415(server):
    require_route(server, "POST", SIGNUP, json={})
    with RawHttpConnection(server.port) as c:
        body = b'{"email":"a@example.com","password":"x"}'
        r = c.request("POST", SIGNUP, body=body)
    assert r.status == 415, f"JSON body without Content-Type → {r.status} {r.body[:200]!r}"


def test_json_with_charset_parameter_is_accepted(server):
    require_route(server, "POST", SIGNUP, json={})
    r = server.request("POST", SIGNUP, data="{}", headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code != 415, "application/json; charset=utf-8 rejected as unsupported media type"


@pytest.mark.parametrize("body", ['{"email": ', "{'email': 'single'}", "not json at all", '{"a":1,}'],
                         ids=["truncated", "single-quotes", "words", "trailing-comma"])
def test_malformed_json_is_400(server, body):
    require_route(server, "POST", SIGNUP, json={})
    r = server.request("POST", SIGNUP, data=body, headers={"Content-Type": "application/json"})
    assert_json_error(r, 400)
