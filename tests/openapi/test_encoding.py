"""Content coding of the embedded assets: compressible files are stored gzipped in the binary
and sent as stored to clients whose Accept-Encoding takes gzip, inflated for the others. Each
variant has its own ETag (the gzip one ends in "-gz"), revalidates with 304 on its own, reports
its own Content-Length to HEAD, and both carry Vary: Accept-Encoding.

These tests talk plain http.client so that they see the bytes on the wire: requests would send
its own Accept-Encoding and decode gzip bodies."""

from __future__ import annotations

import gzip
import http.client
import subprocess
import sys
from typing import Optional

import pytest

from conftest import OPENAPI_PATH, REPO_ROOT, scaled

# Assets the build stores gzipped (text, JavaScript, JSON, all well over the 10 % saving).
COMPRESSED = ["/openapi.json", "/docs", "/", "/docs/assets/swagger-ui-bundle.js",
              "/docs/assets/swagger-ui.css"]
# An image: never compressed, never varies.
UNCOMPRESSED = "/docs/assets/favicon-32x32.png"
MIN_SAVING = 0.10
GZIP_ETAG_SUFFIX = '-gz"'


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name)

    def vary(self) -> set:
        return {v.strip().lower() for h in self.headers.get_all("Vary") or [] for v in h.split(",")}


