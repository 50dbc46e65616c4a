"""The task list from each user's rows held in the process (domain/task_rows.h) against the SQL
path, through the real binary on both backends: two servers on one database, one with the
caches (the rows) and one with LIST_CACHE_MIB=0 (every list in SQL). Concurrent writes through
the first (reported to the row cache in any order, derived without a statement) and then
writes through the second (another process: the first must reload) must leave every listing —
random filters, searches, sorts, pages, and the clock-dependent overdue — byte for byte the
same on both, headers included."""
from __future__ import annotations

import random
import re
import threading
from urllib.parse import urlencode

import requests

from api_helpers import signup, unique_email
from helpers import scaled

TAGS = ["home", "Work", "ÄRGER", "x_y", "100%", "émoji"]
TITLES = ["apple", "Apple", "Éclair", "éclair", "zebra", "Zebra", "_under", "100% done", "a_b",
          "émoji 🎉", "ÄRGER", "mid Word"]
SEARCHES = ["a", "APP", "écl", "ÉCL", "%", "_", "a_b", "50%", "milk", "é", "🎉", "zz", "ärg"]
DUES = [None, "2020-01-01T10:00:00Z", "2024-06-30", "2031-03-04T05:06:07Z", "2099-12-31"]
HEADERS = ("X-Total-Count", "Link", "ETag", "Content-Type")
METRICS_TOKEN = "task-rows-metrics-token-0123456789"


