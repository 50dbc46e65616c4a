#!/usr/bin/env bash
# make bench: todo against nginx serving the same bytes, in one run on 127.0.0.1, on SQLite
# and on PostgreSQL. Prints one table (ratios to nginx, p50/p99) and the figures
# docs/performance.md keeps:
#   - saturation (wrk -t2 -c64, BENCH_SECONDS each): every row of SCENARIOS below;
#   - a fixed rate (oha -q BENCH_RATE): create and the cached list, p50/p99;
#   - RSS (VmRSS) when ready, peak RSS (VmHWM) and RSS after the loads, start-to-ready (exec
#     to the first /ready 200, timed by the process that execs the server), the image's size;
#   - how cost grows: the uncached list page at 10, 1,000 and 100,000 tasks of one user and
#     with 10,000 users (rows inserted in SQL), median of sequential requests.
# Every wrk/oha answer must be 2xx (anything else fails the bench). Installs what it lacks:
# wrk and nginx-light (apt), oha (cargo install --locked, into build/tools).
#   BENCH_SECONDS (10)  BENCH_CONNECTIONS (64)  BENCH_THREADS (2)  BENCH_RATE (1000)
#   BENCH_BACKENDS (sqlite,postgres)  BENCH_SCALE (1; 0 skips the growth measurements)
#   BENCH_ROWS (an extended regular expression: only the saturation and fixed-rate rows whose
#   name matches are run; for a quick look at one figure, e.g. BENCH_ROWS='10 % writes')
#   TODO_BIN (build/todo)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-10}; conns=${BENCH_CONNECTIONS:-64}; threads=${BENCH_THREADS:-2}
rate_q=${BENCH_RATE:-1000}; backends=${BENCH_BACKENDS:-sqlite,postgres}; scale=${BENCH_SCALE:-1}
rows_re=${BENCH_ROWS:-}
bin=${TODO_BIN:-build/todo}
root=$PWD

# --- tools ------------------------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v sqlite3 >/dev/null || need+=(sqlite3)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then echo "bench: install ${need[*]}" >&2; exit 1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi
oha=$(command -v oha || true)
[ -n "$oha" ] || oha=$root/build/tools/bin/oha
if [ ! -x "$oha" ]; then
    command -v cargo >/dev/null || { echo "bench: oha needs cargo (rustup) to build it from crates.io" >&2; exit 1; }
    echo "bench: building oha from crates.io (once, into build/tools)" >&2
    cargo install --locked --quiet --root "$root/build/tools" oha >&2
fi

work=$(mktemp -d)
chmod 755 "$work" # PostgreSQL (run as postgres) and nginx's workers must reach into it
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -d "$work/pg" ] && scripts/pg-test-server destroy "$work/pg" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
json_field() { python3 -c "import sys,json;print(json.load(sys.stdin)$1)"; }

# --- load generators ----------------------------------------------------------------------
# wrk_run [wrk args...]: "req/s p50_ms p99_ms socket_errors non_2xx". Socket errors are
# connections the server closed; a non-2xx answer makes the whole bench fail at the end
# (after the table is printed).
wrk_run() {
    wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" |
      awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                            if (v ~ /s$/) return v * 1000; return v }
           /Requests\/sec/ {r=$2} $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
           /Socket errors/ {gsub(",", ""); e=$4+$6+$8+$10}
           /Non-2xx/ {bad=$5}
           END {printf "%.0f %.2f %.2f %d %d\n", r, p50, p99, e, bad}'
}
# oha_run ARGS...: "req/s p50_ms p99_ms" from oha's JSON summary; any non-2xx fails the bench.
oha_run() {
    "$oha" --no-tui --output-format json "$@" | python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = {k: v for k, v in d.get("statusCodeDistribution", {}).items() if not k.startswith("2")}
errors = {k: v for k, v in (d.get("errorDistribution") or {}).items() if "deadline" not in k}
if bad or errors:
    sys.exit("bench: oha: status %s errors %s" % (bad, errors))
p, s = d["latencyPercentiles"], d["summary"]
print("%.0f %.2f %.2f" % (s["requestsPerSec"], p["p50"] * 1000, p["p99"] * 1000))'
}
# post_script FILE METHOD AUTH SESSION BODY [WRITE_EVERY PATH BODY2]: a wrk script sending
# BODY (JSON) with the headers; with WRITE_EVERY, one request in WRITE_EVERY is a POST of
# BODY2 to PATH instead (the list with writes mixed in).
post_script() {
    {
        printf 'wrk.method = "%s"\n' "$2"
        [ -n "$5" ] && printf 'wrk.body = %s\n' "'$5'"
        printf 'wrk.headers["Content-Type"] = "application/json"\n'
        printf 'wrk.headers["Accept"] = "application/json, text/event-stream"\n'
        printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$3"
        if [ -n "$4" ]; then
            printf 'wrk.headers["Mcp-Session-Id"] = "%s"\n' "$4"
            printf 'wrk.headers["MCP-Protocol-Version"] = "2025-11-25"\n'
        fi
        if [ -n "${6:-}" ]; then
            printf 'local n = 0\nrequest = function()\n  n = n + 1\n'
            printf '  if n %% %d == 0 then return wrk.format("POST", "%s", nil, %s) end\n' "$6" "$7" "'$8'"
            printf '  return wrk.format(nil, nil)\nend\n'
        fi
    } > "$1"
}

