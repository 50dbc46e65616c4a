# shellcheck shell=bash
# Step "k8s" of tests/deploy/run.sh (sourced; `make k8s-test`): the chart on a real cluster.
#
# Cluster: the one in $KUBECONFIG when given; otherwise kube-local ($KUBE_LOCAL, default
# /work/shared/kube-local): build.sh (cached under /tmp/kube after the first run), up.sh, and
# down.sh at the end (unless it was already running). Images: the project image and the
# PostgreSQL stand-in (tests/deploy/postgres) are built with podman and loaded into the
# cluster (kube-local's load-image.sh, the same idea as `minikube image load`).
#
# For each topology below, one at a time on the one cluster: a namespace labelled for the
# restricted Pod Security Standard, the Secrets the seed's values name, `helm install
# --wait`, the API contract through the NodePort on 127.0.0.1, `helm test`, the
# rollout drills under a request loop (tests/deploy/k8s/drill.py) that counts failed
# requests, `helm uninstall --wait`, and a check that only what the docs say is kept is left.
#
# Env: KUBECONFIG, KUBE_LOCAL, K8S_TOPOLOGIES (names to run, default all), K8S_KEEP=1 (keep
#      namespaces and the cluster for debugging), K8S_LOAD_IMAGE (command that loads a podman
#      image into a cluster given by KUBECONFIG; default kube-local's load-image.sh).

KUBE_LOCAL=${KUBE_LOCAL:-/work/shared/kube-local}
K8S_NODEPORT=30000
K8S_RELEASE=todo
K8S_NS_PREFIX=todo-k8s
K8S_PG_REPO=todo-ci-postgres

# One line per seed topology a single node can run:
#   name | values file in deploy/helm/todo/ci/ | drills | extra helm arguments | how
# how: "helm" (helm install here) or "script": deploy/minikube-deploy.sh with CLUSTER=kube-local,
# so that the script users run is the one tested (on kube-local only).
# Drills (each under the request loop; all must have 0 failed requests unless marked :gap):
#   upgrade-config  helm upgrade changing the ConfigMap (every component rolls)
#   upgrade-image   helm upgrade to another image tag
#   rollback        helm rollback to the previous revision
#   restart-C       kubectl rollout restart of component C (frontend, backend, ...)
#   delete-C        delete one pod of component C (which must run 2 replicas)
#   rolling-backend helm upgrade to backend.strategy.type=RollingUpdate (SQLite on one node),
#                   then a rollout restart of the backend
#   :gap            the backend rolls with Recreate (one SQLite writer): API calls may fail in
#                   one short window, which is measured and printed; the UI must not fail and
#                   no acknowledged write may be lost.
K8S_TOPOLOGY_TABLE=(
  "sqlite|seed-001-two-tier-nodeport.yaml|delete-frontend upgrade-config:gap rollback:gap rolling-backend||script"
  "postgresql|seed-004-replicas-postgresql.yaml|upgrade-config upgrade-image rollback restart-backend delete-backend delete-frontend restart-postgresql:gap||helm"
  "external|seed-000-ingress.yaml|upgrade-image rollback|--set ingress.enabled=false --set frontend.service.type=NodePort --set-json networkPolicy.frontendFrom=[]|helm"
  "uploads|seed-002-uploads-hostpath.yaml|restart-backend||helm"
  # Seed 003: frontend, backend, mcp-server (role mcp) and ai-agent (role agent, its tools on
  # the mcp-server over MCP).
  "four-services|seed-003-four-services.yaml|restart-mcp-server upgrade-config||helm"
)

K8S_PHASES=()
K8S_DRILLS=()
k8s_phase_start() { K8S_PHASE=$1 K8S_PHASE_T0=$SECONDS; printf '== k8s: %s\n' "$1"; }
k8s_phase_end() {
  local s=$((SECONDS - K8S_PHASE_T0))
  K8S_PHASES+=("$(printf '%-28s %4ss' "$K8S_PHASE" "$s")")
  printf '== k8s: %s done in %ss\n' "$K8S_PHASE" "$s"
}

kc() { kubectl "$@"; }
k8s_work() { printf '%s' "$REPO_ROOT/build/k8s"; }

# k8s_tools: helm, kubectl, and on kube-local the packages it needs.
k8s_tools() {
  ensure_helm
  ensure_venv
  if [ -z "${KUBECONFIG:-}" ]; then
    [ -d "$KUBE_LOCAL" ] || { fail "no KUBECONFIG and no kube-local at KUBE_LOCAL=$KUBE_LOCAL"; return 1; }
    local p missing=()
    for p in containerd runc containernetworking-plugins iptables conntrack; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      log "installing ${missing[*]} for kube-local"
      apt_install "${missing[@]}"
    fi
  fi
  ensure_podman
}

