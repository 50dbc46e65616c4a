"""Task attachments (issue 14): POST /api/{user_id}/tasks/{task_id}/attachments (a browser's
multipart/form-data upload), GET the list, GET one as a download (Content-Disposition:
attachment, nosniff, only an allow-listed type), DELETE; gone with their task, content
addressed under UPLOADS_DIR; bad input (oversized, a type off the list, truncated multipart,
path tricks in the name, no file) is a clear 4xx and leaves nothing stored — no row and no
file, not even a temporary one. Every route acts on the token's user only."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path

import pytest
import requests

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    _attach_module_server_logs, anon_request, assert_422, assert_error, assert_status, fresh_user,
    signup, start_module_server, unique_email,
)
from helpers import scaled
from mcp_helpers import Raw

MAX = 65536
QUOTA = 200000


@pytest.fixture(scope="module")
def srv(request, todo_bin, backend, tmp_path_factory):
    _f, s = start_module_server(request, todo_bin, backend, tmp_path_factory,
                                env={"UPLOAD_MAX_BYTES": str(MAX), "UPLOAD_QUOTA_BYTES": str(QUOTA)})
    return s


def uploads(srv) -> Path:
    return Path(srv.env.get("UPLOADS_DIR") or (Path(srv.env["DATA_DIR"]) / "uploads"))


def files_of(srv) -> list:
    root = uploads(srv)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(user, tid, content: bytes, name="notes.txt", ctype="text/plain", who="me"):
    return user.post(f"/api/{who}/tasks/{tid}/attachments", files={"file": (name, content, ctype)})


def test_upload_list_download_delete(srv):
    u = fresh_user(srv, "att")
    t = u.create(title="with files")
    data = "héllo, wörld\n".encode()
    r = upload(u, t["id"], data, name="  report 2026 (final).txt ")
    assert_status(r, 201)
    a = r.json()
    assert a["name"] == "report 2026 (final).txt" and a["size"] == len(data)
    assert a["content_type"] == "text/plain" and a["task_id"] == t["id"]
    assert a["sha256"] == hashlib.sha256(data).hexdigest()
    assert r.headers["Location"].endswith(f"/tasks/{t['id']}/attachments/{a['id']}")
    lst = u.get(f"/api/me/tasks/{t['id']}/attachments")
    assert_status(lst, 200)
    assert lst.json() == [a]
    got = u.get(f"/api/me/tasks/{t['id']}/attachments/{a['id']}")
    assert_status(got, 200)
    assert got.content == data
    assert got.headers["Content-Type"].startswith("text/plain")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    cd = got.headers["Content-Disposition"]
    assert cd.startswith("attachment;") and "filename*=UTF-8''report%202026%20%28final%29.txt" in cd
    # content addressed: the file is named by its hash, in a directory of the user's
    assert any(f.endswith("/" + a["sha256"]) for f in files_of(srv))
    assert_status(u.delete(f"/api/me/tasks/{t['id']}/attachments/{a['id']}"), 204)
    assert u.get(f"/api/me/tasks/{t['id']}/attachments").json() == []
    assert_error(u.get(f"/api/me/tasks/{t['id']}/attachments/{a['id']}"), 404)
    assert not any(a["sha256"] in f for f in files_of(srv))


def test_removed_with_their_task(srv):
    u = fresh_user(srv, "withtask")
    t = u.create(title="doomed")
    keep = u.create(title="kept")
    a = upload(u, t["id"], b"one", name="a.bin", ctype="application/octet-stream").json()
    same = upload(u, keep["id"], b"two", name="b.pdf", ctype="application/pdf").json()
    assert_status(u.delete(f"/api/me/tasks/{t['id']}"), 204)
    assert_error(u.get(f"/api/me/tasks/{t['id']}/attachments/{a['id']}"), 404)
    names = files_of(srv)
    assert not any(f.endswith(a["sha256"]) for f in names), names
    assert any(f.endswith(same["sha256"]) for f in names)


def test_removed_with_their_task_deleted_through_an_mcp_tool(srv):
    """delete_task (MCP) frees the task's files at once, as the REST delete does; before, they
    stayed until the user's next REST delete."""
    u = fresh_user(srv, "mcpdel")
    t = u.create(title="deleted by a tool")
    keep = u.create(title="kept")
    a = upload(u, t["id"], b"file of a tool-deleted task").json()
    kept = upload(u, keep["id"], b"file of a kept task").json()
    shared = upload(u, t["id"], b"named by both tasks").json()
    upload(u, keep["id"], b"named by both tasks", name="again.txt")
    mcp = Raw(srv, u.token)
    mcp.initialize()
    result = mcp.call("delete_task", {"task_id": t["id"]})
    assert not result.get("isError"), result
    assert_error(u.get(f"/api/me/tasks/{t['id']}"), 404)
    names = files_of(srv)
    assert not any(f.endswith(a["sha256"]) for f in names), names
    assert any(f.endswith(kept["sha256"]) for f in names), names
    assert any(f.endswith(shared["sha256"]) for f in names), "a file another task names went"


