#!/usr/bin/env bash
# Builds the runner's base image (Debian + python3 + numpy + scipy) without any container registry:
# debootstrap makes a minimal root file system from Debian's packages, and `docker import` turns it into an image.
# Usage: docker/build-base-image.sh [TAG]      (default tag: pa5-grader-base:bookworm)
# Environment: SUITE (default bookworm), MIRROR (default: the first Debian URI in this machine's apt sources).
set -euo pipefail
tag=${1:-pa5-grader-base:bookworm}
suite=${SUITE:-bookworm}

if [ -z "${MIRROR:-}" ]; then
  # Use the mirror apt already uses here, so the script works wherever apt-get does.
  MIRROR=$(grep -hoE '^URIs:\s*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$MIRROR" ] || MIRROR=$(grep -hoE '^deb\s+\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
fi
[ -n "${MIRROR:-}" ] || { echo "no Debian mirror found in apt sources; set MIRROR" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }
command -v docker >/dev/null || { echo "docker is missing: apt-get install docker.io" >&2; exit 2; }

root=$(mktemp -d /tmp/pa5-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-numpy,python3-scipy "$suite" "$root" "$MIRROR"
# Keep the image small: no package lists, caches or docs are needed at run time.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$tag"
echo "built $tag"
