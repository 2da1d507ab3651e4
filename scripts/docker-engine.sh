#!/usr/bin/env bash
# A Docker engine of Switchboard's own, for CI and for machines without systemd:
# dockerd started by hand with its own data root, exec root, pid file and socket,
# so it never meets a system Docker, and stopped so that the host is as it was.
#
#   scripts/docker-engine.sh start          # install what is missing, start dockerd (idempotent)
#   eval "$(scripts/docker-engine.sh env)"  # DOCKER_HOST for docker, compose and testcontainers
#   scripts/docker-engine.sh status         # exit 0 when the engine answers, 3 when it is down
#   scripts/docker-engine.sh stop           # stop it, put the host back (idempotent)
#
# start installs, from Debian's packages, docker.io (the engine) when dockerd is
# missing, and compose v2 and buildx from Debian 13 (trixie: static binaries that
# need only libc6 >= 2.34) when `docker compose` / `docker buildx` are missing;
# Debian 12 has neither. Packages stay installed after stop; what stop undoes is
# what the running engine changed: processes, mounts, network links, iptables
# rules and chains, and the sysctls dockerd sets.
#
# Variables: SWITCHBOARD_DOCKER_DIR (data root and state, default
# /var/lib/switchboard-docker), SWITCHBOARD_DOCKER_RUN (exec root and socket,
# default /run/switchboard-docker), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

ENGINE_DIR=${SWITCHBOARD_DOCKER_DIR:-/var/lib/switchboard-docker}
RUN_DIR=${SWITCHBOARD_DOCKER_RUN:-/run/switchboard-docker}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SOCKET="$RUN_DIR/docker.sock"
PIDFILE="$RUN_DIR/dockerd.pid"
# What the host looked like before dockerd started; restored by stop.
BEFORE="$ENGINE_DIR/host-before"
LOG="$ENGINE_DIR/dockerd.log"
START_TIMEOUT_S=60
STOP_TIMEOUT_S=60
# Sysctls dockerd turns on (forwarding for NAT; bridge netfilter for isolation).
SYSCTLS=(net/ipv4/ip_forward net/ipv6/conf/all/forwarding
  net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables)

say() { echo "docker-engine: $*" >&2; }
die() {
  say "$*"
  exit 1
}

export DOCKER_HOST="unix://$SOCKET"

# ---------------------------------------------------------------------------
# Installing

apt_install() {
  # Installing docker.io runs its init script unless policy-rc.d says no; the
  # engine must only ever be the one started below, so say no while installing.
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard"
    chmod 755 "$guard"
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    { [ -z "$guard" ] || rm -f "$guard"; die "apt-get install $* failed"; }
  [ -z "$guard" ] || rm -f "$guard"
}

