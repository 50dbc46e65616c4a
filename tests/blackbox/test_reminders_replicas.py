"""Reminders on several replicas (issue 14): two api processes on one PostgreSQL claim due
reminders with FOR UPDATE SKIP LOCKED; 500 reminders due within a few seconds are each
delivered exactly once (one notification, one email), and a replica killed in the middle
of a batch loses none (its transaction rolls back, the other replica claims the rows)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from api_helpers import signup, sql_on
from helpers import scaled, wait_until
from smtp_helpers import SmtpServer

pytestmark = pytest.mark.postgres_only

N = 500
ENV = {"REMINDER_POLL_MS": "100", "EVENTS_POLL_MS": "200", "EMAIL_QUEUE_SIZE": "2000"}


def seed(srv, uid: str, n: int, in_seconds: float, spread_s: int = 3) -> None:
    """n open tasks whose reminders fall due over spread_s seconds from in_seconds on."""
    due = (datetime.now(timezone.utc) + timedelta(seconds=in_seconds)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    sql_on(srv, "INSERT INTO tasks (user_id, title, created_at, updated_at, remind_at) "
                f"SELECT '{uid}', 'reminder ' || g, now(), now(), "
                f"'{due}'::timestamptz + (g % {spread_s}) * interval '1 second' "
                f"FROM generate_series(1, {n}) g")


def delivered(srv) -> list:
    return [r[0] for r in sql_on(srv, "SELECT task_id FROM notifications")]


def wait_all(srv, n: int, timeout: float = 60) -> list:
    got = wait_until(lambda: len(delivered(srv)) >= n and delivered(srv), scaled(timeout),
                     interval=0.2)
    return got or delivered(srv)


def claimed_by(srv) -> int:
    return sum(r.get("count", 0) for r in srv.log_records()[0]
               if r.get("msg") == "reminders delivered")


def test_500_reminders_on_two_replicas_are_delivered_exactly_once(servers):
    with SmtpServer() as smtp:
        db = servers.new_database_url()
        a = servers.start(env={**ENV, **smtp.env()}, database_url=db)
        b = servers.start(env={**ENV, **smtp.env()}, database_url=db)
        u = signup(a)
        assert u.patch("/api/auth/me", json={"email_reminders": True}).status_code == 200
        seed(a, u.id, N, in_seconds=2)
        got = wait_all(a, N)
        counts = Counter(got)
        assert len(got) == N and len(counts) == N, \
            f"{len(got)} notifications for {len(counts)} tasks"
        mails = smtp.wait_for(lambda: len(smtp.to(u.email)) >= N and smtp.to(u.email), 60)
        time.sleep(scaled(1.0))  # nothing more arrives
        subjects = Counter(m.subject for m in smtp.to(u.email))
        assert mails and len(smtp.to(u.email)) == N and len(subjects) == N
        assert all(c == 1 for c in subjects.values())
        # Both processes ran the claim; the rows they took add up to N.
        assert claimed_by(a) + claimed_by(b) == N
        print(f"replica a claimed {claimed_by(a)}, replica b {claimed_by(b)}")
        # The task rows record the reminder they fired.
        left = sql_on(a, "SELECT count(*) FROM tasks WHERE remind_at IS NOT NULL "
                         "AND reminded_at IS DISTINCT FROM remind_at")
        assert left == [("0",)]


def test_a_replica_killed_mid_batch_loses_none(servers):
    db = servers.new_database_url()
    a = servers.start(env=ENV, database_url=db)
    b = servers.start(env=ENV, database_url=db)
    u = signup(a)
    seed(a, u.id, N, in_seconds=2, spread_s=1)
    # Kill a as soon as it has committed its first batch: it is then in its next one.
    first = wait_until(lambda: claimed_by(a) > 0 or len(delivered(b)) >= N, scaled(30),
                       interval=0.005, max_polls=100_000)
    assert first
    a.send_signal(signal.SIGKILL)
    a.wait_exit(10)
    got = wait_all(b, N)
    counts = Counter(got)
    assert len(got) == N and len(counts) == N, f"{len(got)} notifications for {len(counts)} tasks"
    time.sleep(scaled(1.0))
    assert len(delivered(b)) == N
    print(f"killed replica committed {claimed_by(a)} before dying; the survivor {claimed_by(b)}")
