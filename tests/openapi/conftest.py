"""Harness for the OpenAPI contract tests: one real `todo` binary per session on a free loopback
port with a fresh SQLite database, and a signed-up user whose token the task routes use.

Environment:
  TODO_BIN                  the binary (default build/todo, relative to the repository root)
  TODO_BUILD_DIR            where screenshots and logs go (default build/)
  TODO_TEST_TIMEOUT_SCALE   multiply every timeout (default 1)
  TODO_OPENAPI_EXAMPLES     schemathesis examples per operation (default 50)
  TODO_OPENAPI_BUDGET_S     wall-clock budget of all schemathesis operations together (default 300);
                            operations that would start after it are failed as "not run"
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Optional

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPO_ROOT / "docs" / "openapi.json"
TIMEOUT_SCALE = float(os.environ.get("TODO_TEST_TIMEOUT_SCALE", "1") or "1")
TEST_JWT_SECRET = "openapi-test-secret-0123456789abcdef0123456789abcd"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0
PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "LD_LIBRARY_PATH",
                   "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def scaled(seconds: float) -> float:
    return seconds * TIMEOUT_SCALE


def build_dir() -> Path:
    p = Path(os.environ.get("TODO_BUILD_DIR") or "build")
    return p if p.is_absolute() else REPO_ROOT / p


def todo_bin_path() -> Path:
    p = Path(os.environ.get("TODO_BIN") or "build/todo")
    return p if p.is_absolute() else REPO_ROOT / p


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The binary serving on 127.0.0.1:<free port> with its own SQLite file and data dir."""

    def __init__(self, binary: Path, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = workdir / "server.stderr.log"
        self.proc: Optional[subprocess.Popen] = None

    def env(self) -> dict:
        env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update({
            "HOME": str(self.workdir),
            "ENVIRONMENT": "development",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATABASE_URL": "sqlite:///" + str((self.workdir / "todo.db").resolve()),
            "DATA_DIR": str(self.workdir / "var"),
            "JWT_SECRET": TEST_JWT_SECRET,
            "LOG_LEVEL": "WARNING",
            "SHUTDOWN_TIMEOUT_SECONDS": "5",
            # Generated requests must meet the validators, not the limiter.
            "RATE_LIMIT_PER_MINUTE": "100000",
            "CHAT_RATE_LIMIT_PER_MINUTE": "100000",
        })
        return env

    def start(self) -> "LiveServer":
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([str(self.binary), "serve"], env=self.env(),
                                         cwd=str(self.workdir), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True)
        deadline = time.monotonic() + scaled(START_TIMEOUT_S)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"todo exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(self.base_url + "/health", timeout=scaled(1)).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"todo did not answer /health within {START_TIMEOUT_S}s:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=scaled(STOP_TIMEOUT_S))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


class Account:
    """A user signed up through the API; `token` authorises the task routes."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.email = f"openapi-{uuid.uuid4().hex[:12]}@example.com"
        self.password = "openapi-password-1"
        r = requests.post(server.base_url + "/api/auth/signup",
                          json={"email": self.email, "password": self.password, "name": "OpenAPI"},
                          timeout=scaled(10))
        if r.status_code != 201:
            raise RuntimeError(f"signup answered {r.status_code}: {r.text[:300]}")
        body = r.json()
        self.token: str = body["token"]
        self.user_id: str = body["user"]["id"]

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def create_task(self, **fields) -> int:
        payload = {"title": "contract test task", "tags": ["openapi"], **fields}
        r = requests.post(self.server.base_url + "/api/me/tasks", json=payload,
                          headers=self.headers, timeout=scaled(10))
        if r.status_code != 201:
            raise RuntimeError(f"creating a task answered {r.status_code}: {r.text[:300]}")
        return int(r.json()["id"])


@pytest.fixture(scope="session")
def openapi_doc() -> dict:
    with open(OPENAPI_PATH, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def todo_bin() -> Path:
    p = todo_bin_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"todo binary not found at {p} (run `make build`, or set TODO_BIN)",
                    pytrace=False)
    return p


@pytest.fixture(scope="session")
def live_server(todo_bin, tmp_path_factory):
    srv = LiveServer(todo_bin, tmp_path_factory.mktemp("openapi-server"))
    try:
        srv.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield srv
    srv.stop()
    rc = srv.proc.returncode
    if rc is not None and rc < 0 and rc not in (-signal.SIGTERM, -signal.SIGKILL):
        pytest.fail(f"todo died of signal {-rc}:\n{srv.tail()}", pytrace=False)


@pytest.fixture(scope="session")
def account(live_server) -> Account:
    try:
        return Account(live_server)
    except (RuntimeError, requests.RequestException, KeyError, ValueError) as e:
        pytest.fail(f"could not sign up a test user: {e}", pytrace=False)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    d = build_dir() / "openapi"
    d.mkdir(parents=True, exist_ok=True)
    return d
