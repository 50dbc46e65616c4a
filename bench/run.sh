#!/usr/bin/env bash
# make bench: an authenticated GET of 50 tasks from todo versus nginx serving the same bytes
# as a static file, measured with wrk in the same run on 127.0.0.1, and the same GET through
# the web role's proxy (a second todo process, --role web, API_URL = the first). Then the MCP
# server's tools/call over Streamable HTTP (one session, a personal access token, as MCP
# clients connect): list_tasks of the same 50 tasks and add_task, next to the REST list and a
# REST create. Prints the rates and the ratios (target: todo >= 0.5 x nginx). Bounded: each
# wrk run lasts BENCH_SECONDS.
#   BENCH_SECONDS (10)  BENCH_CONNECTIONS (64)  BENCH_THREADS (2)  TODO_BIN (build/todo)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-10}; conns=${BENCH_CONNECTIONS:-64}; threads=${BENCH_THREADS:-2}
bin=${TODO_BIN:-build/todo}

need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then echo "bench: install ${need[*]}" >&2; exit 1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

work=$(mktemp -d); trap 'kill $todo_pid $web_pid $nginx_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
tport=$(free_port); nport=$(free_port); wport=$(free_port)

DATA_DIR=$work PORT=$tport LOG_LEVEL=WARNING RATE_LIMIT_PER_MINUTE=100000 MCP_RATE_LIMIT_PER_MINUTE=1000000 \
  JWT_SECRET=bench-secret-0123456789abcdef0123456789abcdef "$bin" serve 2>"$work/todo.log" &
todo_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$tport/health" >/dev/null && break; sleep 0.05; done
DATA_DIR=$work/web PORT=$wport LOG_LEVEL=WARNING API_URL="http://127.0.0.1:$tport" \
  "$bin" serve --role web 2>"$work/web.log" &
web_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$wport/health" >/dev/null && break; sleep 0.05; done

token=$(curl -sf -X POST "http://127.0.0.1:$tport/api/auth/signup" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"bench-password"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
for i in $(seq 50); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$tport/api/me/tasks" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d "{\"title\":\"Task number $i\",\"description\":\"A benchmark task with a description\",\"priority\":\"high\",\"tags\":[\"bench\",\"t$i\"],\"due_at\":\"2030-12-01\"}"
done
url="http://127.0.0.1:$tport/api/me/tasks?limit=50"
curl -sf "$url" -H "Authorization: Bearer $token" > "$work/tasks.json"
count=$(python3 -c "import json;print(len(json.load(open('$work/tasks.json'))))")
[ "$count" = 50 ] || { echo "bench: expected 50 tasks, got $count" >&2; exit 1; }

mkdir -p "$work/www" && cp "$work/tasks.json" "$work/www/tasks.json"
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$nport; root $work/www; }
}
NGINX
/usr/sbin/nginx -c "$work/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$nport/tasks.json" >/dev/null && break; sleep 0.05; done

