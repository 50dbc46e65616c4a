"""SQLite on storage that cannot take writes (issue 7): a full disk and a read-only database
answer 503 with a JSON detail (not 500), log no spurious "cannot rollback", keep serving
reads, and a read-only database makes /ready 503.

The server runs in a private mount namespace (unshare -m) whose database directory is a
small tmpfs (full disk) or a read-only bind mount; nsenter reaches into it to fill the disk.
Nothing outside the test's own directories is mounted or touched."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from api_helpers import fresh_user
from helpers import scaled, start_in_mount_namespace, wait_until

pytestmark = pytest.mark.sqlite_only

NSENTER = "/usr/bin/nsenter"


def _start_in_namespace(servers, db_dir: Path, setup: str, env=None):
    """Starts `todo serve` on db_dir/todo.db after running the shell commands `setup` in a
    private mount namespace."""
    return start_in_mount_namespace(servers, setup, f"sqlite:///{db_dir / 'todo.db'}", env)


def _in_namespace(srv, *cmd, check=False):
    return subprocess.run([NSENTER, "-t", str(srv.proc.pid), "-m", "--", *cmd],
                          capture_output=True, text=True, timeout=60, check=check)


def _assert_503_json(r, what):
    assert r.status_code == 503, f"{what}: {r.status_code} {r.text[:200]!r}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    detail = r.json().get("detail")
    assert isinstance(detail, str) and detail, r.text


def _no_spurious_rollback(srv):
    text = srv.logs().lower()
    assert "cannot rollback" not in text, srv.tail()
    assert "no transaction is active" not in text, srv.tail()


def test_full_disk_is_503_json_and_writes_resume_when_space_returns(servers, tmp_path):
    db_dir = tmp_path / "small-disk"
    db_dir.mkdir()
    srv = _start_in_namespace(servers, db_dir, f"mount -t tmpfs -o size=8m tmpfs {db_dir}")
    user = fresh_user(srv, "fulldisk")
    first = user.create(title="before the disk filled up")
    # Fill the file system (dd stops at ENOSPC).
    _in_namespace(srv, "dd", "if=/dev/zero", f"of={db_dir}/filler", "bs=64k")
    statuses = []
    for i in range(300):
        r = user.post("/api/me/tasks", json={"title": f"task {i}", "description": "x" * 1000})
        statuses.append(r.status_code)
        if r.status_code != 201:
            break
    assert statuses[-1] == 503, f"writes on a full disk never failed, or not with 503: {statuses[-5:]}"
    _assert_503_json(r, "write on a full disk")
    assert 500 not in statuses
    # Reads still work, and the data written before is intact.
    r = user.task(first["id"])
    assert r.status_code == 200 and r.json()["title"] == first["title"], r.text
    _no_spurious_rollback(srv)
    # Space again: writes succeed again.
    _in_namespace(srv, "rm", "-f", f"{db_dir}/filler", check=True)
    t0 = time.monotonic()
    ok = wait_until(lambda: user.post("/api/me/tasks", json={"title": "after"}).status_code == 201,
                    scaled(10), interval=0.2, max_polls=100)
    assert ok, "writes did not resume once the disk had space again"
    resumed_s = time.monotonic() - t0
    assert srv.get("/ready").status_code == 200
    # No corruption: the file, seen through the server's own mount namespace, checks whole.
    con = sqlite3.connect(f"/proc/{srv.proc.pid}/root{db_dir}/todo.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    # The fault drill's figures (docs/robustness.md, "Fault drills").
    print(f"\nDRILL disk full: {statuses.count(201)} writes of 1 KB accepted on the full disk "
          f"before the first 503 ({len(statuses)} sent, no 500); writes resumed "
          f"{resumed_s * 1000:.0f} ms after space returned; integrity_check ok")


def test_read_only_database_is_503_json_and_not_ready(servers, tmp_path, cli):
    db_dir = tmp_path / "ro"
    db_dir.mkdir()
    url = f"sqlite:///{db_dir / 'todo.db'}"
    m = cli.run("migrate", database_url=url, timeout=60)
    assert m.returncode == 0, m.describe()
    # A writer elsewhere keeps the WAL files open, as on a shared volume mounted read-only
    # here; SQLite can then open the WAL database read-only.
    holder = sqlite3.connect(str(db_dir / "todo.db"))
    try:
        holder.execute("SELECT count(*) FROM schema_migrations").fetchall()  # opens the WAL
        srv = _start_in_namespace(
            servers, db_dir,
            f"mount --bind {db_dir} {db_dir} && mount -o remount,bind,ro {db_dir} {db_dir}")
        # A user and a task written by that other writer.
        user = fresh_user(srv, "readonly")
        holder.execute("INSERT INTO users (id, email, created_at, updated_at) "
                       "VALUES (?, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                       (user.id, user.email))
        holder.commit()
        r = user.list()
        assert r.status_code == 200, f"reads must work on a read-only database: {r.text[:200]}"
        assert r.json() == []
        r = user.post("/api/me/tasks", json={"title": "cannot be written"})
        _assert_503_json(r, "write on a read-only database")
        r = srv.get("/ready")
        assert r.status_code == 503, f"/ready on a read-only database: {r.status_code} {r.text}"
        assert srv.get("/health").status_code == 200
        _no_spurious_rollback(srv)
        assert "internal server error" not in srv.logs().lower()
    finally:
        holder.close()
