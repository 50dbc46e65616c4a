"""Conditional listing (issue 13): GET /api/{user_id}/tasks carries an ETag made of the user's
task version and the query, and answers 304 to If-None-Match while nothing changed — how the
web UI polls. Every kind of change turns the tag; users and queries never share one."""

from __future__ import annotations

import pytest

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    _attach_module_server_logs, assert_status, fresh_user, module_server, signup, unique_email,
)


@pytest.fixture
def user(module_server):
    return fresh_user(module_server, "etag")


def _etag(r):
    assert_status(r, 200)
    tag = r.headers.get("ETag")
    assert tag and tag.startswith('"') and tag.endswith('"'), f"ETag {tag!r}"
    assert "no-cache" in r.headers.get("Cache-Control", ""), r.headers.get("Cache-Control")
    assert "private" in r.headers.get("Cache-Control", "")
    return tag


def _cond(user, etag, **params):
    return user.get("/api/me/tasks", params=params, headers={"If-None-Match": etag})


def test_unchanged_list_is_304_without_a_body(user):
    user.create(title="One")
    tag = _etag(user.list())
    r = _cond(user, tag)
    assert r.status_code == 304, r.text
    assert r.content == b""
    assert r.headers.get("ETag") == tag
    # the same again (served from the response cache this time)
    assert _cond(user, tag).status_code == 304
    # a plain request still gets the body
    r = user.list()
    assert_status(r, 200)
    assert [t["title"] for t in r.json()] == ["One"]


def test_list_tags_formats_of_if_none_match(user):
    tag = _etag(user.list(limit=10))
    assert _cond(user, "W/" + tag, limit=10).status_code == 304
    assert _cond(user, f'"nope", {tag}', limit=10).status_code == 304
    assert _cond(user, "*", limit=10).status_code == 304
    assert _cond(user, '"nope"', limit=10).status_code == 200
    assert _cond(user, "garbage", limit=10).status_code == 200


@pytest.mark.parametrize("change", ["create", "patch", "put", "complete", "delete", "restore"])
def test_every_change_turns_the_tag(user, change):
    t = user.create(title="Base", tags=["a"])
    if change == "restore":
        assert_status(user.delete(f"/api/me/tasks/{t['id']}"), 204)
    tag = _etag(user.list())
    if change == "create":
        user.create(title="Another")
    elif change == "patch":
        assert_status(user.patch(f"/api/me/tasks/{t['id']}", json={"priority": "high"}), 200)
    elif change == "put":
        assert_status(user.put(f"/api/me/tasks/{t['id']}", json={"title": "Replaced"}), 200)
    elif change == "complete":
        assert_status(user.patch(f"/api/me/tasks/{t['id']}/complete"), 200)
    elif change == "delete":
        assert_status(user.delete(f"/api/me/tasks/{t['id']}"), 204)
    elif change == "restore":
        assert_status(user.post(f"/api/me/tasks/{t['id']}/restore"), 200)
    r = _cond(user, tag)
    assert r.status_code == 200, f"after {change} the old tag must not match"
    assert r.headers["ETag"] != tag
    assert _cond(user, r.headers["ETag"]).status_code == 304


def test_a_change_elsewhere_turns_every_query_of_that_user(user):
    user.create(title="Home thing", tags=["home"])
    tag_home = _etag(user.list(tag="home"))
    user.create(title="Work thing", tags=["work"])  # does not match tag=home, still a change
    assert _cond(user, tag_home, tag="home").status_code == 200


def test_queries_and_users_never_share_a_tag(module_server, user):
    other = fresh_user(module_server, "etag-other")
    user.create(title="Mine")
    other.create(title="Theirs")
    tags = {
        _etag(user.list()), _etag(user.list(status="pending")), _etag(user.list(limit=5)),
        _etag(user.list(search="Mine")), _etag(user.list(sort="title", order="asc")),
        _etag(other.list()),
    }
    assert len(tags) == 6, tags
    # another user's tag never earns a 304 on my list, even at the same version
    assert _cond(user, _etag(other.list())).status_code == 200


def test_me_and_the_user_id_are_the_same_list(user):
    user.create(title="Alias")
    tag = _etag(user.list())
    r = user.get(f"/api/{user.id}/tasks", headers={"If-None-Match": tag})
    assert r.status_code == 304


def test_overdue_depends_on_the_clock_and_has_no_tag(user):
    user.create(title="Late", due_at="2020-01-01T00:00:00Z")
    r = user.list(overdue="true")
    assert_status(r, 200)
    assert "ETag" not in r.headers
    assert user.get("/api/me/tasks", params={"overdue": "true"},
                    headers={"If-None-Match": "*"}).status_code == 200


def test_errors_carry_no_tag(module_server, user):
    r = user.list(limit=0)
    assert_status(r, 422)
    assert "ETag" not in r.headers
    r = fresh_user(module_server).get(f"/api/{user.id}/tasks")
    assert_status(r, 403)
    assert "ETag" not in r.headers
