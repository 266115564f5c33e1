# Dockyard: a container registry with trustworthy notifications.
# Build: docker build -t dockyard .   Run: docker run -p 5000:5000 -v registry-data:/var/lib/registry dockyard
# (the config is /etc/dockyard/config.yml, REGISTRY_CONFIGURATION_PATH; `dockyard serve` on it, exec'd: SIGTERM reaches it)

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# npm ci runs `prepare` (scripts/ensure-built.mjs), which has no src/ to build yet: a no-op here.
COPY scripts/ensure-built.mjs ./scripts/
RUN npm ci
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# The configuration comes from a file, not from REGISTRY_* variables baked in here: a variable would
# override the same key of a mounted file (and a filesystem root would sit beside storage.s3).
ENV NODE_ENV=production \
    REGISTRY_CONFIGURATION_PATH=/etc/dockyard/config.yml
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The test bed's page (/ui/): static files, served from beside dist/ (no build step).
COPY ui ./ui
COPY package.json ./
COPY deploy/image-config.yml /etc/dockyard/config.yml
# /var/lib/registry: the filesystem storage root of the default config (as in Distribution's image).
# /app/data: ./data under the working directory, where the outbox and the token key live with S3 storage.
# Both owned by the user the registry runs as; a new named volume takes this ownership.
RUN mkdir -p /var/lib/registry /app/data && chown node:node /var/lib/registry /app/data
VOLUME ["/var/lib/registry", "/app/data"]
EXPOSE 5000
USER node
# `dockyard health` asks /readyz (200 once storage, the outbox and the notification threads are up) at
# the address of the same config file (REGISTRY_CONFIGURATION_PATH), over https when http.tls is set.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "dist/main.js", "health"]
# The compiled CLI, as Distribution's image runs `registry serve`: `docker run IMAGE config check` or
# `docker run IMAGE gc --dry-run` run the other commands on the same configuration file.
ENTRYPOINT ["node", "--max-semi-space-size=2", "dist/main.js"]
CMD ["serve"]