# --- one server -------------------------------------------------------------------------
# start_todo NAME DATABASE_URL: starts build/todo, sets port/pid, prints ms from exec to the
# first /ready 200. The poller starts first and execs the server itself: started after the
# server, Python's own start and imports (110-200 ms on a loaded machine) were in the figure.
start_todo() {
    local name=$1 url=$2 out
    port=$(free_port)
    out=$(DATABASE_URL=$url DATA_DIR=$work/$name PORT=$port LOG_LEVEL=WARNING RATE_LIMIT_PER_MINUTE=1000000 \
      MCP_RATE_LIMIT_PER_MINUTE=1000000 JWT_SECRET=bench-secret-0123456789abcdef0123456789abcdef \
      python3 - "$port" "$work/$name.log" "$bin" serve <<'PY'
import socket, subprocess, sys, time
port, log, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
head = b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
with open(log, "w") as err:
    t0 = time.monotonic_ns()
    server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
for _ in range(20000):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(head)
            if s.recv(64).startswith(b"HTTP/1.1 200 "):
                print(server.pid, f"{(time.monotonic_ns() - t0) / 1e6:.0f}"); break
    except OSError:
        pass
    if server.poll() is not None:
        sys.exit(f"bench: the server exited ({server.returncode}) before it was ready")
    time.sleep(0.0005)
else:
    server.kill()
    sys.exit("bench: the server never became ready")
PY
)
    pid=${out%% *}; pids+=("$pid")
    echo "${out##* }"
}

signup() {
    curl -sf -X POST "http://127.0.0.1:$port/api/auth/signup" -H 'Content-Type: application/json' \
      -d "{\"email\":\"$1@example.com\",\"password\":\"bench-password\"}" | json_field '["token"]'
}
pat_of() { curl -sf -X POST "http://127.0.0.1:$port/api/me/tokens" -H "Authorization: Bearer $1" \
  -H 'Content-Type: application/json' -d '{"name":"bench"}' | json_field '["token"]'; }
session_of() {
    curl -sf -D - -o /dev/null -X POST "http://127.0.0.1:$port/mcp" -H "Authorization: Bearer $1" \
      -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
      | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id" {print $2}'
}
task_body() { echo "{\"title\":\"Task number $1\",\"description\":\"A benchmark task with a description\",\"priority\":\"high\",\"tags\":[\"bench\",\"t$1\"],\"due_at\":\"2030-12-01\"}"; }

# sql BACKEND URL STATEMENT: runs one statement on the bench's database.
sql() {
    if [ "$1" = sqlite ]; then sqlite3 -cmd '.timeout 10000' "${2#sqlite:///}" "$3"
    else psql -XAtq "$2" -c "$3"; fi
}

