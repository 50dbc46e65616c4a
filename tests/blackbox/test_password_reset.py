"""Password reset by email (issue 14): POST /api/auth/forgot-password always answers 202
(no account enumeration, the same work on the request path), the link's token is single
use, valid 30 minutes and stored hashed; POST /api/auth/reset-password sets the password
and ends every session (JWTs issued before, personal access tokens). Email goes to the log
(EMAIL_PROVIDER=console, the default) or to an SMTP server (a tiny one in the test suite,
smtp_helpers.py), with retries, and SMTP_PASSWORD never reaches a log line."""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time

import pytest
import requests

from api_helpers import PASSWORD, create_pat, signup, sql_on, start_module_server, unique_email
from helpers import parse_log_lines, scaled, wait_until
from smtp_helpers import SmtpServer

TOKEN_RE = re.compile(r"reset-password\?token=([A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def srv(request, todo_bin, backend, tmp_path_factory):
    _f, s = start_module_server(request, todo_bin, backend, tmp_path_factory,
                                env={"FRONTEND_URL": "http://todo.example.test:3000"})
    return s


def forgot(srv, email):
    return requests.post(srv.url("/api/auth/forgot-password"), json={"email": email},
                         timeout=scaled(10))


def reset(srv, token, password="a brand new password"):
    return requests.post(srv.url("/api/auth/reset-password"),
                         json={"token": token, "password": password}, timeout=scaled(20))


def email_lines(srv, to=None):
    records, _ = parse_log_lines(srv.logs())
    return [r for r in records if r.get("msg") == "email" and (to is None or r.get("to") == to)]


def wait_reset_token(srv, to, already=0):
    """The token of the next console email to `to` (bounded wait)."""
    got = wait_until(lambda: len(email_lines(srv, to)) > already and email_lines(srv, to),
                     scaled(10))
    assert got, f"no reset email for {to} in the log:\n{srv.logs()[-3000:]}"
    m = TOKEN_RE.search(got[-1]["link"])
    assert m, got[-1]
    return m.group(1)


def me(srv, token):
    return requests.get(srv.url("/api/auth/me"), headers={"Authorization": f"Bearer {token}"},
                        timeout=scaled(10))


def test_console_email_is_one_json_line_with_the_link(srv):
    u = signup(srv)
    r = forgot(srv, u.email.upper())
    assert r.status_code == 202, r.text
    token = wait_reset_token(srv, u.email)
    line = email_lines(srv, u.email)[-1]
    assert line["kind"] == "password_reset" and line["subject"]
    assert line["link"].startswith("http://todo.example.test:3000/reset-password?token=")
    assert len(token) == 43


def test_reset_sets_the_password_and_ends_every_session(srv):
    u = signup(srv)
    pat = create_pat(u)["token"]
    assert me(srv, pat).status_code == 200
    forgot(srv, u.email)
    token = wait_reset_token(srv, u.email)
    assert me(srv, u.token).status_code == 200  # asking changes nothing yet
    r = reset(srv, token, "the new password 1")
    assert r.status_code == 200, r.text
    # The old JWT and the personal access token stop working at once.
    assert me(srv, u.token).status_code == 401
    assert me(srv, pat).status_code == 401
    # The old password is refused, the new one works, and its token works.
    bad = requests.post(srv.url("/api/auth/login"), json={"email": u.email, "password": PASSWORD},
                        timeout=scaled(20))
    assert bad.status_code == 401
    good = requests.post(srv.url("/api/auth/login"),
                         json={"email": u.email, "password": "the new password 1"},
                         timeout=scaled(20))
    assert good.status_code == 200, good.text
    assert me(srv, good.json()["token"]).status_code == 200


def test_token_is_single_use(srv):
    u = signup(srv)
    forgot(srv, u.email)
    token = wait_reset_token(srv, u.email)
    assert reset(srv, token, "first new password").status_code == 200
    again = reset(srv, token, "second new password")
    assert again.status_code == 400
    assert again.json()["detail"] == "Invalid or expired reset token"


def test_token_is_stored_hashed_and_expires(srv):
    u = signup(srv)
    forgot(srv, u.email)
    token = wait_reset_token(srv, u.email)
    rows = sql_on(srv, "SELECT token_hash FROM password_resets")
    hashes = {r[0] for r in rows}
    assert token not in hashes
    assert hashlib.sha256(token.encode()).hexdigest() in hashes
    # 30 minutes: move the expiry into the past instead of waiting.
    sql_on(srv, "UPDATE password_resets SET expires_at = '2000-01-01T00:00:00Z' "
                f"WHERE token_hash = '{hashlib.sha256(token.encode()).hexdigest()}'")
    assert reset(srv, token).status_code == 400
    assert me(srv, u.token).status_code == 200  # nothing changed


def test_expiry_is_thirty_minutes(srv):
    u = signup(srv)
    forgot(srv, u.email)
    token = wait_reset_token(srv, u.email)
    h = hashlib.sha256(token.encode()).hexdigest()
    sql = ("SELECT created_at, expires_at FROM password_resets WHERE token_hash = '%s'" % h)
    created, expires = sql_on(srv, sql)[0]

    def t(s):
        s = s.replace(" ", "T").replace("+00", "Z").rstrip("Z")
        return time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    assert t(expires) - t(created) == 1800


def test_unknown_email_gets_the_same_answer_and_no_mail(srv):
    known = signup(srv)
    ghost = unique_email("ghost")
    r1, r2 = forgot(srv, known.email), forgot(srv, ghost)
    assert (r1.status_code, r1.json()) == (r2.status_code, r2.json())
    wait_reset_token(srv, known.email)
    time.sleep(scaled(0.3))
    assert email_lines(srv, ghost) == []


def test_same_timing_for_known_and_unknown_accounts(srv):
    known = signup(srv)
    samples = {"known": [], "unknown": []}
    for i in range(12):
        for kind, addr in (("known", known.email), ("unknown", unique_email("nobody"))):
            t0 = time.perf_counter()
            assert forgot(srv, addr).status_code == 202
            samples[kind].append(time.perf_counter() - t0)
    a, b = statistics.median(samples["known"]), statistics.median(samples["unknown"])
    # Both only queue work: no Argon2, no SMTP, no database lookup on the request path.
    assert abs(a - b) < scaled(0.05), samples


@pytest.mark.parametrize("body", [{}, {"email": "not-an-email"}, {"email": 5}, []])
def test_bad_forgot_bodies_are_422(srv, body):
    r = requests.post(srv.url("/api/auth/forgot-password"), json=body, timeout=scaled(10))
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("body", [{}, {"token": "x"}, {"token": "x", "password": "short"},
                                  {"token": 1, "password": "long enough pw"}])
def test_bad_reset_bodies_are_422(srv, body):
    r = requests.post(srv.url("/api/auth/reset-password"), json=body, timeout=scaled(10))
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("token", ["", "a" * 43, "../../etc/passwd", "a" * 5000, "é" * 43])
def test_made_up_tokens_are_400_and_change_nothing(srv, token):
    r = reset(srv, token)
    assert r.status_code == 400, r.text


def test_forgot_and_reset_are_rate_limited(servers):
    srv = servers.start(env={"RATE_LIMIT_PER_MINUTE": "3"})
    statuses = [forgot(srv, unique_email("rl")).status_code for _ in range(5)]
    assert statuses[:3] == [202, 202, 202] and statuses[-1] == 429, statuses
    r = forgot(srv, unique_email("rl"))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    statuses = [reset(srv, "a" * 43).status_code for _ in range(5)]
    assert 429 in statuses, statuses


def test_smtp_delivery_with_auth_and_no_secret_in_logs(servers):
    secret = "smtp-secret-Pa55word-do-not-log"
    with SmtpServer(username="mailer", password=secret) as smtp:
        srv = servers.start(env=smtp.env())
        u = signup(srv)
        assert forgot(srv, u.email).status_code == 202
        got = smtp.wait_for(lambda: smtp.to(u.email))
        assert got, f"no message reached the SMTP server:\n{srv.tail()}"
        msg = got[0]
        assert msg.auth == ("mailer", secret)
        assert "todo@example.test" in msg.mail_from
        assert "password" in msg.subject.lower()
        m = TOKEN_RE.search(msg.data)
        assert m, msg.data
        assert reset(srv, m.group(1)).status_code == 200
        # No console line in smtp mode, and the password appears in no log line.
        assert email_lines(srv) == []
        assert secret not in srv.logs()


def test_smtp_failure_is_retried(servers):
    with SmtpServer() as smtp:
        smtp.state.fail_next = 2
        srv = servers.start(env=smtp.env())
        u = signup(srv)
        forgot(srv, u.email)
        got = smtp.wait_for(lambda: smtp.to(u.email), timeout=20)
        assert got, f"not delivered after retries:\n{srv.tail()}"
        assert len(got) == 1 and smtp.state.attempts >= 3
        records, _ = parse_log_lines(srv.logs())
        assert any(r.get("msg") == "email not sent; will retry" for r in records)


def test_smtp_settings_are_checked(cli):
    r = cli.run("config", "check", env={"EMAIL_PROVIDER": "smtp"})
    assert r.returncode == 2 and "SMTP_HOST" in r.output, r.describe()
    r = cli.run("config", "check", env={"SMTP_TLS": "maybe"})
    assert r.returncode == 2 and "SMTP_TLS" in r.output, r.describe()
    r = cli.run("config", "check", env={"EMAIL_PROVIDER": "smtp", "SMTP_HOST": "mail.example",
                                        "SMTP_PASSWORD": "hunter2-secret"})
    assert r.returncode == 0, r.describe()
    assert "hunter2-secret" not in r.output and "SMTP_PASSWORD" in r.output
