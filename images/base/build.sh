#!/usr/bin/env bash
# Builds Wrenn's base sandbox image: a Debian bookworm root filesystem from Debian packages.
#   images/base/build.sh <target-dir>
# Builds into a temporary dir and renames it into place only when complete, so a crash never
# leaves a half-built image that looks finished.
set -euo pipefail

RECIPE_VERSION=2
target=${1:?usage: build.sh <target-dir>}
suite=${WRENN_IMAGE_SUITE:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)

# The mirror the host itself uses (deb822 .sources or classic sources.list), else Debian's.
mirror=${WRENN_IMAGE_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

packages=$(grep -vE '^\s*(#|$)' "$here/packages.txt" | paste -sd, -)
mkdir -p "$(dirname "$target")"
# Several agents (or test runs) on one host may start at once: one builds, the others wait for
# it and find the image made.
exec 9>"$target.lock"
flock 9
if [ -f "$target/etc/wrenn-image.json" ]; then
  echo "base image already built at $target" >&2
  exit 0
fi
tmp="$target.tmp.$$"
trap 'rm -rf "$tmp"' EXIT

echo "building base image from $mirror ($suite, minbase + $packages)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$tmp" "$mirror" >&2

# Sandboxes get their own hostname, resolv.conf and /proc at start; keep the image neutral.
echo "wrenn" > "$tmp/etc/hostname"
: > "$tmp/etc/resolv.conf"
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
# The unprivileged account commands run as by default (E2B's SDKs expect "user").
chroot "$tmp" useradd --create-home --shell /bin/bash --uid 1000 --user-group user
# Mount points the runtime binds into every sandbox (read-only Node binary, envd bundle).
mkdir -p "$tmp/opt/wrenn/bin" "$tmp/opt/wrenn/envd"
printf '{"recipe":"base","recipeVersion":%s,"suite":"%s","packages":"%s","builtAt":"%s"}\n' \
  "$RECIPE_VERSION" "$suite" "$packages" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$tmp/etc/wrenn-image.json"

rm -rf "$target"
mv "$tmp" "$target"
trap - EXIT
echo "base image ready at $target" >&2
