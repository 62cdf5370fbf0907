#!/usr/bin/env bash
# Builds the guest initramfs: the agent as /init, busybox (mke2fs for volumes formatted on
# first use, ip for interface set-up), and the kernel modules of modules.txt with their
# dependencies, listed in load order (dependencies first) in /lib/modules/load.order.
#
#   mkinitramfs.sh MODULES_DIR AGENT BUSYBOX OUTPUT
set -euo pipefail
moddir=$1 agent=$2 busybox=$3 output=$4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,mnt,etc,lib/modules}
install -m 0755 "$agent" "$root/init"
install -m 0755 "$busybox" "$root/bin/busybox"
# Device nodes the kernel needs before devtmpfs is mounted (console for early messages).
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

declare -A seen=()
order=()
# Resolve dependencies depth-first so each module comes after everything it needs.
visit() {
  local rel=$1
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  local line deps d
  line=$(grep -E "^${rel//./\\.}:" "$moddir/modules.dep" || true)
  deps=${line#*:}
  for d in $deps; do visit "$d"; done
  order+=("$rel")
}
while read -r name; do
  case "$name" in '' | '#'*) continue ;; esac
  rel=$(grep -E "/${name}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1 | cut -d: -f1 || true)
  if [ -z "$rel" ]; then
    if grep -qE "/${name}\.ko" "$moddir/modules.builtin" 2>/dev/null; then continue; fi
    echo "mkinitramfs: module $name not found in $moddir" >&2
    exit 1
  fi
  visit "$rel"
done < "$here/modules.txt"

: > "$root/lib/modules/load.order"
for rel in "${order[@]}"; do
  base=$(basename "$rel")
  case "$base" in
    *.ko) cp "$moddir/$rel" "$root/lib/modules/$base" ;;
    *.ko.xz) xz -dc "$moddir/$rel" > "$root/lib/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$moddir/$rel" > "$root/lib/modules/${base%.zst}"; base=${base%.zst} ;;
    *) echo "mkinitramfs: unknown module format $rel" >&2; exit 1 ;;
  esac
  echo "$base" >> "$root/lib/modules/load.order"
done

# Reproducible archive: fixed order and timestamps.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --reproducible --quiet) |
  zstd -q -19 -T1 > "$output.tmp"
mv "$output.tmp" "$output"