# --- the scenarios ------------------------------------------------------------------------
# One row per measured request: name | wrk script (built in the run) or "" | path. Add rows
# here (the chat turn, a new endpoint); everything else follows.
SCENARIOS=(
  "list 50 (cached)||/api/me/tasks?limit=50"
  "list 50 (never cached)||/api/me/tasks?limit=50&overdue=false"
  "list 50, 10 % writes|mixed.lua|/api/me/tasks?limit=50"
  "GET one task||/api/me/tasks/@TASK@"
  "POST create|create.lua|/api/me/tasks"
  "PATCH complete|complete.lua|/api/me/tasks/@WTASK@/complete"
  "MCP tools/call list_tasks|mcp-list.lua|/mcp"
  "MCP tools/call add_task|mcp-add.lua|/mcp"
  "web proxy: list 50 (cached)|proxy|/api/me/tasks?limit=50"
)

results=$work/results.txt; : > "$results"
# wanted NAME: whether the row NAME is run (BENCH_ROWS).
wanted() { [ -z "$rows_re" ] || grep -Eq -- "$rows_re" <<<"$1"; }
record() { printf '%s|%s|%s\n' "$1" "$2" "$3" >> "$results"; }

nport=$(free_port)
bench_backend() {
    local be=$1 url
    if [ "$be" = sqlite ]; then
        url="sqlite:///$work/$be.db"
    else
        local pgport
        pgport=$(scripts/pg-test-server start "$work/pg" | tail -1)
        scripts/pg-test-server createdb "$work/pg" bench >/dev/null
        url="postgresql://todo@127.0.0.1:$pgport/bench"
    fi
    start_todo "$be" "$url" > "$work/ready-$be"
    local tport=$port tpid=$pid
    record "$be" "start to ready (ms)" "$(cat "$work/ready-$be")"
    record "$be" "RSS when ready (MB)" "$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$tpid/status")"
    local token writer
    token=$(signup "bench-$be"); writer=$(signup "writer-$be")
    for i in $(seq 50); do
        curl -sf -o /dev/null -X POST "http://127.0.0.1:$tport/api/me/tasks" -H "Authorization: Bearer $token" \
          -H 'Content-Type: application/json' -d "$(task_body "$i")"
    done
    local list="http://127.0.0.1:$tport/api/me/tasks?limit=50"
    curl -sf "$list" -H "Authorization: Bearer $token" > "$work/tasks-$be.json"
    local count; count=$(json_field '.__len__()' < "$work/tasks-$be.json")
    [ "$count" = 50 ] || { echo "bench: expected 50 tasks, got $count" >&2; exit 1; }
    local task wtask
    task=$(json_field '[0]["id"]' < "$work/tasks-$be.json")
    wtask=$(curl -sf -X POST "http://127.0.0.1:$tport/api/me/tasks" -H "Authorization: Bearer $writer" \
      -H 'Content-Type: application/json' -d "$(task_body w)" | json_field '["id"]')
    if [ ! -f "$work/www/tasks.json" ]; then
        # nginx's workers run as an unprivileged user: they must reach the file (mktemp -d
        # is 0700; before this, nginx answered 403 and the bench did not notice).
        mkdir -p "$work/www" && cp "$work/tasks-$be.json" "$work/www/tasks.json"
        chmod 755 "$work" "$work/www" && chmod 644 "$work/www/tasks.json"
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
        pids+=($!)
        for _ in $(seq 100); do curl -sf "http://127.0.0.1:$nport/tasks.json" >/dev/null && break; sleep 0.05; done
        cmp -s "$work/www/tasks.json" <(curl -sf "http://127.0.0.1:$nport/tasks.json") \
          || { echo "bench: nginx does not serve the list: $(cat "$work/nginx-error.log")" >&2; exit 1; }
    fi
    # The web role in front of this API (the proxied row).
    local wport; wport=$(free_port)
    DATA_DIR=$work/web-$be PORT=$wport LOG_LEVEL=WARNING API_URL="http://127.0.0.1:$tport" \
      "$bin" serve --role web 2>"$work/web-$be.log" &
    pids+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$wport/health" >/dev/null && break; sleep 0.05; done
    cmp -s "$work/tasks-$be.json" <(curl -sf "http://127.0.0.1:$wport/api/me/tasks?limit=50" -H "Authorization: Bearer $token") \
      || { echo "bench: the proxy did not return the same list" >&2; exit 1; }

    local pat wpat sid wsid
    pat=$(pat_of "$token"); wpat=$(pat_of "$writer")
    sid=$(session_of "$pat"); wsid=$(session_of "$wpat")
    [ -n "$sid" ] && [ -n "$wsid" ] || { echo "bench: no MCP session" >&2; exit 1; }
    local mcp_total
    mcp_total=$(curl -sf -X POST "http://127.0.0.1:$tport/mcp" -H "Authorization: Bearer $pat" -H "Mcp-Session-Id: $sid" \
      -H 'Content-Type: application/json' -H 'Accept: application/json' -H 'MCP-Protocol-Version: 2025-11-25' \
      -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_tasks","arguments":{"limit":50}}}' \
      | python3 -c 'import sys,json; r=json.load(sys.stdin)["result"]; assert not r["isError"]; print(len(r["structuredContent"]["tasks"]))')
    [ "$mcp_total" = 50 ] || { echo "bench: list_tasks gave $mcp_total tasks" >&2; exit 1; }
    post_script "$work/mcp-list.lua" POST "$pat" "$sid" \
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_tasks","arguments":{"limit":50}}}'
    post_script "$work/mcp-add.lua" POST "$wpat" "$wsid" \
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add_task","arguments":{"title":"Benchmark task","priority":"high","tags":["bench"]}}}'
    post_script "$work/create.lua" POST "$writer" "" '{"title":"Benchmark task","priority":"high","tags":["bench"]}'
    post_script "$work/complete.lua" PATCH "$writer" "" ""
    # The list's own user writes: each write makes the next list a miss.
    post_script "$work/mixed.lua" GET "$token" "" "" 10 /api/me/tasks \
      '{"title":"Mixed-in task","priority":"low"}'

    local row name script path target figures
    for row in "${SCENARIOS[@]}"; do
        IFS='|' read -r name script path <<<"$row"
        wanted "$name" || continue
        path=${path//@TASK@/$task}; path=${path//@WTASK@/$wtask}
        if [ "$script" = proxy ]; then
            figures=$(wrk_run -H "Authorization: Bearer $token" "http://127.0.0.1:$wport$path")
        elif [ -n "$script" ]; then
            figures=$(wrk_run -s "$work/$script" "http://127.0.0.1:$tport$path")
        else
            figures=$(wrk_run -H "Authorization: Bearer $token" "http://127.0.0.1:$tport$path")
        fi
        record "$be" "$name" "$figures"
    done
    if wanted "fixed rate $rate_q/s: POST create"; then
        figures=$(oha_run -z "${secs}s" -q "$rate_q" -c 16 -m POST -H "Authorization: Bearer $writer" \
            -H 'Content-Type: application/json' -d '{"title":"Benchmark task","priority":"high"}' \
            "http://127.0.0.1:$tport/api/me/tasks")
        record "$be" "fixed rate $rate_q/s: POST create" "$figures"
    fi
    if wanted "fixed rate $rate_q/s: list 50 (cached)"; then
        figures=$(oha_run -z "${secs}s" -q "$rate_q" -c 16 -H "Authorization: Bearer $token" "$list")
        record "$be" "fixed rate $rate_q/s: list 50 (cached)" "$figures"
    fi
    record "$be" "peak RSS (MB)" "$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$tpid/status")"
    record "$be" "RSS at the end of the run (MB)" "$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$tpid/status")"

    if [ "$scale" != 0 ]; then
        # How cost grows: one user's uncached page (limit=50) as the table grows, then with
        # 10,000 other users. Rows are inserted in SQL (a recursive CTE, in both dialects), as
        # a long-lived database would hold them.
        local scaler uid now have=0 n
        scaler=$(signup "scale-$be")
        uid=$(curl -sf "http://127.0.0.1:$tport/api/auth/me" -H "Authorization: Bearer $scaler" | json_field '["id"]')
        if [ "$be" = sqlite ]; then now="strftime('%Y-%m-%dT%H:%M:%SZ','now')"; else now="now()"; fi
        series() { echo "WITH RECURSIVE s(g) AS (SELECT $1 UNION ALL SELECT g + 1 FROM s WHERE g < $2)"; }
        for n in 10 1000 100000; do
            sql "$be" "$url" "$(series $((have + 1)) "$n") INSERT INTO tasks (user_id, title, description,
              created_at, updated_at, search_text) SELECT '$uid', 'Scale task ' || g,
              'A task of the growth measurement', $now, $now, 'scale task' FROM s" >/dev/null
            have=$n
            figures=$(oha_run -n 200 -c 1 -H "Authorization: Bearer $scaler" \
                "http://127.0.0.1:$tport/api/me/tasks?limit=50&overdue=false")
            record "$be" "list page (uncached), $n tasks of one user" "$figures"
        done
        sql "$be" "$url" "$(series 1 10000) INSERT INTO users (id, email, created_at, updated_at)
          SELECT 'scale-user-' || g, 'scale' || g || '@example.com', $now, $now FROM s" >/dev/null
        sql "$be" "$url" "$(series 1 100000) INSERT INTO tasks (user_id, title, created_at, updated_at)
          SELECT 'scale-user-' || (g % 10000 + 1), 'Other task', $now, $now FROM s" >/dev/null
        # A user of its own with exactly 50 tasks: the bench's user has by now the thousands
        # its 10 %-writes row added, and its page would measure their count(*).
        local fifty fuid
        fifty=$(signup "fifty-$be")
        fuid=$(curl -sf "http://127.0.0.1:$tport/api/auth/me" -H "Authorization: Bearer $fifty" | json_field '["id"]')
        sql "$be" "$url" "$(series 1 50) INSERT INTO tasks (user_id, title, description,
          created_at, updated_at, search_text) SELECT '$fuid', 'Fifty task ' || g,
          'A task of the growth measurement', $now, $now, 'fifty task' FROM s" >/dev/null
        figures=$(oha_run -n 200 -c 1 -H "Authorization: Bearer $fifty" \
            "http://127.0.0.1:$tport/api/me/tasks?limit=50&overdue=false")
        record "$be" "list page (uncached), 50 tasks, 10,000 other users" "$figures"
    fi
    kill "$tpid"
}

