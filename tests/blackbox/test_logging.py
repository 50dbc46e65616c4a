"""Logs: JSON lines on stderr, request lines with their fields, request ids, no secrets."""

import uuid

import pytest

from helpers import parse_log_lines, wait_for_log


def _request_line(rec, path, rid=None):
    return rec.get("path") == path and "status" in rec and (rid is None or rec.get("request_id") == rid)


def test_every_stderr_line_is_a_json_object_with_ts_level_msg(server):
    assert server.get("/health").status_code == 200
    assert server.get("/nope").status_code == 404
    assert wait_for_log(server, lambda r: _request_line(r, "/nope")), \
        f"no request log line for /nope; stderr:\n{server.tail()}"
    rc = server.stop()
    assert rc == 0, f"exit code {rc}"
    records, bad = parse_log_lines(server.logs())
    assert not bad, f"non-JSON lines on stderr: {bad[:5]}"
    assert records, "nothing logged at all"
    for rec in records:
        missing = [k for k in ("ts", "level", "msg") if k not in rec]
        assert not missing, f"log record lacks {missing}: {rec}"


def test_request_log_line_has_request_fields(server):
    rid = "blackbox-log-" + uuid.uuid4().hex
    assert server.get("/health", headers={"X-Request-ID": rid}).status_code == 200
    rec = wait_for_log(server, lambda r: _request_line(r, "/health", rid))
    assert rec, f"no request log line with request_id={rid}; stderr:\n{server.tail()}"
    assert rec.get("method") == "GET", rec
    assert rec.get("status") == 200, rec
    assert isinstance(rec.get("duration_ms"), (int, float)) and rec["duration_ms"] >= 0, rec
    assert str(rec.get("level", "")).upper() == "INFO", f"a 200 request line should be INFO: {rec}"


def test_generated_request_id_matches_log(server):
    r = server.get("/api/health")
    rid = r.headers.get("X-Request-ID")
    assert rid, "no generated X-Request-ID"
    assert wait_for_log(server, lambda rec: _request_line(rec, "/api/health", rid)), \
        f"generated request id {rid} not in the request log line; stderr:\n{server.tail()}"


def test_error_requests_are_logged_with_their_status(server):
    assert server.request("POST", "/health").status_code == 405
    rec = wait_for_log(server, lambda r: _request_line(r, "/health") and r.get("method") == "POST")
    assert rec, f"no log line for POST /health; stderr:\n{server.tail()}"
    assert rec.get("status") == 405, rec


def test_authorization_header_never_logged(servers):
    srv = servers.start(env={"LOG_LEVEL": "DEBUG"})
    token = "SECRETTOKEN123"
    for path in ("/health", "/nope", "/api/health"):
        srv.get(path, headers={"Authorization": f"Bearer {token}"})
    srv.request("POST", "/health", headers={"Authorization": f"Bearer {token}"})
    assert wait_for_log(srv, lambda r: _request_line(r, "/nope")), f"request lines missing:\n{srv.tail()}"
    srv.stop()
    assert token not in srv.logs(), "the Authorization header value appears in the logs"


def test_log_level_error_suppresses_info_request_lines(servers):
    srv = servers.start(env={"LOG_LEVEL": "ERROR"})
    for _ in range(3):
        assert srv.get("/health").status_code == 200
    rc = srv.stop()  # flushes everything
    assert rc == 0, f"exit code {rc}"
    records, bad = parse_log_lines(srv.logs())
    assert not bad, f"non-JSON lines on stderr: {bad[:5]}"
    low = [r for r in records if str(r.get("level", "")).upper() in ("INFO", "DEBUG", "WARNING", "WARN")]
    assert not low, f"LOG_LEVEL=ERROR still logged: {low[:3]}"


def test_log_level_info_logs_request_lines(servers):
    srv = servers.start(env={"LOG_LEVEL": "INFO"})
    rid = "blackbox-info-" + uuid.uuid4().hex
    srv.get("/health", headers={"X-Request-ID": rid})
    assert wait_for_log(srv, lambda r: _request_line(r, "/health", rid)), \
        f"INFO level should log request lines; stderr:\n{srv.tail()}"


@pytest.mark.parametrize("bad_id", ['evil"id', "a" * 300, "line\tbreak"], ids=["quote", "long", "tab"])
def test_hostile_request_id_keeps_logs_valid_json(server, bad_id):
    r = server.get("/health", headers={"X-Request-ID": bad_id})
    assert r.status_code == 200
    server.get("/health")  # something after it
    server.stop()
    _, bad = parse_log_lines(server.logs())
    assert not bad, f"X-Request-ID {bad_id[:20]!r}… broke the JSON log lines: {bad[:3]}"
