#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: steady where wrk's rates are not
# (the machine is shared). Starts TODO_BIN (build/todo) under callgrind with one worker, sets
# up make bench's 50 tasks, then counts only the requests measured (callgrind_control -z
# before, -d after) and prints instructions per request for:
#   cached   GET /api/me/tasks?limit=50 with the token (the bench's request, served from cache)
#   miss     the same 50 tasks with a due_before that changes per request (a new key each time)
#   uncached the same 50 tasks with overdue=false, which is never cached (make bench's row)
#   create   POST /api/me/tasks
# Bounded: CALLGRIND_REQUESTS (500) requests per kind. With DATABASE_URL set (e.g. from
# scripts/pg-test-server url), the server runs on PostgreSQL: the counts are this process's
# instructions only, not the database server's.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TODO_BIN:-build/todo}
n=${CALLGRIND_REQUESTS:-500}
command -v valgrind >/dev/null || { echo "callgrind: install valgrind" >&2; exit 1; }

work=$(mktemp -d); trap 'kill $todo_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
DATA_DIR=$work PORT=$port WORKERS=1 LOG_LEVEL=WARNING RATE_LIMIT_PER_MINUTE=100000 \
  JWT_SECRET=bench-secret-0123456789abcdef0123456789abcdef \
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin" serve 2>"$work/todo.log" &
todo_pid=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

python3 - "$port" "$n" "$todo_pid" "$work" <<'PY'
import http.client, json, os, subprocess, sys
from datetime import datetime, timedelta, timezone
port, n, pid, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def call(method, path, body=None, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    data = r.read()
    assert r.status < 300, (method, path, r.status, data[:200])
    return data
token = json.loads(call("POST", "/api/auth/signup",
                        {"email": f"bench-{pid}@example.com", "password": "bench-password"}))["token"]
def task(i):
    return {"title": f"Task number {i}", "description": "A benchmark task with a description",
            "priority": "high", "tags": ["bench", f"t{i}"], "due_at": "2026-12-01"}
for i in range(1, 51):
    call("POST", "/api/me/tasks", task(i), token)
call("GET", "/api/me/tasks?limit=50", token=token)  # fills the cache

def total():
    # The last dump's summary line: "summary: <Ir>" (or "totals:").
    files = sorted(f for f in os.listdir(work) if f.startswith("cg.out"))
    best = 0
    for f in files:
        for line in open(os.path.join(work, f)):
            if line.startswith(("summary:", "totals:")):
                best = max(best, int(line.split()[1]))
    return best

def measure(kind, fn):
    for f in os.listdir(work):
        if f.startswith("cg.out."):
            os.remove(os.path.join(work, f))
    subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
    for i in range(n):
        fn(i)
    subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
    print(f"{kind:8s}: {total() / n:10.0f} instructions per request ({n} requests)")

measure("cached", lambda i: call("GET", "/api/me/tasks?limit=50", token=token))
# A due_before one second later per request: every key is new, every page the same 50 tasks.
measure("miss", lambda i: call("GET", "/api/me/tasks?limit=50&due_before=" +
                               (datetime(2027, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i))
                               .strftime("%Y-%m-%dT%H:%M:%SZ"), token=token))
measure("uncached", lambda i: call("GET", "/api/me/tasks?limit=50&overdue=false", token=token))
measure("create", lambda i: call("POST", "/api/me/tasks", task(100 + i), token))
PY
