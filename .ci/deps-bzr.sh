#!/usr/bin/env bash
# Breezy (Debian's brz) for the Bazaar end-to-end tests; quick when already there.
set -euo pipefail
if command -v brz >/dev/null && /usr/bin/python3 -c 'import breezy' 2>/dev/null; then
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq brz >/dev/null
brz version --short
