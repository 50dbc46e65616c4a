#!/usr/bin/env python3
"""Sign up, create a task, list it - against BASE_URL. Standard library only.

usage: api_flow.py BASE_URL [--list-only STATE_FILE] [--state STATE_FILE]
Exit 0: the flow passed; 1: it failed (a sign-up route answering 404 fails too).
With --state the token/user/task are saved so that a later
--list-only run (e.g. after a container restart) can check the task is still there.
"""
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

base = sys.argv[1].rstrip("/")
args = sys.argv[2:]
state_file = None
list_only = False
if "--state" in args:
    state_file = args[args.index("--state") + 1]
if "--list-only" in args:
    list_only = True
    state_file = args[args.index("--list-only") + 1]


def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw) if raw else None
        except ValueError:
            return e.code, raw.decode(errors="replace")


def find(obj, *names):
    """First value under any of names, searched depth-first (token, user id...)."""
    if isinstance(obj, dict):
        for n in names:
            if n in obj and isinstance(obj[n], (str, int)):
                return obj[n]
        for v in obj.values():
            got = find(v, *names)
            if got is not None:
                return got
    elif isinstance(obj, list):
        for v in obj:
            got = find(v, *names)
            if got is not None:
                return got
    return None


def titles(listing):
    items = listing
    if isinstance(listing, dict):
        items = listing.get("tasks") or listing.get("items") or listing.get("data") or []
    return [t.get("title") for t in items if isinstance(t, dict)]


if list_only:
    st = json.load(open(state_file))
    # Searched by title: other tasks (e.g. the k8s drills' writes) may fill the first page.
    q = urllib.parse.quote(st["title"])
    code, listing = call("GET", f"/api/{st['user']}/tasks?search={q}", token=st["token"])
    if code != 200 or st["title"] not in titles(listing):
        print(f"task {st['title']!r} not listed after restart: {code} {listing}")
        sys.exit(1)
    print("task still listed after restart")
    sys.exit(0)

email = f"ci-{int(time.time() * 1000)}@example.com"
code, body = call("POST", "/api/auth/signup", {"email": email, "password": "correct horse battery 9", "name": "CI"})
if code not in (200, 201):
    print(f"sign-up failed: {code} {body}")
    sys.exit(1)
token = find(body, "token", "access_token", "accessToken", "jwt")
user = find(body.get("user", body) if isinstance(body, dict) else body, "id", "user_id", "userId")
if not token or user is None:
    print(f"sign-up answer lacks token or user id: {body}")
    sys.exit(1)
title = f"ship the container {email}"
code, created = call("POST", f"/api/{user}/tasks", {"title": title, "description": "from tests/deploy"}, token)
if code not in (200, 201):
    print(f"create task failed: {code} {created}")
    sys.exit(1)
code, listing = call("GET", f"/api/{user}/tasks", token=token)
if code != 200 or title not in titles(listing):
    print(f"list tasks failed: {code} {listing}")
    sys.exit(1)
code, _ = call("GET", f"/api/{user}/tasks")
if code != 401:
    print(f"listing without a token answered {code}, expected 401")
    sys.exit(1)
if state_file:
    json.dump({"token": token, "user": user, "title": title}, open(state_file, "w"))
print(f"sign-up, create, list ok (user {user})")
