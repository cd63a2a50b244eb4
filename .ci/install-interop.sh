#!/usr/bin/env bash
# Install the independent OpenID Connect provider (panva's oidc-provider) that
# tests/interop runs on loopback, and panva's dpop client library, both pinned in
# tests/interop/provider/package-lock.json.
# Idempotent: npm ci only when node_modules does not match the lock file.
set -euo pipefail
cd "$(dirname "$0")/../tests/interop/provider"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install-interop: node/npm not found; installing Debian's nodejs and npm" >&2
    export DEBIAN_FRONTEND=noninteractive
    # apt-get needs root: as a normal user, sudo without a password prompt (-n),
    # so a test session never hangs waiting for one.
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq nodejs npm >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "install-interop: node is still missing" >&2; exit 1; }
echo "install-interop: using node $(node --version), npm $(npm --version)"

# npm ci records the lock file it installed from in node_modules/.package-lock.json;
# skip the reinstall when that copy still matches (same resolved tree).
if [ -f node_modules/.package-lock.json ] && [ -d node_modules/oidc-provider ] \
    && [ -d node_modules/dpop ] \
    && node -e '
        const fs = require("fs");
        const want = JSON.parse(fs.readFileSync("package-lock.json")).packages;
        const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json")).packages;
        for (const [path, meta] of Object.entries(want)) {
            if (path && (!have[path] || have[path].version !== meta.version)) process.exit(1);
        }'; then
    echo "install-interop: node_modules is up to date"
else
    npm ci --no-audit --no-fund --loglevel=error
fi
node -e 'import("oidc-provider").then(() => console.log("install-interop: oidc-provider loads"))'
node -e 'import("dpop").then(() => console.log("install-interop: dpop loads"))'