# k8s_cluster_up: sets KUBECONFIG and PATH; K8S_STARTED=1 when this run started kube-local.
K8S_STARTED=0
k8s_cluster_up() {
  local kl_dir=${KUBE_LOCAL_DIR:-/tmp/kube}
  if [ -n "${KUBECONFIG:-}" ]; then
    [ -x "$kl_dir/bin/kubectl" ] && export PATH="$kl_dir/bin:$PATH"
    command -v kubectl >/dev/null 2>&1 || { fail "KUBECONFIG given but no kubectl on PATH"; return 1; }
    log "using the cluster in KUBECONFIG=$KUBECONFIG"
  else
    k8s_phase_end
    k8s_phase_start "kube-local build (cached)"
    # A fresh machine builds it here (~8-10 min); later runs find /tmp/kube and take 0.1 s.
    if ! bounded 3000 bash "$KUBE_LOCAL/build.sh" >"$(k8s_work)/kube-local-build.log" 2>&1; then
      fail "kube-local build.sh (log: $(k8s_work)/kube-local-build.log)"
      tail -n 20 "$(k8s_work)/kube-local-build.log" | sed 's/^/        /'
      return 1
    fi
    k8s_phase_end
    k8s_phase_start "cluster up"
    local p
    p=$(cat "$kl_dir/run/kube-apiserver.pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null || K8S_STARTED=1
    # 8>&-: the daemons up.sh starts must not inherit (and hold) the run lock.
    if ! bounded 600 bash "$KUBE_LOCAL/up.sh" >"$(k8s_work)/kube-local-up.log" 2>&1 8>&-; then
      fail "kube-local up.sh (log: $(k8s_work)/kube-local-up.log)"
      tail -n 20 "$(k8s_work)/kube-local-up.log" | sed 's/^/        /'
      return 1
    fi
    export KUBECONFIG=$kl_dir/conf/admin.kubeconfig PATH="$kl_dir/bin:$PATH"
  fi
  if bounded 30 kubectl get --raw /readyz >/dev/null 2>&1; then
    pass "cluster ready: $(kubectl version -o json 2>/dev/null | "$VENV/bin/python" -c 'import json,sys; print("Kubernetes", json.load(sys.stdin)["serverVersion"]["gitVersion"])')"
  else
    fail "the cluster's API server does not answer /readyz"
    return 1
  fi
}

k8s_cluster_down() {
  [ "$K8S_STARTED" = 1 ] || return 0
  if [ -n "${K8S_KEEP:-}" ]; then
    log "K8S_KEEP set: kube-local stays up (bash $KUBE_LOCAL/down.sh)"
    return 0
  fi
  k8s_phase_start "cluster down"
  bounded 300 bash "$KUBE_LOCAL/down.sh" >"$(k8s_work)/kube-local-down.log" 2>&1 || fail "kube-local down.sh"
  k8s_phase_end
}

# k8s_load IMAGE...: copy podman images into the cluster, skipping ones it already has
# (same image ID), so reruns cost nothing.
k8s_load() {
  local ref id have loader=${K8S_LOAD_IMAGE:-bash $KUBE_LOCAL/load-image.sh}
  for ref in "$@"; do
    id=$(podman image inspect -f '{{.Id}}' "$ref") || { fail "no podman image $ref"; return 1; }
    have=$(crictl_image_id "$ref")
    if [ -n "$have" ] && [ "$have" = "sha256:$id" ]; then
      log "cluster already has $ref ($id)"
      continue
    fi
    # shellcheck disable=SC2086
    bounded 300 $loader "$ref" >/dev/null 2>&1 || { fail "loading $ref into the cluster ($loader)"; return 1; }
  done
}
crictl_image_id() { # REF: the image ID containerd has for docker.io/library/<name> (kube-local only)
  local kl_dir=${KUBE_LOCAL_DIR:-/tmp/kube} name=${1#localhost/}
  [ -x "$kl_dir/bin/crictl" ] || return 0
  case "$name" in */*) ;; *) name=docker.io/library/$name ;; esac
  bounded 20 "$kl_dir/bin/crictl" --config /dev/null --runtime-endpoint "unix://$kl_dir/run/containerd.sock" \
    inspecti -o go-template --template '{{.status.id}}' "$name" 2>/dev/null || true
}

# k8s_prune_images: kube-local keeps its containerd store between runs: drop the todo images
# of earlier commits (kubelet's image GC is off there), so a reused CI machine's disk stays bounded.
k8s_prune_images() {
  local kl_dir=${KUBE_LOCAL_DIR:-/tmp/kube} ref
  [ -x "$kl_dir/bin/crictl" ] && [ -z "${K8S_LOAD_IMAGE:-}" ] || return 0
  for ref in $(bounded 30 "$kl_dir/bin/crictl" --config /dev/null --runtime-endpoint "unix://$kl_dir/run/containerd.sock" \
    images -o json 2>/dev/null | "$VENV/bin/python" -c 'import json,sys
for i in json.load(sys.stdin)["images"]:
    for t in i.get("repoTags") or []:
        print(t)' | grep -E '/todo:[0-9]+\.[0-9]+\.[0-9]+-' | grep -v -e ":$K8S_TAG\$" -e ":$K8S_TAG2\$"); do
    bounded 30 "$kl_dir/bin/crictl" --config /dev/null --runtime-endpoint "unix://$kl_dir/run/containerd.sock" rmi "$ref" >/dev/null 2>&1 &&
      log "removed $ref from the cluster's image store"
  done
}

# k8s_images: sets K8S_TAG, K8S_TAG2 (the same image under a second tag, for the image drill).
k8s_images() {
  build_image || return 1
  K8S_TAG=${TODO_IMAGE#*:}
  K8S_TAG2="$K8S_TAG.r2"
  # A distinct image (the same layers, one label more), not a second tag of the same ID: an
  # archive of an ID with two tags can be imported under the other tag, and the drill's
  # rollout then waits on ErrImageNeverPull (seen twice). An upgrade is a new image anyway.
  local r2dir
  r2dir=$(mktemp -d)
  printf 'FROM %s\nLABEL org.opencontainers.image.version=%s\n' "$TODO_IMAGE" "$K8S_TAG2" >"$r2dir/Containerfile"
  podman build -q --pull=never --format docker -t "todo:$K8S_TAG2" -f "$r2dir/Containerfile" "$r2dir" >/dev/null ||
    { rm -rf "$r2dir"; fail "podman build todo:$K8S_TAG2"; return 1; }
  rm -rf "$r2dir"
  if build_pg_image; then pass "PostgreSQL stand-in image $PG_IMAGE (Debian postgresql-15, official env contract)"; else
    fail "PostgreSQL stand-in image build"
    return 1
  fi
  k8s_load "$TODO_IMAGE" "todo:$K8S_TAG2" "$PG_IMAGE" || return 1
  k8s_prune_images
  pass "images in the cluster: $TODO_IMAGE, todo:$K8S_TAG2, $PG_IMAGE"
}

# k8s_namespace NS [LABEL=VALUE...]: a fresh namespace enforcing the restricted Pod Security
# Standard (warn and audit too), as docs/deploy-kubernetes.md tells users to make it.
k8s_namespace() {
  local ns=$1
  shift
  if kc get namespace "$ns" >/dev/null 2>&1; then
    kc delete namespace "$ns" --wait --timeout=120s >/dev/null 2>&1 || true
  fi
  kc create namespace "$ns" >/dev/null &&
    kc label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
      pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/audit=restricted "$@" >/dev/null
}

# k8s_stale: what an earlier run that was killed (SIGKILL, a lost machine) left in a cluster
# that keeps its etcd across down/up: its namespaces ($K8S_NS_PREFIX-*), the hostPath PVs named
# after them, and with them NodePort $K8S_NODEPORT. Runs under the run lock, so no other
# k8s-test owns them. A NodePort still held outside those namespaces fails the run by name.
k8s_stale() {
  local ns pv left
  for ns in $(kc get namespaces -o name 2>/dev/null | sed -n "s|^namespace/\($K8S_NS_PREFIX-.*\)|\1|p"); do
    log "removing namespace $ns left by an earlier run"
    bounded 150 kubectl delete namespace "$ns" --wait --timeout=140s >/dev/null 2>&1 || { fail "delete stale namespace $ns"; return 1; }
  done
  for pv in $(kc get pv -o name 2>/dev/null | sed -n "s|^persistentvolume/\($K8S_NS_PREFIX-.*\)|\1|p"); do
    log "removing PersistentVolume $pv left by an earlier run"
    bounded 60 kubectl delete pv "$pv" --wait --timeout=50s >/dev/null 2>&1 || { fail "delete stale PersistentVolume $pv"; return 1; }
  done
  left=$(kc get services -A -o go-template='{{range .items}}{{$s := .}}{{range .spec.ports}}{{if eq (print .nodePort) "'"$K8S_NODEPORT"'"}}{{$s.metadata.namespace}}/{{$s.metadata.name}} {{end}}{{end}}{{end}}' 2>/dev/null)
  if [ -n "$left" ]; then
    fail "NodePort $K8S_NODEPORT is held by service $left (not this harness's): remove it first"
    return 1
  fi
}

# k8s_external_db: one PostgreSQL (the stand-in image) in its own namespace, playing the
# external database (Neon in the seeds) for the topologies with database.mode=external.
K8S_DB_NS=$K8S_NS_PREFIX-db
k8s_external_db() {
  [ -n "${K8S_DB_URL:-}" ] && return 0
  local pw
  pw=$(random_secret)
  k8s_namespace "$K8S_DB_NS" || return 1
  kc -n "$K8S_DB_NS" create secret generic postgres --from-literal=POSTGRES_PASSWORD="$pw" >/dev/null
  kc -n "$K8S_DB_NS" apply -f - >/dev/null <<EOF || return 1
apiVersion: apps/v1
kind: Deployment
metadata: {name: postgres}
spec:
  replicas: 1
  selector: {matchLabels: {app: postgres}}
  template:
    metadata: {labels: {app: postgres}}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: postgres
          image: $K8S_PG_REPO:15
          imagePullPolicy: Never
          args: [postgres, -c, fsync=off]
          env:
            - {name: POSTGRES_USER, value: todo}
            - {name: POSTGRES_DB, value: todo}
            - {name: PGDATA, value: /var/lib/postgresql/data/pgdata}
            - name: POSTGRES_PASSWORD
              valueFrom: {secretKeyRef: {name: postgres, key: POSTGRES_PASSWORD}}
          ports: [{containerPort: 5432, name: postgresql}]
          readinessProbe:
            exec: {command: [pg_isready, -h, 127.0.0.1, -U, todo, -d, todo]}
            periodSeconds: 2
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          volumeMounts:
            - {name: data, mountPath: /var/lib/postgresql/data}
            - {name: run, mountPath: /var/run/postgresql}
            - {name: tmp, mountPath: /tmp}
      volumes:
        - {name: data, emptyDir: {}}
        - {name: run, emptyDir: {}}
        - {name: tmp, emptyDir: {}}
---
apiVersion: v1
kind: Service
metadata: {name: postgres}
spec:
  selector: {app: postgres}
  ports: [{port: 5432, targetPort: postgresql}]
EOF
  if ! bounded 200 kubectl -n "$K8S_DB_NS" rollout status deploy/postgres --timeout=180s >/dev/null; then
    fail "external PostgreSQL (namespace $K8S_DB_NS) not ready"
    kc -n "$K8S_DB_NS" get pods -o wide 2>&1 | sed 's/^/        /'
    return 1
  fi
  K8S_DB_URL="postgresql://todo:$pw@postgres.$K8S_DB_NS.svc.cluster.local:5432/todo"
  pass "external PostgreSQL up in namespace $K8S_DB_NS (restricted)"
}

# k8s_values_get FILE PATH...: print values at dotted paths (merged seed file and flags are
# not needed: the secrets a seed names are all in its file).
k8s_values_get() {
  "$VENV/bin/python" - "$@" <<'EOF'
import sys, yaml
vals = yaml.safe_load(open(sys.argv[1])) or {}
for path in sys.argv[2:]:
    cur = vals
    for k in path.split("."):
        cur = cur.get(k) if isinstance(cur, dict) else None
    print("" if cur is None else cur)
EOF
}

# k8s_secrets NS VALUES: the Secret a seed's values name in secrets.existingSecret, with the
# key names of secrets.keys: a random JWT secret and, in external mode, the database URL.
k8s_secrets() {
  local ns=$1 f=$2 name mode kjwt kdb args
  { read -r name; read -r mode; read -r kjwt; read -r kdb; } < <(k8s_values_get "$f" secrets.existingSecret \
    database.mode secrets.keys.jwtSecret secrets.keys.databaseUrl)
  [ -n "$name" ] || return 0
  args=(--from-literal="${kjwt:-JWT_SECRET}=$(random_secret)")
  if [ "$mode" = external ]; then
    k8s_external_db || return 1
    args+=(--from-literal="${kdb:-DATABASE_URL}=$K8S_DB_URL")
  fi
  kc -n "$ns" create secret generic "$name" "${args[@]}" >/dev/null || { fail "$ns: create Secret $name"; return 1; }
  log "$ns: Secret $name with keys ${kjwt:-JWT_SECRET}${mode:+ }$([ "$mode" = external ] && echo "${kdb:-DATABASE_URL}")"
}

k8s_diagnose() { # NS: what an operator would look at first
  local ns=$1
  {
    kc -n "$ns" get pods -o wide
    kc -n "$ns" get events --sort-by=.lastTimestamp | tail -n 15
    local p
    for p in $(kc -n "$ns" get pods -o name | head -n 6); do
      echo "--- $p"
      kc -n "$ns" logs "$p" --all-containers --tail=8 2>&1
    done
  } 2>&1 | sed 's/^/        /'
}

# k8s_settle NS: wait until no pod of the release is terminating and every Deployment and
# StatefulSet has rolled out (bounded), then a short tail for the loop.
k8s_settle() {
  local ns=$1 i
  for ((i = 0; i < 180; i++)); do
    if [ -z "$(kc -n "$ns" get pods -l "app.kubernetes.io/instance=$K8S_RELEASE" \
      -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{"\n"}{end}' 2>/dev/null)" ]; then
      break
    fi
    sleep 1
  done
  local w
  for w in $(kc -n "$ns" get deploy,statefulset -l "app.kubernetes.io/instance=$K8S_RELEASE" -o name); do
    bounded 200 kubectl -n "$ns" rollout status "$w" --timeout=180s >/dev/null 2>&1 || return 1
  done
  sleep 1
}

# k8s_component_workload NS COMPONENT: deployment/<name> or statefulset/<name>
k8s_component_workload() {
  kc -n "$1" get deploy,statefulset -l "app.kubernetes.io/instance=$K8S_RELEASE,app.kubernetes.io/component=$2" \
    -o name | head -n 1
}

# k8s_check_pg NS TOPO: the bundled PostgreSQL has run for a while (after most drills) with
# no failed probe and no restart (its liveness probe once lacked -U: a kill every minute).
k8s_check_pg() {
  local ns=$1 topo=$2 pod restarts age unhealthy
  pod=$(kc -n "$ns" get pods -l app.kubernetes.io/component=postgresql -o jsonpath='{.items[0].metadata.name}')
  restarts=$(kc -n "$ns" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')
  age=$(($(date +%s) - $(date -d "$(kc -n "$ns" get pod "$pod" -o jsonpath='{.status.startTime}')" +%s)))
  unhealthy=$(kc -n "$ns" get events --field-selector "involvedObject.name=$pod,reason=Unhealthy" \
    -o jsonpath='{range .items[*]}{.message}{"\n"}{end}' 2>/dev/null | grep -c '^Liveness')
  check "$topo: bundled PostgreSQL up ${age}s: $restarts restarts, $unhealthy failed liveness probes" test "$restarts" = 0 -a "$unhealthy" = 0
}

# k8s_wait_hpa NS TOPO: an autoscaled Deployment starts with 1 pod until its HPA scales it
# to minReplicas (its first sync, up to ~15 s): the drills need those replicas.
k8s_wait_hpa() {
  local ns=$1 topo=$2 h target min i ready
  for h in $(kc -n "$ns" get hpa -o name 2>/dev/null); do
    target=$(kc -n "$ns" get "$h" -o jsonpath='{.spec.scaleTargetRef.name}')
    min=$(kc -n "$ns" get "$h" -o jsonpath='{.spec.minReplicas}')
    for ((i = 0; i < 90; i++)); do
      ready=$(kc -n "$ns" get deploy "$target" -o jsonpath='{.status.readyReplicas}' 2>/dev/null)
      [ "${ready:-0}" -ge "${min:-1}" ] && break
      sleep 1
    done
    check "$topo: $h scaled deploy/$target to minReplicas $min (ready: ${ready:-0}, after ${i}s)" test "${ready:-0}" -ge "${min:-1}"
  done
}

K8S_REV_UP=0
# k8s_drill_action NS TOPO DRILL: perform one drill's action (the loop runs around it).
k8s_drill_action() {
  local ns=$1 topo=$2 drill=$3 w pod
  local helm_args=(-n "$ns" --wait --timeout 5m)
  case "$drill" in
  upgrade-config)
    K8S_REV_UP=$((K8S_REV_UP + 1))
    helm upgrade "$K8S_RELEASE" "$REPO_ROOT/deploy/helm/todo" --reuse-values \
      --set-string "config.extra.DRILL_REVISION=$K8S_REV_UP" "${helm_args[@]}"
    ;;
  upgrade-image)
    local cur next
    cur=$(helm get values "$K8S_RELEASE" -n "$ns" -o json | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["image"]["tag"])')
    next=$K8S_TAG2
    [ "$cur" = "$K8S_TAG2" ] && next=$K8S_TAG
    helm upgrade "$K8S_RELEASE" "$REPO_ROOT/deploy/helm/todo" --reuse-values --set "image.tag=$next" "${helm_args[@]}"
    ;;
  rollback) helm rollback "$K8S_RELEASE" "${helm_args[@]}" ;;
  rolling-backend)
    # A strategy change alone does not roll pods; the restart after it rolls the backend
    # with a surge pod beside the old one on the same RWO volume (one node).
    helm upgrade "$K8S_RELEASE" "$REPO_ROOT/deploy/helm/todo" --reuse-values --set backend.strategy.type=RollingUpdate \
      --set backend.strategy.rollingUpdate.maxSurge=1 --set backend.strategy.rollingUpdate.maxUnavailable=0 "${helm_args[@]}" &&
      w=$(k8s_component_workload "$ns" backend) && kc -n "$ns" rollout restart "$w" &&
      bounded 200 kubectl -n "$ns" rollout status "$w" --timeout=180s
    ;;
  restart-*)
    w=$(k8s_component_workload "$ns" "${drill#restart-}")
    [ -n "$w" ] || { echo "no workload for component ${drill#restart-}"; return 1; }
    kc -n "$ns" rollout restart "$w" && bounded 200 kubectl -n "$ns" rollout status "$w" --timeout=180s
    ;;
  delete-*)
    pod=$(kc -n "$ns" get pods -l "app.kubernetes.io/instance=$K8S_RELEASE,app.kubernetes.io/component=${drill#delete-}" \
      --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')
    [ -n "$pod" ] || { echo "no running pod of ${drill#delete-}"; return 1; }
    kc -n "$ns" delete pod "$pod" --wait=false && bounded 120 kubectl -n "$ns" wait --for=delete "pod/$pod" --timeout=100s
    ;;
  *)
    echo "unknown drill $drill"
    return 1
    ;;
  esac
}

# k8s_drill NS TOPO BASE DRILL[:gap]: one drill under the request loop; records the counts.
k8s_drill() {
  local ns=$1 topo=$2 base=$3 spec=$4 drill=${4%%:*} gap=0 t0=$SECONDS
  [ "$spec" != "$drill" ] && gap=1
  local dir out stopf pid rc
  dir="$(k8s_work)/$topo"
  out="$dir/drill-$drill.json"
  stopf="$dir/drill-$drill.stop"
  rm -f "$out" "$stopf"
  "$VENV/bin/python" "$DEPLOY_TESTS_DIR/k8s/drill.py" "$base" --state "$dir/flow.json" --out "$out" \
    --name "$topo/$drill" --stop-file "$stopf" --max-seconds 400 >"$dir/drill-$drill.log" 2>&1 &
  pid=$!
  sleep 1 # requests before the action: the loop itself works
  k8s_drill_action "$ns" "$topo" "$drill" >"$dir/action-$drill.log" 2>&1
  rc=$?
  k8s_settle "$ns" || rc=1
  touch "$stopf"
  local i
  for ((i = 0; i < 300 && $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0) == 1; i++)); do sleep 0.1; done
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [ "$rc" != 0 ]; then
    fail "$topo: drill $drill: the action failed"
    sed 's/^/        /' "$dir/action-$drill.log" | tail -n 15
    k8s_diagnose "$ns"
  fi
  if [ ! -s "$out" ]; then
    fail "$topo: drill $drill: the request loop wrote no result"
    sed 's/^/        /' "$dir/drill-$drill.log" | tail -n 5
    return
  fi
  local summary verdict
  summary=$("$VENV/bin/python" - "$out" "$gap" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
gap = sys.argv[2] == "1"
backend_only = all(f["request"].startswith(("GET /api/{user}", "POST /api/{user}")) for f in r["failures"])
ok = r["requests"] >= 20 and r["writes_missing"] == [] and (
    r["failed"] == 0 or (gap and backend_only and r["fail_window_s"] <= 30))
what = ", ".join(f"{k} {v['failed']}/{v['requests']}" for k, v in r["per_request"].items() if v["failed"])
note = f" in a {r['fail_window_s']} s window (Recreate gap: {what})" if r["failed"] and gap else (f" ({what})" if what else "")
print(("PASS" if ok else "FAIL") + "|" + f"{r['requests']} requests in {r['seconds']} s, {r['failed']} failed{note}, slowest {r['slowest_s']} s; "
      f"{r['writes_acknowledged']} writes acknowledged, missing: {r['writes_missing'] if r['writes_missing'] else 0}")
print("|".join(str(r[k]) for k in ("requests", "failed", "fail_window_s", "slowest_s")))
EOF
  )
  verdict=$(sed -n 1p <<<"$summary")
  local counts
  counts=$(sed -n 2p <<<"$summary")
  K8S_DRILLS+=("$(printf '%-12s %-26s %6s %6s %8s %5ss' "$topo" "$drill$([ $gap = 1 ] && echo ' (gap)')" \
    "$(cut -d'|' -f1 <<<"$counts")" "$(cut -d'|' -f2 <<<"$counts")" "$(cut -d'|' -f4 <<<"$counts")s" "$((SECONDS - t0))")")
  if [ "${verdict%%|*}" = PASS ]; then
    pass "$topo: drill $drill: ${verdict#*|}"
  else
    fail "$topo: drill $drill: ${verdict#*|}"
    "$VENV/bin/python" -c 'import json,sys; [print("        ", f) for f in json.load(open(sys.argv[1]))["failures"][:8]]' "$out"
  fi
}

# k8s_failed_test NS TOPO DIR: what a user sees when `helm test` fails: with the backend
# scaled to 0, the backend's test fails, and its pod stays with the healthcheck's error in its
# log (no hook-failed policy) for `kubectl logs`. Then the pod is removed as NOTES.txt says and
# the backend scaled back. One topology runs it (K8S_FAILED_TEST_TOPOLOGY).
K8S_FAILED_TEST_TOPOLOGY=uploads
k8s_failed_test() {
  local ns=$1 topo=$2 dir=$3 w n t rc phase logs sel="app.kubernetes.io/instance=$K8S_RELEASE"
  w=$(k8s_component_workload "$ns" backend)
  n=$(kc -n "$ns" get "$w" -o jsonpath='{.spec.replicas}')
  t=$(helm get hooks "$K8S_RELEASE" -n "$ns" 2>/dev/null | sed -n 's/^  name: \(.*-backend-test\)$/\1/p' | head -n 1)
  [ -n "$w" ] && [ -n "$t" ] || { fail "$topo: failing helm test: no backend workload or test hook"; return; }
  kc -n "$ns" scale "$w" --replicas=0 >/dev/null &&
    bounded 120 kubectl -n "$ns" wait --for=delete pod -l "$sel,app.kubernetes.io/component=backend" --timeout=100s >/dev/null 2>&1
  bounded 150 helm test "$K8S_RELEASE" -n "$ns" --filter "name=$t" --hide-notes --timeout 2m >"$dir/helm-test-failing.txt" 2>&1
  rc=$?
  phase=$(kc -n "$ns" get pod "$t" -o jsonpath='{.status.phase}' 2>/dev/null)
  logs=$(kc -n "$ns" logs "pod/$t" 2>&1 | head -n 1)
  if [ "$rc" != 0 ] && [ "$phase" = Failed ] && grep -q "^healthcheck: http://" <<<"$logs"; then
    pass "$topo: a failing helm test (backend scaled to 0) exits $rc and keeps pod/$t ($phase) with its log: $logs"
  else
    fail "$topo: a failing helm test: exit $rc, pod/$t phase '${phase:-gone}', log: ${logs:-none}"
    sed 's/^/        /' "$dir/helm-test-failing.txt" | tail -n 8
  fi
  kc -n "$ns" delete pod -l "$sel,app.kubernetes.io/component=test" --wait --timeout=60s >/dev/null 2>&1
  kc -n "$ns" scale "$w" --replicas="${n:-1}" >/dev/null
  bounded 200 kubectl -n "$ns" rollout status "$w" --timeout=180s >/dev/null 2>&1 || fail "$topo: $w back to ${n:-1} replicas"
}

# k8s_leftovers NS: after `helm uninstall --wait`, what is left must be exactly what the docs
# say is kept: objects annotated helm.sh/resource-policy=keep (data PVCs, the bundled
# PostgreSQL's password Secret, a hostPath PV) and the StatefulSet's data PVC; no pod, also no
# helm test pod (they passed, so hook-succeeded deleted them). The Secrets this harness made
# itself and what Kubernetes makes are ignored.
k8s_leftovers() {
  local ns=$1 manifest=$2 dir i
  dir=$(dirname "$manifest")
  # `helm uninstall --wait` waits for the objects it deleted; their pods go a little later
  # (preStop sleep, drain). Give them that time, bounded.
  for ((i = 0; i < 90; i++)); do
    [ -z "$(kc -n "$ns" get pods -l "app.kubernetes.io/instance=$K8S_RELEASE" -o name 2>/dev/null)" ] && break
    sleep 1
  done
  {
    kc -n "$ns" get all,configmap,secret,pvc,networkpolicy,poddisruptionbudget,horizontalpodautoscaler,serviceaccount,ingress,role,rolebinding \
      -o go-template='{{range .items}}{{.kind}}/{{.metadata.name}}{{"\n"}}{{end}}'
    kc get pv -o go-template='{{range .items}}{{if .spec.claimRef}}{{if eq .spec.claimRef.namespace "'"$ns"'"}}PersistentVolume/{{.metadata.name}}{{"\n"}}{{end}}{{end}}{{end}}'
  } 2>/dev/null | sort -u >"$dir/left.txt"
  kc -n "$ns" get secret -l todo.k8s-test/harness=1 -o go-template='{{range .items}}Secret/{{.metadata.name}}{{"\n"}}{{end}}' \
    >"$dir/harness.txt" 2>/dev/null
  "$VENV/bin/python" - "$manifest" "$dir/left.txt" "$dir/harness.txt" <<'EOF'
import sys, yaml
manifest, left, harness = sys.argv[1:4]
got = {l.strip() for l in open(left) if l.strip()}
harness = {l.strip() for l in open(harness) if l.strip()}
docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
kept = {f'{d["kind"]}/{d["metadata"]["name"]}' for d in docs
        if (d["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") == "keep"}
for d in docs:
    if d["kind"] == "StatefulSet":
        for t in d["spec"].get("volumeClaimTemplates", []):
            kept.add(f'PersistentVolumeClaim/{t["metadata"]["name"]}-{d["metadata"]["name"]}-0')
ignored = {"ConfigMap/kube-root-ca.crt", "ServiceAccount/default"}  # made by Kubernetes
pvs = {g for g in got if g.startswith("PersistentVolume/")}  # bound to the kept claims
# The helm test pods are not exempt: a passing test's pod deletes itself (hook-succeeded).
extra = sorted(got - kept - ignored - harness - pvs)
missing = sorted(k for k in kept if k not in got)
print("kept: " + ", ".join(sorted((kept & got) | pvs)))
if extra:
    print("UNEXPECTED: " + ", ".join(extra))
if missing:
    print("MISSING (documented as kept): " + ", ".join(missing))
sys.exit(1 if extra or missing else 0)
EOF
}

# k8s_cleanup NS: what docs/deploy-kubernetes.md "Removing" says, then nothing may remain.
k8s_cleanup() {
  local ns=$1 i pvs
  pvs=$(kc get pv -o go-template='{{range .items}}{{if .spec.claimRef}}{{if eq .spec.claimRef.namespace "'"$ns"'"}}{{.metadata.name}} {{end}}{{end}}{{end}}' 2>/dev/null)
  bounded 150 kubectl delete namespace "$ns" --wait --timeout=140s >/dev/null 2>&1
  # Kept hostPath PVs (Retain) are deleted by hand, as the docs say; provisioned ones go by themselves.
  local pv
  for pv in $pvs; do
    if [ "$(kc get pv "$pv" -o jsonpath='{.spec.persistentVolumeReclaimPolicy}' 2>/dev/null)" = Retain ]; then
      kc delete pv "$pv" --wait=false >/dev/null 2>&1
    fi
  done
  for ((i = 0; i < 60; i++)); do
    local left=""
    kc get namespace "$ns" >/dev/null 2>&1 && left="namespace"
    for pv in $pvs; do kc get pv "$pv" >/dev/null 2>&1 && left="$left pv/$pv"; done
    [ -z "$left" ] && { echo "PASS|$ns: namespace and its volumes gone after the documented clean-up"; return 0; }
    sleep 1
  done
  echo "FAIL|$ns: still there after cleanup: $left"
}

# k8s_mcp NS TOPO BASE DIR: an MCP client's round trip (k8s/mcp_flow.py) through the
# NodePort (the web role proxies /mcp to the backend), and, when the release runs the
# mcp-server component, straight to its Service (kubectl port-forward, bounded).
k8s_mcp() {
  local ns=$1 topo=$2 base=$3 dir=$4 svc port pf i
  if bounded 60 python3 "$DEPLOY_TESTS_DIR/k8s/mcp_flow.py" "$base/mcp" --state "$dir/flow.json" \
    --api "$base" >"$dir/mcp-flow.txt" 2>&1; then
    pass "$topo: $(cat "$dir/mcp-flow.txt")"
  else
    fail "$topo: MCP through NodePort $K8S_NODEPORT: $(tail -n 3 "$dir/mcp-flow.txt")"
  fi
  svc=$(kc -n "$ns" get svc -l "app.kubernetes.io/instance=$K8S_RELEASE,app.kubernetes.io/component=mcp-server" \
    -o jsonpath='{.items[0].metadata.name}:{.items[0].spec.ports[0].port}' 2>/dev/null)
  [ -n "${svc%:}" ] || return 0
  port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  timeout 120 kubectl -n "$ns" port-forward "svc/${svc%%:*}" "$port:${svc##*:}" >"$dir/mcp-port-forward.txt" 2>&1 &
  pf=$!
  for ((i = 0; i < 50; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/ready" && break
    sleep 0.2
  done
  if bounded 60 python3 "$DEPLOY_TESTS_DIR/k8s/mcp_flow.py" "http://127.0.0.1:$port/mcp" \
    --state "$dir/flow.json" >"$dir/mcp-server-flow.txt" 2>&1; then
    pass "$topo: the mcp-server Service ${svc%%:*}:${svc##*:} (role mcp): $(cat "$dir/mcp-server-flow.txt")"
  else
    fail "$topo: MCP at the mcp-server Service ${svc%%:*}: $(tail -n 3 "$dir/mcp-server-flow.txt")"
  fi
  kill "$pf" 2>/dev/null
  wait "$pf" 2>/dev/null
}

# k8s_chat NS TOPO BASE DIR: the assistant's round trip (k8s/chat_flow.py, the offline
# assistant) through the NodePort, and, when the release runs the ai-agent component, straight
# to its Service (kubectl port-forward, bounded): the agent role calling its tools on the MCP
# server, which runs them against the database.
k8s_chat() {
  local ns=$1 topo=$2 base=$3 dir=$4 svc port pf i
  if bounded 60 python3 "$DEPLOY_TESTS_DIR/k8s/chat_flow.py" "$base" --state "$dir/flow.json" \
    >"$dir/chat-flow.txt" 2>&1; then
    pass "$topo: $(cat "$dir/chat-flow.txt")"
  else
    fail "$topo: chat through NodePort $K8S_NODEPORT: $(tail -n 3 "$dir/chat-flow.txt")"
  fi
  svc=$(kc -n "$ns" get svc -l "app.kubernetes.io/instance=$K8S_RELEASE,app.kubernetes.io/component=ai-agent" \
    -o jsonpath='{.items[0].metadata.name}:{.items[0].spec.ports[0].port}' 2>/dev/null)
  [ -n "${svc%:}" ] || return 0
  port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  timeout 120 kubectl -n "$ns" port-forward "svc/${svc%%:*}" "$port:${svc##*:}" >"$dir/chat-port-forward.txt" 2>&1 &
  pf=$!
  for ((i = 0; i < 50; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/ready" && break
    sleep 0.2
  done
  if bounded 60 python3 "$DEPLOY_TESTS_DIR/k8s/chat_flow.py" "http://127.0.0.1:$port" \
    --state "$dir/flow.json" --api "$base" >"$dir/agent-chat-flow.txt" 2>&1; then
    pass "$topo: the ai-agent Service ${svc%%:*}:${svc##*:} (role agent, tools over MCP): $(cat "$dir/agent-chat-flow.txt")"
  else
    fail "$topo: chat at the ai-agent Service ${svc%%:*}: $(tail -n 3 "$dir/agent-chat-flow.txt")"
  fi
  kill "$pf" 2>/dev/null
  wait "$pf" 2>/dev/null
}

# k8s_topology LINE: everything for one topology.
k8s_topology() {
  local name seed drills extra how
  IFS='|' read -r name seed drills extra how <<<"$1"
  # The script loads images with kube-local's load-image.sh: only on kube-local.
  [ "$how" = script ] && [ -n "${K8S_LOAD_IMAGE:-}" ] && how=helm
  local ns="$K8S_NS_PREFIX-$name" dir seedf
  dir="$(k8s_work)/$name"
  seedf="$REPO_ROOT/deploy/helm/todo/ci/$seed"
  rm -rf "$dir"
  mkdir -p "$dir"
  k8s_phase_start "$name: install"
  k8s_namespace "$ns" "environment=$(k8s_values_get "$seedf" config.environment)" || { fail "$ns: namespace"; k8s_phase_end; return; }
  k8s_secrets "$ns" "$seedf" || { k8s_phase_end; return; }
  kc -n "$ns" label secret --all todo.k8s-test/harness=1 >/dev/null 2>&1
  # Values for this cluster on top of the seed's: the loaded images, the NodePort on
  # 127.0.0.1, the PostgreSQL stand-in, a hostPath the node can write (this machine).
  local kl=(--set "image.tag=$K8S_TAG" --set image.pullPolicy=Never
    --set frontend.service.nodePort=$K8S_NODEPORT
    --set "database.postgresql.image.repository=$K8S_PG_REPO" --set-string database.postgresql.image.tag=15
    --set database.postgresql.image.pullPolicy=Never)
  # Nothing leaves this machine, and the harness's Secrets hold no provider key: a seed that
  # names a model provider (000: openai, 004: groq) runs the offline assistant here, which is
  # what the chat round trip (k8s_chat) checks. The provider's rendering is checked offline by
  # the chart step (check_rendered.py).
  case "$(k8s_values_get "$seedf" config.llm.provider)" in
  "" | None | offline) ;;
  *) kl+=(--set config.llm.provider=offline) ;;
  esac
  if [ "$(k8s_values_get "$seedf" persistence.uploads.hostPath.enabled)" = True ]; then
    local hp="$dir/hostpath-uploads"
    install -d -o 10001 -g 10001 "$hp"
    kl+=(--set "persistence.uploads.hostPath.path=$hp")
  fi
  local t0=$SECONDS rc
  if [ "$how" = script ]; then
    # shellcheck disable=SC2086
    NAMESPACE=$ns RELEASE=$K8S_RELEASE CLUSTER=kube-local KUBE_LOCAL=$KUBE_LOCAL \
      bounded 900 bash "$REPO_ROOT/deploy/minikube-deploy.sh" -f "$seedf" "${kl[@]}" $extra >"$dir/helm-install.txt" 2>&1
    rc=$?
    kc -n "$ns" label secret todo-jwt todo.k8s-test/harness=1 >/dev/null 2>&1
  else
    # shellcheck disable=SC2086
    bounded 400 helm install "$K8S_RELEASE" "$REPO_ROOT/deploy/helm/todo" -n "$ns" -f "$seedf" "${kl[@]}" $extra \
      --wait --timeout 5m >"$dir/helm-install.txt" 2>&1
    rc=$?
  fi
  if [ "$rc" != 0 ]; then
    fail "$name: $([ "$how" = script ] && echo "deploy/minikube-deploy.sh" || echo "helm install --wait")"
    sed 's/^/        /' "$dir/helm-install.txt" | tail -n 20
    k8s_diagnose "$ns"
    k8s_phase_end
    k8s_uninstall "$name" "$ns" "$dir"
    return
  fi
  pass "$name: $([ "$how" = script ] && echo "deploy/minikube-deploy.sh (CLUSTER=kube-local)" || echo "helm install --wait"): all pods Ready in $((SECONDS - t0))s (namespace $ns, restricted)"
  if grep -qi 'PodSecurity\|would violate' "$dir/helm-install.txt"; then
    fail "$name: Pod Security warnings on install"
    grep -i 'PodSecurity\|would violate' "$dir/helm-install.txt" | head -n 5 | sed 's/^/        /'
  else
    pass "$name: no Pod Security (restricted) warning, no pod refused"
  fi
  helm get manifest "$K8S_RELEASE" -n "$ns" >"$dir/manifest.yaml"
  k8s_wait_hpa "$ns" "$name"
  kc -n "$ns" get pods -o wide >"$dir/pods.txt" 2>&1
  k8s_phase_end

  k8s_phase_start "$name: API, helm test"
  local base="http://127.0.0.1:$K8S_NODEPORT"
  local flow_ok=0
  # Ready pods can precede kube-proxy's NodePort rule by a moment (on a busy node, seconds):
  # wait for the frontend's /ready through the NodePort. Only the NodePort may lag here: the
  # frontend is Ready only once it has reached the backend through the backend's Service
  # (the web role's /ready, src/web/proxy.c), so the first sign-up below must not get 502.
  # (It used to: /ready was local, the backend's ClusterIP rules came ~1 s after its pod was
  # Ready, and a sign-up in that second got "Couldn't connect to server". /api/health does
  # not tell: the web role answers it itself.)
  wait_http "$base/ready" 30 || log "$name: $base/ready not 200 after 30 s"
  if bounded 60 python3 "$DEPLOY_TESTS_DIR/api_flow.py" "$base" --state "$dir/flow.json" >"$dir/api-flow.txt" 2>&1; then
    pass "$name: API contract through NodePort $K8S_NODEPORT on 127.0.0.1: $(cat "$dir/api-flow.txt")"
    flow_ok=1
  else
    fail "$name: API contract through NodePort $K8S_NODEPORT: $(tail -n 3 "$dir/api-flow.txt")"
    k8s_diagnose "$ns"
  fi
  [ "$flow_ok" = 1 ] && k8s_mcp "$ns" "$name" "$base" "$dir"
  [ "$flow_ok" = 1 ] && k8s_chat "$ns" "$name" "$base" "$dir"
  if [ "$how" = script ]; then
    cp "$dir/helm-install.txt" "$dir/helm-test.txt" # the script ran helm test
  else
    # No --logs: a passing test's pod is deleted at once (hook-succeeded), before Helm 3's
    # --logs reads it (helm/helm#9098). A failing one stays, and its log is shown below.
    bounded 200 helm test "$K8S_RELEASE" -n "$ns" --hide-notes --timeout 3m >"$dir/helm-test.txt" 2>&1 || echo "rc=$?" >>"$dir/helm-test.txt"
  fi
  # Every test hook of the manifest ran and passed, and none of their pods is left.
  local want suites left
  want=$(helm get hooks "$K8S_RELEASE" -n "$ns" 2>/dev/null | "$VENV/bin/python" -c 'import sys, yaml
print(" ".join(sorted(d["metadata"]["name"] for d in yaml.safe_load_all(sys.stdin)
                      if d and (d["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test")))')
  suites=$(sed -n 's/^TEST SUITE: *\([^ ]*\)$/\1/p' "$dir/helm-test.txt" | LC_ALL=C sort | tr '\n' ' ')
  left=$(kc -n "$ns" get pods -l app.kubernetes.io/component=test -o name 2>/dev/null | tr '\n' ' ')
  if ! grep -q '^rc=' "$dir/helm-test.txt" && [ -n "$want" ] && [ "${suites% }" = "$want" ] &&
    [ "$(grep -c 'Phase: *Succeeded' "$dir/helm-test.txt")" = "$(wc -w <<<"$want")" ] &&
    ! grep -q 'Phase: *Failed' "$dir/helm-test.txt" && [ -z "$left" ]; then
    pass "$name: helm test: $want succeeded, their pods deleted (hook-succeeded)"
  else
    fail "$name: helm test (want $want succeeded and their pods gone; suites: ${suites:-none}; pods left: ${left:-none})"
    sed 's/^/        /' "$dir/helm-test.txt" | tail -n 15
    kc -n "$ns" logs -l app.kubernetes.io/component=test --prefix --tail=10 2>&1 | sed 's/^/        /'
  fi
  local pg
  pg=$(kc -n "$ns" get pods -l app.kubernetes.io/component=postgresql -o jsonpath='{.items[*].status.containerStatuses[*].restartCount}' 2>/dev/null)
  k8s_phase_end

  if [ "$flow_ok" = 1 ]; then
    k8s_phase_start "$name: drills"
    local d pg_checked=0
    for d in $drills; do
      if [ "$d" = "restart-postgresql:gap" ] && [ -n "$pg" ]; then
        k8s_check_pg "$ns" "$name"
        pg_checked=1
      fi
      k8s_drill "$ns" "$name" "$base" "$d"
    done
    [ -n "$pg" ] && [ "$pg_checked" = 0 ] && k8s_check_pg "$ns" "$name"
    helm history "$K8S_RELEASE" -n "$ns" >"$dir/helm-history.txt" 2>&1
    if bounded 30 python3 "$DEPLOY_TESTS_DIR/api_flow.py" "$base" --list-only "$dir/flow.json" >/dev/null 2>&1; then
      pass "$name: the task created at install is still listed after every drill"
    else
      fail "$name: the task created at install is gone after the drills"
    fi
    k8s_phase_end
  fi
  [ "$name" = "$K8S_FAILED_TEST_TOPOLOGY" ] && k8s_failed_test "$ns" "$name" "$dir"
  if [ -n "$(kc -n "$ns" get events --field-selector reason=FailedCreate -o name 2>/dev/null)" ]; then
    fail "$name: pods were refused (FailedCreate events; Pod Security?)"
    kc -n "$ns" get events --field-selector reason=FailedCreate 2>&1 | tail -n 5 | sed 's/^/        /'
  fi
  k8s_uninstall "$name" "$ns" "$dir"
}

k8s_uninstall() {
  local name=$1 ns=$2 dir=$3
  k8s_phase_start "$name: uninstall"
  [ -s "$dir/manifest.yaml" ] || helm get manifest "$K8S_RELEASE" -n "$ns" >"$dir/manifest.yaml" 2>/dev/null
  if bounded 200 helm uninstall "$K8S_RELEASE" -n "$ns" --wait --timeout 3m >"$dir/helm-uninstall.txt" 2>&1; then
    pass "$name: helm uninstall --wait"
  else
    fail "$name: helm uninstall --wait: $(tail -n 2 "$dir/helm-uninstall.txt")"
  fi
  # The rest waits on terminating pods and namespace deletion: it runs beside the next
  # topology (another namespace) and reports at the end (k8s_collect).
  (
    local out
    if out=$(k8s_leftovers "$ns" "$dir/manifest.yaml"); then
      echo "PASS|$name: after uninstall only the documented objects are left ($out)"
    else
      echo "FAIL|$name: after uninstall: ${out//$'\n'/; }"
    fi
    [ -n "${K8S_KEEP:-}" ] || k8s_cleanup "$ns"
  ) >"$dir/cleanup.result" 2>&1 8>&- &
  K8S_BG+=($!)
  K8S_BG_RESULTS+=("$dir/cleanup.result")
  k8s_phase_end
}

# k8s_collect: wait for the background checks and clean-ups (each bounded) and report them.
K8S_BG=()
K8S_BG_RESULTS=()
k8s_collect() {
  [ ${#K8S_BG[@]} -gt 0 ] || return 0
  k8s_phase_start "uninstall checks, clean-up"
  local p f line
  for p in "${K8S_BG[@]}"; do wait "$p"; done
  for f in "${K8S_BG_RESULTS[@]}"; do
    while IFS= read -r line; do
      case "$line" in
      PASS\|*) pass "${line#PASS|}" ;;
      FAIL\|*) fail "${line#FAIL|}" ;;
      *) [ -n "$line" ] && printf '        %s\n' "$line" ;;
      esac
    done <"$f"
  done
  K8S_BG=()
  K8S_BG_RESULTS=()
  k8s_phase_end
}

step_k8s() {
  local t_all=$SECONDS
  mkdir -p "$(k8s_work)"
  # One cluster, one NodePort 30000, fixed namespaces: runs from several checkouts on one
  # machine take turns (bounded) instead of tearing down each other's cluster.
  exec 8>"${K8S_LOCK:-/tmp/todo-k8s-test.lock}"
  if ! flock -n 8; then
    log "another make k8s-test runs on this machine: waiting for it (at most 60 min)"
    flock -w 3600 8 || { fail "another make k8s-test held ${K8S_LOCK:-/tmp/todo-k8s-test.lock} for 60 min"; return 0; }
  fi
  # Interrupted: still take down the cluster this run started.
  trap 'k8s_cluster_down; exit 130' INT TERM
  k8s_phase_start "tools"
  k8s_tools || { k8s_phase_end; return 0; }
  k8s_cluster_up || { k8s_phase_end; k8s_cluster_down; return 0; }
  k8s_stale || { k8s_phase_end; k8s_cluster_down; return 0; }
  k8s_phase_end
  k8s_phase_start "images (build, load)"
  if ! k8s_images; then
    k8s_phase_end
    k8s_cluster_down
    return 0
  fi
  k8s_phase_end
  local line name want=" ${K8S_TOPOLOGIES:-} "
  for line in "${K8S_TOPOLOGY_TABLE[@]}"; do
    name=${line%%|*}
    if [ -n "${K8S_TOPOLOGIES:-}" ] && [[ "$want" != *" $name "* ]]; then continue; fi
    k8s_topology "$line"
  done
  k8s_collect
  if [ -n "${K8S_DB_URL:-}" ] && [ -z "${K8S_KEEP:-}" ]; then
    bounded 150 kubectl delete namespace "$K8S_DB_NS" --wait --timeout=140s >/dev/null 2>&1 || fail "delete namespace $K8S_DB_NS"
  fi
  k8s_cluster_down
  printf '\nk8s phases:\n'
  printf '  %s\n' "${K8S_PHASES[@]}"
  printf '  %-28s %4ss\n' "k8s-test total" "$((SECONDS - t_all))"
  printf '\nrollout drills (requests, failed requests, slowest request, drill duration):\n'
  printf '  %-12s %-26s %6s %6s %8s %6s\n' topology drill total failed slowest time
  printf '  %s\n' "${K8S_DRILLS[@]}"
  trap - INT TERM
  exec 8>&-
}
