"""PostgreSQL only: the listeners' acknowledgements (store/pg_listen.h). A replica alone on its
database acknowledges its own writes in memory and sends no acknowledgement NOTIFY (only its
hello, a payload with no entries); once a second replica listens, acknowledgements flow on
todo_tasks_version_ack and a write through either replica is on the other's very next list.

The test watches the channel itself: a psql session LISTENs on it from before the first server
starts and reports every notification it received (psql prints them after each command)."""

import os
import queue
import re
import shutil
import subprocess
import threading
import time

import pytest

from api_helpers import sql_on
from helpers import scaled, wait_until

pytestmark = pytest.mark.postgres_only

ACK_CHANNEL = "todo_tasks_version_ack"
_NOTIFICATION = re.compile(r'^Asynchronous notification "' + ACK_CHANNEL +
                           r'" with payload "([^"]*)" received from server process with PID (\d+)\.$')


class AckChannel:
    """A psql session LISTENing on the acknowledgement channel; collect() returns the payloads
    of the notifications it received since the last call."""

    def __init__(self, url: str):
        psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
        env = dict(os.environ, LC_ALL="C", LANG="C", PGAPPNAME="todo-test-acks")
        self.proc = subprocess.Popen([psql, url, "-XAtq", "-v", "ON_ERROR_STOP=1"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.output: list = []  # everything psql printed, for failure messages
        self.n = 0
        threading.Thread(target=self._read, daemon=True).start()
        self._send(f"LISTEN {ACK_CHANNEL};")
        self.collect()  # returns once the LISTEN has been answered

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def _send(self, text: str):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def collect(self) -> list:
        """The payloads received so far. psql reads what arrived while it executes a command
        and prints it after that command's result, so a first command takes everything in and
        a second one's result marks the end."""
        self.n += 1
        mark = f"mark-{self.n}"
        self._send(f"SELECT 'sync';\nSELECT '{mark}';")
        deadline = time.monotonic() + scaled(10)
        payloads = []
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"psql did not answer within {scaled(10):.0f} s:\n" + "\n".join(self.output)
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.output.append(line)
            if line == mark:
                return payloads
            m = _NOTIFICATION.match(line)
            if m:
                payloads.append(m.group(1))
            elif line != "sync":
                assert not line.startswith(("ERROR", "FATAL", "psql:")), line

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=scaled(10))
        except Exception:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _listener_pids(srv) -> set:
    """The backend pids of the notification connections on srv's database."""
    rows = sql_on(srv, "SELECT pid FROM pg_stat_activity WHERE application_name = 'todo-listen' "
                       "AND datname = current_database()")
    return {int(r[0]) for r in rows}


def _entries(payload: str) -> int:
    """How many "<hash>:<version>" entries an acknowledgement "<pid> <entry>..." carries."""
    return len(payload.split()) - 1


def _sender(payload: str) -> int:
    return int(payload.split()[0])


def test_acknowledgements_flow_only_while_another_replica_listens(servers, backend):
    url = backend.pg.fresh_database_url()
    chan = AckChannel(url)
    try:
        env = {"RATE_LIMIT_PER_MINUTE": "100000"}
        a = servers.prepare(database_url=url, env=env).start()
        assert a.wait_ready() == 200, a.tail()
        assert wait_until(lambda: len(_listener_pids(a)) == 1, scaled(10)), "A does not listen"
        r = a.request("POST", "/api/auth/signup",
                      json={"email": f"acks-{int(time.time()*1000)}@example.com", "password": "password123"})
        assert r.status_code == 201, r.text
        auth = {"Authorization": f"Bearer {r.json()['token']}"}

        def titles(srv, auth):
            resp = srv.get("/api/me/tasks?sort=title&order=asc&limit=200", headers=auth)
            assert resp.status_code == 200, resp.text
            return resp.headers.get("X-Total-Count"), [t["title"] for t in resp.json()]

        # Alone: 200 sequential writes, each answered once A's own listener has applied it.
        for i in range(200):
            created = a.request("POST", "/api/me/tasks", headers=auth, json={"title": f"a{i:03d}"})
            assert created.status_code == 201, created.text
        assert titles(a, auth) == ("200", sorted(f"a{i:03d}" for i in range(200)))
        [pid_a] = _listener_pids(a)
        alone = chan.collect()
        time.sleep(scaled(1.5))  # more than a heartbeat: an acknowledgement queued late is in too
        alone += chan.collect()
        assert [p for p in alone if _entries(p)] == [], \
            f"a replica alone on its database sent acknowledgements: {alone[:5]} …"
        assert str(pid_a) in alone, f"A's listener (backend {pid_a}) sent no hello: {alone}"
        assert "did not acknowledge" not in a.logs(), a.tail()

        # A second replica: its hello tells A, its heartbeat tells it of A; both acknowledge.
        b = servers.prepare(database_url=url, env=env).start()
        assert b.wait_ready() == 200, b.tail()
        assert wait_until(lambda: len(_listener_pids(a)) == 2, scaled(10)), "B does not listen"
        [pid_b] = _listener_pids(a) - {pid_a}
        # A's cached list of the first user, then a write through B: on A's next list.
        assert titles(a, auth)[0] == "200"
        created = b.request("POST", "/api/me/tasks", headers=auth, json={"title": "from b"})
        assert created.status_code == 201, created.text
        assert titles(a, auth)[0] == "201", "A served a stale list after a write through B"
        r = b.request("POST", "/api/auth/signup",
                      json={"email": f"acks2-{int(time.time()*1000)}@example.com", "password": "password123"})
        assert r.status_code == 201, r.text
        auth2 = {"Authorization": f"Bearer {r.json()['token']}"}
        expected = []
        for i in range(10):
            for writer, reader, name in ((b, a, "b"), (a, b, "a")):
                assert titles(reader, auth2)[1] == expected  # warms the reader's cache
                title = f"{name}{i}"
                created = writer.request("POST", "/api/me/tasks", headers=auth2, json={"title": title})
                assert created.status_code == 201, created.text
                expected = sorted(expected + [title])
                assert titles(reader, auth2)[1] == expected, \
                    f"a write through one replica is not on the other's next list ({title})"

        seen = {}

        def both_acknowledged():
            for p in chan.collect():
                if _entries(p):
                    seen[_sender(p)] = seen.get(_sender(p), 0) + 1
            return pid_a in seen and pid_b in seen

        assert wait_until(both_acknowledged, scaled(10), interval=0.2, max_polls=100), \
            f"acknowledgements with two replicas came from {seen} (A {pid_a}, B {pid_b})"
        assert f'payload "{pid_b}"' in "\n".join(chan.output), "B's listener sent no hello"
    finally:
        chan.close()
