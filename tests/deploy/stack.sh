# shellcheck shell=bash
# Step "stack" of tests/deploy/run.sh (sourced): PostgreSQL + backend (api role) +
# frontend (web role) as containers on one podman network - the chart's topology with
# database.mode=postgresql - and the API contract checked through the frontend port.

PG_IMAGE=${PG_IMAGE:-localhost/todo-ci-postgres:15}
# Container and network name prefix: another checkout's run on the same machine can use
# its own (TODO_STACK_NAME=todo-stack-mine) instead of removing this one's containers.
STACK=${TODO_STACK_NAME:-todo-stack}

build_pg_image() {
  local ctx="$DEPLOY_TESTS_DIR/postgres" sum
  sum=$(cat "$ctx/Dockerfile" "$ctx/entrypoint.sh" | sha256sum | cut -c1-12)
  if podman image exists "$PG_IMAGE" &&
    [ "$(podman image inspect -f '{{index .Config.Labels "todo.ci.sum"}}' "$PG_IMAGE")" = "$sum" ]; then
    return 0
  fi
  log "building $PG_IMAGE from debian:bookworm-slim + postgresql-15 (cached afterwards)"
  timeout -k 10 900 podman build -q --label "todo.ci.sum=$sum" -t "$PG_IMAGE" "$ctx" >/dev/null
}

# The `sh -c` script of the backend's init container in ci/seed-004 (postgresql mode).
helm_render_init_command() {
  ensure_helm
  helm template todo "$REPO_ROOT/deploy/helm/todo" -n todo \
    -f "$REPO_ROOT/deploy/helm/todo/ci/seed-004-replicas-postgresql.yaml" \
    --show-only templates/deployment.yaml 2>/dev/null | "$VENV/bin/python" -c '
import sys, yaml
for d in yaml.safe_load_all(sys.stdin):
    if d and d["metadata"]["name"].endswith("-backend"):
        print(d["spec"]["template"]["spec"]["initContainers"][0]["command"][2])'
}

stack_cleanup() {
  bounded 60 podman rm -f -v -t 2 "$STACK-frontend" "$STACK-backend" "$STACK-postgres" "$STACK-waitpg" \
    >/dev/null 2>&1 || true
  bounded 30 podman network rm -f "$STACK" >/dev/null 2>&1 || true
}

