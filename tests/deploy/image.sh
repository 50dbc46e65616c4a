# shellcheck shell=bash
# Step "image" of tests/deploy/run.sh (sourced): build the real Dockerfile with podman,
# check size and metadata, run it as non-root on a read-only root fs.

IMAGE_MAX_BYTES=${IMAGE_MAX_BYTES:-25000000}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" || true; }
# wait_http URL CODE SECONDS
wait_http() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    [ "$(http_code "$1")" = "${3:-200}" ] && return 0
    sleep 0.2
  done
  return 1
}
# stop_timed CONTAINER: podman stop -t 10, sets STOP_MS (whole stop), STOP_APP_MS (until
# the process had exited, from the container state) and STOP_CODE (exit code).
stop_timed() {
  local t0 t1 fin
  t0=$(date +%s%N)
  bounded 40 podman stop -t 10 "$1" >/dev/null 2>&1
  t1=$(date +%s%N)
  fin=$(podman inspect -f '{{.State.FinishedAt.UnixNano}}' "$1" 2>/dev/null || echo "$t1")
  STOP_MS=$(((t1 - t0) / 1000000))
  STOP_APP_MS=$(((fin - t0) / 1000000))
  STOP_CODE=$(podman inspect -f '{{.State.ExitCode}}' "$1")
}
random_secret() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }

# Builds (or reuses) the image; sets TODO_IMAGE.
build_image() {
  [ -n "${TODO_IMAGE:-}" ] && podman image exists "$TODO_IMAGE" && return 0
  ensure_podman
  bash "$DEPLOY_TESTS_DIR/base-image.sh" || return 1
  local t0=$SECONDS log="$REPO_ROOT/build/deploy/image-build.log"
  mkdir -p "$(dirname "$log")"
  log "building the image (log: $log)"
  if ! timeout 1500 bash "$REPO_ROOT/deploy/build-image.sh" >"$log" 2>&1; then
    fail "podman build -f deploy/docker/Dockerfile"
    grep -E 'error|Error|ERROR' "$log" | head -n 20 | sed 's/^/        /'
    tail -n 5 "$log" | sed 's/^/        /'
    return 1
  fi
  TODO_IMAGE=$(tail -n 1 "$log")
  export TODO_IMAGE
  if [ -n "${CI:-}" ] || [ -n "${TODO_CI_PRUNE:-}" ]; then
    # CI machines are reused: drop earlier todo:X.Y.Z-<sha> builds and dangling layers
    # (the named build stage keeps the build cache).
    local old
    for old in $(podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '/todo:[0-9]+\.[0-9]+\.[0-9]+-' | grep -vx "localhost/$TODO_IMAGE"); do
      podman rmi "$old" >/dev/null 2>&1 || true
    done
    podman image prune -f >/dev/null 2>&1 || true
    podman volume prune -f >/dev/null 2>&1 || true
  fi
  pass "podman build -f deploy/docker/Dockerfile -> $TODO_IMAGE and todo:$(project_version) ($((SECONDS - t0))s)"
}

# Step "images": the images the other steps use, built once (`make test-image`): the project's
# (tagged todo:<VERSION>-<sha>, which `make test` passes on as TODO_IMAGE) and the PostgreSQL
# stand-in of the stack and k8s steps. It also installs the tools both later layers use (Go,
# helm, kube-score, the deploy venv), so that on a fresh machine the deploy and k8s layers,
# which `make test` runs side by side, do not install them at the same time into one place.
step_images() {
  ensure_podman
  ensure_helm
  ensure_kube_score
  ensure_venv
  unset TODO_IMAGE # always build: the same tag may hold an image of other working-tree changes
  build_image || return 0
  local t0=$SECONDS
  if build_pg_image; then pass "PostgreSQL stand-in image $PG_IMAGE ($((SECONDS - t0))s)"; else fail "PostgreSQL stand-in image build"; fi
  log "built $TODO_IMAGE"
}

