"""A scripted OpenAI-compatible chat completions server on 127.0.0.1, for the agent's tests.

Each POST to <any prefix>/chat/completions takes the next step of the script (or asks the
`responder` function, when one is set) and answers it the way a real provider would:

    {"text": "Hello"}                      streamed text (chunk.choices[0].delta.content)
    {"calls": [("add_task", '{"title":"milk"}'), ...]}
                                           streamed tool calls, one delta per call
    {"calls": [...], "split": [3, 7]}      each call's arguments cut at those offsets into
                                           separate deltas (names and ids come once)
    {"text": "...", "json": True}          one unstreamed chat.completion instead
    {"status": 429, "retry_after": 0}      an error status with an OpenAI error body
    {"hang": True}                         headers never come (until the client gives up)
    {"cut": True, "text": "partial"}       some text, then the connection closes without
                                           [DONE] or a finish_reason
    {"delay": 0.2}                         seconds between chunks (with any of the above)
    {"raw": "not json"}                    a data: line that is not a chunk

Every request is recorded (path, headers, parsed body) in `requests`, so tests can assert
what the server sent: the model, the messages (system prompt, history), the tools, the
Authorization header's shape. Bounded: a hang lasts at most `hang_s`, the script and the
recordings are plain lists.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional


class FakeLLM:
    def __init__(self, hang_s: float = 30.0):
        self.script: list = []
        self.responder: Optional[Callable[[dict], dict]] = None
        self.requests: list = []
        self.hang_s = hang_s
        self.lock = threading.Lock()
        self.closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                rec = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body, "time": time.monotonic()}
                with fake.lock:
                    fake.requests.append(rec)
                    step = fake.script.pop(0) if fake.script else None
                if step is None and fake.responder:
                    step = fake.responder(body or {})
                if step is None:
                    step = {"text": "OK."}
                fake._answer(self, step)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- life cycle ---------------------------------------------------------------------------
    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()

    def url(self, prefix: str = "/v1") -> str:
        return f"http://127.0.0.1:{self.port}{prefix}"

    def push(self, *steps) -> None:
        with self.lock:
            self.script.extend(steps)

    def completions(self) -> list:
        with self.lock:
            return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    # -- answers ------------------------------------------------------------------------------
    def _answer(self, h: BaseHTTPRequestHandler, step: dict) -> None:
        try:
            if step.get("hang"):
                self.closing.wait(self.hang_s)
                return
            status = step.get("status", 200)
            if status != 200:
                body = json.dumps({"error": {"message": step.get("message", "scripted error"),
                                             "type": "scripted", "code": status}}).encode()
                h.send_response(status)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(body)))
                if "retry_after" in step:
                    h.send_header("Retry-After", str(step["retry_after"]))
                h.end_headers()
                h.wfile.write(body)
                return
            if step.get("json"):
                self._completion(h, step)
                return
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Cache-Control", "no-cache")
            h.send_header("Connection", "close")
            h.end_headers()
            h.close_connection = True
            delay = step.get("delay", 0)
            for data in self._chunks(step):
                h.wfile.write(b"data: " + data.encode() + b"\n\n")
                h.wfile.flush()
                if delay:
                    time.sleep(delay)
            if step.get("cut"):
                h.wfile.flush()
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            h.wfile.write(b"data: [DONE]\n\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    @staticmethod
    def _chunk(delta: dict, finish: Optional[str] = None) -> str:
        return json.dumps({"id": "chatcmpl-test", "object": "chat.completion.chunk",
                           "created": int(time.time()), "model": "scripted",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    def _chunks(self, step: dict):
        if "raw" in step:
            yield step["raw"]
            return
        yield self._chunk({"role": "assistant", "content": ""})
        text = step.get("text", "")
        pieces = step.get("pieces") or ([text[i:i + 7] for i in range(0, len(text), 7)] if text else [])
        for p in pieces:
            yield self._chunk({"content": p})
        if step.get("cut"):
            return
        calls = step.get("calls") or []
        for i, (name, args) in enumerate(calls):
            cid = f"call_{i}_{int(time.monotonic() * 1e6) % 1000000}"
            cuts = [c for c in step.get("split", []) if 0 < c < len(args)]
            parts = [args[a:b] for a, b in zip([0] + cuts, cuts + [len(args)])] or [""]
            yield self._chunk({"tool_calls": [{"index": i, "id": cid, "type": "function",
                                               "function": {"name": name, "arguments": parts[0]}}]})
            for p in parts[1:]:
                yield self._chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]})
        yield self._chunk({}, "tool_calls" if calls else "stop")

    def _completion(self, h, step: dict) -> None:
        msg = {"role": "assistant", "content": step.get("text") or None}
        calls = step.get("calls") or []
        if calls:
            msg["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                  "function": {"name": n, "arguments": a}}
                                 for i, (n, a) in enumerate(calls)]
        body = json.dumps({"id": "chatcmpl-test", "object": "chat.completion", "model": "scripted",
                           "choices": [{"index": 0, "message": msg,
                                        "finish_reason": "tool_calls" if calls else "stop"}]}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def sse_events(resp, limit: int = 10000):
    """Reads a requests streaming response as (event, data-as-JSON) pairs, in order."""
    event, data = "message", []
    n = 0
    for raw in resp.iter_lines(decode_unicode=True):
        n += 1
        if n > limit:
            raise AssertionError("too many SSE lines")
        if raw is None:
            continue
        line = raw.rstrip("\r")
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
