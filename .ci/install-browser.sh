#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser/).  Playwright for
# Python drives it through executable_path; no browser is ever downloaded by
# Playwright itself.  Idempotent: does nothing when /usr/bin/chromium exists.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
/usr/bin/chromium --version
