#!/usr/bin/env bash
# Host set-up for the image service (src/images): `setfattr` from Debian's `attr` package, used to
# write layer xattrs (SCHILY.xattr PAX records) and overlayfs opaque-directory markers, which
# Node has no API for. Idempotent: installs only when missing.
set -euo pipefail
if ! dpkg-query -W -f='${Status}' attr 2>/dev/null | grep -q 'install ok installed'; then
  echo "setup.d/15-images: installing attr"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends attr >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends attr >/dev/null
  }
fi