# Installs packages of Debian 13 (trixie) with dpkg, through an apt state of its
# own in a temporary directory: the host's sources stay as they are, so nothing
# else is ever upgraded from trixie.
install_from_trixie() {
  local tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $DEBIAN_MIRROR trixie main" \
    >"$tmp/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
  if apt-get "${apt_opts[@]}" update -qq &&
    (cd "$tmp" && apt-get "${apt_opts[@]}" download "$@" >/dev/null); then
    dpkg -i "$tmp"/*.deb >/dev/null
    rm -rf "$tmp"
  else
    rm -rf "$tmp"
    die "could not fetch $* from Debian trixie ($DEBIAN_MIRROR)"
  fi
}

install_missing() {
  local packages=()
  command -v dockerd >/dev/null && command -v docker >/dev/null || packages+=(docker.io)
  # nft deletes the tables dockerd created (iptables can only empty them).
  command -v nft >/dev/null || packages+=(nftables)
  if [ ${#packages[@]} -gt 0 ]; then
    say "installing ${packages[*]} from Debian's packages"
    apt_install "${packages[@]}"
  fi
  local plugins=()
  docker compose version >/dev/null 2>&1 || plugins+=(docker-compose)
  docker buildx version >/dev/null 2>&1 || plugins+=(docker-buildx)
  if [ ${#plugins[@]} -gt 0 ]; then
    say "installing ${plugins[*]} from Debian trixie"
    install_from_trixie "${plugins[@]}"
  fi
}

# ---------------------------------------------------------------------------
# The host before and after

# Prints the iptables rule set of one family, counters dropped, for comparing.
ruleset() { "$1-save" 2>/dev/null | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//' || true; }

# The network links and mount points of the kind dockerd makes (other programs'
# links and mounts are theirs to manage).
links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(docker0|br-|veth)' | sort || true; }
mounts() { awk '{print $5}' /proc/self/mountinfo | grep -E "^($ENGINE_DIR|$RUN_DIR)(/|\$)|docker|overlay" | sort || true; }

# Prints the nftables tables as "family name" lines (none when nft is missing).
nft_tables() { { nft list tables 2>/dev/null || true; } | awk '{print $2, $3}' | sort; }

snapshot_host() {
  # A snapshot left by a run that never stopped is the true "before": keep it.
  [ -d "$BEFORE" ] && return
  mkdir -p "$BEFORE"
  links >"$BEFORE/links"
  mounts >"$BEFORE/mounts"
  for family in iptables ip6tables; do ruleset "$family" >"$BEFORE/$family"; done
  nft_tables >"$BEFORE/nft-tables"
  for name in "${SYSCTLS[@]}"; do
    if [ -r "/proc/sys/$name" ]; then echo "$name $(cat "/proc/sys/$name")"; fi
  done >"$BEFORE/sysctls"
}

# Undoes one family's iptables changes in one atomic restore per table: rules
# added are deleted, chains added are removed, built-in policies are reset.
restore_iptables() {
  local family=$1 table script
  local now
  now=$(ruleset "$family")
  for table in $(sed -n 's/^\*//p' <<<"$now"); do
    script=$(awk -v t="$table" '
      /^\*/ { cur = substr($0, 2); next }
      cur != t { next }
      FILENAME == ARGV[1] { before[$0] = 1; if ($1 ~ /^:/) had[$1] = $2; next }
      /^-A / && !($0 in before) { rules[++n] = $0 }
      /^:/ { chains[$1] = $2 }
      END {
        for (i = n; i >= 1; i--) { sub(/^-A /, "-D ", rules[i]); print rules[i] }
        for (c in chains) if (!(c in had) && chains[c] == "-") print "-F " substr(c, 2)
        for (c in chains) if (!(c in had) && chains[c] == "-") print "-X " substr(c, 2)
        for (c in chains) if (chains[c] != "-") print "-P " substr(c, 2) " " ((c in had) ? had[c] : "ACCEPT")
      }' "$BEFORE/$family" - <<<"$now")
    if [ -n "$script" ]; then
      printf '*%s\n%s\nCOMMIT\n' "$table" "$script" | "$family-restore" --noflush
    fi
  done
  # A table dockerd created (iptables-nft) is left empty by the above; iptables
  # cannot delete a table, nft can.
  command -v nft >/dev/null || return 0
  local fam name own=ip
  [ "$family" = iptables ] || own=ip6
  nft_tables | comm -13 "$BEFORE/nft-tables" - | while read -r fam name; do
    [ "$fam" = "$own" ] || continue
    if ! ruleset "$family" | sed -n "/^\*$name\$/,/^COMMIT/p" | grep -q '^-A '; then
      nft delete table "$fam" "$name"
    fi
  done
}

restore_host() {
  [ -d "$BEFORE" ] || return 0
  local path link name value family
  # Mounts under the engine's own directories (overlays, network namespaces),
  # deepest first.
  for path in $(mounts | comm -13 "$BEFORE/mounts" - | sort -r); do
    umount "$path" 2>/dev/null || umount -l "$path"
  done
  # Links dockerd made: docker0, one br-* per network, veth pairs.
  for link in $(links | comm -13 "$BEFORE/links" -); do
    ip link delete "$link" 2>/dev/null || true
  done
  for family in iptables ip6tables; do
    if command -v "$family-save" >/dev/null; then restore_iptables "$family"; fi
  done
  while read -r name value; do echo "$value" >"/proc/sys/$name"; done <"$BEFORE/sysctls"
  check_restored
}

# Fails, naming what differs, unless the host is as the snapshot says.
check_restored() {
  local diffs="" family d
  d=$(links | diff "$BEFORE/links" -) || diffs+=$'\nlinks:\n'"$d"
  d=$(mounts | diff "$BEFORE/mounts" -) || diffs+=$'\nmounts:\n'"$d"
  for family in iptables ip6tables; do
    d=$(ruleset "$family" | diff "$BEFORE/$family" -) || diffs+=$'\n'"$family:"$'\n'"$d"
  done
  if command -v nft >/dev/null; then
    d=$(nft_tables | diff "$BEFORE/nft-tables" -) || diffs+=$'\nnft tables:\n'"$d"
  fi
  d=$(while read -r name value; do
    [ "$(cat "/proc/sys/$name")" = "$value" ] || echo "$name: $(cat "/proc/sys/$name") (was $value)"
  done <"$BEFORE/sysctls")
  [ -z "$d" ] || diffs+=$'\nsysctls:\n'"$d"
  [ -z "$diffs" ] || die "the host differs from before the engine started:$diffs"
  rm -rf "$BEFORE"
  say "host restored (links, mounts, iptables, sysctls as before)"
}

# ---------------------------------------------------------------------------
# The engine

daemon_pid() {
  local pid
  [ -r "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Processes the engine started that may outlive it when it is killed: its
# containerd, shims and port proxies, recognised by our own exec root in their
# command line, so that a system Docker's processes are never touched.
engine_children() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    case "$(cat "$dir/comm" 2>/dev/null)" in containerd | containerd-shim* | docker-proxy) ;; *) continue ;; esac
    tr '\0' ' ' <"$dir/cmdline" 2>/dev/null | grep -q -- "$RUN_DIR" && echo "$pid"
  done
  return 0
}

