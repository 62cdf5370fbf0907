#!/usr/bin/env bash
# Unpacks Debian's kubectl 1.20 (package kubernetes-client) into .cache/kubectl-1.20/ for the
# API server's e2e tests, which run it beside the versioned kubectl binaries of the image.
# It is never installed: `apt-get download` fetches the .deb, `dpkg-deb -x` unpacks it.
# Idempotent: does nothing when the binary is already there and runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

dest=.cache/kubectl-1.20
bin="$dest/usr/bin/kubectl"
if [ -x "$bin" ] && "$bin" version --client >/dev/null 2>&1; then
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tmp"
  if ! apt-get download kubernetes-client >/dev/null 2>&1; then
    apt-get update -qq
    apt-get download kubernetes-client >/dev/null
  fi
)
deb="$(ls "$tmp"/kubernetes-client_*.deb)"
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$deb" "$dest"
"$bin" version --client
echo "setup: kubectl 1.20 unpacked into $dest"
