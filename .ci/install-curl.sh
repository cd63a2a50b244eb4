#!/usr/bin/env bash
# Install Debian's curl, which tests/test_cli_dpop_guide.py runs exactly as the
# DPoP guide prints it.  Idempotent: nothing to do when curl is on PATH.
set -euo pipefail
if command -v curl >/dev/null 2>&1; then
    exit 0
fi
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends curl >/dev/null
command -v curl >/dev/null 2>&1 || { echo "install-curl: curl is still missing" >&2; exit 1; }
