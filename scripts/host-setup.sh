#!/usr/bin/env bash
# Prepares this host for h8s, idempotently: Debian packages, npm packages, then every step in
# scripts/setup.d/ (guest kernel, kubectl 1.20, ...) in name order. Both README commands and
# .ci/run call it; running it twice changes nothing the second time.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "host-setup: must run as root (installs packages, needs /dev/kvm, netns, nftables)" >&2
  exit 1
fi

packages=(
  ca-certificates curl
  # build tools for native npm addons and the static guest agent
  gcc make libc6-dev python3
  # runtimes and VM tooling
  qemu-system-x86 qemu-utils runc conmon busybox-static cpio kmod zstd xz-utils e2fsprogs erofs-utils
  # networking
  iproute2 nftables socat iputils-ping
  # stores, registry, image tools
  etcd-server etcd-client docker-registry skopeo apache2-utils
  # test drivers
  tmux procps psmisc util-linux
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "host-setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian packages of etcd and docker-registry start system services on install where an
# init system runs; tests start their own instances on their own ports, so stop those.
for svc in etcd docker-registry; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
done

# npm packages: install when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "host-setup: npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi

mkdir -p .cache
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  bash "$step"
done
echo "host-setup: ready"
