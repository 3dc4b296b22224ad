# Rendermill: one image for the API and the workers (the command picks which runs).
# The dashboard is built in a stage of its own: Vite is a dev dependency, the image only needs web/dist.
FROM node:20-bookworm-slim AS web
WORKDIR /app
COPY package.json package-lock.json ./
COPY web/package.json web/
RUN npm ci --no-audit --no-fund
COPY web web
COPY load/fixtures load/fixtures
RUN node --import tsx web/scripts/build-web.ts

FROM node:20-bookworm-slim

# ffmpeg composes videos, espeak-ng speaks, DejaVu fonts draw the title cards (sharp/librsvg);
# tini is PID 1 so SIGTERM reaches the runner and ffmpeg children are reaped.
# pg_dump/pg_restore (npm run backup / restore) must be at least the server's major version:
# the client of PG_CLIENT_MAJOR (compose runs Postgres 16) from the PostgreSQL project's apt repository.
ARG PG_CLIENT_MAJOR=16
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg espeak-ng fonts-dejavu-core ca-certificates tini curl \
  && install -d /usr/share/postgresql-common/pgdg \
  && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
  && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
     > /etc/apt/sources.list.d/pgdg.list \
  && apt-get update \
  && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}" \
  && apt-get purge -y curl && apt-get autoremove -y \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first so a source change does not reinstall them. tsx is a runtime dependency;
# the dev dependencies are the test and lint tools, not needed in the image.
COPY package.json package-lock.json ./
COPY web/package.json web/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY --chown=node:node . .
COPY --from=web --chown=node:node /app/web/dist web/dist

# Named volumes copy ownership from the image on first mount: the node user must own them.
RUN mkdir -p /data/storage /app/.data && chown -R node:node /data /app/.data

ENV NODE_ENV=production \
    PORT=3000 \
    STORAGE_DIR=/data/storage \
    METRICS_PORT=9464

USER node
EXPOSE 3000

ENTRYPOINT ["/usr/bin/tini", "--"]
# Default: migrate, then serve the API. The worker service runs workers/main.ts without --migrate.
# `node --import tsx`, not `npx tsx`: npm exits on SIGTERM without passing it on, which would
# leave the runner to be SIGKILLed instead of draining (seen with npm 11).
CMD ["node", "--import", "tsx", "shared/process/run.ts", "--migrate", "api/main.ts"]
