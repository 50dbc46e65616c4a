#!/usr/bin/env bash
# Deployment tests: Helm chart, container image, full stack.
#
#   bash tests/deploy/run.sh              # all steps: chart image stack
#   bash tests/deploy/run.sh chart        # helm lint/schema/k8s schemas/lint (no containers)
#   bash tests/deploy/run.sh image        # build the image with podman, run it read-only
#   bash tests/deploy/run.sh stack        # PostgreSQL + backend + frontend containers
#   bash tests/deploy/run.sh k8s          # the chart on a real cluster (`make k8s-test`, k8s.sh)
#   bash tests/deploy/run.sh images       # only build the project image and the PostgreSQL
#                                         # stand-in (`make test` does it once, then runs the
#                                         # other steps with TODO_IMAGE set, side by side)
#
# Installs what it needs (apt when root, go install, a venv under build/), caches it
# (GOBIN, $TODO_CI_CACHE, podman storage) and prints "N passed, N failed" last.
# Env: TODO_CI_CACHE (default /var/cache/todo-ci), CONTAINERS_CONF, KUBE_VERSION,
#      TODO_IMAGE (image to test, default todo:<VERSION>-<sha>, built by the image step),
#      KUBECONFIG / KUBE_LOCAL / K8S_TOPOLOGIES / K8S_KEEP (step k8s, see k8s.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/deploy/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/deploy/chart.sh
. "$here/chart.sh"
# shellcheck source=tests/deploy/image.sh
. "$here/image.sh"
# shellcheck source=tests/deploy/stack.sh
. "$here/stack.sh"
# shellcheck source=tests/deploy/k8s.sh
. "$here/k8s.sh"

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(chart image stack)
start=$SECONDS
for s in "${steps[@]}"; do
  case "$s" in
  chart | image | stack | k8s | images)
    t0=$SECONDS
    printf '== %s\n' "$s"
    "step_$s"
    printf '== %s done in %ss\n' "$s" $((SECONDS - t0))
    ;;
  *)
    echo "unknown step '$s' (chart, image, stack, k8s, images)" >&2
    exit 2
    ;;
  esac
done
printf 'deploy tests took %ss\n' $((SECONDS - start))
summary
