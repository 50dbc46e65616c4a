"""What the binary serves from its embedded assets: /openapi.json byte for byte the committed
document, the /docs page and its vendored swagger-ui files, the web UI's index.html, and the
caching, validator and security headers around them."""

from __future__ import annotations

import re

import pytest
import requests

from conftest import OPENAPI_PATH, scaled

IMMUTABLE = "public, max-age=31536000, immutable"
BUNDLE_RE = re.compile(r'src="(/docs/assets/swagger-ui-bundle\.js\?v=[0-9a-f]+)"')


def get(server, path, **kw):
    kw.setdefault("timeout", scaled(10))
    return requests.get(server.base_url + path, **kw)


def test_openapi_json_is_the_committed_document(live_server):
    r = get(live_server, "/openapi.json")
    assert r.status_code == 200, r.text[:200]
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.content == OPENAPI_PATH.read_bytes(), "served /openapi.json differs from docs/openapi.json"
    assert r.headers.get("Cache-Control") == "no-cache"


def test_openapi_json_etag_revalidates_with_304(live_server):
    first = get(live_server, "/openapi.json")
    etag = first.headers.get("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"'), etag
    again = get(live_server, "/openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers.get("ETag") == etag
    weak_list = get(live_server, "/openapi.json", headers={"If-None-Match": f'"nope", W/{etag}'})
    assert weak_list.status_code == 304
    other = get(live_server, "/openapi.json", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_head_openapi_json_has_no_body(live_server):
    # Without gzip in Accept-Encoding HEAD reports the document's own length (test_encoding.py
    # covers the gzip variant).
    r = requests.head(live_server.base_url + "/openapi.json", timeout=scaled(10),
                      headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["Content-Length"]) == OPENAPI_PATH.stat().st_size


def test_docs_page_references_the_vendored_bundle_and_the_document(live_server):
    r = get(live_server, "/docs")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert BUNDLE_RE.search(r.text), "the /docs page does not load /docs/assets/swagger-ui-bundle.js?v=…"
    assert "/docs/assets/swagger-ui.css?v=" in r.text
    csp = r.headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers.get("Cache-Control") == "no-cache"
    init = get(live_server, re.search(r'src="(/docs/assets/docs-init\.js\?v=[0-9a-f]+)"', r.text).group(1))
    assert init.status_code == 200 and '"/openapi.json"' in init.text


def test_vendored_bundle_is_served_immutable(live_server):
    page = get(live_server, "/docs").text
    url = BUNDLE_RE.search(page).group(1)
    r = get(live_server, url)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert r.headers.get("Cache-Control") == IMMUTABLE
    assert len(r.content) > 100_000 and b"SwaggerUIBundle" in r.content
    # The ?v= of the page is the asset's own hash, i.e. its ETag (requests takes gzip, whose
    # variant's ETag carries the -gz suffix).
    assert r.headers.get("Content-Encoding") == "gzip"
    assert r.headers["ETag"] == '"' + url.rsplit("=", 1)[1] + '-gz"'
    css = get(live_server, "/docs/assets/swagger-ui.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/docs/assets/missing.js", "/docs/assets/missing", "/missing.png",
                                  "/api/nope", "/openapi.yaml"])
def test_missing_files_are_json_404(live_server, path):
    r = get(live_server, path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 404, f"{path} → {r.status_code}"
    assert r.headers["Content-Type"].startswith("application/json")
    assert isinstance(r.json().get("detail"), str)


def test_index_html_at_root(live_server):
    r = get(live_server, "/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<title>todo</title>" in r.text
    assert r.headers.get("Cache-Control") == "no-cache"
    assert "script-src 'self'" in r.headers.get("Content-Security-Policy", "")
    assert get(live_server, "/index.html").content == r.content


def test_browser_navigation_to_a_client_route_gets_index_html(live_server):
    nav = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    r = get(live_server, "/tasks/42/edit", headers=nav)
    assert r.status_code == 200 and "<title>todo</title>" in r.text
    # API clients and probes asking for an unknown path still get a JSON 404.
    r = get(live_server, "/tasks/42/edit", headers={"Accept": "*/*"})
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json")


def test_get_on_an_api_path_served_with_other_methods_is_405(live_server, account):
    """The web UI's GET catch-all must not swallow the router's 405 for API paths."""
    task_id = account.create_task()
    r = get(live_server, f"/api/me/tasks/{task_id}/complete", headers=account.headers)
    assert r.status_code == 405, f"{r.status_code} {r.text[:200]}"
    allow = {m.strip() for m in r.headers.get("Allow", "").split(",")}
    assert "PATCH" in allow and "GET" not in allow, r.headers.get("Allow")
