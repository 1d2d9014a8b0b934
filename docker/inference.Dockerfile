# The inference service: `python -m inference` on port 8080, as user 10001.
#
#   docker build -f docker/inference.Dockerfile -t pier-inference .
#
# CPU torch by default. The GPU variant is the same file with a CUDA wheel index
# (torch's CUDA wheels carry their CUDA libraries; the node provides the driver):
#
#   docker build -f docker/inference.Dockerfile \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t pier-inference:cuda .

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, from its own index: anything else resolving it would pull another build.
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
COPY docker/inference-requirements.txt /tmp/requirements.txt
RUN pip install --no-deps -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="pier-inference" \
      org.opencontainers.image.description="Pier inference replica: serves PyTorch model versions over REST and the Open Inference Protocol" \
      org.opencontainers.image.source="https://github.com/pier-dev/pier" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --gid 10001 pier \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pier \
    && mkdir -p /var/cache/pier \
    && chown 10001:10001 /var/cache/pier
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY inference/ /app/inference/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIER_INFERENCE_HOST=0.0.0.0 \
    PIER_INFERENCE_PORT=8080 \
    PIER_INFERENCE_CACHE_DIR=/var/cache/pier
USER 10001:10001
EXPOSE 8080
# Liveness only (the process answers); readiness, /v2/health/ready, is Kubernetes' probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/v2/health/live', timeout=2)"]
ENTRYPOINT ["python", "-m", "inference"]
