"""The /docs page as a person sees it: Debian's chromium (driven by playwright-core from the root
package.json) loads it from the live server, swagger-ui renders every documented operation
without console errors, CSP violations or failed requests, and a screenshot is left in
build/openapi/docs.png for inspection."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT, scaled

SCRIPT = Path(__file__).with_name("render-docs.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
RENDER_TIMEOUT_S = 90


@pytest.mark.browser
def test_docs_page_renders_every_operation(live_server, openapi_doc, artifacts_dir):
    node = shutil.which("node")
    if not node:
        pytest.fail("node is missing (apt-get install nodejs npm)", pytrace=False)
    if not (REPO_ROOT / "node_modules" / "playwright-core").is_dir():
        pytest.fail("node_modules/playwright-core is missing (run `make npm-deps`)", pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)", pytrace=False)

    shot = artifacts_dir / "docs.png"
    shot.unlink(missing_ok=True)
    cp = subprocess.run([node, str(SCRIPT), live_server.base_url, str(shot)], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=scaled(RENDER_TIMEOUT_S),
                        env={**os.environ, "CHROMIUM": CHROMIUM})
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"render-docs.mjs printed no report (exit {cp.returncode}):\n{cp.stderr[-2000:]}"
    report = json.loads(lines[-1])

    assert report["rendered"], f"swagger-ui did not render the operation list: {report['problems']}"
    assert report["expanded"], f"an operation did not expand: {report['problems']}"
    assert not report["problems"], "the page hit problems:\n" + "\n".join(report["problems"])
    want = sorted(f"{m.upper()} {p}" for p, item in openapi_doc["paths"].items()
                  for m in item if m in ("get", "put", "post", "delete", "patch"))
    assert sorted(report["operations"]) == want
    assert report["title"].startswith(openapi_doc["info"]["title"])
    assert shot.is_file() and shot.stat().st_size > 10_000, "no screenshot was written"
