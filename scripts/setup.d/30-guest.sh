#!/usr/bin/env bash
# Guest kernel + initramfs for the hyper runtime (docs/hyper-runtime.md), idempotent and cached.
#
#   .cache/guest/kernel/<version>/   Debian's linux-image-<version>-cloud-amd64, unpacked (never installed)
#   .cache/guest/build-<hash>/       vmlinuz, initrd.img, manifest.json (inputs and hashes)
#   .cache/guest/current             symlink to the build the runtime uses
#
# The build hash covers the kernel version, the guest agent sources, the initramfs script and the
# busybox binary, so a rebuild happens only when an input changes. The kernel version is resolved
# through the linux-image-cloud-amd64 meta package (Debian 12); set H8S_GUEST_KERNEL_VERSION to pin one.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
cache="$repo/.cache/guest"
mkdir -p "$cache/kernel"

# musl gives a small static agent; the build falls back to glibc static when it is missing.
if ! dpkg-query -W -f='${Status}' musl-tools 2>/dev/null | grep -q 'install ok installed'; then
  echo "30-guest: installing musl-tools"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends musl-tools >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends musl-tools >/dev/null; } ||
    echo "30-guest: musl-tools unavailable; building the agent against glibc (static NSS cannot resolve user names)" >&2
fi

# 1. Resolve the kernel version.
version="${H8S_GUEST_KERNEL_VERSION:-}"
if [ -z "$version" ]; then
  dep=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}' || true)
  if [ -z "$dep" ]; then
    apt-get update -qq || true
    dep=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}' || true)
  fi
  if [ -n "$dep" ]; then
    version=${dep#linux-image-}
  else
    # Offline: use the newest kernel already in the cache.
    version=$(ls -1 "$cache/kernel" 2>/dev/null | sort -V | tail -1 || true)
  fi
fi
if [ -z "$version" ]; then
  echo "30-guest: cannot resolve the guest kernel version (apt-cache depends linux-image-cloud-amd64 found nothing)" >&2
  exit 1
fi

# 2. Fetch and unpack it (apt-get download + dpkg-deb -x: never installed on the host).
kdir="$cache/kernel/$version"
if [ ! -f "$kdir/.complete" ]; then
  echo "30-guest: fetching linux-image-$version"
  tmp=$(mktemp -d "$cache/.dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -q "linux-image-$version" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  deb=$(ls "$tmp"/linux-image-"$version"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    echo "30-guest: apt-get download linux-image-$version failed" >&2
    exit 1
  fi
  rm -rf "$kdir"
  mkdir -p "$tmp/x"
  dpkg-deb -x "$deb" "$tmp/x"
  # modules.dep is generated at install time by depmod; generate it in the unpacked tree.
  depmod -b "$tmp/x" "$version"
  mkdir -p "$kdir"
  cp "$tmp/x/boot/vmlinuz-$version" "$kdir/vmlinuz"
  cp "$tmp/x/boot/config-$version" "$kdir/config"
  mv "$tmp/x/lib/modules/$version" "$kdir/modules"
  sha256sum "$deb" | awk '{print $1}' > "$kdir/deb.sha256"
  touch "$kdir/.complete"
  rm -rf "$tmp"
  trap - EXIT
fi

# 3. Build the agent and the initramfs when an input changed.
busybox=$(command -v busybox || echo /bin/busybox)
inputs=$( {
  echo "kernel $version $(cat "$kdir/deb.sha256")"
  echo "busybox $(sha256sum "$busybox" | awk '{print $1}')"
  echo "cc $(command -v musl-gcc || echo gcc)"
  find guest -type f \( -name '*.c' -o -name '*.h' -o -name Makefile -o -name '*.sh' -o -name '*.txt' \) \
    -not -path 'guest/build/*' | LC_ALL=C sort | xargs sha256sum
} )
hash=$(printf '%s\n' "$inputs" | sha256sum | cut -c1-16)
out="$cache/build-$hash"
if [ ! -f "$out/.complete" ]; then
  echo "30-guest: building guest $hash (kernel $version)"
  make -s -C guest clean >/dev/null
  make -s -C guest
  rm -rf "$out"
  mkdir -p "$out"
  bash guest/mkinitramfs.sh "$kdir/modules" guest/build/h8s-agent "$busybox" "$out/initrd.img"
  cp "$kdir/vmlinuz" "$out/vmlinuz"
  agent_sha=$(sha256sum guest/build/h8s-agent | awk '{print $1}')
  cat > "$out/manifest.json" <<JSON
{
  "schema": 1,
  "buildHash": "$hash",
  "kernelVersion": "$version",
  "kernelPackage": "linux-image-$version",
  "kernelDebSha256": "$(cat "$kdir/deb.sha256")",
  "vmlinuz": "vmlinuz",
  "vmlinuzSha256": "$(sha256sum "$out/vmlinuz" | awk '{print $1}')",
  "initrd": "initrd.img",
  "initrdSha256": "$(sha256sum "$out/initrd.img" | awk '{print $1}')",
  "agentSha256": "$agent_sha",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
JSON
  touch "$out/.complete"
fi
ln -sfn "build-$hash" "$cache/current.tmp"
mv -T "$cache/current.tmp" "$cache/current"

# Keep the three newest builds; older ones are unreferenced.
ls -1dt "$cache"/build-* 2>/dev/null | tail -n +4 | xargs -r rm -rf
echo "30-guest: guest ready ($cache/current -> build-$hash, kernel $version)"
