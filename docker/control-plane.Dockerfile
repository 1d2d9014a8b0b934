# The control plane: dashboard and /api/v1 on port 3000 (Reflex, prod mode), the
# reconciler of the `kubernetes` orchestrator, and `python -m inference.models.check`, which
# loads each pushed artifact once (hence torch, CPU build, in this image too).
#
#   docker build -f docker/control-plane.Dockerfile -t pier-control-plane .

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

# bun from the npm registry (Reflex would download it at run time otherwise), built for the
# platform of the image being built (TARGETARCH: amd64 or arm64).
FROM ${NODE_IMAGE} AS bun
ARG BUN_VERSION=1.4.4
ARG TARGETARCH
WORKDIR /bun
RUN package="@oven/bun-linux-$([ "${TARGETARCH}" = arm64 ] && echo aarch64 || echo x64)" \
    && npm install --no-save --ignore-scripts --no-audit --no-fund --prefix /bun "${package}@${BUN_VERSION}" \
    && cp /bun/node_modules/"${package}"/bin/bun /bun/bun

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
WORKDIR /app
COPY pyproject.toml README.md rxconfig.py ./
COPY control_plane/ control_plane/
COPY inference/ inference/
COPY assets/ assets/
COPY examples/ examples/
COPY reflex.lock/ reflex.lock/
# The pins are in pyproject.toml; torch is already there, so pip keeps it.
RUN pip install .
COPY --from=bun /bun/bun /opt/bun/bun
# Compile the dashboard once at build time, not at every start.
ENV REFLEX_BUN_PATH=/opt/bun/bun \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_HTTP_CLIENT_BIND_ADDRESS=0.0.0.0
RUN reflex export --frontend-only --no-zip --env prod

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="pier-control-plane" \
      org.opencontainers.image.description="Pier control plane: dashboard, REST API and the Kubernetes reconciler" \
      org.opencontainers.image.source="https://github.com/pier-dev/pier" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --gid 10001 pier \
    && useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin pier \
    && mkdir -p /var/lib/pier \
    && chown 10001:10001 /var/lib/pier
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/bun /opt/bun
COPY --from=build --chown=10001:10001 /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REFLEX_BUN_PATH=/opt/bun/bun \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_HTTP_CLIENT_BIND_ADDRESS=0.0.0.0 \
    PIER_HOME=/var/lib/pier \
    PIER_HOST=0.0.0.0 \
    PIER_PORT=3000
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/api/v1/health', timeout=2)"]
# Migrates, accepts the tokens from the environment, starts the reconciler, serves.
CMD ["pier", "serve"]