def test_removed_with_their_task_deleted_by_the_assistant(srv):
    u = fresh_user(srv, "chatdel")
    t = u.create(title="assistant doomed")
    a = upload(u, t["id"], b"file of an assistant-deleted task").json()
    r = u.post("/api/me/chat", json={"message": f"delete task {t['id']}"})
    assert_status(r, 200)
    assert [c["tool"] for c in r.json()["tool_calls"]] == ["delete_task"], r.json()
    assert_error(u.get(f"/api/me/tasks/{t['id']}"), 404)
    assert not any(f.endswith(a["sha256"]) for f in files_of(srv))


def test_same_content_twice_is_one_file(srv):
    u = fresh_user(srv, "dedup")
    t = u.create(title="dup")
    a = upload(u, t["id"], b"same bytes").json()
    b = upload(u, t["id"], b"same bytes", name="copy.txt").json()
    assert a["sha256"] == b["sha256"] and a["id"] != b["id"]
    assert sum(f.endswith(a["sha256"]) for f in files_of(srv)) == 1
    assert_status(u.delete(f"/api/me/tasks/{t['id']}/attachments/{a['id']}"), 204)
    # still named by the other row
    assert u.get(f"/api/me/tasks/{t['id']}/attachments/{b['id']}").content == b"same bytes"


def _nothing_stored(srv, u, tid, before_files):
    assert u.get(f"/api/me/tasks/{tid}/attachments").json() == []
    assert files_of(srv) == before_files, "a refused upload left a file behind"


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\boot.ini", "a/b.txt", "..", "."])
def test_path_tricks_in_names_are_refused(srv, name):
    u = fresh_user(srv, "path")
    t = u.create(title="p")
    before = files_of(srv)
    r = upload(u, t["id"], b"x", name=name)
    assert_422(r)
    _nothing_stored(srv, u, t["id"], before)


@pytest.mark.parametrize("ctype", ["text/html", "image/svg+xml", "application/javascript",
                                   "application/xhtml+xml", "text/xml"])
def test_types_off_the_allow_list_are_415(srv, ctype):
    u = fresh_user(srv, "type")
    t = u.create(title="t")
    before = files_of(srv)
    r = upload(u, t["id"], b"<script>alert(1)</script>", name="x.html", ctype=ctype)
    assert_error(r, 415)
    _nothing_stored(srv, u, t["id"], before)


def test_oversized_is_413_whether_declared_or_streamed(srv):
    u = fresh_user(srv, "big")
    t = u.create(title="big")
    before = files_of(srv)
    # declared: Content-Length beyond the limit
    assert_error(upload(u, t["id"], os.urandom(MAX + 70000), name="big.bin",
                        ctype="application/octet-stream"), 413)
    # within the framing allowance, but the file itself is over UPLOAD_MAX_BYTES
    assert_error(upload(u, t["id"], os.urandom(MAX + 10), name="big.bin",
                        ctype="application/octet-stream"), 413)
    # chunked (no length given): counted as it arrives

    def gen():
        yield (b"--BB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.bin\"\r\n"
               b"Content-Type: application/octet-stream\r\n\r\n")
        for _ in range(40):
            yield os.urandom(4096)
        yield b"\r\n--BB--\r\n"
    r = u.post(f"/api/me/tasks/{t['id']}/attachments", data=gen(),
               headers={"Content-Type": "multipart/form-data; boundary=BB"})
    assert_error(r, 413)
    _nothing_stored(srv, u, t["id"], before)
    # exactly the limit is fine
    assert_status(upload(u, t["id"], os.urandom(MAX), name="max.bin",
                         ctype="application/octet-stream"), 201)


def test_quota(srv):
    u = fresh_user(srv, "quota")
    t = u.create(title="q")
    for i in range(3):
        assert_status(upload(u, t["id"], os.urandom(60000), name=f"{i}.bin",
                             ctype="application/octet-stream"), 201)
    before = files_of(srv)
    r = upload(u, t["id"], os.urandom(30000), name="over.bin", ctype="application/octet-stream")
    assert_error(r, 413)
    assert "quota" in r.json()["detail"]
    assert files_of(srv) == before
    assert len(u.get(f"/api/me/tasks/{t['id']}/attachments").json()) == 3


