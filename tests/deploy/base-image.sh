#!/usr/bin/env bash
# Make sure the local podman store has debian:bookworm-slim without pulling anything.
#
# No registry but the package mirrors is reachable on CI, so the base image is built
# with debootstrap (--variant=minbase) and imported. The rootfs tarball is cached under
# $TODO_CI_CACHE (default /var/cache/todo-ci) so later runs only re-import it (~2 s).
#
# Usage: bash tests/deploy/base-image.sh        (idempotent)
# Env:   TODO_CI_CACHE, TODO_DEBIAN_MIRROR (default: the mirror in /etc/apt/sources.list*),
#        TODO_BASE_IMAGE (default debian:bookworm-slim)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/deploy/lib.sh
. "$here/lib.sh"

IMAGE=${TODO_BASE_IMAGE:-debian:bookworm-slim}
CACHE=${TODO_CI_CACHE:-/var/cache/todo-ci}
TARBALL="$CACHE/debian-bookworm-minbase.tar"

ensure_podman

if podman image exists "$IMAGE"; then
  log "base image $IMAGE already present"
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/base-image.lock"
flock -w 900 9

if [ ! -s "$TARBALL" ]; then
  need_cmd debootstrap debootstrap
  mirror=${TODO_DEBIAN_MIRROR:-}
  if [ -z "$mirror" ]; then
    # First Debian main mirror configured on this machine (deb822 or one-line format).
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
      grep -Eo 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap --variant=minbase bookworm from $mirror (one-off, cached in $TARBALL)"
  timeout 900 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
  # Slim it the way the official -slim image is slimmed: no apt lists, no caches, no docs.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian*}/debian-security bookworm-security main
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
EOF
  echo 'APT::Install-Recommends "false";' >"$rootfs/etc/apt/apt.conf.d/99no-recommends"
  tar --numeric-owner -C "$rootfs" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$rootfs"
  trap - EXIT
fi

log "importing $TARBALL as $IMAGE"
podman import -q --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$TARBALL" "$IMAGE" >/dev/null
podman image exists "$IMAGE" || die "import of $IMAGE failed"
log "base image $IMAGE ready ($(podman image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
