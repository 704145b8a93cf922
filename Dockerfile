# One image with both entry points:
#   shards:       node /app/scheduler/dist/cli.js
#   coordinator:  node /app/coordinator/dist/cli.js
# Build:  docker build -t <registry>/sharded-scheduler:<version> .
# The Helm chart (charts/sharded-scheduler) runs it with image.repository/image.tag.
# tests/integration/dockerfile.test.ts checks this file (stages, pinned base, user, paths).

# The Node.js major the tests run on (tests/toolchain/package.json); tests/scripts/toolchain.test.ts checks it.
ARG NODE_IMAGE=node:24.19.0-alpine3.24

# --- build: compile the two workspaces ------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV TURBO_TELEMETRY_DISABLED=1
# Package files first, so the dependency layer is reused while only sources change. The tests
# workspace's package.json is there because the lock file lists it.
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY scheduler/package.json scheduler/
COPY coordinator/package.json coordinator/
COPY tests/package.json tests/
# The lock file pins every version. Where a registry lacks other platforms' optional packages
# (biome, turbo), npm ci refuses it; npm install then installs the same locked versions.
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund
COPY scheduler/tsconfig.json scheduler/
COPY scheduler/src scheduler/src
COPY scheduler/scripts scheduler/scripts
COPY coordinator/tsconfig.json coordinator/
COPY coordinator/src coordinator/src
# Each workspace's build ends by bundling its entry point, dependencies included, into dist/cli.js
# (scheduler/scripts/bundle-entry.mjs).
RUN npx turbo run build --filter=@sharded-scheduler/scheduler --filter=@sharded-scheduler/coordinator

# --- runtime: the compiled output only ---------------------------------------------------------
# Both entry points are bundles that carry their dependencies: no node_modules. Each workspace's
# package.json marks its dist/ as ES modules.
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production
# A young generation of at most 8 MiB per semi-space: Node's default on a large host costs a shard
# ~100 MiB of resident memory at 50 000 cached pods, for no faster scavenges (tests/stack/stack.ts
# runs local shards the same way).
ENV NODE_OPTIONS="--max-semi-space-size=8"
COPY scheduler/package.json scheduler/
COPY coordinator/package.json coordinator/
COPY --from=build /app/scheduler/dist scheduler/dist
COPY --from=build /app/coordinator/dist coordinator/dist
# The base image's "node" user, by number so that runAsNonRoot can verify it.
USER 1000:1000
# /metrics (shard, coordinator), then the probes (shard, coordinator).
EXPOSE 10260 10261 10262 10263
CMD ["node", "/app/scheduler/dist/cli.js"]
