# switchboard-offline/node:<major>, built by scripts/offline-images.sh: the
# Node.js and npm of the host that builds it, on a Debian base made with
# debootstrap. It is not the official node image; it provides what
# Switchboard's Dockerfile uses of it: node and npm on the PATH and an
# unprivileged user `node` (uid 1000).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
  && groupadd --gid 1000 node \
  && useradd --uid 1000 --gid node --shell /bin/sh --create-home node \
  && node --version && npm --version
CMD ["node"]
