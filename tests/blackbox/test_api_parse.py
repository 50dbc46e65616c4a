"""Quick add's shorthand (issue 12's offline parser behind POST /api/{user_id}/tasks/parse), on
both backends: the draft holds only what the text says, with times in the user's offset;
nothing is created; the draft can be posted as it is; 422 for no title, bad fields and drafts
that would break a task rule. 401/403 and isolation are in test_api_isolation.py (the route is
in TASK_ROUTES)."""

from __future__ import annotations

import datetime as dt

import pytest

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    _attach_module_server_logs, assert_422, assert_error, assert_status, fresh_user,
    module_server,
)

PARSE = "/api/me/tasks/parse"


@pytest.fixture
def user(module_server):
    return fresh_user(module_server, prefix="quick")


def _local_date(offset_minutes: int, days: int = 0) -> dt.date:
    zone = dt.timezone(dt.timedelta(minutes=offset_minutes))
    return (dt.datetime.now(zone) + dt.timedelta(days=days)).date()


def _offset_text(offset_minutes: int) -> str:
    if offset_minutes == 0:
        return "Z"
    sign = "+" if offset_minutes > 0 else "-"
    m = abs(offset_minutes)
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def _parse(user, text, offset=None):
    body = {"text": text}
    if offset is not None:
        body["utc_offset_minutes"] = offset
    return user.post(PARSE, json=body)


@pytest.mark.parametrize("offset", [0, 60, -300, 330, 840, -720])
def test_the_quick_add_example_in_the_users_offset(user, offset):
    r = _parse(user, "Buy milk tomorrow 5pm #home !high", offset)
    assert_status(r, 200)
    tomorrow = _local_date(offset, 1)
    due = f"{tomorrow.isoformat()}T17:00:00{_offset_text(offset)}"
    body = r.json()
    if body.get("due_at") != due:  # the day may have turned between the call and now
        due = f"{_local_date(offset, 0).isoformat()}T17:00:00{_offset_text(offset)}"
    assert body == {"title": "Buy milk", "priority": "high", "tags": ["home"], "due_at": due}, body


@pytest.mark.parametrize("text,expected", [
    ("Buy milk", {"title": "Buy milk"}),
    ("call mom !low", {"title": "Call mom", "priority": "low"}),
    ("Water the plants every monday #home #garden",
     {"title": "Water the plants", "recurrence": "weekly", "tags": ["home", "garden"]}),
    ("Standup every 2 weeks", {"title": "Standup", "recurrence": "weekly", "recurrence_interval": 2}),
    ("Taxes note: bring the receipts", {"title": "Taxes", "description": "bring the receipts"}),
    ('Read "War and Peace" urgent', {"title": 'Read "War and Peace"', "priority": "high"}),
    ("日本語の本 #本", {"title": "日本語の本", "tags": ["本"]}),
])
def test_only_what_the_text_says(user, text, expected):
    r = _parse(user, text)
    assert_status(r, 200)
    got = r.json()
    due = got.pop("due_at", None)
    if "every monday" in text:
        assert due and due.endswith("T23:59:59Z"), due
        assert dt.date.fromisoformat(due[:10]).weekday() == 0, due
    else:
        assert due is None, got
    assert got == expected


def test_nothing_is_created_and_the_draft_posts_as_is(user):
    r = _parse(user, "Pay rent on the 1st !high #bills remind me 1 day before", 120)
    assert_status(r, 200)
    draft = r.json()
    assert draft["title"] == "Pay rent" and draft["priority"] == "high" and draft["tags"] == ["bills"]
    assert draft["due_at"].endswith("T23:59:59+02:00") and draft["remind_at"].endswith("T23:59:59+02:00")
    assert user.list().json() == [], "parsing created a task"
    created = user.post("/api/me/tasks", json=draft)
    assert_status(created, 201)
    t = created.json()
    due = dt.datetime.fromisoformat(draft["due_at"]).astimezone(dt.timezone.utc)
    assert t["due_at"] == due.strftime("%Y-%m-%dT%H:%M:%SZ"), (t, draft)
    remind = dt.datetime.fromisoformat(draft["remind_at"]).astimezone(dt.timezone.utc)
    assert remind == due - dt.timedelta(days=1)
    assert (t["title"], t["priority"], t["tags"]) == ("Pay rent", "high", ["bills"])


@pytest.mark.parametrize("body,loc", [
    ({"text": "tomorrow 5pm #home !high"}, ["body", "text"]),
    ({"text": "   "}, ["body", "text"]),
    ({"text": ""}, ["body", "text"]),
    ({}, ["body", "text"]),
    ({"text": 5}, ["body", "text"]),
    ({"text": "x" * 2001}, ["body", "text"]),
    ({"text": "t" * 201}, ["body", "text"]),  # a title over the task rule's 200
    ({"text": "Buy milk", "utc_offset_minutes": 841}, ["body", "utc_offset_minutes"]),
    ({"text": "Buy milk", "utc_offset_minutes": "60"}, ["body", "utc_offset_minutes"]),
    ({"text": "Buy milk", "utc_offset_minutes": 1.5}, ["body", "utc_offset_minutes"]),
    ([], ["body"]),
], ids=["no_title", "blank", "empty", "missing", "not_string", "too_long", "title_too_long",
        "offset_range", "offset_string", "offset_float", "not_object"])
def test_bad_input_is_422(user, body, loc):
    assert_422(user.post(PARSE, json=body), loc)


def test_no_title_says_why(user):
    detail = assert_422(_parse(user, "tomorrow 5pm #home !high"), ["body", "text"])
    assert "title" in detail[0]["msg"].lower(), detail


def test_protocol_errors(user):
    assert_error(user.post(PARSE, data="{", headers={"Content-Type": "application/json"}), 400)
    assert_error(user.post(PARSE, data="text=x", headers={"Content-Type": "text/plain"}), 415)
    assert_status(user.post(PARSE, json={"text": "x"}, headers={}), 200)


def test_unicode_and_odd_input_never_fail_the_server(user):
    for text in ["🙂🙂🙂", "\u0000 add \u0000", "“quoted” tomorrow", "a" * 2000, "# ## !!! ,,,",
                 "every every every", "at at at 99pm", "on 31 february", "in 99999 days"]:
        r = _parse(user, text)
        assert r.status_code in (200, 422), (text, r.status_code, r.text)
