#!/usr/bin/env bash
# Build the image into Minikube, install/upgrade the Helm release, wait, print the URL.
#
#   bash deploy/minikube-deploy.sh                 # what `make minikube-deploy` runs
#   bash deploy/minikube-deploy.sh -f my-values.yaml --set frontend.replicaCount=2
#
# Extra arguments go to `helm upgrade --install`. Env: NAMESPACE (todo), RELEASE (todo),
# IMAGE_REPOSITORY (todo), BUILD_MODE (minikube: `minikube image build`; load: build with
# CONTAINER_ENGINE (docker/podman) then `minikube image load`).
# The JWT secret is generated once and kept in the Secret todo-jwt (never in a file).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

NAMESPACE=${NAMESPACE:-todo}
RELEASE=${RELEASE:-todo}
REPO=${IMAGE_REPOSITORY:-todo}
BUILD_MODE=${BUILD_MODE:-minikube}
for cmd in minikube kubectl helm; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "minikube-deploy: $cmd is required (see docs/deploy-kubernetes.md)" >&2; exit 1; }
done
minikube status >/dev/null 2>&1 || { echo "minikube-deploy: start Minikube first: minikube start --cpus=2 --memory=4g" >&2; exit 1; }

version=$(tr -d ' \n' <VERSION)
sha=$(git rev-parse --short=7 HEAD 2>/dev/null || echo nogit)
tag="$version-$sha"

echo "==> building $REPO:$tag into Minikube ($BUILD_MODE)"
if [ "$BUILD_MODE" = minikube ]; then
  minikube image build -f deploy/docker/Dockerfile \
    --build-opt="build-arg=VERSION=$version" --build-opt="build-arg=REVISION=$sha" \
    -t "$REPO:$tag" .
else
  IMAGE_REPOSITORY=$REPO bash deploy/build-image.sh >/dev/null
  minikube image load "$REPO:$tag"
fi
minikube image ls | grep -q "$REPO:$tag" || { echo "minikube-deploy: $REPO:$tag is not in Minikube's image store" >&2; exit 1; }

echo "==> namespace $NAMESPACE and the JWT secret"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
if ! kubectl -n "$NAMESPACE" get secret todo-jwt >/dev/null 2>&1; then
  kubectl -n "$NAMESPACE" create secret generic todo-jwt \
    --from-literal=JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
fi

echo "==> helm upgrade --install $RELEASE"
helm upgrade --install "$RELEASE" deploy/helm/todo -n "$NAMESPACE" --create-namespace \
  --set image.repository="$REPO" --set image.tag="$tag" --set image.pullPolicy=Never \
  --set secrets.existingSecret=todo-jwt \
  --wait --timeout 5m "$@"

echo "==> rollout"
for d in $(kubectl -n "$NAMESPACE" get deploy -l "app.kubernetes.io/instance=$RELEASE" -o name); do
  kubectl -n "$NAMESPACE" rollout status "$d" --timeout=180s
done

svc=$(kubectl -n "$NAMESPACE" get svc -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=frontend" \
  -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)
type=$(kubectl -n "$NAMESPACE" get svc "$svc" -o jsonpath='{.spec.type}' 2>/dev/null || true)
if [ "$type" = NodePort ]; then
  port=$(kubectl -n "$NAMESPACE" get svc "$svc" -o jsonpath='{.spec.ports[0].nodePort}')
  echo "todo is up: http://$(minikube ip):$port/   (or: minikube service $svc -n $NAMESPACE --url)"
elif [ -n "$svc" ]; then
  echo "todo is up: kubectl -n $NAMESPACE port-forward svc/$svc 3000:3000, then http://127.0.0.1:3000/"
fi
echo "check it: helm test $RELEASE -n $NAMESPACE"
