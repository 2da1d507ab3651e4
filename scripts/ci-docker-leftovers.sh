#!/usr/bin/env bash
# After the tests, on CI's own engine (DOCKER_HOST): every container and
# network a test started must be gone. Lists and removes what is left, and
# fails if there was anything, so that a test that does not clean up is seen.
set -euo pipefail

docker version >/dev/null 2>&1 || exit 0 # no engine answers: nothing can be left on it

containers=$(docker ps --all --quiet)
# Docker's own networks stay; anything else was made by a test.
networks=$(docker network ls --quiet --filter type=custom)
[ -z "$containers$networks" ] && exit 0

echo "ci: tests left containers or networks behind:" >&2
[ -z "$containers" ] || docker ps --all --format '  container {{.Names}} ({{.Image}}, {{.Status}})' >&2
[ -z "$networks" ] || docker network ls --filter type=custom --format '  network {{.Name}}' >&2
# shellcheck disable=SC2086 # one id per word
[ -z "$containers" ] || docker rm --force --volumes $containers >/dev/null
# shellcheck disable=SC2086
[ -z "$networks" ] || docker network rm $networks >/dev/null
exit 1
