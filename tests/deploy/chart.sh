# shellcheck shell=bash
# Step "chart" of tests/deploy/run.sh (sourced): helm lint, schema rejections, offline
# Kubernetes schema validation, manifest lint, and the chart's own promises.

step_chart() {
  local chart="$REPO_ROOT/deploy/helm/todo"
  local out="$REPO_ROOT/build/deploy/rendered"
  rm -rf "$out"
  mkdir -p "$out"
  log "step chart: tools"
  ensure_helm
  ensure_kube_score
  ensure_venv

  # appVersion follows the project version.
  local app
  app=$(awk -F'"' '/^appVersion:/ {print $2}' "$chart/Chart.yaml")
  if [ "$app" = "$(project_version)" ]; then pass "Chart appVersion $app = VERSION"; else fail "Chart appVersion $app != VERSION $(project_version)"; fi

  check "values.schema.json closes every object (additionalProperties)" \
    "$VENV/bin/python" "$DEPLOY_TESTS_DIR/check_schema.py" "$chart/values.schema.json"

  local f b ci_files=("$chart"/ci/*.yaml)
  [ -e "${ci_files[0]}" ] || { fail "no ci/*.yaml values files"; return; }

  log "step chart: helm lint --strict and render, one per ci/*.yaml"
  for f in "${ci_files[@]}"; do
    b=$(basename "$f" .yaml)
    check "helm lint --strict -f ci/$b.yaml" helm lint --strict "$chart" -f "$f"
    if helm template todo "$chart" -n todo -f "$f" >"$out/$b.yaml" 2>"$out/$b.err"; then
      pass "helm template -f ci/$b.yaml"
    else
      fail "helm template -f ci/$b.yaml"
      sed 's/^/        /' "$out/$b.err"
    fi
    # As rendered for a cluster at the chart's kubeVersion floor (no preStop sleep action there).
    mkdir -p "$out/floor"
    helm template todo "$chart" -n todo -f "$f" --kube-version "$KUBE_MIN_VERSION" >"$out/floor/$b.yaml" 2>/dev/null ||
      fail "helm template --kube-version $KUBE_MIN_VERSION -f ci/$b.yaml"
  done
  check "helm package" helm package "$chart" -d "$REPO_ROOT/build/deploy"

  log "step chart: invalid values must be rejected"
  local exp rule msg schema
  for f in "$DEPLOY_TESTS_DIR"/invalid/*.yaml; do
    b=$(basename "$f")
    exp=$(sed -n 's/^# expect: //p' "$f")
    rule=$(sed -n 's/^# rule: //p' "$f")
    schema=yes
    grep -q '^# schema: no' "$f" && schema=no
    if msg=$(helm template todo "$chart" -f "$f" 2>&1); then
      fail "invalid/$b accepted ($rule)"
    elif [ "$schema" = yes ] && ! grep -q "values don't meet the specifications of the schema" <<<"$msg"; then
      fail "invalid/$b rejected, but not by values.schema.json"
      printf '%s\n' "$msg" | head -5 | sed 's/^/        /'
    elif [ -n "$exp" ] && ! grep -qF -- "$exp" <<<"$msg"; then
      fail "invalid/$b rejected, but the error does not mention '$exp'"
      printf '%s\n' "$msg" | head -8 | sed 's/^/        /'
    else
      pass "invalid/$b rejected: $rule"
    fi
    # (helm lint reports template `fail` calls only as INFO, so lint is checked for schema rules.)
    if [ "$schema" = yes ] && helm lint --strict "$chart" -f "$f" >/dev/null 2>&1; then
      fail "helm lint accepted invalid/$b"
    fi
  done

  log "step chart: config changes roll the pods (checksum annotations)"
  local base="$chart/ci/seed-001-two-tier-nodeport.yaml" c1 c2
  c1=$(helm template todo "$chart" -f "$base" | grep -m1 'checksum/config' || true)
  c2=$(helm template todo "$chart" -f "$base" --set config.logLevel=ERROR | grep -m1 'checksum/config' || true)
  if [ -n "$c1" ] && [ "$c1" != "$c2" ]; then pass "checksum/config changes with the config"; else fail "checksum/config does not follow the ConfigMap"; fi
  # A generated database password is random when no live Secret exists (install, template):
  # the checksums must not hash it, or the first upgrade restarts the database and every pod.
  local pgv="$chart/ci/seed-004-replicas-postgresql.yaml"
  c1=$(helm template todo "$chart" -f "$pgv" | grep 'checksum/' || true)
  c2=$(helm template todo "$chart" -f "$pgv" | grep 'checksum/' || true)
  if [ -n "$c1" ] && [ "$c1" = "$c2" ]; then pass "checksum annotations are stable across renders (no generated secret hashed)"; else
    fail "checksum annotations differ between two renders of the same values (a random value is hashed)"
  fi

  log "step chart: no values at all (issue 14): a generated JWT secret, metrics on their own port"
  local dflt="$out/../no-values.yaml"
  if helm template todo "$chart" -n todo >"$dflt" 2>"$dflt.err"; then
    pass "helm template with no values renders"
  else
    fail "helm template with no values fails: $(head -3 "$dflt.err")"
  fi
  check "helm lint --strict with no values" helm lint --strict "$chart"
  check "no values: JWT secret generated into the Secret, every role reads it, metrics wired" \
    "$VENV/bin/python" - "$dflt" <<'PY'
import base64, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sec = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "todo-secrets"]
assert sec, "no Secret todo-secrets"
jwt = base64.b64decode(sec[0]["data"]["JWT_SECRET"]).decode()
assert len(jwt) >= 32, f"generated JWT secret too short: {len(jwt)}"
cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "todo-config")
assert cm["data"].get("METRICS_PORT") == "9090", cm["data"]
for d in docs:
    if d["kind"] != "Deployment":
        continue
    pod = d["spec"]["template"]
    ann = pod["metadata"].get("annotations", {})
    assert ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9090", ann
    c = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in c.get("env", [])}
    ref = env["JWT_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "todo-secrets" and ref["key"] == "JWT_SECRET", ref
    assert any(p["name"] == "metrics" and p["containerPort"] == 9090 for p in c["ports"]), c["ports"]
for d in docs:
    if d["kind"] == "Ingress":
        for r in d["spec"]["rules"]:
            for p in r["http"]["paths"]:
                assert not p["path"].startswith("/metrics"), "the ingress routes /metrics"
print("ok")
PY
  # Two renders without a cluster generate two secrets, but the pods' checksum must not move.
  c1=$(helm template todo "$chart" -n todo | grep '^  JWT_SECRET: ' || true)
  c2=$(helm template todo "$chart" -n todo | grep '^  JWT_SECRET: ' || true)
  if [ -n "$c1" ] && [ "$c1" != "$c2" ]; then pass "without a live Secret the JWT secret is random per install"; else fail "the generated JWT secret is not random"; fi
  c1=$(helm template todo "$chart" -n todo | grep 'checksum/secret' | sort -u)
  c2=$(helm template todo "$chart" -n todo | grep 'checksum/secret' | sort -u)
  if [ -n "$c1" ] && [ "$c1" = "$c2" ]; then pass "checksum/secret does not hash the generated JWT secret"; else fail "checksum/secret changes between renders"; fi
  # The generated secret is read back from the live Secret (lookup) on upgrades.
  if grep -q 'lookup "v1" "Secret"' "$chart/templates/_helpers.tpl" &&
    grep -q 'todo.jwtSecretValue' "$chart/templates/secret.yaml"; then
    pass "the JWT secret is looked up from the live Secret before one is generated"
  else
    fail "no lookup of the live Secret for the JWT secret"
  fi
  if helm template todo "$chart" -n todo --set metrics.serviceMonitor.enabled=true |
    grep -q 'kind: ServiceMonitor'; then
    pass "metrics.serviceMonitor.enabled renders a ServiceMonitor"
  else
    fail "metrics.serviceMonitor.enabled renders no ServiceMonitor"
  fi
  if helm template todo "$chart" -n todo --set metrics.enabled=false | grep -q 'METRICS_PORT\|prometheus.io'; then
    fail "metrics.enabled=false still exposes metrics"
  else
    pass "metrics.enabled=false exposes no metrics port"
  fi

  # The chart's kubeVersion floor and a current release.
  local kv dir
  for kv in "$KUBE_MIN_VERSION" "$KUBE_VERSION"; do
    log "step chart: Kubernetes $kv official schemas (kubernetes-validate, offline, strict)"
    dir=$out
    [ "$kv" = "$KUBE_MIN_VERSION" ] && dir=$out/floor
    for f in "$dir"/*.yaml; do
      b=$(basename "$f" .yaml)
      check "k8s $kv schemas: ci/$b.yaml" "$VENV/bin/kubernetes-validate" --strict --quiet -k "$kv" "$f"
    done
  done
  # The validator must actually reject things (guards against a vacuous pass).
  cat >"$out/../known-bad.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  replicas: two
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: x:1, imagePullPolice: Always}]
EOF
  if "$VENV/bin/kubernetes-validate" --strict --quiet -k "$KUBE_VERSION" "$out/../known-bad.yaml" >/dev/null 2>&1; then
    fail "kubernetes-validate accepted a known-bad Deployment"
  else
    pass "kubernetes-validate rejects a known-bad Deployment"
  fi

  log "step chart: manifest lint (kube-score; exceptions justified in deploy/kube-score.yaml)"
  local ignores=() t
  while read -r t; do ignores+=(--ignore-test "$t"); done < <(
    "$VENV/bin/python" -c 'import sys,yaml; print("\n".join(yaml.safe_load(open(sys.argv[1]))["ignore"]))' \
      "$REPO_ROOT/deploy/kube-score.yaml")
  for f in "$out"/*.yaml; do
    b=$(basename "$f" .yaml)
    check "kube-score: ci/$b.yaml" kube-score score --kubernetes-version v1.31 --exit-one-on-warning \
      --enable-optional-test container-seccomp-profile --enable-optional-test container-ports-check \
      "${ignores[@]}" -o ci "$f"
  done
  if command -v kube-linter >/dev/null 2>&1; then
    for f in "$out"/*.yaml; do
      b=$(basename "$f" .yaml)
      check "kube-linter: ci/$b.yaml" kube-linter lint --config "$REPO_ROOT/deploy/kube-linter.yaml" "$f"
    done
  else
    log "kube-linter not on PATH (its module host is not reachable here): kube-score only"
  fi

  log "step chart: NOTES.txt renders, docs name only real values"
  local nc="$REPO_ROOT/build/deploy/notes-chart"
  rm -rf "$nc"
  cp -r "$chart" "$nc"
  mv "$nc/templates/NOTES.txt" "$nc/NOTES.txt"
  echo 'notes: {{ tpl (.Files.Get "NOTES.txt") . | toJson }}' >"$nc/templates/zz-notes.yaml"
  for f in "${ci_files[@]}"; do
    b=$(basename "$f" .yaml)
    if helm template todo "$nc" -n todo -f "$f" --show-only templates/zz-notes.yaml 2>/dev/null |
      "$VENV/bin/python" -c 'import sys,yaml; n=yaml.safe_load(sys.stdin)["notes"]; sys.exit(0 if "port-forward" in n and "helm test" in n else 1)'; then
      pass "NOTES.txt renders for ci/$b.yaml"
    else
      fail "NOTES.txt does not render for ci/$b.yaml"
    fi
  done
  local notes_py='import sys,yaml; n=yaml.safe_load(sys.stdin)["notes"]; want=sys.argv[1]; sys.exit(0 if (want[1:] not in n if want[0]=="!" else want in n) else 1)'
  if helm template todo "$nc" -n todo --show-only templates/zz-notes.yaml 2>/dev/null |
    "$VENV/bin/python" -c "$notes_py" "generated at install into Secret todo-secrets"; then
    pass "NOTES.txt says where the generated JWT secret is"
  else
    fail "NOTES.txt does not say where the generated JWT secret is"
  fi
  if helm template todo "$nc" -n todo --set database.mode=postgresql --set backend.replicaCount=2 \
    --show-only templates/zz-notes.yaml 2>/dev/null | "$VENV/bin/python" -c "$notes_py" "ReadWriteMany"; then
    pass "NOTES.txt warns when several backend replicas have no ReadWriteMany uploads volume"
  else
    fail "NOTES.txt does not warn about uploads without ReadWriteMany for 2 replicas"
  fi
  if helm template todo "$nc" -n todo --set database.mode=postgresql --set backend.replicaCount=2 \
    --set persistence.uploads.enabled=true --set 'persistence.uploads.accessModes={ReadWriteMany}' \
    --show-only templates/zz-notes.yaml 2>/dev/null | "$VENV/bin/python" -c "$notes_py" "!WARNING: uploads"; then
    pass "NOTES.txt has no uploads warning with a ReadWriteMany volume"
  else
    fail "NOTES.txt warns about uploads although the volume is ReadWriteMany"
  fi
  check "docs/deploy-kubernetes.md, minikube-deploy.sh and NOTES.txt name only chart values" \
    "$VENV/bin/python" "$DEPLOY_TESTS_DIR/check_docs.py" "$chart/values.schema.json" \
    "$REPO_ROOT/docs/deploy-kubernetes.md" "$REPO_ROOT/deploy/minikube-deploy.sh" "$chart/templates/NOTES.txt"
  # The exact flags deploy/minikube-deploy.sh passes must render.
  check "minikube-deploy.sh's helm flags render" helm template todo "$chart" -n todo \
    --set image.repository=todo --set image.tag="$(project_version)-abc1234" --set image.pullPolicy=Never \
    --set secrets.existingSecret=todo-jwt

  log "step chart: the chart's promises on every rendering"
  for f in "${ci_files[@]}"; do
    b=$(basename "$f" .yaml)
    [ -s "$out/$b.yaml" ] || continue
    check "promises: ci/$b.yaml" "$VENV/bin/python" "$DEPLOY_TESTS_DIR/check_rendered.py" "$out/$b.yaml" "$f"
  done
  # The mcp-server behind the ingress (/mcp must reach it, not the backend), named by
  # config.mcpServerName, on seed 003's external database and on seed 004's bundled one.
  local seed mixed
  for seed in seed-003-four-services seed-004-replicas-postgresql; do
    mixed="$out/$seed-mcp-ingress.values.yaml"
    "$VENV/bin/python" -c 'import sys,yaml; v=yaml.safe_load(open(sys.argv[1])); v["ingress"]={"enabled": True}; v["mcpServer"]={**v.get("mcpServer", {}), "enabled": True}; v.setdefault("config", {})["mcpServerName"]="todo-mcp"; yaml.safe_dump(v, open(sys.argv[2], "w"))' "$chart/ci/$seed.yaml" "$mixed"
    if helm template todo "$chart" -n todo -f "$mixed" >"$out/$seed-mcp-ingress.yaml" 2>"$out/$seed-mcp-ingress.err"; then
      check "promises: ci/$seed.yaml with mcpServer, ingress and config.mcpServerName (/mcp to the mcp-server)" \
        "$VENV/bin/python" "$DEPLOY_TESTS_DIR/check_rendered.py" "$out/$seed-mcp-ingress.yaml" "$mixed"
    else
      fail "helm template -f ci/$seed.yaml with mcpServer and ingress enabled"
      sed 's/^/        /' "$out/$seed-mcp-ingress.err"
    fi
  done
}