step_stack() {
  ensure_podman
  build_image || return 0
  bash "$DEPLOY_TESTS_DIR/base-image.sh" || { fail "base image"; return 0; }
  if build_pg_image; then pass "PostgreSQL 15 test image ($PG_IMAGE)"; else fail "PostgreSQL test image build"; return 0; fi
  stack_cleanup
  podman network create "$STACK" >/dev/null || { fail "podman network create"; return 0; }

  local pgpass secret fport bport img=$TODO_IMAGE
  pgpass=$(random_secret)
  secret=$(random_secret)
  fport=$(free_port)
  bport=$(free_port)
  local hardening=(--no-healthcheck --read-only --tmpfs "/tmp:rw,size=16m,mode=1777" --cap-drop ALL --security-opt no-new-privileges)

  bounded 60 podman run -d --name "$STACK-postgres" --network "$STACK" --network-alias postgres \
    -e POSTGRES_USER=todo -e POSTGRES_DB=todo -e POSTGRES_PASSWORD="$pgpass" "$PG_IMAGE" postgres -c fsync=off >/dev/null ||
    { fail "start postgres"; stack_cleanup; return 0; }
  local i ok=0
  for ((i = 0; i < 100; i++)); do
    if bounded 10 podman exec "$STACK-postgres" pg_isready -q -t 3 -h 127.0.0.1 -U todo -d todo 2>/dev/null; then ok=1; break; fi
    sleep 0.2
  done
  if [ $ok = 1 ]; then pass "postgres accepting connections"; else fail "postgres not ready in 20 s"; podman logs --tail 20 "$STACK-postgres"; stack_cleanup; return 0; fi

  # The chart's wait-for-postgresql init container command, run as the chart runs it
  # (UID 10001, read-only root fs), against this PostgreSQL. --init: `sh` as PID 1 would
  # ignore the SIGTERM of `timeout`; catatonit forwards it, and -k kills podman run if
  # even that hangs; the named container is removed by stack_cleanup either way.
  ensure_venv
  local initcmd
  initcmd=$(helm_render_init_command)
  if [ -n "$initcmd" ] && bounded 30 podman run --rm --init --name "$STACK-waitpg" --network "$STACK" \
    --user 10001:10001 "${hardening[@]}" \
    -e PGHOST=postgres -e PGPORT=5432 -e PGUSER=todo -e PGDATABASE=todo \
    --entrypoint sh "$PG_IMAGE" -c "$initcmd" >/dev/null 2>&1; then
    pass "chart's wait-for-postgresql init command succeeds (UID 10001, read-only)"
  else
    fail "chart's wait-for-postgresql init command (${initcmd:-not rendered})"
  fi

  # The same wait against a host that never answers must end by itself: `timeout -k` plus
  # --init (catatonit as PID 1 passes the TERM on to sh, which as PID 1 would ignore it).
  local t0=$SECONDS
  bounded 8 podman run --rm --init --name "$STACK-waitpg" --network "$STACK" --user 10001:10001 "${hardening[@]}" \
    -e PGHOST=nowhere -e PGPORT=5432 -e PGUSER=todo -e PGDATABASE=todo \
    --entrypoint sh "$PG_IMAGE" -c "$initcmd" >/dev/null 2>&1
  bounded 30 podman rm -f -t 0 "$STACK-waitpg" >/dev/null 2>&1
  check "a wait that cannot succeed ends by itself ($((SECONDS - t0)) s for an 8 s bound)" test $((SECONDS - t0)) -le 20

  # Backend: same contract as the chart's postgresql mode - the URL has no password,
  # libpq reads it from PGPASSWORD.
  bounded 60 podman run -d --name "$STACK-backend" --network "$STACK" --network-alias backend "${hardening[@]}" \
    -p "127.0.0.1:$bport:8000" \
    -e ROLE=api -e PORT=8000 -e ENVIRONMENT=production -e JWT_SECRET="$secret" -e MIGRATE_ON_START=true \
    -e DATABASE_URL=postgresql://todo@postgres:5432/todo -e PGPASSWORD="$pgpass" \
    "$img" serve --role api >/dev/null || { fail "start backend"; stack_cleanup; return 0; }
  bounded 60 podman run -d --name "$STACK-frontend" --network "$STACK" --network-alias frontend "${hardening[@]}" \
    -p "127.0.0.1:$fport:3000" \
    -e ROLE=web -e PORT=3000 -e ENVIRONMENT=production -e JWT_SECRET="$secret" -e API_URL=http://backend:8000 \
    "$img" serve --role web >/dev/null || { fail "start frontend"; stack_cleanup; return 0; }

  local fe="http://127.0.0.1:$fport" be="http://127.0.0.1:$bport"
  if wait_http "$be/ready" 30; then
    pass "backend (api role) on PostgreSQL: /ready 200"
  else
    fail "backend /ready not 200 within 30 s (got $(http_code "$be/ready"))"
    podman logs --tail 20 "$STACK-backend" 2>&1 | sed 's/^/        /'
  fi
  # What the chart's `helm test` pod runs: the same image, a Service name, /ready.
  if bounded 30 podman run --rm --network "$STACK" "${hardening[@]}" "$img" healthcheck --url http://backend:8000/ready >/dev/null 2>&1; then
    pass "helm-test command: todo healthcheck --url http://backend:8000/ready (DNS name, read-only)"
  else
    fail "helm-test command: todo healthcheck --url http://backend:8000/ready"
  fi
  if bounded 30 podman run --rm --network "$STACK" "${hardening[@]}" "$img" healthcheck --url http://backend:8000/no-such-page >/dev/null 2>&1; then
    fail "todo healthcheck exits 0 for a 404"
  else
    pass "todo healthcheck exits non-zero for a 404"
  fi
  if wait_http "$fe/health" 20; then
    pass "frontend (web role): /health 200"
  else
    fail "frontend /health not 200 within 20 s"
    podman logs --tail 20 "$STACK-frontend" 2>&1 | sed 's/^/        /'
  fi
  # The frontend is ready once it has reached the backend (API_URL's /ready) since it started.
  local code
  if wait_http "$fe/ready" 20; then pass "frontend /ready 200 (it reached the backend)"; else
    fail "frontend /ready not 200 within 20 s (got $(http_code "$fe/ready"))"
    podman logs --tail 20 "$STACK-frontend" 2>&1 | sed 's/^/        /'
  fi
  code=$(http_code "$fe/api/health")
  check "GET /api/health through the frontend port: 200 (got $code)" test "$code" = 200
  # A route only the backend answers: proxied, it must be the backend's 401, not 404/502.
  code=$(http_code "$fe/api/ci-user/tasks")
  if [ "$code" = 401 ]; then
    pass "GET /api/{user}/tasks through the frontend is proxied to the backend (401 without token)"
  else
    fail "GET /api/{user}/tasks through the frontend: $code (expected the backend's 401; web-role proxy missing or broken)"
  fi
  local path
  for path in / /openapi.json /docs; do
    code=$(http_code "$fe$path")
    check "GET $path through the frontend port: 200 (got $code)" test "$code" = 200
  done
  local rc
  python3 "$DEPLOY_TESTS_DIR/api_flow.py" "$fe"
  rc=$?
  case $rc in
  0) pass "sign-up + create + list through the frontend port (PostgreSQL)" ;;
  *) fail "sign-up + create + list through the frontend port" ;;
  esac

  # Readiness follows the database.
  bounded 30 podman stop -t 5 "$STACK-postgres" >/dev/null 2>&1
  if wait_http "$be/ready" 15 503; then pass "backend /ready 503 while PostgreSQL is down"; else fail "backend /ready not 503 with PostgreSQL down (got $(http_code "$be/ready"))"; fi
  check "backend /health stays 200 while PostgreSQL is down" test "$(http_code "$be/health")" = 200
  bounded 30 podman start "$STACK-postgres" >/dev/null 2>&1
  if wait_http "$be/ready" 30; then pass "backend /ready 200 again after PostgreSQL is back"; else fail "backend /ready did not recover"; fi
  # No pause before the graceful-stop check: right after the PostgreSQL container restarts,
  # this network's DNS leaves the query for its name unanswered for 5 s, and a background
  # reconnect is then inside that lookup; the server looks host names up with a deadline
  # and gives up when it stops (docs/robustness.md, Shutdown), so the < 2 s bound holds.

  # Graceful stop of both roles.
  local name
  for name in "$STACK-frontend" "$STACK-backend"; do
    stop_timed "$name"
    local what="$name: SIGTERM -> exit $STOP_CODE, podman stop ${STOP_MS} ms, process ${STOP_APP_MS} ms (want 0, < 2000)"
    if [ "$STOP_CODE" = 0 ] && [ "$STOP_APP_MS" -lt 2000 ]; then
      pass "$what"
    else
      fail "$what"
      podman logs --tail 30 "$name" 2>&1 | sed 's/^/        /' # what it was doing when it did not stop
    fi
  done
  stack_cleanup
}
