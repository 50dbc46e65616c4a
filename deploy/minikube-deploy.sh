#!/usr/bin/env bash
# Build the image into the cluster, install/upgrade the Helm release, wait, test, print the URL.
#
#   bash deploy/minikube-deploy.sh                 # what `make minikube-deploy` runs
#   bash deploy/minikube-deploy.sh -f my-values.yaml --set frontend.replicaCount=2
#   CLUSTER=kube-local bash deploy/minikube-deploy.sh   # the kube-local cluster (what make k8s-test uses)
#
# Extra arguments go to `helm upgrade --install`. Env: NAMESPACE (todo), RELEASE (todo),
# IMAGE_REPOSITORY (todo), CLUSTER (minikube | kube-local), BUILD_MODE (minikube only:
# minikube = `minikube image build`; load = build with CONTAINER_ENGINE then `minikube image
# load`), KUBE_LOCAL (kube-local's directory, default /work/shared/kube-local).
# Steps: image into the cluster, namespace labelled for the restricted Pod Security Standard,
# a JWT secret generated once and kept in the Secret todo-jwt (never in a file), helm upgrade
# --install --wait, rollout status, helm test, the URL.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

NAMESPACE=${NAMESPACE:-todo}
RELEASE=${RELEASE:-todo}
REPO=${IMAGE_REPOSITORY:-todo}
CLUSTER=${CLUSTER:-minikube}
BUILD_MODE=${BUILD_MODE:-minikube}
KUBE_LOCAL=${KUBE_LOCAL:-/work/shared/kube-local}
need() { command -v "$1" >/dev/null 2>&1 || { echo "minikube-deploy: $1 is required (see docs/deploy-kubernetes.md)" >&2; exit 1; }; }
case "$CLUSTER" in
minikube)
  for cmd in minikube kubectl helm; do need "$cmd"; done
  minikube status >/dev/null 2>&1 || { echo "minikube-deploy: start Minikube first: minikube start --cpus=2 --memory=4g" >&2; exit 1; }
  ;;
kube-local)
  export KUBECONFIG=${KUBECONFIG:-${KUBE_LOCAL_DIR:-/tmp/kube}/conf/admin.kubeconfig}
  export PATH="${KUBE_LOCAL_DIR:-/tmp/kube}/bin:$PATH"
  for cmd in kubectl helm podman; do need "$cmd"; done
  kubectl get --raw /readyz >/dev/null 2>&1 || { echo "minikube-deploy: start kube-local first: bash $KUBE_LOCAL/up.sh" >&2; exit 1; }
  ;;
*) echo "minikube-deploy: CLUSTER must be minikube or kube-local" >&2; exit 2 ;;
esac

version=$(tr -d ' \n' <VERSION)
sha=$(git rev-parse --short=7 HEAD 2>/dev/null || echo nogit)
tag="$version-$sha"

how=$CLUSTER
[ "$CLUSTER" = minikube ] && how="minikube, $BUILD_MODE"
echo "==> building $REPO:$tag into the cluster ($how)"
if [ "$CLUSTER" = kube-local ]; then
  IMAGE_REPOSITORY=$REPO bash deploy/build-image.sh >/dev/null
  bash "$KUBE_LOCAL/load-image.sh" "$REPO:$tag"
elif [ "$BUILD_MODE" = minikube ]; then
  minikube image build -f deploy/docker/Dockerfile \
    --build-opt="build-arg=VERSION=$version" --build-opt="build-arg=REVISION=$sha" \
    -t "$REPO:$tag" .
else
  IMAGE_REPOSITORY=$REPO bash deploy/build-image.sh >/dev/null
  minikube image load "$REPO:$tag"
fi
if [ "$CLUSTER" = minikube ]; then
  minikube image ls | grep -q "$REPO:$tag" || { echo "minikube-deploy: $REPO:$tag is not in Minikube's image store" >&2; exit 1; }
fi

echo "==> namespace $NAMESPACE (Pod Security: restricted) and the JWT secret"
kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl create namespace "$NAMESPACE" >/dev/null
kubectl label namespace "$NAMESPACE" --overwrite >/dev/null \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
if ! kubectl -n "$NAMESPACE" get secret todo-jwt >/dev/null 2>&1; then
  kubectl -n "$NAMESPACE" create secret generic todo-jwt \
    --from-literal=JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
fi

echo "==> helm upgrade --install $RELEASE"
helm upgrade --install "$RELEASE" deploy/helm/todo -n "$NAMESPACE" \
  --set image.repository="$REPO" --set image.tag="$tag" --set image.pullPolicy=Never \
  --set secrets.existingSecret=todo-jwt \
  --wait --timeout 5m "$@"

echo "==> rollout"
for d in $(kubectl -n "$NAMESPACE" get deploy -l "app.kubernetes.io/instance=$RELEASE" -o name); do
  kubectl -n "$NAMESPACE" rollout status "$d" --timeout=180s
done

# Without --logs: a passing test's pod is deleted at once (hook-succeeded), before Helm 3's
# --logs would read it (helm/helm#9098). A failing one stays: its log is printed here.
echo "==> helm test $RELEASE"
if ! helm test "$RELEASE" -n "$NAMESPACE" --hide-notes --timeout 3m; then
  kubectl -n "$NAMESPACE" logs -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=test" \
    --prefix --tail=20 >&2 || true
  exit 1
fi

svc=$(kubectl -n "$NAMESPACE" get svc -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=frontend" \
  -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)
type=$(kubectl -n "$NAMESPACE" get svc "$svc" -o jsonpath='{.spec.type}' 2>/dev/null || true)
if [ "$type" = NodePort ]; then
  port=$(kubectl -n "$NAMESPACE" get svc "$svc" -o jsonpath='{.spec.ports[0].nodePort}')
  host=127.0.0.1
  [ "$CLUSTER" = minikube ] && host=$(minikube ip)
  # Ready pods can precede the NodePort's forwarding rule by a moment: wait for it (bounded).
  # The frontend's /ready passes only once it has reached the backend.
  for _ in $(seq 1 60); do
    curl -fsS -m 2 -o /dev/null "http://$host:$port/ready" 2>/dev/null && break
    sleep 0.5
  done
  if [ "$CLUSTER" = kube-local ]; then
    echo "todo is up: http://$host:$port/"
  else
    echo "todo is up: http://$host:$port/   (or: minikube service $svc -n $NAMESPACE --url)"
  fi
elif [ -n "$svc" ]; then
  echo "todo is up: kubectl -n $NAMESPACE port-forward svc/$svc 3000:3000, then http://127.0.0.1:3000/"
fi
