"""PostgreSQL races (issue 7): read-merge-write paths lock their row, so concurrent writers of
one task never lose each other's changes, and a recurring task completed by many clients at
once gets exactly one next occurrence.

The server runs with enough workers (and pool connections) for the requests to really overlap
in the database; every request of a round waits on a barrier and is sent at the same moment."""

from __future__ import annotations

import threading

import pytest
import requests

from api_helpers import fresh_user, start_module_server
from helpers import scaled

pytestmark = pytest.mark.postgres_only

PARALLEL = 20
ROUNDS = 6
# One value per field and writer: field -> f(i) for writer i.
FIELDS = {
    "title": lambda i: f"title by writer {i}",
    "description": lambda i: f"description by writer {i}",
    "priority": lambda i: ("high", "low")[i % 2],
    "due_at": lambda i: f"2031-01-{i + 1:02d}T10:00:00Z",
    "remind_at": lambda i: f"2030-12-{i + 1:02d}T09:00:00Z",
    "tags": lambda i: [f"writer-{i}"],
    "recurrence_interval": lambda i: i + 2,
    "recurrence": lambda i: ("weekly", "monthly")[i % 2],
}
ORIGINAL = {"title": "original", "description": "original", "priority": "medium",
            "due_at": "2030-01-01T00:00:00Z", "remind_at": None, "tags": ["original"],
            "recurrence_interval": 1, "recurrence": "none"}


@pytest.fixture(scope="module")
def race_server(request, todo_bin, backend, tmp_path_factory):
    _factory, srv = start_module_server(request, todo_bin, backend, tmp_path_factory,
                                        env={"WORKERS": "24", "DATABASE_POOL_SIZE": "24",
                                             "DATABASE_MAX_OVERFLOW": "8"})
    return srv


def _at_once(srv, n: int, fn) -> list:
    """Runs fn(session, i) for i in range(n) on n threads released together; each thread's
    connection is open (a keep-alive GET /health) before the release, so the requests reach
    the server within a millisecond or so. Returns the results."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        with requests.Session() as s:
            try:
                s.get(srv.url("/health"), timeout=scaled(10))
                barrier.wait(timeout=scaled(30))
                results[i] = fn(s, i)
            except Exception as e:  # reported by the caller
                results[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(60))
    assert not any(t.is_alive() for t in threads), "a request never finished"
    return results


def test_parallel_patches_of_distinct_fields_all_survive(race_server):
    """20 PATCHes sent at once, each setting one field: every field ends with a value some
    writer sent for it. Without a row lock each writer merged its field into the row it had
    read, and the last commit put the other fields back to their old values."""
    user = fresh_user(race_server, "race")
    names = list(FIELDS)
    rounds = []
    for _round in range(ROUNDS):
        t = user.create(**ORIGINAL)
        writers = [(names[i % len(names)], i) for i in range(PARALLEL)]

        def patch(s, i):
            name = writers[i][0]
            return s.patch(user.srv.url(f"/api/me/tasks/{t['id']}"), json={name: FIELDS[name](i)},
                           headers=user.headers(), timeout=scaled(30))
        results = _at_once(race_server, PARALLEL, patch)
        for (name, i), r in zip(writers, results):
            assert isinstance(r, requests.Response), f"writer {i} ({name}): {r!r}"
            assert r.status_code == 200, f"writer {i} ({name}): {r.status_code} {r.text[:200]}"
        final = user.task(t["id"]).json()
        lost = {}
        for name in names:
            sent = [FIELDS[name](i) for (n, i) in writers if n == name]
            if final[name] not in sent:
                lost[name] = (final[name], sent)
        rounds.append(lost)
    assert rounds == [{}] * ROUNDS, f"lost updates (field: (final, values sent)): {rounds}"


def test_parallel_completes_of_a_recurring_task_make_one_next_occurrence(race_server):
    user = fresh_user(race_server, "race-done")
    for _round in range(ROUNDS):
        t = user.create(title="water the plants", due_at="2030-03-01T08:00:00Z",
                        recurrence="daily", tags=["home"])

        def complete(s, i):
            return s.patch(user.srv.url(f"/api/me/tasks/{t['id']}/complete"),
                           json={"completed": True}, headers=user.headers(), timeout=scaled(30))
        results = _at_once(race_server, PARALLEL, complete)
        for i, r in enumerate(results):
            assert isinstance(r, requests.Response), f"complete {i}: {r!r}"
            assert r.status_code == 200, f"complete {i}: {r.status_code} {r.text[:200]}"
        made = [r.json()["next_task"] for r in results if r.json().get("next_task")]
        assert len(made) == 1, f"{len(made)} responses created a next occurrence"
        r = user.list(search="water the plants", status="pending", limit=200)
        pending = [x for x in r.json() if x["due_at"] == "2030-03-02T08:00:00Z"]
        assert len(pending) == 1, f"{len(pending)} next occurrences stored: {pending}"
        assert pending[0]["id"] == made[0]["id"]
        assert pending[0]["tags"] == ["home"]
        user.delete(f"/api/me/tasks/{pending[0]['id']}")
        user.delete(f"/api/me/tasks/{t['id']}")
