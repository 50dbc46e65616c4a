"""Helpers for the black-box suite: bounded waiting, a raw HTTP/1.1 client, JSON log parsing."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, TypeVar

T = TypeVar("T")

# Multiply every timeout by TODO_TEST_TIMEOUT_SCALE (e.g. 5 under valgrind). Default 1.
TIMEOUT_SCALE = float(os.environ.get("TODO_TEST_TIMEOUT_SCALE", "1") or "1")


def scaled(seconds: float) -> float:
    return seconds * TIMEOUT_SCALE


def wait_until(
    predicate: Callable[[], Optional[T]],
    timeout: float,
    interval: float = 0.05,
    max_polls: int = 10_000,
) -> Optional[T]:
    """Poll predicate until it returns a truthy value; bounded in time AND in count.

    Returns the truthy value, or None when the time or the poll budget runs out.
    """
    deadline = time.monotonic() + timeout
    for _ in range(max_polls):
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)
    return None


# --------------------------------------------------------------------------------------------
# Raw HTTP/1.1 over a socket (keep-alive, pipelining, partial bodies, garbage requests).
# --------------------------------------------------------------------------------------------


class IncompleteResponse(Exception):
    """The peer closed (or timed out) before a complete HTTP response was received."""


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list = field(default_factory=list)  # [(name_lower, value)]
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class RawHttpConnection:
    """A minimal HTTP/1.1 client on one TCP connection, reading responses one by one."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0):
        self.timeout = scaled(timeout)
        self.sock = socket.create_connection((host, port), timeout=self.timeout)
        self.buf = b""
        self.closed_by_peer = False

    # -- io ----------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self, deadline: float) -> bool:
        """Read more bytes into buf. False on EOF. Raises IncompleteResponse on timeout/reset."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise IncompleteResponse(f"timed out; have {len(self.buf)} bytes: {self.buf[:200]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise IncompleteResponse(f"timed out; have {len(self.buf)} bytes: {self.buf[:200]!r}")
        except ConnectionResetError:
            raise IncompleteResponse(f"connection reset; have {len(self.buf)} bytes: {self.buf[:200]!r}")
        if not chunk:
            self.closed_by_peer = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker: bytes, deadline: float, limit: int = 1 << 20) -> bytes:
        for _ in range(100_000):
            idx = self.buf.find(marker)
            if idx >= 0:
                out, self.buf = self.buf[:idx], self.buf[idx + len(marker):]
                return out
            if len(self.buf) > limit:
                raise IncompleteResponse("header section too large")
            if not self._fill(deadline):
                raise IncompleteResponse(
                    f"peer closed before {marker!r}; have {len(self.buf)} bytes: {self.buf[:200]!r}"
                )
        raise IncompleteResponse("too many reads")

    def _read_exact(self, n: int, deadline: float) -> bytes:
        for _ in range(100_000):
            if len(self.buf) >= n:
                out, self.buf = self.buf[:n], self.buf[n:]
                return out
            if not self._fill(deadline):
                raise IncompleteResponse(f"peer closed with {len(self.buf)}/{n} body bytes")
        raise IncompleteResponse("too many reads")

    def read_response(self, method: str = "GET", timeout: Optional[float] = None) -> RawResponse:
        deadline = time.monotonic() + (scaled(timeout) if timeout else self.timeout)
        head = self._read_until(b"\r\n\r\n", deadline)
        lines = head.split(b"\r\n")
        status_line = lines[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise IncompleteResponse(f"bad status line {status_line!r}")
        resp = RawResponse(status=int(parts[1]), reason=parts[2] if len(parts) > 2 else "")
        for line in lines[1:]:
            if b":" in line:
                k, v = line.split(b":", 1)
                resp.headers.append((k.decode("latin-1").strip().lower(), v.decode("latin-1").strip()))
        if method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        te = (resp.header("transfer-encoding") or "").lower()
        cl = resp.header("content-length")
        if "chunked" in te:
            body = b""
            for _ in range(100_000):
                size_line = self._read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until empty line
                    for _ in range(1000):
                        if self._read_until(b"\r\n", deadline) == b"":
                            break
                    break
                body += self._read_exact(size, deadline)
                self._read_exact(2, deadline)
            resp.body = body
        elif cl is not None:
            resp.body = self._read_exact(int(cl), deadline)
        else:
            # close-delimited
            for _ in range(100_000):
                if not self._fill(deadline):
                    break
            resp.body, self.buf = self.buf, b""
        return resp

    def request(self, method: str, path: str, headers: Optional[dict] = None, body: bytes = b"",
                timeout: Optional[float] = None) -> RawResponse:
        self.send(build_request(method, path, headers, body))
        return self.read_response(method, timeout=timeout)


def build_request(method: str, path: str, headers: Optional[dict] = None, body: bytes = b"") -> bytes:
    h = {"Host": "127.0.0.1"}
    if body:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode("latin-1") + body


def send_garbage(port: int, data: bytes, timeout: float = 10.0) -> tuple[Optional[RawResponse], str]:
    """Send raw bytes, then half-close. Returns (response or None, how it ended)."""
    with RawHttpConnection(port, timeout=timeout) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            return None, "reset-while-sending"
        try:
            return c.read_response(), "response"
        except IncompleteResponse as e:
            return None, f"closed-without-response ({e})"


# --------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------


def parse_log_lines(text: str) -> tuple[list, list]:
    """Return (records, bad_lines): each non-empty line must be a JSON object."""
    records, bad = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if isinstance(obj, dict):
            records.append(obj)
        else:
            bad.append(line)
    return records, bad


# --------------------------------------------------------------------------------------------
# Assertions and probes shared by the tests
# --------------------------------------------------------------------------------------------

SIGNUP = "/api/auth/signup"


def require_route(srv, method: str, path: str, **kw):
    """Probe a route the test depends on; fail (never skip) when it answers 404: a route
    that disappears is a regression, not a reason to stop testing."""
    import pytest

    r = srv.request(method, path, **kw)
    if r.status_code == 404:
        pytest.fail(f"{method} {path} answers 404: the route this test needs is missing",
                    pytrace=False)
    return r


def assert_json_error(r, status) -> dict:
    """Assert an error response: the status (an int or a collection of allowed ints),
    Content-Type application/json, and a body {"detail": "<non-empty string>"}."""
    allowed = (status,) if isinstance(status, int) else tuple(status)
    where = f"{r.request.method} {r.request.path_url}"
    assert r.status_code in allowed, f"{where}: expected {allowed}, got {r.status_code} {r.text[:300]!r}"
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == "application/json", (
        f"{where}: error Content-Type is {ctype!r}, body {r.text[:200]!r}")
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], (
        f"{where}: error body must be {{\"detail\": \"...\"}}, got {body!r}")
    return body


def wait_for_log(srv, predicate, timeout: float = 3.0):
    """Wait (bounded) until some parsed log record satisfies predicate; return it or None."""
    def find():
        records, _ = srv.log_records()
        for rec in records:
            if predicate(rec):
                return rec
        return None
    return wait_until(find, scaled(timeout), interval=0.05, max_polls=1000)


def assert_still_serving(srv, context: str = "") -> None:
    """The process is alive and GET /health answers 200."""
    import requests

    assert srv.alive(), f"server process died{(' after ' + context) if context else ''} (rc={srv.proc.returncode})"
    try:
        r = requests.get(srv.url("/health"), timeout=scaled(5))
    except requests.RequestException as e:
        raise AssertionError(f"GET /health failed{(' after ' + context) if context else ''}: {e}")
    assert r.status_code == 200, f"GET /health → {r.status_code} after {context}"


# -- many connections ------------------------------------------------------------------------
def raise_fd_limit(need: int) -> None:
    """Raises this process's open-file limit to `need` (up to the hard limit); fails if it can't."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft >= need, f"this test needs {need} file descriptors; the hard limit is {hard}"


