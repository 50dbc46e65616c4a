# shellcheck shell=bash
# Shared helpers for tests/deploy/*.sh (sourced, not executed).

DEPLOY_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$DEPLOY_TESTS_DIR/../.." && pwd)
TODO_CI_CACHE=${TODO_CI_CACHE:-/var/cache/todo-ci}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$DEPLOY_TESTS_DIR/containers.conf}

# Pinned tool versions (installed from the Go module proxy / PyPI, cached).
HELM_VERSION=${HELM_VERSION:-v3.16.4}
KUBE_SCORE_VERSION=${KUBE_SCORE_VERSION:-v1.20.0}
KUBERNETES_VALIDATE_VERSION=${KUBERNETES_VALIDATE_VERSION:-1.31.0}
# Kubernetes version whose official schemas the rendered objects are checked against.
KUBE_VERSION=${KUBE_VERSION:-1.31.0}
KUBE_MIN_VERSION=${KUBE_MIN_VERSION:-1.25.0} # Chart.yaml kubeVersion

log() { printf '[deploy] %s\n' "$*" >&2; }
die() {
  printf '[deploy] ERROR: %s\n' "$*" >&2
  exit 1
}

# bounded SECONDS CMD... : every wait in the harness ends by itself. `timeout -k` also KILLs
# CMD when TERM does not end it (podman run of a container whose PID 1 ignores SIGTERM).
bounded() { timeout -k 5 "$@"; }

# apt_install PKG... : install Debian packages when running as root (CI is root).
apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
    timeout 300 apt-get update -qq >/dev/null 2>&1 || true
    timeout 900 apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
  fi
}

# need_cmd CMD [PKG] : make sure CMD exists, installing PKG (default CMD) with apt.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $1 (apt: ${2:-$1})"
  apt_install "${2:-$1}"
  command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing ${2:-$1}"
}

ensure_podman() {
  if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 || ! command -v buildah >/dev/null 2>&1 ||
    [ ! -x /usr/lib/podman/netavark ] || [ ! -x /usr/lib/podman/aardvark-dns ] || ! command -v catatonit >/dev/null 2>&1; then
    log "installing podman buildah runc"
    apt_install podman buildah runc netavark aardvark-dns iptables conmon catatonit uidmap slirp4netns fuse-overlayfs
  fi
}