def test_truncated_and_malformed_multipart(srv):
    u = fresh_user(srv, "trunc")
    t = u.create(title="t")
    before = files_of(srv)
    url = srv.url(f"/api/me/tasks/{t['id']}/attachments")
    head = {"Authorization": f"Bearer {u.token}", "Content-Type": "multipart/form-data; boundary=XX"}
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nabcdef")  # no closing boundary
    r = requests.post(url, data=body, headers=head, timeout=scaled(10))
    assert_error(r, 400)
    # a client that goes away mid-body
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=scaled(10))
    s.sendall(f"POST /api/me/tasks/{t['id']}/attachments HTTP/1.1\r\nHost: x\r\n"
              f"Authorization: Bearer {u.token}\r\nContent-Type: multipart/form-data; boundary=XX\r\n"
              f"Content-Length: 50000\r\n\r\n".encode() + body)
    time.sleep(scaled(0.3))
    s.close()
    # not multipart at all, and no file field
    assert_error(requests.post(url, data=b"abc", headers={**head, "Content-Type": "text/plain"},
                               timeout=scaled(10)), 415)
    r = u.post(f"/api/me/tasks/{t['id']}/attachments", files={"other": ("a.txt", b"x", "text/plain")})
    assert_422(r)
    deadline = time.monotonic() + scaled(10)
    while files_of(srv) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    _nothing_stored(srv, u, t["id"], before)


def test_isolation(srv):
    a = fresh_user(srv, "iso-a")
    b = fresh_user(srv, "iso-b")
    t = a.create(title="A's")
    att = upload(a, t["id"], b"A's secret file").json()
    own = b.create(title="B's")
    base = f"/api/{{uid}}/tasks/{t['id']}/attachments"
    one = base + f"/{att['id']}"
    # A's id in the path: 403
    for method, path in (("GET", base), ("POST", base), ("GET", one), ("DELETE", one)):
        p = path.replace("{uid}", a.id)
        r = upload(b, t["id"], b"x", who=a.id) if method == "POST" else b.request(method, p)
        assert_error(r, 403)
        assert "secret" not in r.text
        assert_error(anon_request(srv, method, p), 401)
    # A's task or attachment under B's own id: 404, like one that does not exist
    for who in ("me", b.id):
        assert_error(b.get(f"/api/{who}/tasks/{t['id']}/attachments"), 404)
        assert_error(upload(b, t["id"], b"planted", who=who), 404)
        assert_error(b.get(f"/api/{who}/tasks/{t['id']}/attachments/{att['id']}"), 404)
        assert_error(b.delete(f"/api/{who}/tasks/{t['id']}/attachments/{att['id']}"), 404)
        # A's attachment id under B's own task
        assert_error(b.get(f"/api/{who}/tasks/{own['id']}/attachments/{att['id']}"), 404)
    assert a.get(f"/api/me/tasks/{t['id']}/attachments").json() == [att]
    assert a.get(f"/api/me/tasks/{t['id']}/attachments/{att['id']}").content == b"A's secret file"


def test_account_deletion_removes_the_files(srv):
    email = unique_email("files")
    u = signup(srv, email=email)
    t = u.create(title="t")
    a = upload(u, t["id"], b"to be deleted").json()
    assert any(f.endswith(a["sha256"]) for f in files_of(srv))
    from api_helpers import PASSWORD
    assert_status(u.request("DELETE", "/api/me", json={"password": PASSWORD}), 204)
    assert not any(f.endswith(a["sha256"]) for f in files_of(srv))


def test_a_slow_upload_holds_no_database_connection(servers):
    """While a client sends its file slowly, the worker thread serves other requests between
    the pieces: the upload holds no database connection meanwhile (on SQLite the connection
    is the thread's own, and another request on the thread was refused 503). One worker, so
    the other request is served by the same thread."""
    srv = servers.start(env={"WORKERS": "1", "UPLOAD_MAX_BYTES": str(MAX)})
    u = fresh_user(srv, "slowup")
    t = u.create(title="t")
    content = b"slow file " * 100
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\n" + content + b"\r\n--XX--\r\n")
    half = len(body) // 2
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=scaled(10))
    try:
        s.sendall(f"POST /api/me/tasks/{t['id']}/attachments HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {u.token}\r\n"
                  f"Content-Type: multipart/form-data; boundary=XX\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:half])
        time.sleep(scaled(0.3))  # the first piece is read and handed to the upload
        for _ in range(3):
            r = u.get("/api/me/tasks")
            assert r.status_code == 200, f"a request beside a slow upload: {r.status_code} {r.text}"
        s.sendall(body[half:])
        s.settimeout(scaled(10))
        answer = b""
        for _ in range(1000):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                break
    finally:
        s.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    r = u.get(f"/api/me/tasks/{t['id']}/attachments")
    assert_status(r, 200)
    assert [a["name"] for a in r.json()] == ["slow.txt"], r.json()
