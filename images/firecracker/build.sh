#!/usr/bin/env bash
# Builds the Firecracker guest's root filesystem: an ext4 image of the base image (Debian from
# debootstrap, see ../base) plus envd, the Node binary that runs it and wrenn-init as PID 1.
#   images/firecracker/build.sh <target.ext4>
# Environment:
#   WRENN_ENVD_BUNDLE   envd bundle dir (default: services/envd/bundle of this repo)
#   WRENN_NODE_BINARY   Node binary copied into the guest (default: node on PATH)
#   WRENN_FC_BASE_DIR   an already built base image dir to start from instead of debootstrap
#   WRENN_FC_IMAGE_SIZE_MB  file system size (default 2048; the file is sparse)
# Builds next to the target and renames it into place only when complete.
set -euo pipefail

RECIPE_VERSION=1
target=${1:?usage: build.sh <target.ext4>}
here=$(cd "$(dirname "$0")" && pwd)
images=$(dirname "$here")
envd_bundle=${WRENN_ENVD_BUNDLE:-$images/../services/envd/bundle}
node_bin=${WRENN_NODE_BINARY:-$(command -v node)}
size_mb=${WRENN_FC_IMAGE_SIZE_MB:-2048}

[ -f "$envd_bundle/envd.js" ] || { echo "no envd bundle at $envd_bundle (run npm run build)" >&2; exit 1; }
[ -x "$node_bin" ] || { echo "no Node binary at $node_bin" >&2; exit 1; }
command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 (e2fsprogs) is required" >&2; exit 1; }

mkdir -p "$(dirname "$target")"
work=$(mktemp -d "$target.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

if [ -n "${WRENN_FC_BASE_DIR:-}" ]; then
  echo "starting from the base image at $WRENN_FC_BASE_DIR" >&2
  cp -a "$WRENN_FC_BASE_DIR" "$root"
else
  bash "$images/base/build.sh" "$root"
fi

# What the namespace runtime binds in read-only, the guest carries itself.
mkdir -p "$root/opt/wrenn/bin" "$root/opt/wrenn/envd" "$root/usr/local/sbin"
install -m 0755 "$node_bin" "$root/opt/wrenn/bin/node"
cp -a "$envd_bundle/." "$root/opt/wrenn/envd/"
install -m 0755 "$images/wrenn-init.sh" "$root/usr/local/sbin/wrenn-init"
mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp"
printf '{"recipe":"firecracker","recipeVersion":%s,"builtAt":"%s"}\n' "$RECIPE_VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$root/etc/wrenn-firecracker-image.json"

mkfs.ext4 -q -F -L wrenn-root -d "$root" "$work/rootfs.ext4" "${size_mb}M"
mv "$work/rootfs.ext4" "$target"
echo "Firecracker guest image ready at $target" >&2
