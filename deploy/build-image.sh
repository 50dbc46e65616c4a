#!/usr/bin/env bash
# Build the todo image from deploy/docker/Dockerfile and tag it todo:X.Y.Z-<short sha>
# and todo:X.Y.Z (the seeds' tag rule).
#
#   bash deploy/build-image.sh                 # what `make image` runs
#   CONTAINER_ENGINE=docker bash deploy/build-image.sh
#
# Env: CONTAINER_ENGINE (docker|podman; default: podman if installed, else docker),
#      IMAGE_REPOSITORY (default todo), TODO_CI_CACHE / CONTAINERS_CONF (podman, see
#      tests/deploy/). With podman and no debian:bookworm-slim in local storage, the base
#      image is made locally with debootstrap (tests/deploy/base-image.sh) - nothing is
#      pulled. Prints the image reference (todo:X.Y.Z-sha) on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v podman >/dev/null 2>&1; then engine=podman; else engine=docker; fi
fi
repo=${IMAGE_REPOSITORY:-todo}
version=$(tr -d ' \n' <VERSION)
sha=$(git rev-parse --short=7 HEAD 2>/dev/null || echo nogit)
source_url=$(git config --get remote.origin.url 2>/dev/null || true)
case "$source_url" in *@*) source_url="" ;; esac # never leak credentials or ssh addresses

args=(build -f deploy/docker/Dockerfile
  --build-arg "VERSION=$version" --build-arg "REVISION=$sha" --build-arg "SOURCE=$source_url")
# Extra CA certificates for npm inside the build (TLS-inspecting proxies): the host's
# bundle when it carries local additions, or TODO_BUILD_CA_BUNDLE (podman only: mounted
# for the build's RUN steps, not copied into the image).
ca_bundle=${TODO_BUILD_CA_BUNDLE:-}
if [ -z "$ca_bundle" ] && ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1 &&
  [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  ca_bundle=/etc/ssl/certs/ca-certificates.crt
fi
if [ "$engine" = podman ]; then
  [ -n "$ca_bundle" ] && args+=(-v "$ca_bundle:/run/build-ca/ca-bundle.crt:ro")
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/tests/deploy/containers.conf}
  if ! podman image exists debian:bookworm-slim; then
    bash "$root/tests/deploy/base-image.sh"
  fi
  # docker format keeps HEALTHCHECK (OCI image config has no such field).
  args+=(--format docker --layers)
fi
echo "[image] $engine ${args[*]} -t $repo:$version-$sha -t $repo:$version ." >&2
"$engine" "${args[@]}" -t "$repo:$version-$sha" -t "$repo:$version" .
if [ "$engine" = podman ]; then
  # Name the build stage too: it keeps its layers (apt, toolchain) out of
  # `podman image prune`, so pruning old images never costs the build cache.
  "$engine" "${args[@]}" --target build -t "$repo-build-cache:latest" . >/dev/null
fi
echo "$repo:$version-$sha"
