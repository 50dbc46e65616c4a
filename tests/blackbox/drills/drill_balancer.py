"""A small round-robin TCP balancer on 127.0.0.1: what a Kubernetes Service (kube-proxy) does
for the drill of a replica's SIGTERM behind the web role.

Like kube-proxy it works per connection: a new client connection goes to the next endpoint
in rotation that is ready, and stays with it until either side closes; a connection already
open is never moved. Like an EndpointSlice, an endpoint is ready while its /ready answers 200
(polled every 100 ms, as a readiness probe) and it is not terminating: Kubernetes marks a
pod's endpoint not ready the moment the pod is deleted, while its preStop hook runs and
before the process gets SIGTERM. A connection to an endpoint that refuses it is closed at
once (the client sees a reset connection, as with kube-proxy's iptables rules): nothing is
retried here. Bounded: at most MAX_CONNS connections, one thread per direction of each."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

import requests

MAX_CONNS = 512
PROBE_EVERY_S = 0.1


@dataclass
class Endpoint:
    port: int
    ready: bool = False
    terminating: bool = False
    routed: int = 0          # connections sent to it
    refused: int = 0         # connections it refused
    probes: list = field(default_factory=list)  # (time, status)


class Balancer:
    def __init__(self, ports: list):
        self.endpoints = [Endpoint(p) for p in ports]
        self.lock = threading.Lock()
        self.next = 0
        self.no_endpoint = 0
        self.open = 0
        self.stopping = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads += [threading.Thread(target=self._probe, args=(e,), daemon=True)
                         for e in self.endpoints]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(5)
        self.listener.close()

    # -- endpoints ------------------------------------------------------------------------
    def _probe(self, e: Endpoint) -> None:
        s = requests.Session()
        for _ in range(1_000_000):
            if self.stopping.is_set():
                return
            try:
                st = s.get(f"http://127.0.0.1:{e.port}/ready", timeout=0.5).status_code
            except requests.RequestException:
                st = None
                s = requests.Session()
            with self.lock:
                e.ready = st == 200
                e.probes.append((time.monotonic(), st))
            self.stopping.wait(PROBE_EVERY_S)

    def terminate(self, port: int) -> None:
        """The pod is being deleted: its endpoint leaves the rotation for new connections."""
        with self.lock:
            for e in self.endpoints:
                if e.port == port:
                    e.terminating = True

    def wait_ready(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if all(e.ready for e in self.endpoints):
                    return True
            time.sleep(0.05)
        return False

    def _pick(self):
        with self.lock:
            n = len(self.endpoints)
            for k in range(n):
                e = self.endpoints[(self.next + k) % n]
                if e.ready and not e.terminating:
                    self.next = (self.next + k + 1) % n
                    e.routed += 1
                    return e
            self.no_endpoint += 1
            return None

    # -- connections ----------------------------------------------------------------------
    def _accept(self) -> None:
        for _ in range(10_000_000):
            if self.stopping.is_set():
                return
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                full = self.open >= MAX_CONNS
            e = None if full else self._pick()
            if e is None:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", e.port), timeout=2)
            except OSError:
                with self.lock:
                    e.refused += 1
                with contextlib.suppress(OSError):
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self.lock:
                self.open += 1
            pair = _Pair(self, client, upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pair.pump, args=(a, b), daemon=True).start()


class _Pair:
    """Both directions of one balanced connection: the first side to end closes both."""

    def __init__(self, bal: Balancer, a: socket.socket, b: socket.socket):
        self.bal, self.a, self.b = bal, a, b
        self.closed = False
        self.lock = threading.Lock()

    def pump(self, src: socket.socket, dst: socket.socket) -> None:
        for _ in range(10_000_000):
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        self.close()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.a, self.b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        with self.bal.lock:
            self.bal.open -= 1
