#!/usr/bin/env bash
# Install Debian's nginx (nginx-light: the core with the upstream/proxy modules),
# the round-robin load balancer of tests/fleet/test_multihost.py.  The test runs
# it as a plain process (`nginx -p <tmp> -c <tmp>/nginx.conf`, `daemon off`,
# pid and logs in the temp dir, a free loopback port), never as the packaged
# service.  Idempotent: nothing to do when nginx is already on PATH.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    echo "install-lb: using $( (command -v nginx || echo /usr/sbin/nginx) | head -1)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
else
    SUDO=""
fi
echo "install-lb: nginx not found; installing Debian's nginx-light" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d: the package's postinst must not start the system service
# (containers usually have one already; one created here is removed after).
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
[ -x /usr/sbin/nginx ] || { echo "install-lb: nginx is still missing" >&2; exit 1; }
echo "install-lb: installed $(/usr/sbin/nginx -v 2>&1)"
