"""The calendar feed (issue 14): GET /api/{user_id}/calendar.ics?token=… serves the user's
tasks with due dates as RFC 5545 iCalendar (CRLF lines folded at 75 octets, escaped text,
UID/DTSTAMP/DTSTART per event, RRULE for recurrences, VALARM at the reminder) to calendar
clients that send no credentials; POST/DELETE …/calendar/token make and revoke the feed token.
Only the token's user's own URL answers; anything else is the same 404."""

from __future__ import annotations

import re

import pytest
import requests

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    _attach_module_server_logs, anon_request, assert_error, assert_status, fresh_user,
    module_server, pat_user, signup, unique_email,
)
from helpers import scaled


def feed(srv, path) -> requests.Response:
    return requests.get(srv.url(path), timeout=scaled(10))


def unfold(text: str) -> list:
    assert text.endswith("\r\n")
    raw = text.split("\r\n")[:-1]
    for ln in raw:
        assert len(ln.encode()) <= 75, f"line over 75 octets: {ln!r}"
        assert "\n" not in ln and "\r" not in ln
    out = []
    for ln in raw:
        if ln.startswith(" "):
            out[-1] += ln[1:]
        else:
            out.append(ln)
    return out


def events(lines: list) -> list:
    evs, cur = [], None
    for ln in lines:
        if ln == "BEGIN:VEVENT":
            cur = {}
        elif ln == "END:VEVENT":
            evs.append(cur)
            cur = None
        elif cur is not None and ":" in ln and not ln.startswith(("BEGIN:VALARM", "END:VALARM")):
            k, v = ln.split(":", 1)
            cur.setdefault(k, v)
            if k.startswith("TRIGGER"):
                cur["ALARM"] = v
    return evs


def test_feed_lists_tasks_with_due_dates(module_server):
    u = fresh_user(module_server, "cal")
    long_title = "Réunion, budget; suite \\ " + "é" * 60
    u.create(title=long_title, description="line one\nline two", due_at="2030-03-04T05:06:07Z",
             remind_at="2030-03-04T04:00:00Z", tags=["work", "q1"], priority="high")
    u.create(title="Weekly review", due_at="2030-03-06T09:00:00Z", recurrence="weekly",
             recurrence_interval=2)
    u.create(title="No date")
    r = u.post("/api/me/calendar/token", json={})
    assert_status(r, 201)
    tok = r.json()
    assert tok["token"].startswith("todo_cal_")
    assert tok["path"] == f"/api/{u.id}/calendar.ics?token={tok['token']}"
    got = feed(module_server, tok["path"])
    assert_status(got, 200)
    assert got.headers["Content-Type"].startswith("text/calendar")
    lines = unfold(got.text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(ln.startswith("PRODID:") for ln in lines)
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 2
    evs = {e["SUMMARY"]: e for e in events(lines)}
    esc = long_title.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    assert esc in evs, list(evs)
    e = evs[esc]
    assert e["DTSTART"] == "20300304T050607Z"
    assert e["DESCRIPTION"] == "line one\\nline two"
    assert e["CATEGORIES"] == "work,q1"
    assert e["ALARM"] == "20300304T040000Z"
    assert re.match(r"^task-\d+@todo$", e["UID"]) and re.match(r"^\d{8}T\d{6}Z$", e["DTSTAMP"])
    w = evs["Weekly review"]
    assert w["RRULE"] == "FREQ=WEEKLY;INTERVAL=2"
    assert "No date" not in got.text


def test_token_is_revocable_and_replaceable(module_server):
    u = fresh_user(module_server, "rev")
    u.create(title="dated", due_at="2030-01-01T00:00:00Z")
    first = u.post("/api/me/calendar/token", json={}).json()
    assert_status(feed(module_server, first["path"]), 200)
    second = u.post("/api/me/calendar/token", json={}).json()
    assert second["token"] != first["token"]
    assert_error(feed(module_server, first["path"]), 404)  # replaced
    assert_status(feed(module_server, second["path"]), 200)
    assert_status(u.delete("/api/me/calendar/token"), 204)
    assert_error(feed(module_server, second["path"]), 404)  # revoked
    assert_error(u.delete("/api/me/calendar/token"), 404)


def test_feed_needs_the_right_token_for_the_right_user(module_server):
    a = fresh_user(module_server, "cal-a")
    b = fresh_user(module_server, "cal-b")
    a.create(title="A's meeting", due_at="2030-01-01T10:00:00Z")
    ta = a.post("/api/me/calendar/token", json={}).json()["token"]
    tb = b.post("/api/me/calendar/token", json={}).json()["token"]
    for path in (f"/api/{a.id}/calendar.ics", f"/api/{a.id}/calendar.ics?token=",
                 f"/api/{a.id}/calendar.ics?token=todo_cal_nope",
                 f"/api/{a.id}/calendar.ics?token={tb}",  # B's token on A's URL
                 f"/api/me/calendar.ics?token={ta}", f"/api/{b.id}/calendar.ics?token={ta}"):
        r = feed(module_server, path)
        assert_error(r, 404)
        assert "meeting" not in r.text
    # B's own feed has nothing of A's
    assert "A's meeting" not in feed(module_server, f"/api/{b.id}/calendar.ics?token={tb}").text
    # making and revoking tokens: the token's user only
    assert_error(b.post(f"/api/{a.id}/calendar/token", json={}), 403)
    assert_error(b.delete(f"/api/{a.id}/calendar/token"), 403)
    assert_error(anon_request(module_server, "POST", f"/api/{a.id}/calendar/token", json={}), 401)
    assert_error(anon_request(module_server, "DELETE", f"/api/{a.id}/calendar/token"), 401)
    assert_status(feed(module_server, f"/api/{a.id}/calendar.ics?token={ta}"), 200)
