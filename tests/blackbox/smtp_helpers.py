"""A tiny SMTP server on loopback for the email tests (Python's standard library only).

It speaks enough of RFC 5321 for libcurl's client: EHLO/HELO, AUTH PLAIN and LOGIN (when
credentials are set), MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP, QUIT. Every
accepted message is kept in `messages`; `fail_next` makes the next MAIL commands answer
451 (a temporary failure the client should retry)."""

from __future__ import annotations

import base64
import email
import email.policy
import re
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from helpers import scaled

MAX_LINE = 4096
MAX_MESSAGE = 1 << 20


@dataclass
class Message:
    mail_from: str
    rcpt_to: list
    data: str
    auth: Optional[tuple]

    @property
    def parsed(self):
        return email.message_from_string(self.data, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.parsed["Subject"])

    @property
    def body(self) -> str:
        return self.parsed.get_content()

    def links(self) -> list:
        return re.findall(r"https?://\S+", self.data)


@dataclass
class SmtpState:
    username: Optional[str] = None
    password: Optional[str] = None
    fail_next: int = 0
    messages: list = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def readline(self) -> Optional[str]:
        raw = self.rfile.readline(MAX_LINE + 2)
        if not raw:
            return None
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):  # noqa: C901 (a protocol loop)
        st: SmtpState = self.server.state
        self.reply("220 localhost test ESMTP")
        mail_from, rcpt, auth = None, [], None
        for _ in range(1000):
            line = self.readline()
            if line is None:
                return
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip()
            if verb == "EHLO":
                if st.username:
                    self.reply("250-localhost")
                    self.reply("250-AUTH PLAIN LOGIN")
                    self.reply("250 8BITMIME")
                else:
                    self.reply("250-localhost")
                    self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "AUTH":
                parts = arg.split()
                mech = parts[0].upper() if parts else ""
                if mech == "PLAIN":
                    blob = parts[1] if len(parts) > 1 else None
                    if blob is None:
                        self.reply("334 ")
                        blob = self.readline() or ""
                    _, user, pw = base64.b64decode(blob).decode().split("\0")
                elif mech == "LOGIN":
                    if len(parts) > 1:
                        user = base64.b64decode(parts[1]).decode()
                    else:
                        self.reply("334 VXNlcm5hbWU6")
                        user = base64.b64decode(self.readline() or "").decode()
                    self.reply("334 UGFzc3dvcmQ6")
                    pw = base64.b64decode(self.readline() or "").decode()
                else:
                    self.reply("504 unsupported")
                    continue
                if (user, pw) == (st.username, st.password):
                    auth = (user, pw)
                    self.reply("235 ok")
                else:
                    self.reply("535 bad credentials")
            elif verb == "MAIL":
                with st.lock:
                    st.attempts += 1
                    fail = st.fail_next > 0
                    if fail:
                        st.fail_next -= 1
                if fail:
                    self.reply("451 try again later")
                    continue
                if st.username and not auth:
                    self.reply("530 authentication required")
                    continue
                mail_from, rcpt = arg, []
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpt.append(arg)
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                lines, size = [], 0
                while True:
                    raw = self.rfile.readline(MAX_LINE + 2)
                    if not raw:
                        return
                    size += len(raw)
                    if raw in (b".\r\n", b".\n") or size > MAX_MESSAGE:
                        break
                    if raw.startswith(b".."):
                        raw = raw[1:]
                    lines.append(raw.decode("utf-8", "replace"))
                with st.lock:
                    st.messages.append(Message(mail_from, rcpt, "".join(lines), auth))
                self.reply("250 queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpServer:
    """Start with `with SmtpServer() as smtp:`; smtp.port, smtp.messages, smtp.wait_for(n)."""

    def __init__(self, username: Optional[str] = None, password: Optional[str] = None):
        self.state = SmtpState(username=username, password=password)
        self._srv = _Server(("127.0.0.1", 0), _Handler)
        self._srv.state = self.state
        self.port = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._srv.shutdown()
        self._srv.server_close()

    @property
    def messages(self) -> list:
        with self.state.lock:
            return list(self.state.messages)

    def to(self, address: str) -> list:
        return [m for m in self.messages if any(address.lower() in r.lower() for r in m.rcpt_to)]

    def wait_for(self, predicate, timeout: float = 10.0):
        deadline = time.monotonic() + scaled(timeout)
        for _ in range(10_000):
            got = predicate()
            if got:
                return got
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return None

    def env(self, **extra) -> dict:
        e = {"EMAIL_PROVIDER": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port),
             "SMTP_TLS": "none", "FROM_EMAIL": "todo@example.test"}
        if self.state.username:
            e["SMTP_USERNAME"] = self.state.username
            e["SMTP_PASSWORD"] = self.state.password
        e.update(extra)
        return e