rate() { wrk -t"$threads" -c"$conns" -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
bytes=$(wc -c < "$work/tasks.json")
echo "bench: body $bytes bytes, wrk -t$threads -c$conns -d${secs}s"
purl="http://127.0.0.1:$wport/api/me/tasks?limit=50"
cmp -s "$work/tasks.json" <(curl -sf "$purl" -H "Authorization: Bearer $token") \
  || { echo "bench: the proxy did not return the same list" >&2; exit 1; }
n=$(rate "http://127.0.0.1:$nport/tasks.json")
t=$(rate -H "Authorization: Bearer $token" "$url")
p=$(rate -H "Authorization: Bearer $token" "$purl")
ratio=$(python3 -c "print(f'{$t/$n:.2f}')")
pratio=$(python3 -c "print(f'{$p/$n:.2f}')")
echo "nginx static file          : $n requests/s"
echo "todo authenticated list    : $t requests/s"
echo "the same through web proxy : $p requests/s"
echo "ratio todo/nginx           : $ratio (target >= 0.50)"
echo "ratio proxied/nginx        : $pratio"

# --- MCP tools/call (Streamable HTTP), next to the REST calls that do the same --------------
# A personal access token (what MCP clients are given) and one session per user; add_task
# writes for a second user, so that list_tasks reads the same 50 tasks throughout.
pat_of() { curl -sf -X POST "http://127.0.0.1:$tport/api/me/tokens" -H "Authorization: Bearer $1" \
  -H 'Content-Type: application/json' -d '{"name":"bench"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])'; }
session_of() {
  curl -sf -D - -o /dev/null -X POST "http://127.0.0.1:$tport/mcp" -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id" {print $2}'
}
writer=$(curl -sf -X POST "http://127.0.0.1:$tport/api/auth/signup" -H 'Content-Type: application/json' \
  -d '{"email":"bench-writer@example.com","password":"bench-password"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
pat=$(pat_of "$token"); wpat=$(pat_of "$writer")
sid=$(session_of "$pat"); wsid=$(session_of "$wpat")
[ -n "$sid" ] && [ -n "$wsid" ] || { echo "bench: no MCP session" >&2; exit 1; }
# post_script FILE AUTH SESSION BODY: a wrk script POSTing BODY (JSON) with the headers.
post_script() {
  {
    printf 'wrk.method = "POST"\nwrk.body = %s\n' "'$4'"
    printf 'wrk.headers["Content-Type"] = "application/json"\n'
    printf 'wrk.headers["Accept"] = "application/json, text/event-stream"\n'
    printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$2"
    if [ -n "$3" ]; then
      printf 'wrk.headers["Mcp-Session-Id"] = "%s"\n' "$3"
      printf 'wrk.headers["MCP-Protocol-Version"] = "2025-11-25"\n'
    fi
  } > "$1"
}
post_script "$work/mcp-list.lua" "$pat" "$sid" \
  '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_tasks","arguments":{"limit":50}}}'
post_script "$work/mcp-add.lua" "$wpat" "$wsid" \
  '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add_task","arguments":{"title":"Benchmark task","priority":"high","tags":["bench"]}}}'
post_script "$work/rest-add.lua" "$writer" "" '{"title":"Benchmark task","priority":"high","tags":["bench"]}'
# One call of each first: it must succeed (a tool error would be measured as a success).
mcp_total=$(curl -sf -X POST "http://127.0.0.1:$tport/mcp" -H "Authorization: Bearer $pat" -H "Mcp-Session-Id: $sid" \
  -H 'Content-Type: application/json' -H 'Accept: application/json' \
  -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_tasks","arguments":{"limit":50}}}' \
  | python3 -c 'import sys,json; r=json.load(sys.stdin)["result"]; assert not r["isError"]; print(len(r["structuredContent"]["tasks"]))')
[ "$mcp_total" = 50 ] || { echo "bench: list_tasks gave $mcp_total tasks" >&2; exit 1; }
# mrate SCRIPT URL: requests/s, failing the bench on any non-2xx answer.
mrate() {
  local out
  out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$1" "$2")
  if grep -q 'Non-2xx' <<<"$out"; then echo "bench: $1: $(grep 'Non-2xx' <<<"$out")" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
# The REST list without its cache (overdue= depends on the clock: never cached), as list_tasks
# reads its page each time.
tu=$(rate -H "Authorization: Bearer $token" "$url&overdue=false")
ml=$(mrate "$work/mcp-list.lua" "http://127.0.0.1:$tport/mcp")
ma=$(mrate "$work/mcp-add.lua" "http://127.0.0.1:$tport/mcp")
ra=$(mrate "$work/rest-add.lua" "http://127.0.0.1:$tport/api/me/tasks")
echo "REST list, not cached      : $tu requests/s (the same 50 tasks, overdue=false)"
echo "MCP tools/call list_tasks  : $ml requests/s (the same 50 tasks)"
echo "REST POST /api/me/tasks    : $ra requests/s"
echo "MCP tools/call add_task    : $ma requests/s"
