#!/usr/bin/env python3
"""Request loop for rollout drills: count every failed request while a cluster rolls pods.

usage: drill.py BASE_URL --state STATE.json --out RESULT.json [--name NAME]
                [--interval 0.05] [--max-seconds 240] [--max-requests 20000]
                [--write-every 10] [--stop-file PATH]

Sends one request at a time, each on a new TCP connection (as a browser's first request or
a fresh curl does), cycling through what a user touches:
  GET /              the UI (frontend)
  GET /api/health    the frontend's own health
  GET /api/{user}/tasks?search=<run>   proxied to the backend, reads the database
  POST /api/{user}/tasks               every --write-every'th request: a write
A request fails when it gets no 2xx answer within 10 s (connection refused or reset, 502,
503, timeout...). Runs until SIGTERM/SIGINT, the stop file appears, or a bound is hit
(time or count: the loop always ends by itself). Then it checks that every acknowledged
write is listed, writes RESULT.json and prints one summary line.
Standard library only.
"""
import argparse
import http.client
import json
import os
import signal
import sys
import time
import urllib.parse

TIMEOUT_S = 10.0

ap = argparse.ArgumentParser()
ap.add_argument("base")
ap.add_argument("--state", required=True, help="api_flow.py --state file (token, user)")
ap.add_argument("--out", required=True)
ap.add_argument("--name", default="drill")
ap.add_argument("--interval", type=float, default=0.05)
ap.add_argument("--max-seconds", type=float, default=240)
ap.add_argument("--max-requests", type=int, default=20000)
ap.add_argument("--write-every", type=int, default=10)
ap.add_argument("--stop-file")
args = ap.parse_args()

url = urllib.parse.urlsplit(args.base)
host, port = url.hostname, url.port or 80
state = json.load(open(args.state))
auth = {"Authorization": "Bearer " + state["token"]}
run_tag = f"{args.name}-{os.getpid()}-{int(time.time())}"
list_path = f"/api/{state['user']}/tasks?search={urllib.parse.quote(run_tag)}&limit=200"

stop = False


def on_signal(signum, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def request(method, path, body=None, headers=None):
    """(status or None, error text, parsed body or None) on a fresh connection."""
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        try:
            parsed = json.loads(raw) if raw and r.getheader("Content-Type", "").startswith("application/json") else None
        except ValueError:
            parsed = None
        detail = ""
        if not 200 <= r.status < 300:
            detail = str(parsed.get("detail", ""))[:120] if isinstance(parsed, dict) else raw[:120].decode(errors="replace")
        return r.status, detail, parsed
    except (OSError, http.client.HTTPException) as e:
        return None, type(e).__name__ + (f": {e}" if str(e) else ""), None
    finally:
        conn.close()


def titles(listing):
    items = listing
    if isinstance(listing, dict):
        items = listing.get("tasks") or listing.get("items") or listing.get("data") or []
    return {t.get("title") for t in items if isinstance(t, dict)}


targets = [("GET", "/", None), ("GET", "/api/health", None), ("GET", list_path, auth)]
t0 = time.monotonic()
total = failed = 0
per_path = {}
failures = []
acked = []
writes = 0
slowest = 0.0
i = 0
while not stop:
    now = time.monotonic() - t0
    if now >= args.max_seconds or total >= args.max_requests:
        break
    if args.stop_file and os.path.exists(args.stop_file):
        break
    if args.write_every and i % args.write_every == args.write_every - 1:
        writes += 1
        title = f"{run_tag} write {writes}"
        method, path, hdrs, body = "POST", f"/api/{state['user']}/tasks", auth, {"title": title}
        label = "POST /api/{user}/tasks"
    else:
        method, path, hdrs = targets[i % len(targets)]
        body, title = None, None
        label = f"{method} {path.split('?')[0].replace(str(state['user']), '{user}')}"
    i += 1
    started = time.monotonic()
    status, error, _ = request(method, path, body, hdrs)
    slowest = max(slowest, time.monotonic() - started)
    total += 1
    ok = status is not None and 200 <= status < 300
    n, f = per_path.get(label, (0, 0))
    per_path[label] = (n + 1, f + (0 if ok else 1))
    if ok and title:
        acked.append(title)
    if not ok:
        failed += 1
        if len(failures) < 50:
            failures.append({"t": round(started - t0, 2), "request": label,
                             "status": status, "error": error})
    pause = args.interval - (time.monotonic() - started)
    if pause > 0:
        time.sleep(pause)
duration = time.monotonic() - t0

# Every acknowledged write must be there (read after the rollout, a few tries: the API may
# still be settling if the loop was stopped by a bound).


def listed():
    """Titles of this run's tasks (paged), or None when the API does not answer."""
    seen, offset = set(), 0
    for _ in range(100):
        status, _, listing = request("GET", f"{list_path}&offset={offset}", None, auth)
        if status != 200:
            return None
        page = titles(listing)
        seen |= page
        if len(page) < 200:
            return seen
        offset += 200
    return seen


missing = None
for _ in range(10):
    got = listed()
    if got is not None:
        missing = sorted(set(acked) - got)
        break
    time.sleep(1)

result = {
    "name": args.name, "requests": total, "failed": failed, "seconds": round(duration, 1),
    "slowest_s": round(slowest, 2),
    "per_request": {k: {"requests": n, "failed": f} for k, (n, f) in per_path.items()},
    "failures": failures,
    "fail_window_s": round(failures[-1]["t"] - failures[0]["t"], 2) if failures else 0.0,
    "writes_acknowledged": len(acked),
    "writes_missing": missing if missing is not None else "list failed",
}
with open(args.out, "w") as fh:
    json.dump(result, fh, indent=1)
print(f"{args.name}: {total} requests in {duration:.1f} s, {failed} failed, slowest {slowest:.2f} s; "
      f"{len(acked)} writes acknowledged, "
      f"{len(missing) if missing is not None else '?'} missing")
sys.exit(0)
