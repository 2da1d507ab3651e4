#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine with Node 20+: nats-server (from Debian's
# packages, when missing), in CI Debian's chromium too (for the dashboard's page
# tests, which skip, saying so, where it is missing), the npm packages, and the
# build.
set -euo pipefail
cd "$(dirname "$0")/.."

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "Switchboard needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

have_nats() {
  [ -n "${NATS_SERVER_BIN:-}" ] && [ -x "${NATS_SERVER_BIN}" ] && return 0
  command -v nats-server >/dev/null 2>&1 && return 0
  [ -x /usr/sbin/nats-server ] || [ -x /usr/local/bin/nats-server ]
}

if ! have_nats; then
  echo "setup: installing nats-server from Debian's packages"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >/dev/null
fi

# Only in CI: a developer's machine is theirs to fill. No recommended packages:
# the page tests need the browser, not its extras (about half the download).
if [ "${CI:-}" = true ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "setup: installing chromium from Debian's packages (dashboard page tests)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

echo "setup: installing npm packages"
npm ci --no-audit --no-fund --loglevel=error
echo "setup: building"
npm run build --silent
