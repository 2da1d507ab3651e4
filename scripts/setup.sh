#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine with Node 20+: nats-server and openssl
# (from Debian's packages, when missing), as root iptables too (for the fault
# suite, which runs only as root), in CI Debian's chromium too (for the
# dashboard's page tests, which skip, saying so, where it is missing), the npm
# packages, and the build.
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

# Installs Debian packages: as root, else through sudo. Fails (and so, called
# plainly, stops setup) without either.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "setup: installing $* needs root: run this as root, or install sudo, or install $* yourself" >&2
      return 1
    fi
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  # Through env: sudo would drop the variable.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! have_nats; then
  echo "setup: installing nats-server from Debian's packages"
  apt_install nats-server
fi

# `switchboard secure init` signs its test certificates with openssl.
if ! command -v openssl >/dev/null 2>&1; then
  echo "setup: installing openssl from Debian's packages (secure init)"
  apt_install openssl
fi

# The fault suite (root only) cuts links with iptables inside network namespaces.
if [ "$(id -u)" -eq 0 ] && ! command -v iptables >/dev/null 2>&1; then
  echo "setup: installing iptables from Debian's packages (fault suite)"
  if ! apt_install iptables; then
    echo "setup: iptables could not be installed: the fault suite will skip" >&2
  fi
fi

# Only in CI: a developer's machine is theirs to fill. No recommended packages:
# the page tests need the browser, not its extras (about half the download).
if [ "${CI:-}" = true ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "setup: installing chromium from Debian's packages (dashboard page tests)"
  # Ubuntu has no such package (its chromium is a snap): the page tests then skip, saying so.
  if ! apt_install --no-install-recommends chromium; then
    echo "setup: chromium could not be installed: the dashboard's page tests will skip" >&2
  fi
fi

echo "setup: installing npm packages"
npm ci --no-audit --no-fund --loglevel=error
echo "setup: building"
npm run build --silent
