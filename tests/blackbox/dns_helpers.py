"""A DNS server for one test, on a loopback address of its own (127.53.x.y, port 53), and a
server started in a private mount namespace whose /etc/resolv.conf names it.

It answers A queries for the names it was given (AAAA with no address, anything else
NXDOMAIN) until told to go silent: then it reads queries and answers none, as a container
network's DNS does while the container it names restarts."""

from __future__ import annotations

import random
import socket
import struct
import threading
from pathlib import Path

import pytest

from helpers import start_in_mount_namespace

QTYPE_A = 1


class FakeDns:
    def __init__(self, names: dict):
        self.names = {k.lower().rstrip("."): v for k, v in names.items()}
        self.silent = False
        self.queries = 0
        self.unanswered = 0
        self.sock = None
        for _ in range(20):
            self.addr = f"127.53.{random.randint(1, 254)}.{random.randint(1, 254)}"
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((self.addr, 53))
            except OSError:
                s.close()
                continue
            self.sock = s
            break
        if self.sock is None:
            pytest.fail("no free 127.53.x.y:53 for the test's DNS server")
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def resolv_conf(self, path: Path, timeout_s: int = 10) -> Path:
        """A resolv.conf naming this server: one attempt of timeout_s seconds per query."""
        path.write_text(f"nameserver {self.addr}\noptions timeout:{timeout_s} attempts:1\n")
        return path

    def _answer(self, q: bytes):
        if len(q) < 12:
            return None
        qid, _flags, qdcount = struct.unpack("!HHH", q[:6])
        if qdcount != 1:
            return None
        i, labels = 12, []
        while i < len(q) and q[i] != 0:
            n = q[i]
            labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        end = i + 5
        if end > len(q):
            return None
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        name = ".".join(labels).lower()
        question = q[12:end]
        addr = self.names.get(name)
        if addr is None:  # NXDOMAIN
            return struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
        if qtype != QTYPE_A:  # the name exists, no address of this type
            return struct.pack("!HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question
        rr = struct.pack("!HHHIH", 0xC00C, QTYPE_A, 1, 0, 4) + socket.inet_aton(addr)
        return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr

    def _serve(self):
        while not self._stop.is_set():
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if self.silent:
                self.unanswered += 1
                continue
            a = self._answer(q)
            if a is not None:
                self.sock.sendto(a, peer)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def start_with_resolver(servers, resolv_conf: Path, database_url: str, env=None):
    """Starts `todo serve` in a private mount namespace whose /etc/resolv.conf is
    resolv_conf."""
    return start_in_mount_namespace(servers, f"mount --bind {resolv_conf} /etc/resolv.conf",
                                    database_url, env)
