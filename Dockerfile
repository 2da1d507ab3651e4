# The `switchboard` CLI as a container image: one image for every part of a
# site (broker, bridge, example server, `up`, `call`, `ls`), chosen by the
# command. Build from the repository root:
#   docker build -t switchboard .
# No secrets are baked in: NATS credentials come from the environment
# (SWITCHBOARD_USER/SWITCHBOARD_PASS, SWITCHBOARD_TOKEN) or mounted files
# (SWITCHBOARD_CREDS, SWITCHBOARD_TLS_CA/_CERT/_KEY). See docs/deploy.md.
#
# Build arguments and secrets (both optional):
#   --build-arg NODE_IMAGE=...  the Node.js 20 base image, e.g. one built without a
#                               registry by scripts/offline-images.sh
#   --secret id=npm-ca,src=FILE CA certificates npm must trust to reach its registry
#                               (a TLS-inspecting proxy, a private registry); mounted
#                               for `npm ci` only, never stored in a layer
# No `# syntax=` line: BuildKit would fetch that frontend from a registry, and its
# built-in one is enough. RUN --mount needs BuildKit (Docker's default builder).

ARG NODE_IMAGE=node:20-alpine

# --- build: compile TypeScript, then keep only the runtime dependencies ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: nothing at run time needs a native addon, and none is built.
# The CA secret adds to Node's own CAs (NODE_EXTRA_CA_CERTS): TLS stays verified.
RUN --mount=type=secret,id=npm-ca \
  if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
  && npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

# --- runtime: node, the compiled CLI and its production dependencies ---
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# package.json is needed at run time: it makes dist/*.js ES modules.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# `switchboard ...` inside the container (docker compose exec broker-a switchboard ls --mesh).
RUN ln -s /app/dist/cli/main.js /usr/local/bin/switchboard
# The image's unprivileged user; the application files stay owned by root.
USER node
# No image-wide HEALTHCHECK: what "healthy" means depends on the command (a
# broker answers `ls`, a bridge or a server does not own one), so
# deploy/docker-compose.yml declares one per service.
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