wait_gone() {
  local pid=$1 until=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $until ] || return 1
    sleep 0.2
  done
}

start() {
  if daemon_pid >/dev/null && answers; then
    say "already running ($DOCKER_HOST)"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "must run as root (dockerd needs it); try: sudo $0 start"
  install_missing
  # A dockerd that left its pid file but does not answer is stopped first.
  daemon_pid >/dev/null && stop
  snapshot_host
  mkdir -p "$ENGINE_DIR/data" "$RUN_DIR/exec"
  # Our own (empty) daemon.json: a system Docker's settings must not apply here.
  [ -f "$ENGINE_DIR/daemon.json" ] || echo '{}' >"$ENGINE_DIR/daemon.json"
  say "starting dockerd ($DOCKER_HOST, data in $ENGINE_DIR/data, log $LOG)"
  # setsid: the engine outlives this script and its caller's process group.
  setsid dockerd \
    --config-file "$ENGINE_DIR/daemon.json" \
    --data-root "$ENGINE_DIR/data" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$PIDFILE" \
    -H "$DOCKER_HOST" \
    </dev/null >>"$LOG" 2>&1 &
  local until=$((SECONDS + START_TIMEOUT_S))
  until answers; do
    if ! kill -0 $! 2>/dev/null || [ $SECONDS -ge $until ]; then
      tail -n 30 "$LOG" >&2 || true
      stop || true
      die "dockerd did not answer within ${START_TIMEOUT_S}s (log above)"
    fi
    sleep 0.5
  done
  say "running: engine $(docker version --format '{{.Server.Version}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"
}

stop() {
  local pid child
  if pid=$(daemon_pid); then
    say "stopping dockerd (pid $pid)"
    # dockerd stops its containers and its containerd on SIGTERM.
    kill -TERM "$pid"
    if ! wait_gone "$pid" "$STOP_TIMEOUT_S"; then
      say "dockerd did not stop within ${STOP_TIMEOUT_S}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || true
    fi
  fi
  for child in $(engine_children); do
    say "stopping leftover $(cat "/proc/$child/comm" 2>/dev/null) (pid $child)"
    kill -TERM "$child" 2>/dev/null || true
    wait_gone "$child" 10 || kill -KILL "$child" 2>/dev/null || true
  done
  rm -f "$PIDFILE" "$SOCKET"
  restore_host
  # The exec root holds runtime state only (sockets, containerd's config):
  # remove it, unless a mount is still under it (never delete through one).
  if ! awk '{print $5}' /proc/self/mountinfo | grep -q "^$RUN_DIR/"; then rm -rf "$RUN_DIR"; fi
}

status() {
  if daemon_pid >/dev/null && answers; then
    echo "running: $DOCKER_HOST (engine $(docker version --format '{{.Server.Version}}'))"
    echo "compose: $(docker compose version --short 2>/dev/null || echo missing)"
    echo "buildx: $(docker buildx version 2>/dev/null | awk '{print $2}' || echo missing)"
    return 0
  fi
  echo "stopped"
  return 3
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
env) echo "export DOCKER_HOST=$DOCKER_HOST" ;;
*)
  echo "usage: $0 start|stop|status|env" >&2
  exit 2
  ;;
esac
