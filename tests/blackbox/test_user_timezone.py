"""The user's time zone (issue 12): an optional IANA name on the user, UTC by default, set at
sign-up or with PATCH /api/auth/me, refused when the server does not know it. The assistant
reads "today" and "tomorrow" in it (test_chat_offline.py checks that)."""

from __future__ import annotations

import requests

from api_helpers import (PASSWORD, anon_request, assert_422, assert_error, assert_status,
                         fresh_user, module_server, signup, unique_email)  # noqa: F401
from helpers import scaled


def test_default_is_utc_and_patch_sets_it(module_server):
    u = signup(module_server)
    assert u.body["user"]["timezone"] == "UTC"
    r = u.patch("/api/auth/me", json={"timezone": "Asia/Kolkata"})
    assert_status(r, 200)
    assert r.json()["timezone"] == "Asia/Kolkata"
    assert r.json()["name"] == "Test User", "fields not given must stay"
    assert u.get("/api/auth/me").json()["timezone"] == "Asia/Kolkata"
    # null resets to the default
    r = u.patch("/api/auth/me", json={"timezone": None})
    assert_status(r, 200)
    assert r.json()["timezone"] == "UTC"
    # name alone
    r = u.patch("/api/auth/me", json={"name": "Renamed"})
    assert_status(r, 200)
    assert r.json()["name"] == "Renamed" and r.json()["timezone"] == "UTC"


def test_signup_with_timezone(module_server):
    email = unique_email("tz")
    r = requests.post(module_server.url("/api/auth/signup"), timeout=scaled(20),
                      json={"email": email, "password": PASSWORD, "timezone": "America/New_York"})
    assert_status(r, 201)
    assert r.json()["user"]["timezone"] == "America/New_York"
    r = requests.post(module_server.url("/api/auth/signup"), timeout=scaled(20),
                      json={"email": unique_email("tz"), "password": PASSWORD,
                            "timezone": "Mars/Olympus_Mons"})
    assert_422(r, ["body", "timezone"])


def test_bad_timezones_are_422_and_change_nothing(module_server):
    u = fresh_user(module_server)
    assert_status(u.patch("/api/auth/me", json={"timezone": "Europe/Paris"}), 200)
    for bad in ["Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "", "Europe/Paris\u0000",
                "x" * 65, 5, ["UTC"], {"tz": "UTC"}]:
        r = u.patch("/api/auth/me", json={"timezone": bad})
        assert_422(r, ["body", "timezone"])
    assert u.get("/api/auth/me").json()["timezone"] == "Europe/Paris"
    assert_422(u.patch("/api/auth/me", json={}), ["body"])
    assert_error(anon_request(module_server, "PATCH", "/api/auth/me",
                              json={"timezone": "UTC"}), 401)
