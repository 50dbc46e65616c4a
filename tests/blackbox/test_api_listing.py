"""Listing (issue 3): filters, sorts, paging headers, 422 for unknown values, tags and stats.

Each test works in an empty account of its own (a never-seen user id with a token crafted
with the server's secret), so counts and orders are exact."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from api_helpers import (  # noqa: F401  (fixtures are used by name)
    _attach_module_server_logs, assert_422, assert_status, assert_task_shape, fresh_user,
    module_server, parse_link,
)


@pytest.fixture
def user(module_server):
    return fresh_user(module_server, prefix="lister")


def _titles(r):
    assert_status(r, 200)
    return [t["title"] for t in r.json()]


def _total(r) -> int:
    v = r.headers.get("X-Total-Count")
    assert v is not None and v.isdigit(), f"X-Total-Count {v!r}"
    return int(v)


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


def test_empty_list_is_an_array(user):
    r = user.list()
    assert_status(r, 200)
    assert r.json() == []
    assert _total(r) == 0
    assert "next" not in parse_link(r.headers.get("Link"))


def test_list_items_have_the_task_shape(user):
    user.create(title="a", tags=["x"], due_at="2030-01-01")
    r = user.list()
    assert_status(r, 200)
    body = r.json()
    assert isinstance(body, list) and len(body) == 1
    assert_task_shape(body[0])
    assert body[0]["tags"] == ["x"] and body[0]["due_at"] == "2030-01-01T23:59:59Z"


def test_status_filter(user):
    a = user.create(title="open 1")
    b = user.create(title="done", completed=True)
    c = user.create(title="open 2")
    assert sorted(user.list_ids()) == sorted([a["id"], b["id"], c["id"]]), "default status is all"
    assert sorted(user.list_ids(status="all")) == sorted([a["id"], b["id"], c["id"]])
    assert sorted(user.list_ids(status="pending")) == sorted([a["id"], c["id"]])
    assert user.list_ids(status="completed") == [b["id"]]
    # completing via the route moves it between the lists
    user.patch(f"/api/me/tasks/{a['id']}/complete")
    assert user.list_ids(status="pending") == [c["id"]]
    assert _total(user.list(status="completed")) == 2


def test_priority_filter(user):
    h = user.create(title="h", priority="high")
    m = user.create(title="m")
    low = user.create(title="l", priority="low")
    assert user.list_ids(priority="high") == [h["id"]]
    assert user.list_ids(priority="medium") == [m["id"]]
    assert user.list_ids(priority="low") == [low["id"]]


def test_tag_filter_all_must_match_case_insensitively(user):
    ab = user.create(title="ab", tags=["alpha", "Beta"])
    a = user.create(title="a", tags=["Alpha"])
    bc = user.create(title="bc", tags=["beta", "gamma"])
    user.create(title="none")
    assert sorted(user.list_ids(tag="alpha")) == sorted([ab["id"], a["id"]])
    assert sorted(user.list_ids(tag="ALPHA")) == sorted([ab["id"], a["id"]])
    assert sorted(user.list_ids(tag="beta")) == sorted([ab["id"], bc["id"]])
    assert user.list_ids(tag=["alpha", "beta"]) == [ab["id"]], "repeated tag: all must match"
    assert user.list_ids(tag=["Beta", "GAMMA"]) == [bc["id"]]
    assert user.list_ids(tag=["alpha", "gamma"]) == []
    assert user.list_ids(tag="delta") == []
    assert user.list_ids(tag="alph") == [], "tags match whole, not as substrings"


def test_search_title_and_description_case_insensitively(user):
    t1 = user.create(title="Buy MILK")
    t2 = user.create(title="Groceries", description="eggs, milk and bread")
    user.create(title="Something else", description="nothing")
    assert sorted(user.list_ids(search="milk")) == sorted([t1["id"], t2["id"]])
    assert sorted(user.list_ids(search="MiLk")) == sorted([t1["id"], t2["id"]])
    assert user.list_ids(search="groc") == [t2["id"]]
    assert user.list_ids(search="and bread") == [t2["id"]]
    assert user.list_ids(search="absent") == []


def test_search_treats_percent_and_underscore_literally(user):
    pct = user.create(title="100% done")
    und = user.create(title="snake_case name")
    user.create(title="plain words", description="a b c")
    user.create(title="snakeXcase")
    assert user.list_ids(search="%") == [pct["id"]]
    assert user.list_ids(search="0% d") == [pct["id"]]
    assert user.list_ids(search="_") == [und["id"]]
    assert user.list_ids(search="e_c") == [und["id"]]
    assert user.list_ids(search="\\") == []


def test_due_before_and_after(user):
    d10 = user.create(title="d10", due_at="2030-01-10T12:00:00Z")
    d15 = user.create(title="d15", due_at="2030-01-15T12:00:00Z")
    d20 = user.create(title="d20", due_at="2030-01-20T12:00:00Z")
    user.create(title="no due")
    # dates: due_before includes the whole day, due_after starts at the beginning of the day
    assert sorted(user.list_ids(due_before="2030-01-15")) == sorted([d10["id"], d15["id"]])
    assert sorted(user.list_ids(due_after="2030-01-15")) == sorted([d15["id"], d20["id"]])
    assert user.list_ids(due_before="2030-01-09") == []
    assert user.list_ids(due_after="2030-01-21") == []
    # date-times, with Z and with an offset (13:00+02:00 is 11:00Z)
    assert user.list_ids(due_before="2030-01-15T11:00:00Z") == [d10["id"]]
    assert user.list_ids(due_before="2030-01-15T12:00:00Z", due_after="2030-01-15T12:00:00Z") == [d15["id"]]
    assert user.list_ids(due_after="2030-01-15T13:00:00Z") == [d20["id"]]
    assert user.list_ids(due_before="2030-01-15T13:00:00+02:00") == [d10["id"]]
    assert sorted(user.list_ids(due_after="2030-01-10T13:00:00+02:00", due_before="2030-01-16")) == \
        sorted([d10["id"], d15["id"]])  # 13:00+02:00 = 11:00Z, before d10's 12:00Z
    assert sorted(user.list_ids(due_after="2030-01-11", due_before="2030-01-19")) == [d15["id"]]


def test_overdue_filter(user):
    late = user.create(title="late", due_at="2020-01-01T00:00:00Z")
    user.create(title="late but done", due_at="2020-01-01T00:00:00Z", completed=True)
    future = user.create(title="future", due_at="2099-01-01T00:00:00Z")
    undated = user.create(title="undated")
    just_past = user.create(title="a minute ago",
                            due_at=(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=2))
                            .strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert sorted(user.list_ids(overdue="true")) == sorted([late["id"], just_past["id"]])
    done_id = [t["id"] for t in user.list().json() if t["title"] == "late but done"][0]
    assert sorted(user.list_ids(overdue="false")) == sorted([done_id, future["id"], undated["id"]])
    assert _total(user.list(overdue="true", status="pending")) == 2


def test_filters_combine(user):
    user.create(title="report draft", priority="high", tags=["work"], due_at="2030-02-01")
    keep = user.create(title="Report final", priority="high", tags=["work", "q1"], due_at="2030-02-03")
    user.create(title="report old", priority="high", tags=["work"], due_at="2030-02-05", completed=True)
    user.create(title="report low", priority="low", tags=["work"], due_at="2030-02-03")
    r = user.list(status="pending", priority="high", tag="work", search="report", due_after="2030-02-02")
    assert [t["id"] for t in r.json()] == [keep["id"]]
    assert _total(r) == 1


# --------------------------------------------------------------------------------------------
# Sorting
# --------------------------------------------------------------------------------------------


def test_default_sort_is_created_newest_first(user):
    ids = [user.create(title=f"t{i}")["id"] for i in range(5)]
    assert user.list_ids() == ids[::-1]
    assert user.list_ids(sort="created") == ids[::-1]
    assert user.list_ids(sort="created", order="desc") == ids[::-1]
    assert user.list_ids(sort="created", order="asc") == ids
    assert user.list_ids(order="asc") == ids


def test_sort_by_updated(user):
    a = user.create(title="a")
    b = user.create(title="b")
    c = user.create(title="c")
    time.sleep(1.1)  # timestamps have one-second resolution
    user.patch(f"/api/me/tasks/{a['id']}", json={"priority": "low"})
    got = user.list_ids(sort="updated")
    assert got[0] == a["id"], f"most recently updated first: {got}"
    assert user.list_ids(sort="updated", order="asc")[-1] == a["id"]
    assert set(got) == {a["id"], b["id"], c["id"]}


def test_sort_by_title(user):
    for title in ("banana", "Apple", "cherry", "apricot"):
        user.create(title=title)
    assert _titles(user.list(sort="title")) == ["Apple", "apricot", "banana", "cherry"], "case-insensitive A→Z"
    assert _titles(user.list(sort="title", order="asc")) == ["Apple", "apricot", "banana", "cherry"]
    assert _titles(user.list(sort="title", order="desc")) == ["cherry", "banana", "apricot", "Apple"]


def test_sort_by_due_date_nulls_last(user):
    user.create(title="none 1")
    user.create(title="d3", due_at="2030-03-01")
    user.create(title="d1", due_at="2030-01-01")
    user.create(title="none 2")
    user.create(title="d2", due_at="2030-02-01T08:00:00+01:00")
    got = _titles(user.list(sort="due_date"))
    assert got[:3] == ["d1", "d2", "d3"] and set(got[3:]) == {"none 1", "none 2"}, got
    assert _titles(user.list(sort="due_date", order="asc"))[:3] == ["d1", "d2", "d3"]
    desc = _titles(user.list(sort="due_date", order="desc"))
    assert [t for t in desc if t.startswith("d")] == ["d3", "d2", "d1"], desc


def test_sort_by_priority(user):
    for title, prio in (("m1", "medium"), ("l1", "low"), ("h1", "high"), ("m2", "medium"), ("h2", "high")):
        user.create(title=title, priority=prio)
    rank = {"high": 0, "medium": 1, "low": 2}

    def prios(**params):
        r = user.list(sort="priority", **params)
        assert_status(r, 200)
        return [rank[t["priority"]] for t in r.json()]

    default = prios()
    assert default == sorted(default), f"default priority order is high→low: {default}"
    asc, desc = prios(order="asc"), prios(order="desc")
    assert sorted([asc, desc]) == sorted([default, default[::-1]]), (asc, desc)
    assert asc != desc


# --------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------


def test_limit_default_is_50_and_max_200(user):
    for i in range(51):
        user.create(title=f"task {i:02d}")
    r = user.list()
    assert_status(r, 200)
    assert len(r.json()) == 50 and _total(r) == 51
    assert "next" in parse_link(r.headers.get("Link"))
    r = user.list(limit=200)
    assert len(r.json()) == 51 and _total(r) == 51
    assert "next" not in parse_link(r.headers.get("Link"))
    assert len(user.list(limit=1).json()) == 1
    assert_422(user.list(limit=201), ["query", "limit"])


def test_offset_and_total_count(user):
    ids = [user.create(title=f"t{i}")["id"] for i in range(7)][::-1]  # newest first
    r = user.list(limit=3, offset=0)
    assert [t["id"] for t in r.json()] == ids[0:3] and _total(r) == 7
    r = user.list(limit=3, offset=3)
    assert [t["id"] for t in r.json()] == ids[3:6] and _total(r) == 7
    r = user.list(limit=3, offset=6)
    assert [t["id"] for t in r.json()] == ids[6:] and _total(r) == 7
    r = user.list(limit=3, offset=50)
    assert r.json() == [] and _total(r) == 7


def test_total_count_on_every_page_with_and_without_filters(user):
    # The last page knows its total from its rows, the others count (in the page's own
    # statement on PostgreSQL): both must give the filtered total on every page.
    ids = [user.create(title=f"p{i}", tags=["even"] if i % 2 == 0 else ["odd"])["id"]
           for i in range(5)][::-1]
    even = [i for n, i in enumerate(ids[::-1]) if n % 2 == 0][::-1]
    for query, want in (({}, ids), ({"tag": "EVEN"}, even),
                        ({"tag": "even", "overdue": "false"}, even)):
        for limit in range(1, 7):
            for offset in range(0, 8):
                r = user.list(limit=limit, offset=offset, **query)
                assert [t["id"] for t in r.json()] == want[offset:offset + limit], (query, limit, offset)
                assert _total(r) == len(want), (query, limit, offset)


def test_total_count_is_the_filtered_total(user):
    for i in range(6):
        user.create(title=f"t{i}", priority="high" if i % 2 else "low", completed=i < 2)
    r = user.list(priority="high", limit=1)
    assert len(r.json()) == 1 and _total(r) == 3
    r = user.list(status="pending", limit=2)
    assert _total(r) == 4
    r = user.list(status="pending", priority="low", limit=50)
    assert _total(r) == len(r.json()) == 2


def _query(url):
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_link_header_next_and_prev_keep_the_other_params(user):
    ids = [user.create(title=f"Work item {i}", tags=["w"], priority="high")["id"] for i in range(5)][::-1]
    user.create(title="other", priority="low")
    params = {"status": "pending", "priority": "high", "tag": "w", "search": "work item", "limit": 2}

    r = user.list(offset=0, **params)
    assert [t["id"] for t in r.json()] == ids[0:2] and _total(r) == 5
    links = parse_link(r.headers.get("Link"))
    assert "next" in links and "prev" not in links, r.headers.get("Link")
    q = _query(links["next"])
    assert q.get("offset") == ["2"] and q.get("limit") == ["2"], links["next"]
    for k in ("status", "priority", "tag", "search"):
        assert q.get(k) == [str(params[k])], f"Link next lost {k}: {links['next']}"
    assert urlsplit(links["next"]).path.rstrip("/").endswith("/tasks"), links["next"]

    # following the links walks the pages
    nxt = user.get(links["next"] if links["next"].startswith("/") else urlsplit(links["next"]).path
                   + "?" + urlsplit(links["next"]).query)
    assert [t["id"] for t in nxt.json()] == ids[2:4]
    links2 = parse_link(nxt.headers.get("Link"))
    assert "next" in links2 and "prev" in links2, nxt.headers.get("Link")
    assert _query(links2["prev"]).get("offset") == ["0"], links2["prev"]
    assert _query(links2["next"]).get("offset") == ["4"], links2["next"]
    assert _query(links2["prev"]).get("search") == ["work item"], links2["prev"]

    last = user.list(offset=4, **params)
    assert [t["id"] for t in last.json()] == ids[4:]
    links3 = parse_link(last.headers.get("Link"))
    assert "next" not in links3 and "prev" in links3, last.headers.get("Link")
    assert _query(links3["prev"]).get("offset") == ["2"], links3["prev"]


def test_link_prev_from_an_unaligned_offset_does_not_go_negative(user):
    for i in range(4):
        user.create(title=f"t{i}")
    r = user.list(limit=3, offset=1)
    links = parse_link(r.headers.get("Link"))
    assert _query(links["prev"]).get("offset") == ["0"], links


def test_link_with_repeated_tags_keeps_them_all(user):
    for i in range(3):
        user.create(title=f"t{i}", tags=["a", "b"])
    r = user.list(tag=["a", "b"], limit=1)
    assert _total(r) == 3
    q = _query(parse_link(r.headers.get("Link"))["next"])
    assert sorted(q.get("tag", [])) == ["a", "b"], q


# --------------------------------------------------------------------------------------------
# Invalid query values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,value", [
    ("status", "foo"), ("status", ""), ("status", "PENDING"),
    ("priority", "urgent"),
    ("sort", "bar"), ("sort", "due"),
    ("order", "up"), ("order", "ascending"),
    ("limit", "0"), ("limit", "-1"), ("limit", "abc"), ("limit", "201"), ("limit", "1.5"), ("limit", ""),
    ("offset", "-1"), ("offset", "x"),
    ("overdue", "maybe"), ("overdue", "yes"),
    ("due_before", "tomorrow"), ("due_after", "2030-13-01"), ("due_before", "2030-01-01T10:00:00"),
    ("tag", ""), ("tag", "x" * 51),
    ("search", "s" * 201),
])
def test_unknown_query_values_are_422(user, name, value):
    r = user.get("/api/me/tasks", params={name: value})
    assert_422(r, ["query", name])


# --------------------------------------------------------------------------------------------
# Tags and stats
# --------------------------------------------------------------------------------------------


def test_tags_with_counts_most_used_first(user):
    assert user.get("/api/me/tags").json() == []
    user.create(title="1", tags=["x", "y", "z"])
    user.create(title="2", tags=["x", "Y"])
    user.create(title="3", tags=["X"])
    user.create(title="4")
    r = user.get("/api/me/tags")
    assert_status(r, 200)
    body = r.json()
    assert all(set(t) == {"name", "count"} for t in body), body
    assert [(t["name"].lower(), t["count"]) for t in body] == [("x", 3), ("y", 2), ("z", 1)], body
    r = user.get("/api/{uid}/tags")
    assert_status(r, 200)
    assert r.json() == body


def test_tags_of_a_create_every_count(user):
    """A create writes its tags' rows with the task (PostgreSQL: up to 8 in the create's one
    statement, more one statement at a time): every count lands, in order, under the filter."""
    for n in (1, 2, 8, 9, 20):
        names = [f"Tag{n}x{i}" for i in range(n)]
        t = user.create(title=f"tags {n}", tags=names)
        assert t["tags"] == names, t
        assert user.get(f"/api/me/tasks/{t['id']}").json()["tags"] == names
        for name in (names[0], names[-1].lower()):
            assert user.list_ids(tag=name) == [t["id"]], (n, name)
    counts = {t["name"]: t["count"] for t in user.get("/api/me/tags").json()}
    assert len(counts) == 1 + 2 + 8 + 9 + 20 and set(counts.values()) == {1}, counts


def test_tags_follow_deletes_and_updates(user):
    a = user.create(title="a", tags=["keep", "drop"])
    b = user.create(title="b", tags=["drop"])
    user.delete(f"/api/me/tasks/{b['id']}")
    user.patch(f"/api/me/tasks/{a['id']}", json={"tags": ["keep", "new"]})
    body = user.get("/api/me/tags").json()
    assert sorted((t["name"], t["count"]) for t in body) == [("keep", 1), ("new", 1)], body


def test_stats(user):
    now = dt.datetime.now(dt.timezone.utc)
    if now.hour == 23 and now.minute >= 58:
        time.sleep(150)  # keep "today" stable for the test
        now = dt.datetime.now(dt.timezone.utc)
    today = now.strftime("%Y-%m-%d")
    empty = user.get("/api/me/tasks/stats")
    assert_status(empty, 200)
    assert empty.json() == {"total": 0, "completed": 0, "pending": 0, "overdue": 0, "due_today": 0}
    user.create(title="done", completed=True)
    user.create(title="late", due_at="2020-01-01T00:00:00Z")
    user.create(title="today", due_at=today)  # 23:59:59Z today: due today, not overdue yet
    user.create(title="future", due_at="2099-01-01")
    user.create(title="undated")
    user.create(title="late but done", due_at="2020-01-01", completed=True)
    r = user.get("/api/{uid}/tasks/stats")
    assert_status(r, 200)
    s = r.json()
    assert s["total"] == 6, s
    assert s["completed"] == 2, s
    assert s["pending"] == 4, s
    assert s["overdue"] == 1, s
    assert s["due_today"] == 1, s
    assert user.get("/api/me/tasks/stats").json() == s


# --------------------------------------------------------------------------------------------
# Case-insensitivity beyond ASCII (titles, tags and searches are user text in any language)
# --------------------------------------------------------------------------------------------


def test_search_is_case_insensitive_for_non_ascii_letters(user):
    t = user.create(title="Äpfel kaufen in München", description="Straße")
    user.create(title="other")
    assert user.list_ids(search="äpfel") == [t["id"]], "search 'äpfel' misses 'Äpfel'"
    assert user.list_ids(search="MÜNCHEN") == [t["id"]], "search 'MÜNCHEN' misses 'München'"


def test_tag_filter_is_case_insensitive_for_non_ascii_letters(user):
    t = user.create(title="t", tags=["Ärger"])
    assert user.list_ids(tag="ärger") == [t["id"]], "tag=ärger misses the tag 'Ärger'"