# ensure_go: a Go toolchain >= GO_MIN on PATH (helm, kube-score and kube-local are built from
# the Go module proxy). First the one on PATH, then the machine's /usr/local/go (a CI shell may
# not read the ~/.bashrc that puts it on PATH). With neither, Debian's golang-go (1.19, too old
# itself) fetches the toolchain module golang.org/toolchain from the module proxy - what
# GOTOOLCHAIN does in newer Go - into $TODO_CI_CACHE/go-<version>, once.
GO_MIN=${GO_MIN:-1.24}
GO_FALLBACK=${GO_FALLBACK:-go1.24.4}
go_ok() { # GO-BINARY: its version is at least GO_MIN
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  printf '%s\n%s\n' "$GO_MIN" "${v%%[-+ ]*}" | sort -V -C
}
path_prepend() { case ":$PATH:" in *":$1:"*) ;; *) export PATH="$1:$PATH" ;; esac; }
ensure_go() {
  local g dir tc="$TODO_CI_CACHE/go-$GO_FALLBACK"
  for g in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go "$tc/bin/go"; do
    if [ -n "$g" ] && [ -x "$g" ] && go_ok "$g"; then
      path_prepend "$(dirname "$g")"
      return 0
    fi
  done
  log "no Go >= $GO_MIN: fetching $GO_FALLBACK from the Go module proxy with Debian's golang-go (once)"
  [ -x /usr/lib/go/bin/go ] || apt_install golang-go
  dir=$(cd /tmp && GOFLAGS=-mod=mod timeout 900 /usr/lib/go/bin/go mod download -json \
    "golang.org/toolchain@v0.0.1-$GO_FALLBACK.linux-$(dpkg --print-architecture)" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || die "could not download the Go toolchain $GO_FALLBACK from the module proxy"
  mkdir -p "$TODO_CI_CACHE"
  rm -rf "$tc.tmp" && cp -r "$dir" "$tc.tmp" && chmod -R u+w "$tc.tmp" &&
    chmod +x "$tc.tmp"/bin/* "$tc.tmp"/pkg/tool/*/* && rm -rf "$tc" && mv "$tc.tmp" "$tc" || die "installing $GO_FALLBACK in $tc failed"
  go_ok "$tc/bin/go" || die "$tc/bin/go does not run"
  path_prepend "$tc/bin"
}

gobin() {
  command -v go >/dev/null 2>&1 || die "no go on PATH (call ensure_go first)"
  local b
  b=$(go env GOBIN)
  [ -n "$b" ] || b="$(go env GOPATH)/bin"
  printf '%s' "$b"
}

# go_tool_current BIN MODULE VERSION : true if BIN in GOBIN was built from MODULE@VERSION.
go_tool_current() {
  local bin
  bin="$(gobin)/$1"
  [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | awk '$1 == "mod" {print $2, $3}' | grep -qx "$2 $3"
}

# ensure_helm: helm $HELM_VERSION built from the Go module proxy, cached in GOBIN, with the
# same -ldflags as helm's release Makefile (version, and the default Kubernetes version
# 1.31 of its client-go, without which `helm template` assumes v1.20).
HELM_LDFLAGS="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=31 \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=31"
ensure_helm() {
  local b
  ensure_go
  b=$(gobin) || exit 1
  export PATH="$b:$PATH"
  if go_tool_current helm helm.sh/helm/v3 "$HELM_VERSION" &&
    [ "$(helm version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; then
    return 0
  fi
  log "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (first run only, ~3 min)"
  GOFLAGS=-buildvcs=false timeout 1200 go install -ldflags "$HELM_LDFLAGS" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" || die "helm build failed"
  [ "$(helm version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ] || die "helm $HELM_VERSION not installed"
}

# ensure_kube_score: the manifest linter used because kube-linter's module host
# (golang.stackrox.io) is not reachable from CI; see deploy/kube-score.yaml.
ensure_kube_score() {
  local b
  ensure_go
  b=$(gobin) || exit 1
  export PATH="$b:$PATH"
  go_tool_current kube-score github.com/zegl/kube-score "$KUBE_SCORE_VERSION" && return 0
  log "go install github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
  GOFLAGS=-buildvcs=false timeout 900 go install -ldflags "-X main.version=${KUBE_SCORE_VERSION#v}" \
    "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" || die "kube-score build failed"
  go_tool_current kube-score github.com/zegl/kube-score "$KUBE_SCORE_VERSION" || die "kube-score not installed"
}

# ensure_venv: Python venv under build/ with kubernetes-validate (ships the official schemas) and PyYAML.
ensure_venv() {
  VENV="$REPO_ROOT/build/deploy-venv"
  if [ -x "$VENV/bin/kubernetes-validate" ] &&
    "$VENV/bin/python" -c "import importlib.metadata as m,sys; sys.exit(m.version('kubernetes-validate')!='$KUBERNETES_VALIDATE_VERSION')" 2>/dev/null; then
    return 0
  fi
  log "creating $VENV (kubernetes-validate==$KUBERNETES_VALIDATE_VERSION)"
  python3 -m venv "$VENV" || { apt_install python3-venv && python3 -m venv "$VENV"; } || die "python3 venv failed"
  timeout 600 "$VENV/bin/pip" install -q --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" PyYAML || die "pip install kubernetes-validate failed"
}

# Simple pass/fail bookkeeping shared by the test scripts.
PASSED=${PASSED:-0}
FAILED=${FAILED:-0}
FAILURES=()
pass() {
  PASSED=$((PASSED + 1))
  printf '  ok    %s\n' "$*"
}
fail() {
  FAILED=$((FAILED + 1))
  FAILURES+=("$*")
  printf '  FAIL  %s\n' "$*"
}
# check NAME CMD... : run CMD, record pass/fail with NAME, keep going.
check() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    pass "$name"
  else
    fail "$name"
    printf '%s\n' "$out" | tail -n 25 | sed 's/^/        /'
  fi
}
summary() {
  if [ "${#FAILURES[@]}" -gt 0 ]; then
    printf 'failures:\n'
    printf '  - %s\n' "${FAILURES[@]}"
  fi
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
  [ "$FAILED" -eq 0 ]
}

project_version() { tr -d ' \n' <"$REPO_ROOT/VERSION"; }
short_sha() { git -C "$REPO_ROOT" rev-parse --short=7 HEAD 2>/dev/null || echo nogit; }