def connect_from(port: int, source: str) -> socket.socket:
    """A non-blocking connection to 127.0.0.1:port from address `source` (connect in progress)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((source, 0))
    with contextlib.suppress(BlockingIOError):
        s.connect(("127.0.0.1", port))
    return s


def peer_holds(s: socket.socket) -> bool:
    """True while the server holds the non-blocking connection s (not closed or reset)."""
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


UNSHARE = "/usr/bin/unshare"


def start_in_mount_namespace(servers, setup: str, database_url: Optional[str] = None, env=None):
    """Starts `todo serve` after running the shell commands `setup` in a private mount
    namespace (unshare and sh exec into todo: the server is the same process) and waits until
    it is healthy. database_url None: the fixture's own."""
    import pytest  # noqa: PLC0415  (helpers is imported by conftest)
    from conftest import ServerExited  # noqa: PLC0415

    from pathlib import Path  # noqa: PLC0415

    srv = servers.prepare(database_url=database_url, env=env)
    todo = str(srv.binary)
    srv.binary = Path(UNSHARE)
    srv.args = ["-m", "--propagation", "private", "sh", "-c", f'{setup} && exec "$0" serve', todo]
    srv.start()
    try:
        healthy = srv.wait_healthy()
    except ServerExited as e:
        pytest.fail(str(e), pytrace=False)
    assert healthy, f"server in a mount namespace did not start:\n{srv.tail()}"
    return srv