def fetch(server, path: str, method: str = "GET", accept_encoding: Optional[str] = None,
          headers: Optional[dict] = None) -> Reply:
    """One request with exactly the given headers; accept_encoding None sends no
    Accept-Encoding at all (http.client would otherwise add "identity")."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=scaled(10))
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        if accept_encoding is not None:
            conn.putheader("Accept-Encoding", accept_encoding)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        return Reply(resp.status, resp.headers, body)
    finally:
        conn.close()


@pytest.mark.parametrize("path", COMPRESSED)
def test_gzip_and_identity_variants_carry_the_same_content(live_server, path):
    plain = fetch(live_server, path)
    packed = fetch(live_server, path, accept_encoding="gzip")
    assert plain.status == 200 and packed.status == 200
    assert plain.header("Content-Encoding") is None
    assert packed.header("Content-Encoding") == "gzip"
    assert int(plain.header("Content-Length")) == len(plain.body)
    assert int(packed.header("Content-Length")) == len(packed.body)
    assert gzip.decompress(packed.body) == plain.body
    assert len(packed.body) <= len(plain.body) * (1 - MIN_SAVING)
    assert plain.header("Content-Type") == packed.header("Content-Type")
    assert plain.header("Cache-Control") == packed.header("Cache-Control")
    for r in (plain, packed):
        assert "accept-encoding" in r.vary(), f"{path}: Vary is {r.headers.get_all('Vary')}"


def test_openapi_json_is_the_committed_document_in_both_codings(live_server):
    doc = OPENAPI_PATH.read_bytes()
    assert fetch(live_server, "/openapi.json").body == doc
    assert gzip.decompress(fetch(live_server, "/openapi.json", accept_encoding="gzip").body) == doc


def test_vendored_bundle_is_the_npm_file(live_server):
    src = REPO_ROOT / "node_modules" / "swagger-ui-dist" / "swagger-ui-bundle.js"
    # swagger-ui-dist is a dependency in package-lock.json: `make` runs npm ci before it
    # embeds the file, so a missing one is a broken build, not a reason to skip.
    assert src.is_file(), f"{src} is missing: run `make npm-deps` (npm ci on package-lock.json)"
    path = "/docs/assets/swagger-ui-bundle.js"
    assert fetch(live_server, path, accept_encoding="identity").body == src.read_bytes()
    assert gzip.decompress(fetch(live_server, path, accept_encoding="gzip").body) == src.read_bytes()


@pytest.mark.parametrize("path", COMPRESSED)
def test_each_variant_has_its_own_etag(live_server, path):
    plain = fetch(live_server, path).header("ETag")
    packed = fetch(live_server, path, accept_encoding="gzip").header("ETag")
    assert plain.startswith('"') and plain.endswith('"') and not plain.endswith(GZIP_ETAG_SUFFIX)
    assert packed == plain[:-1] + GZIP_ETAG_SUFFIX


@pytest.mark.parametrize("path", ["/openapi.json", "/docs/assets/swagger-ui-bundle.js"])
def test_304_per_variant(live_server, path):
    plain = fetch(live_server, path).header("ETag")
    packed = fetch(live_server, path, accept_encoding="gzip").header("ETag")
    # Each variant revalidates against its own ETag, strong or weak, alone or in a list.
    for ae, own, other in ((None, plain, packed), ("gzip", packed, plain)):
        for inm in (own, "W/" + own, f'"nope", {own}', "*"):
            r = fetch(live_server, path, accept_encoding=ae, headers={"If-None-Match": inm})
            assert r.status == 304 and r.body == b"", f"{ae}: If-None-Match {inm} → {r.status}"
            assert r.header("ETag") == own
            assert "accept-encoding" in r.vary()
        # The other variant's ETag names other bytes: a full answer, in this variant.
        r = fetch(live_server, path, accept_encoding=ae, headers={"If-None-Match": other})
        assert r.status == 200 and r.header("ETag") == own
        assert r.header("Content-Encoding") == ("gzip" if ae else None)


@pytest.mark.parametrize("path", COMPRESSED)
def test_head_reports_the_length_of_the_variant_it_would_send(live_server, path):
    plain = fetch(live_server, path)
    packed = fetch(live_server, path, accept_encoding="gzip")
    head_plain = fetch(live_server, path, method="HEAD")
    head_packed = fetch(live_server, path, method="HEAD", accept_encoding="gzip")
    assert head_plain.status == 200 and head_plain.body == b""
    assert head_packed.status == 200 and head_packed.body == b""
    assert int(head_plain.header("Content-Length")) == len(plain.body)
    assert int(head_packed.header("Content-Length")) == len(packed.body)
    assert head_plain.header("Content-Encoding") is None
    assert head_packed.header("Content-Encoding") == "gzip"
    assert head_plain.header("ETag") == plain.header("ETag")
    assert head_packed.header("ETag") == packed.header("ETag")
    assert "accept-encoding" in head_plain.vary() and "accept-encoding" in head_packed.vary()


@pytest.mark.parametrize("accept_encoding, gzipped", [
    (None, False),
    ("", False),
    ("identity", False),
    ("deflate, br", False),
    ("gzip", True),
    ("GZip", True),
    ("x-gzip", True),
    ("gzip, deflate", True),
    ("br;q=1.0, gzip;q=0.5", True),
    ("br, gzip ; q=0.8", True),
    ("gzip;q=0.001", True),
    ("gzip;Q=1", True),
    ("gzip;q=1.000", True),
    ("gzip;q=0", False),
    ("gzip; q=0.000", False),
    ("gzip;q=0, *", False),
    ("*", True),
    ("*;q=0.1", True),
    ("*;q=0", False),
    ("identity, *;q=0", False),
    ("*;q=0, gzip", True),
    ("gzip;q=2", False),
    ("gzip;q=0.0001", False),
    ("gzip;q=abc", False),
    ("gzipx", False),
    ("xgzip, *;q=0", False),
    (",,, gzip ,,", True),
])
def test_accept_encoding_is_parsed(live_server, accept_encoding, gzipped):
    r = fetch(live_server, "/openapi.json", accept_encoding=accept_encoding)
    assert r.status == 200
    assert r.header("Content-Encoding") == ("gzip" if gzipped else None), accept_encoding
    doc = gzip.decompress(r.body) if gzipped else r.body
    assert doc == OPENAPI_PATH.read_bytes()


def test_incompressible_asset_is_sent_as_is(live_server):
    plain = fetch(live_server, UNCOMPRESSED)
    packed = fetch(live_server, UNCOMPRESSED, accept_encoding="gzip")
    assert plain.status == 200 and packed.status == 200
    assert packed.header("Content-Encoding") is None
    assert packed.body == plain.body and packed.header("ETag") == plain.header("ETag")
    assert not packed.header("ETag").endswith(GZIP_ETAG_SUFFIX)
    assert "accept-encoding" not in packed.vary()


def test_embed_assets_is_reproducible_and_compresses_only_when_it_pays(tmp_path):
    """The generator's output depends only on its inputs (gzip at a fixed level with a zero
    timestamp), and a compressible file that gzip cannot shrink by 10 % stays as it is."""
    big = tmp_path / "big.json"
    big.write_text('{"items": [' + ", ".join(f'{{"n": {i}}}' for i in range(500)) + "]}")
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("hi\n")
    png = tmp_path / "x.png"
    png.write_bytes(bytes(range(256)) * 8)
    specs = [f"/big.json={big}", f"/tiny.txt={tiny}", f"/x.png={png}"]
    outs = []
    for n in range(2):
        out = tmp_path / f"assets{n}.c"
        subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "embed-assets"), "-o", str(out),
                        *specs], check=True, timeout=scaled(60))
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    rows = {line.split('"')[1]: line for line in outs[0].splitlines() if line.startswith('    {"/')}
    assert ', "gzip", ' in rows["/big.json"] and '-gz\\""' in rows["/big.json"]
    assert ", NULL, " in rows["/tiny.txt"] and "-gz" not in rows["/tiny.txt"]
    assert ", NULL, " in rows["/x.png"] and "-gz" not in rows["/x.png"]
