#!/usr/bin/env bash
# make bench, the assistant (issue 12; docs/performance.md):
#  1. an offline chat turn's server time: CHAT_TURNS turns of the offline assistant (adds,
#     questions, completions; the tools in process, SQLite), each turn's duration_ms as the
#     server logs it (from the request's arrival to its answer's last byte), median/p90/p99;
#  2. the list's latency while 50 chats wait on a slow provider: wrk --latency on the
#     authenticated list before, then with 50 chats held open by a provider that accepts
#     their requests and never answers (LLM_TIMEOUT_SECONDS=600); the list as the UI polls it
#     (validated cache) and without its cache (overdue=false, as for MCP in bench/run.sh).
# Bounded: CHAT_TURNS turns, each wrk run BENCH_SECONDS, every wait a fixed number of polls.
#   BENCH_SECONDS (10)  CHAT_TURNS (400)  SLOW_CHATS (50)  TODO_BIN (build/todo)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-10}; turns=${CHAT_TURNS:-400}; waiting=${SLOW_CHATS:-50}
bin=${TODO_BIN:-build/todo}
command -v wrk >/dev/null || { echo "bench: wrk is missing (bench/run.sh installs it)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_health() { for _ in $(seq 200); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.05; done; echo "bench: no server on $1" >&2; exit 1; }
signup() {
  curl -sf -X POST "http://127.0.0.1:$1/api/auth/signup" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$2\",\"password\":\"bench-password\"}" | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])'
}
secret=bench-secret-0123456789abcdef0123456789abcdef

# --- 1. the offline assistant's turn -------------------------------------------------------
oport=$(free_port)
DATA_DIR=$work/offline PORT=$oport LOG_LEVEL=INFO LLM_PROVIDER=offline CHAT_RATE_LIMIT_PER_MINUTE=1000000 \
  RATE_LIMIT_PER_MINUTE=1000000 JWT_SECRET=$secret "$bin" serve 2>"$work/offline.log" &
pids+=($!)
wait_health "$oport"
otoken=$(signup "$oport" chat-bench@example.com)
python3 - "$oport" "$otoken" "$turns" <<'PY'
# Sends the turns over one keep-alive connection, ten per conversation, and checks each
# answer did what was asked (a failed turn would be measured as a fast one).
import http.client, json, sys
port, token, turns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
asks = [("add buy milk tomorrow at 5pm, high priority #home", "add_task"),
        ("what's due tomorrow?", "list_tasks"),
        ("add call the bank next friday", "add_task"),
        ("show high priority tasks", "list_tasks"),
        ("complete buy milk", "complete_task")]
cid = None
for i in range(turns):
    text, tool = asks[i % len(asks)]
    body = {"message": text} if cid is None else {"message": text, "conversation_id": cid}
    c.request("POST", "/api/me/chat", json.dumps(body), h)
    r = c.getresponse()
    a = json.loads(r.read())
    assert r.status == 200, (r.status, a)
    assert a["tool_calls"] and a["tool_calls"][-1]["tool"] == tool, (text, a)
    cid = None if (i + 1) % 10 == 0 else a["conversation_id"]
PY
python3 - "$work/offline.log" "$turns" <<'PY'
import json, statistics, sys
d = sorted(json.loads(l)["duration_ms"] for l in open(sys.argv[1])
           if '"msg":"request"' in l and '"path":"/api/me/chat"' in l)
assert len(d) == int(sys.argv[2]), len(d)
q = lambda p: d[min(len(d) - 1, int(p * len(d)))]
print(f"offline chat turn, server   : median {statistics.median(d):.2f} ms, p90 {q(0.9):.2f} ms, "
      f"p99 {q(0.99):.2f} ms over {len(d)} turns (target median < 5 ms)")
PY

# --- 2. the list while chats wait on a slow provider ---------------------------------------
sport=$(free_port)
python3 - "$sport" "$work/slow.count" <<'PY' &
# A provider that reads each request and never answers: it counts the requests it holds.
import asyncio, os, sys
port, count = int(sys.argv[1]), sys.argv[2]
held = []
async def serve(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        n = next((int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(n)
        held.append(writer)
        with open(count + ".tmp", "w") as f:
            f.write(str(len(held)))
        os.replace(count + ".tmp", count)
        await asyncio.sleep(3600)
    except Exception:
        pass
async def main():
    srv = await asyncio.start_server(serve, "127.0.0.1", port, backlog=256)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
PY
pids+=($!)
tport=$(free_port)
DATA_DIR=$work/slow PORT=$tport LOG_LEVEL=WARNING LLM_PROVIDER=custom LLM_BASE_URL="http://127.0.0.1:$sport/v1" \
  LLM_MODEL=slow LLM_TIMEOUT_SECONDS=600 CHAT_RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_PER_MINUTE=1000000 \
  JWT_SECRET=$secret "$bin" serve 2>"$work/slow.log" &
pids+=($!)
wait_health "$tport"
token=$(signup "$tport" list-bench@example.com)
for i in $(seq 50); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$tport/api/me/tasks" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"title\":\"Task number $i\",\"tags\":[\"bench\"],\"priority\":\"high\"}"
done
url="http://127.0.0.1:$tport/api/me/tasks?limit=50"
# lat URL: "p50 p99 requests/s" of a GET, 4 connections.
lat() {
  wrk -t2 -c4 -d"${secs}s" --latency -H "Authorization: Bearer $token" "$1" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" {p50 = ms($2)} $1 == "99%" {p99 = ms($2)} /Requests\/sec/ {r = $2}
    END {printf "%.3f %.3f %s\n", p50, p99, r}'
}
read -r b50 b99 brate < <(lat "$url")
read -r u50 u99 urate < <(lat "$url&overdue=false")
chatters=()
for i in $(seq "$waiting"); do
  curl -s -o "$work/chat.$i" --max-time 900 -X POST "http://127.0.0.1:$tport/api/me/chat" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"message\":\"waiting chat $i\"}" &
  chatters+=($!); pids+=($!)
done
# httpc opens at most 48 connections to one host (src/app.c, HTTPC_HOST_CONNS): beyond that,
# chats wait in the engine for a connection, still without a worker thread.
expect=$(( waiting < 48 ? waiting : 48 ))
for _ in $(seq 400); do [ "$(cat "$work/slow.count" 2>/dev/null || echo 0)" -ge "$expect" ] && break; sleep 0.05; done
held=$(cat "$work/slow.count" 2>/dev/null || echo 0)
[ "$held" -ge "$expect" ] || { echo "bench: the slow provider holds $held of $waiting chats" >&2; exit 1; }
read -r d50 d99 drate < <(lat "$url")
read -r e50 e99 erate < <(lat "$url&overdue=false")
held_after=$(cat "$work/slow.count")
for p in "${chatters[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${chatters[@]}"; do wait "$p" 2>/dev/null || true; done
echo "list, no chat waiting        : p50 ${b50} ms, p99 ${b99} ms, ${brate} requests/s (wrk -t2 -c4)"
echo "list, $waiting chats waiting      : p50 ${d50} ms, p99 ${d99} ms, ${drate} requests/s (the provider holds $held_after, none answered)"
echo "uncached, no chat waiting    : p50 ${u50} ms, p99 ${u99} ms, ${urate} requests/s"
echo "uncached, $waiting chats waiting  : p50 ${e50} ms, p99 ${e99} ms, ${erate} requests/s"
python3 -c "print(f'p50 waiting/idle             : list {$d50/$b50:.2f}, uncached {$e50/$u50:.2f}')"
