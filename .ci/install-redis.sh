#!/usr/bin/env bash
# Install Debian's redis-server, which tests/store and tests/dpop start on a free
# loopback port (never as a system service).  The same binary runs the Sentinels
# of tests/store (`redis-server sentinel.conf --sentinel`) and the Redis Cluster
# nodes (cluster-enabled), and redis-cli creates the cluster: Debian's
# redis-sentinel package (a service wrapper around this binary) is not needed.  Idempotent: nothing to do when
# redis-server is already on PATH.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    echo "install-redis: using $(redis-server --version | cut -d' ' -f1-3)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
else
    SUDO=""
fi
echo "install-redis: redis-server not found; installing Debian's redis-server" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends: the binary only; the tests never use the packaged service.
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
command -v redis-server >/dev/null 2>&1 || { echo "install-redis: redis-server is still missing" >&2; exit 1; }
echo "install-redis: installed $(redis-server --version | cut -d' ' -f1-3)"
