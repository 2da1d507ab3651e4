#!/usr/bin/env bash
# Base images for Switchboard built from Debian's packages, for machines where
# no image registry answers (this project's CI, air-gapped sites):
#
#   switchboard-offline/debian:bookworm  debootstrap --variant=minbase bookworm
#   switchboard-offline/node:<major>     + this host's Node.js and npm (Debian 12's nodejs is 18)
#   switchboard-offline/nats:<x.y>       + Debian's nats-server, and busybox for wget
#
# The names say what they are: none claims to be an official image. Use them
# through the variables that the Dockerfile (NODE_IMAGE) and the compose files
# (SWITCHBOARD_NODE_IMAGE, SWITCHBOARD_NATS_IMAGE) read. The script prints
# them, so that
#
#   eval "$(scripts/offline-images.sh)"
#
# exports them. Idempotent: images that exist are kept (--rebuild builds them
# again). Needs root (debootstrap), Debian's packages, and a running Docker
# engine with BuildKit (DOCKER_HOST; see scripts/docker-engine.sh).
set -euo pipefail
cd "$(dirname "$0")/offline-images"

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
BASE_IMAGE=switchboard-offline/debian:$SUITE
rebuild=false
[ "${1:-}" != --rebuild ] || rebuild=true

say() { echo "offline-images: $*" >&2; }
die() {
  say "$*"
  exit 1
}
exists() { ! $rebuild && docker image inspect "$1" >/dev/null 2>&1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap needs it); try: sudo $0"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "no Docker engine answers${DOCKER_HOST:+ at $DOCKER_HOST} (start one: scripts/docker-engine.sh start)"

work=$(mktemp -d /var/tmp/switchboard-offline.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Debian's package lists are needed for the NATS version and the downloads.
nats_version=$(apt-cache policy nats-server | sed -n 's/^ *Candidate: //p')
if [ -z "$nats_version" ] || [ "$nats_version" = "(none)" ]; then
  apt-get update -qq
  nats_version=$(apt-cache policy nats-server | sed -n 's/^ *Candidate: //p')
fi
NATS_IMAGE=switchboard-offline/nats:$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$nats_version")
NODE_IMAGE=switchboard-offline/node:$(node -p 'process.versions.node.split(".")[0]')

build() {
  local dockerfile=$1 tag=$2 context=$3
  say "building $tag"
  docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -f "$dockerfile" -t "$tag" \
    --label "org.opencontainers.image.description=built by switchboard scripts/offline-images.sh from Debian packages" \
    "$context" >/dev/null
}

if ! exists "$BASE_IMAGE"; then
  command -v debootstrap >/dev/null || {
    say "installing debootstrap from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  say "building $BASE_IMAGE: debootstrap --variant=minbase $SUITE (a minute or two)"
  debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # As in Debian's slim images: no package lists or caches, manuals or translations.
  rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/* \
    "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/info/* "$work"/rootfs/usr/share/locale/*
  tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
  rm -rf "$work/rootfs"
  docker import --change 'CMD ["bash"]' --message "debootstrap --variant=minbase $SUITE" \
    "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
  rm -f "$work/rootfs.tar"
  rebuild=true # images on an old base would be stale
fi

if ! exists "$NODE_IMAGE"; then
  mkdir -p "$work/node"
  cp "$(readlink -f "$(command -v node)")" "$work/node/node"
  cp -a "$(npm root -g)/npm" "$work/node/npm"
  build node.Dockerfile "$NODE_IMAGE" "$work/node"
fi

if ! exists "$NATS_IMAGE"; then
  mkdir -p "$work/nats/debs"
  cp nats-server.conf "$work/nats/"
  (cd "$work/nats/debs" && apt-get download -qq -o APT::Sandbox::User=root nats-server busybox)
  build nats.Dockerfile "$NATS_IMAGE" "$work/nats"
fi

say "ready: $NODE_IMAGE (node $(node --version)), $NATS_IMAGE (nats-server $nats_version)"
echo "export SWITCHBOARD_NODE_IMAGE=$NODE_IMAGE SWITCHBOARD_NATS_IMAGE=$NATS_IMAGE"
