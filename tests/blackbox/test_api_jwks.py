"""Better Auth compatibility end to end: with BETTER_AUTH_URL set, the server fetches the JWKS from
{BETTER_AUTH_URL}/api/auth/jwks and accepts EdDSA / ES256 tokens signed by those keys; a user first
seen this way is created on first use. A tiny JWKS server on 127.0.0.1 plays Better Auth."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from api_helpers import NO_LIMIT, b64u, b64u_json, claims_for, hs256


class JwksServer:
    """Serves one JWKS document at /api/auth/jwks and counts the fetches."""

    def __init__(self, keys: list):
        self.doc = json.dumps({"keys": keys}).encode()
        self.fetches = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                if self.path != "/api/auth/jwks":
                    self.send_error(404)
                    return
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.doc)))
                self.end_headers()
                self.wfile.write(outer.doc)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def ed25519_jwk(key, kid):
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw), "kid": kid, "alg": "EdDSA"}


def p256_jwk(key, kid):
    nums = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64u(nums.x.to_bytes(32, "big")),
            "y": b64u(nums.y.to_bytes(32, "big")), "kid": kid, "alg": "ES256"}


def sign_eddsa(key, kid, claims) -> str:
    signing_input = b64u_json({"alg": "EdDSA", "kid": kid, "typ": "JWT"}) + "." + b64u_json(claims)
    return signing_input + "." + b64u(key.sign(signing_input.encode()))


def sign_es256(key, kid, claims) -> str:
    signing_input = b64u_json({"alg": "ES256", "kid": kid}) + "." + b64u_json(claims)
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@pytest.fixture
def better_auth(servers):
    ed = ed25519.Ed25519PrivateKey.generate()
    es = ec.generate_private_key(ec.SECP256R1())
    jwks = JwksServer([ed25519_jwk(ed, "ed-1"), p256_jwk(es, "es-1")])
    srv = servers.start(env={**NO_LIMIT, "BETTER_AUTH_URL": jwks.url})
    yield srv, jwks, ed, es
    jwks.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_eddsa_token_from_better_auth_is_accepted_and_user_created(better_auth):
    srv, jwks, ed, _ = better_auth
    sub = f"ba_{int(time.time() * 1000)}"
    token = sign_eddsa(ed, "ed-1", claims_for(sub, email=f"{sub}@example.com"))
    me = srv.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == sub and me.json()["email"] == f"{sub}@example.com"
    created = srv.request("POST", "/api/me/tasks", headers=bearer(token), json={"title": "from BA"})
    assert created.status_code == 201, created.text
    listed = srv.get(f"/api/{sub}/tasks", headers=bearer(token))
    assert [t["title"] for t in listed.json()] == ["from BA"]
    assert jwks.fetches >= 1


def test_es256_token_is_accepted(better_auth):
    srv, _, _, es = better_auth
    token = sign_es256(es, "es-1", claims_for("ba_es_user"))
    r = srv.get("/api/me/tasks", headers=bearer(token))
    assert r.status_code == 200, r.text


def test_token_signed_by_another_key_is_refused(better_auth):
    srv, _, _, _ = better_auth
    stranger = ed25519.Ed25519PrivateKey.generate()
    r = srv.get("/api/auth/me", headers=bearer(sign_eddsa(stranger, "ed-1", claims_for("ba_x"))))
    assert r.status_code == 401 and "Bearer" in r.headers.get("WWW-Authenticate", "")


def test_public_key_used_as_hmac_secret_is_refused(better_auth):
    """Algorithm confusion: an HS256 token whose 'secret' is the published public key."""
    srv, _, ed, _ = better_auth
    public = ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signing_input = b64u_json({"alg": "HS256", "kid": "ed-1"}) + "." + b64u_json(claims_for("ba_y"))
    token = signing_input + "." + hs256(b64u(public), signing_input)
    assert srv.get("/api/auth/me", headers=bearer(token)).status_code == 401


def test_alg_swapped_to_es256_on_an_eddsa_key_is_refused(better_auth):
    srv, _, ed, _ = better_auth
    claims = claims_for("ba_z")
    signing_input = b64u_json({"alg": "ES256", "kid": "ed-1"}) + "." + b64u_json(claims)
    token = signing_input + "." + b64u(ed.sign(signing_input.encode()))
    assert srv.get("/api/auth/me", headers=bearer(token)).status_code == 401


def test_expired_better_auth_token_is_refused(better_auth):
    srv, _, ed, _ = better_auth
    claims = claims_for("ba_old", ttl=-3600)
    r = srv.get("/api/auth/me", headers=bearer(sign_eddsa(ed, "ed-1", claims)))
    assert r.status_code == 401 and r.json()["detail"] == "Token expired"