def _rows_metric(srv, result: str) -> float:
    r = requests.get(srv.url("/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                     timeout=scaled(10))
    assert r.status_code == 200, r.text[:200]
    m = re.search(r'^todo_task_rows_total\{result="%s"\} ([0-9.e+]+)$' % result, r.text, re.M)
    return float(m.group(1)) if m else 0.0


def _task_body(rnd: random.Random) -> dict:
    body = {"title": rnd.choice(TITLES), "priority": rnd.choice(["high", "medium", "low"]),
            "tags": rnd.sample(TAGS, rnd.randint(0, 3))}
    if rnd.random() < 0.6:
        body["description"] = rnd.choice(["buy MILK", "Prix: 5 €", "50% off", "ÉCOLE", ""])
    due = rnd.choice(DUES)
    if due:
        body["due_at"] = due
    return body


def _query(rnd: random.Random) -> str:
    q = []
    if rnd.random() < 0.3:
        q.append(("status", rnd.choice(["all", "pending", "completed"])))
    if rnd.random() < 0.3:
        q.append(("priority", rnd.choice(["high", "medium", "low"])))
    for tag in rnd.sample(TAGS, rnd.choice([0, 0, 0, 1, 2])):
        q.append(("tag", tag.upper() if rnd.random() < 0.5 else tag))
    if rnd.random() < 0.3:
        q.append(("search", rnd.choice(SEARCHES)))
    if rnd.random() < 0.2:
        q.append(("due_before", rnd.choice(["2025-01-01", "2031-03-04T05:06:07Z"])))
    if rnd.random() < 0.2:
        q.append(("due_after", rnd.choice(["2024-06-30", "2030-01-01T00:00:00Z"])))
    if rnd.random() < 0.4:
        q.append(("overdue", rnd.choice(["true", "false"])))
    if rnd.random() < 0.7:
        q.append(("sort", rnd.choice(["created", "updated", "title", "due_date", "priority"])))
    if rnd.random() < 0.5:
        q.append(("order", rnd.choice(["asc", "desc"])))
    q.append(("limit", rnd.choice([1, 3, 10, 50, 200])))
    if rnd.random() < 0.5:
        q.append(("offset", rnd.choice([0, 1, 5, 30, 1000])))
    return "/api/me/tasks?" + urlencode(q)


def _compare(rows_srv, sql_srv, auth: dict, rnd: random.Random, n: int) -> None:
    for _ in range(n):
        path = _query(rnd)
        a = requests.get(rows_srv.url(path), headers=auth, timeout=scaled(20))
        b = requests.get(sql_srv.url(path), headers=auth, timeout=scaled(20))
        assert a.status_code == b.status_code == 200, (path, a.status_code, b.status_code, a.text[:200])
        assert a.content == b.content, f"{path}: rows and SQL differ\nrows: {a.text[:400]}\nSQL:  {b.text[:400]}"
        for h in HEADERS:
            assert a.headers.get(h) == b.headers.get(h), (path, h, a.headers.get(h), b.headers.get(h))


def _write(srv, auth: dict, rnd: random.Random, ids: list, lock: threading.Lock) -> None:
    """One random write: create, update, complete or delete."""
    with lock:
        tid = rnd.choice(ids) if ids else None
    op = rnd.random()
    if tid is None or op < 0.4:
        r = requests.post(srv.url("/api/me/tasks"), json=_task_body(rnd), headers=auth, timeout=scaled(20))
        assert r.status_code == 201, r.text[:200]
        with lock:
            ids.append(r.json()["id"])
    elif op < 0.65:
        r = requests.patch(srv.url(f"/api/me/tasks/{tid}"), json=_task_body(rnd), headers=auth,
                           timeout=scaled(20))
        assert r.status_code in (200, 404), r.text[:200]
    elif op < 0.85:
        r = requests.patch(srv.url(f"/api/me/tasks/{tid}/complete"), headers=auth, timeout=scaled(20))
        assert r.status_code in (200, 404), r.text[:200]
    else:
        r = requests.delete(srv.url(f"/api/me/tasks/{tid}"), headers=auth, timeout=scaled(20))
        assert r.status_code in (204, 404), r.text[:200]
        with lock:
            if tid in ids:
                ids.remove(tid)


def test_rows_and_sql_agree_after_concurrent_writes(servers, backend):
    url = servers.new_database_url()
    env = {"RATE_LIMIT_PER_MINUTE": "1000000", "METRICS_TOKEN": METRICS_TOKEN}
    rows_srv = servers.prepare(database_url=url, env=env).start()
    sql_srv = servers.prepare(database_url=url, env={**env, "LIST_CACHE_MIB": "0"}).start()
    for srv in (rows_srv, sql_srv):
        assert srv.wait_ready() == 200, srv.tail()
    user = signup(rows_srv, email=unique_email("rows"))
    auth = {"Authorization": f"Bearer {user.token}"}
    rnd = random.Random(15)
    ids: list = []
    lock = threading.Lock()
    for _ in range(30):
        _write(rows_srv, auth, rnd, ids, lock)
    _compare(rows_srv, sql_srv, auth, rnd, 60)

    # Concurrent writes through the caching server, lists running alongside.
    errors: list = []

    def writer(seed: int) -> None:
        r = random.Random(seed)
        try:
            for _ in range(25):
                _write(rows_srv, auth, r, ids, lock)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    def lister(seed: int) -> None:
        r = random.Random(seed)
        try:
            for _ in range(40):
                resp = requests.get(rows_srv.url(_query(r)), headers=auth, timeout=scaled(20))
                assert resp.status_code == 200, resp.text[:200]
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=writer, args=(100 + i,)) for i in range(6)]
    threads += [threading.Thread(target=lister, args=(200 + i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(120))
    assert not any(t.is_alive() for t in threads), "writers did not finish"
    assert not errors, errors[:3]
    _compare(rows_srv, sql_srv, auth, rnd, 150)

    # The first server listed from its rows (and derived them after its own writes); the
    # second in SQL only.
    assert _rows_metric(rows_srv, "hit") >= 200 and _rows_metric(rows_srv, "derived") >= 100
    assert _rows_metric(rows_srv, "sql") == 0
    assert _rows_metric(sql_srv, "hit") == 0 and _rows_metric(sql_srv, "sql") >= 200

    # Writes through the other process: the caching one must notice each at once (it loads).
    loads = _rows_metric(rows_srv, "load")
    for _ in range(8):
        _write(sql_srv, auth, rnd, ids, lock)
        _compare(rows_srv, sql_srv, auth, rnd, 8)
    assert _rows_metric(rows_srv, "load") >= loads + 8
