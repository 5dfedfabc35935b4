# syntax=docker/dockerfile:1
# Runs on a supported Node release (22 LTS); the code also runs on Node 20 and 24.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
# glibc's allocator: blocks of 64 KiB or more are mapped apart and given back when freed; the
# workers' and `all`'s value (src/launch-env.ts). The API's is lower: docker-compose.yml sets it.
ENV MALLOC_MMAP_THRESHOLD_=65536
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000 3001
# One image, one role per container: api (default), worker, or all; `node dist/src/cli/main.js` for the CLI.
CMD ["node", "dist/workers/api.js"]
