#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser/).  Playwright for
# Python drives it through executable_path; Playwright never downloads a
# browser.  Idempotent: does nothing when /usr/bin/chromium is there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# apt-get needs root: as a normal user, sudo without a password prompt (-n),
# so a test session never hangs waiting for one.
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version 2>/dev/null || true
