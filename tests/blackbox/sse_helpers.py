"""A Server-Sent Events reader for the black-box tests: a raw socket on the events route,
events parsed as they arrive, every wait bounded."""

from __future__ import annotations

import json
import socket
import time
from typing import Optional

from helpers import scaled


class SseClient:
    def __init__(self, port: int, path: str, token: Optional[str], timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(timeout))
        head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.buf = b""
        self.events: list = []
        self.status = None
        self.headers: dict = {}
        self.closed = False
        self._read_head(scaled(timeout))

    def _recv(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def _read_head(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._recv(deadline):
                raise AssertionError(f"no response head: {self.buf[:300]!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self.raw = b""

    def _dechunk(self) -> None:
        if not self.chunked:
            self.raw += self.buf
            self.buf = b""
            return
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                return
            size = int(self.buf[:i].split(b";")[0] or b"0", 16)
            if len(self.buf) < i + 2 + size + 2:
                return
            self.raw += self.buf[i + 2:i + 2 + size]
            self.buf = self.buf[i + 2 + size + 2:]
            if size == 0:
                self.closed = True
                return

    def _parse(self) -> None:
        text = self.raw.replace(b"\r\n", b"\n")
        while b"\n\n" in text:
            block, text = text.split(b"\n\n", 1)
            ev = {"event": "message", "data": [], "id": None}
            only_comments = True
            for line in block.decode().split("\n"):
                if not line or line.startswith(":"):
                    continue
                only_comments = False
                k, _, v = line.partition(":")
                v = v[1:] if v.startswith(" ") else v
                if k == "data":
                    ev["data"].append(v)
                elif k in ("event", "id", "retry"):
                    ev[k] = v
            if not only_comments:
                ev["data"] = "\n".join(ev["data"])
                self.events.append(ev)
        self.raw = text

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        self._dechunk()
        self._parse()
        while time.monotonic() < deadline and not self.closed:
            if self._recv(deadline):
                self._dechunk()
                self._parse()

    def of(self, name: str) -> list:
        return [e for e in self.events if e.get("event") == name]

    def wait_for(self, predicate, timeout: float = 10.0):
        deadline = time.monotonic() + scaled(timeout)
        for _ in range(100_000):
            got = predicate(self)
            if got:
                return got
            if time.monotonic() >= deadline or self.closed:
                return predicate(self)
            self.pump(min(0.2, max(0.01, deadline - time.monotonic())))
        return None

    def reminders(self) -> list:
        return [json.loads(e["data"]) for e in self.of("reminder")]

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
