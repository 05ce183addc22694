# The API and the worker in one image: the default command runs the API, `node dist/src/worker/main.js` the worker
# (docker-compose.temporal.yml runs both). The local ASR engine and the Temporal CLI are not in it: the worker
# calls an external OpenAI-compatible ASR at ASR_URL and connects to a Temporal cluster at TEMPORAL_ADDRESS.
# One exact tag for both stages, on .nvmrc's major: the code is compiled and bundled by the Node that runs it.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY scripts ./scripts
COPY bench ./bench
COPY eval ./eval
# Bundles the workflows too (dist/workflow-bundle.js), so a worker starts without webpack.
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The image brings its own Node, so not node-linux-* (the registry's Node 24 for machines with an older one, 190 MB);
# the only other optional packages are @swc/core's binaries, which bundle workflows, done in the build stage.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/workflows ./dist/workflows
COPY --from=build /app/dist/activities ./dist/activities
COPY --from=build /app/dist/workflow-bundle.js ./dist/workflow-bundle.js
# The image's own unprivileged user (uid 1000): nothing in the image is writable by it.
USER node
EXPOSE 3000
CMD ["node", "dist/src/api/main.js"]
