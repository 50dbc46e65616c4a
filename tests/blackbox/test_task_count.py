"""Each user's task count (users.task_count, kept by triggers in every write's transaction;
migration 12): the unfiltered listing's total on the SQL path (a server with LIST_CACHE_MIB=0,
a page with more tasks behind it) reads it instead of counting the user's tasks. After
creates, recurring completions (a new task), deletes, a restore and a delete in SQL it must
equal count(*), on both backends."""
from __future__ import annotations

import pytest
import requests

from api_helpers import signup, sql_on, unique_email
from helpers import scaled


def _total(srv, auth: dict, query: str = "limit=2") -> int:
    r = requests.get(srv.url(f"/api/me/tasks?{query}"), headers=auth, timeout=scaled(10))
    assert r.status_code == 200, r.text[:200]
    return int(r.headers["X-Total-Count"])


def _counts(srv) -> dict:
    rows = sql_on(srv, "SELECT u.id, u.task_count, (SELECT count(*) FROM tasks t WHERE "
                       "t.user_id = u.id) FROM users u")
    return {uid: (int(kept), int(counted)) for uid, kept, counted in rows}


def test_task_count_follows_every_write(servers):
    srv = servers.prepare(env={"LIST_CACHE_MIB": "0", "RATE_LIMIT_PER_MINUTE": "1000000"}).start()
    assert srv.wait_ready() == 200, srv.tail()
    users = [signup(srv, email=unique_email("count")) for _ in range(3)]
    auths = [{"Authorization": f"Bearer {u.token}"} for u in users]
    ids: list = [[], [], []]
    for i in range(12):
        k = i % 3
        body = {"title": f"t{i}", "tags": ["a"] if i % 2 else []}
        if i % 4 == 0:
            body["recurrence"] = "daily"
        r = requests.post(srv.url("/api/me/tasks"), json=body, headers=auths[k], timeout=scaled(10))
        assert r.status_code == 201, r.text[:200]
        ids[k].append(r.json()["id"])
    for k in range(3):
        for tid in ids[k][:2]:  # completing a recurring task creates its next one
            r = requests.patch(srv.url(f"/api/me/tasks/{tid}/complete"), headers=auths[k],
                               timeout=scaled(10))
            assert r.status_code == 200, r.text[:200]
    gone = ids[0][2]
    r = requests.delete(srv.url(f"/api/me/tasks/{gone}"), headers=auths[0], timeout=scaled(10))
    assert r.status_code == 204, r.text[:200]
    r = requests.delete(srv.url(f"/api/me/tasks/{ids[1][3]}"), headers=auths[1], timeout=scaled(10))
    assert r.status_code == 204, r.text[:200]
    r = requests.post(srv.url(f"/api/me/tasks/{gone}/restore"), headers=auths[0], timeout=scaled(10))
    assert r.status_code in (200, 201), r.text[:200]

    counts = _counts(srv)
    for u, auth in zip(users, auths):
        kept, counted = counts[u.id]
        assert kept == counted, (u.id, kept, counted)
        assert _total(srv, auth) == counted  # the task count: a page with more behind it
        assert _total(srv, auth, "limit=2&status=all&offset=1") == counted
        pending = int(sql_on(srv, f"SELECT count(*) FROM tasks WHERE user_id = '{u.id}' AND "
                                  f"completed = {'false' if 'postgres' in srv.env['DATABASE_URL'] else '0'}")[0][0])
        assert _total(srv, auth, "limit=1&status=pending") == pending  # filtered: count(*)

    # The unfiltered total is the kept count (a point read), not a count(*).
    sql_on(srv, f"UPDATE users SET task_count = 999 WHERE id = '{users[1].id}'")
    assert _total(srv, auths[1], "limit=1&offset=1") == 999
    assert _total(srv, auths[1], "limit=1&priority=medium") == counts[users[1].id][1]
    sql_on(srv, f"UPDATE users SET task_count = {counts[users[1].id][1]} WHERE id = '{users[1].id}'")

    # A row written in SQL is counted too (the triggers, not the server, keep the count).
    sql_on(srv, f"DELETE FROM tasks WHERE user_id = '{users[2].id}' AND id = {ids[2][3]}")
    assert _total(srv, auths[2]) == _counts(srv)[users[2].id][1]
    assert all(kept == counted for kept, counted in _counts(srv).values())

    # One statement writing many tasks of two users (an import's shape) counts each user's
    # tasks once (PostgreSQL: a statement trigger over the transition table, migration 13).
    bulk = ("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 3000) "
            "INSERT INTO tasks (user_id, title, created_at, updated_at) "
            f"SELECT CASE WHEN g % 100 = 0 THEN '{users[1].id}' ELSE '{users[0].id}' END, "
            "'bulk', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' FROM s")
    sql_on(srv, bulk)
    sql_on(srv, f"DELETE FROM tasks WHERE title = 'bulk' AND user_id IN ('{users[0].id}', "
                f"'{users[1].id}') AND id % 7 = 0")
    after = _counts(srv)
    assert all(kept == counted for kept, counted in after.values()), after
    assert after[users[0].id][1] > 2000 and after[users[1].id][1] > 20, after
    assert _total(srv, auths[0]) == after[users[0].id][1]


@pytest.mark.postgres_only
def test_postgres_counts_once_per_statement(servers):
    """On PostgreSQL the count triggers are statement triggers: a row trigger updated the
    user's row once per task, O(n^2) for one statement of n tasks (100,000 took minutes)."""
    srv = servers.prepare().start()
    assert srv.wait_ready() == 200, srv.tail()
    rows = sql_on(srv, "SELECT tgname, tgtype & 1 FROM pg_trigger WHERE tgrelid = 'tasks'::regclass "
                       "AND NOT tgisinternal AND tgname LIKE 'tasks_count%' ORDER BY tgname")
    assert [(name, int(row)) for name, row in rows] == [("tasks_count_delete", 0),
                                                         ("tasks_count_insert", 0)], rows