nginx_figures=""
IFS=',' read -r -a be_list <<<"$backends"
for be in "${be_list[@]}"; do
    bench_backend "$be"
    [ -n "$nginx_figures" ] || nginx_figures=$(wrk_run "http://127.0.0.1:$nport/tasks.json")
done
[ -n "$nginx_figures" ] || { echo "bench: no backend measured" >&2; exit 1; }
# nginx again at the end: the machine's load moves, the ratio uses the mean of both runs.
nginx_end=$(wrk_run "http://127.0.0.1:$nport/tasks.json")

image=$(podman image inspect --format '{{.Size}}' localhost/todo:latest 2>/dev/null || true)
python3 - "$results" "$nginx_figures" "$nginx_end" "${image:-}" "$secs" "$conns" "$threads" "$rate_q" <<'PY'
import sys
results, n1, n2, image, secs, conns, threads, rate = sys.argv[1:9]
n = (float(n1.split()[0]) + float(n2.split()[0])) / 2
rows = [l.rstrip("\n").split("|") for l in open(results)]
print(f"bench: wrk -t{threads} -c{conns} -d{secs}s --latency; fixed rate oha -q {rate}; "
      f"load {open('/proc/loadavg').read().split()[0]}")
print(f"nginx static file (same bytes): {n1.split()[0]} / {n2.split()[0]} requests/s "
      f"(after the first backend / at the end), p50 {n1.split()[1]} ms, p99 {n1.split()[2]} ms")
print()
print("| backend | measurement | req/s | × nginx | p50 ms | p99 ms | socket errors | non-2xx |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
failed = int(n1.split()[4]) + int(n2.split()[4])
for be, name, fig in rows:
    f = fig.split()
    if len(f) >= 3:
        err = f[3] if len(f) > 3 else ""
        bad = f[4] if len(f) > 4 else ""
        failed += int(bad or 0)
        print(f"| {be} | {name} | {f[0]} | {float(f[0]) / n:.2f} | {f[1]} | {f[2]} | {err} | {bad} |")
    else:
        print(f"| {be} | {name} | {fig} | | | | | |")
print()
print("image size:", f"{int(image) / 1e6:.1f} MB" if image else "no image built (make image)")
if failed:
    sys.exit(f"bench: {failed} answers were not 2xx")
PY