step_image() {
  ensure_podman
  build_image || return 0
  local img=$TODO_IMAGE c=todo-deploy-test-image vol=todo-deploy-test-data
  podman rm -f -v "$c" >/dev/null 2>&1 || true
  podman volume rm -f "$vol" >/dev/null 2>&1 || true

  # Size.
  local size
  size=$(podman image inspect -f '{{.Size}}' "$img")
  printf '  image %s: %s bytes (%.1f MB)\n' "$img" "$size" "$(echo "$size / 1000000" | bc -l)"
  # Where the bytes go (tar sizes, as the layer counts them).
  local tmpc
  tmpc=$(podman create "$img" 2>/dev/null) && podman export "$tmpc" | tar -tv 2>/dev/null | awk '
    { sz = $3; blk = 512 + int((sz + 511) / 512) * 512; n = $6; g = "other"
      if (n ~ /zoneinfo/) g = "tzdata"; else if (n ~ /locale/) g = "locale"; else if (n ~ /\.so/) g = "shared libraries"
      else if (n ~ /bin\/todo$/) g = "todo binary"; else if (n ~ /ssl/) g = "CA certificates"
      s[g] += blk; c[g]++ }
    END { for (g in s) printf "    %6.2f MB %5d files  %s\n", s[g] / 1e6, c[g], g }' | sort -n -r
  [ -n "$tmpc" ] && podman rm -v "$tmpc" >/dev/null 2>&1
  if [ "$size" -lt "$IMAGE_MAX_BYTES" ]; then
    pass "image size $((size / 1000000)) MB < $((IMAGE_MAX_BYTES / 1000000)) MB"
  else
    fail "image size $size bytes >= $IMAGE_MAX_BYTES (target < 25 MB; see the breakdown above)"
  fi

  # Metadata.
  local meta
  meta=$(podman image inspect -f '{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{json .Config.ExposedPorts}}|{{json .Config.Volumes}}|{{index .Config.Labels "org.opencontainers.image.version"}}|{{index .Config.Labels "org.opencontainers.image.revision"}}|{{index .Config.Labels "org.opencontainers.image.title"}}' "$img")
  local rev=${img##*-} # the tag is X.Y.Z-<revision>
  case "$meta" in
  '10001:10001|["/usr/local/bin/todo"]|["serve"]|'*'"3000/tcp"'*'"8000/tcp"'*'|{"/data":{}}|'"$(project_version)|$rev|todo")
    pass "image config: USER 10001:10001, ENTRYPOINT, CMD, EXPOSE 8000 3000, VOLUME /data, OCI labels" ;;
  *) fail "image config unexpected: $meta" ;;
  esac
  if podman image inspect -f '{{json .Healthcheck}}' "$img" 2>/dev/null | grep -q healthcheck ||
    podman image inspect -f '{{json .Config.Healthcheck}}' "$img" 2>/dev/null | grep -q healthcheck; then
    pass "HEALTHCHECK runs todo healthcheck"
  else
    fail "no HEALTHCHECK in the image"
  fi
  if bounded 30 podman run --rm --entrypoint /bin/sh "$img" -c true >/dev/null 2>&1; then fail "image has a shell"; else pass "no shell in the image"; fi
  if bounded 30 podman run --rm --read-only "$img" version >/dev/null 2>&1; then pass "todo version runs in the image"; else fail "todo version fails in the image"; fi

  # Run it: non-root (image USER), read-only root fs, tmpfs /tmp, volume /data, loopback only.
  local port secret
  port=$(free_port)
  secret=$(random_secret)
  local run=(podman run -d --name "$c" --no-healthcheck --read-only --tmpfs "/tmp:rw,size=16m,mode=1777"
    -v "$vol:/data" -p "127.0.0.1:$port:8000" --cap-drop ALL --security-opt no-new-privileges
    -e ENVIRONMENT=production -e JWT_SECRET="$secret" -e LOG_LEVEL=INFO "$img")
  if ! bounded 60 "${run[@]}" >/dev/null; then
    fail "podman run --read-only $img"
    return 0
  fi
  local base="http://127.0.0.1:$port"
  if wait_http "$base/health" 20; then
    pass "/health 200 (read-only root fs, UID $(podman top "$c" huser 2>/dev/null | tail -n 1 | tr -d ' '))"
  else
    fail "/health did not answer 200 within 20 s"
    podman logs --tail 20 "$c" 2>&1 | sed 's/^/        /'
  fi
  check "/ready 200" test "$(http_code "$base/ready")" = 200
  check "/api/health 200" test "$(http_code "$base/api/health")" = 200
  local uid
  uid=$(podman top "$c" huser 2>/dev/null | tail -n 1 | tr -d ' ')
  check "process runs as UID 10001 (got $uid)" test "$uid" = 10001
  check "todo healthcheck (the HEALTHCHECK command) inside the container" bounded 30 podman exec "$c" /usr/local/bin/todo healthcheck
  local mp owner
  mp=$(podman volume inspect -f '{{.Mountpoint}}' "$vol")
  owner=$(stat -c '%u' "$mp/todo.db" 2>/dev/null || echo none)
  check "SQLite database created in the /data volume by UID 10001 (owner: $owner)" test "$owner" = 10001

  # Nothing the binary looks for at run time is missing from the image.
  if podman logs "$c" 2>&1 | grep -Ei 'not found|cannot open shared|no such file' | head -n 3 | grep -q .; then
    fail "the server's log reports something missing in the image:"
    podman logs "$c" 2>&1 | grep -Ei 'not found|cannot open shared|no such file' | head -n 3 | sed 's/^/        /'
  else
    pass "no missing-file/locale warnings in the server log"
  fi

  # API flow: sign-up, create, list.
  local state="$REPO_ROOT/build/deploy/api-state.json" rc flow=0
  rm -f "$state"
  python3 "$DEPLOY_TESTS_DIR/api_flow.py" "$base" --state "$state"
  rc=$?
  case $rc in
  0) pass "sign-up + create + list on the image"; flow=1 ;;
  *) fail "sign-up + create + list on the image" ;;
  esac

  # SIGTERM: graceful exit 0 within 2 s.
  stop_timed "$c"
  printf '  SIGTERM: podman stop -t 10 took %s ms; the process exited %s ms after the stop began, code %s\n' "$STOP_MS" "$STOP_APP_MS" "$STOP_CODE"
  check "SIGTERM: exit code 0 (got $STOP_CODE)" test "$STOP_CODE" = 0
  # The process's own exit (container FinishedAt) is measured: podman's bookkeeping after
  # it (conmon, network teardown) adds 0.3-1.5 s here that no server can influence.
  check "SIGTERM: the server exited within 2 s (${STOP_APP_MS} ms)" test "$STOP_APP_MS" -lt 2000

  # Data survives a restart on the volume.
  if [ "$flow" = 1 ]; then
    bounded 30 podman start "$c" >/dev/null
    if wait_http "$base/ready" 20; then
      check "task persisted in /data across a restart" python3 "$DEPLOY_TESTS_DIR/api_flow.py" "$base" --list-only "$state"
    else
      fail "restart: /ready not 200"
    fi
    bounded 40 podman stop -t 10 "$c" >/dev/null 2>&1
  fi
  podman rm -f -v "$c" >/dev/null 2>&1 || true
  podman volume rm -f "$vol" >/dev/null 2>&1 || true
}
