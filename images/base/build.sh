#!/usr/bin/env bash
# Builds Wrenn's base sandbox image: a Debian bookworm root filesystem from Debian packages.
#   images/base/build.sh <target-dir>
# Builds into <target-dir>.tmp and renames it into place only when complete, so a crash never
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
tmp="$target.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$target")"

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
echo "base image ready at $target" >&2
