# The service image: `one-bus serve`, configured by ONE_* environment variables.

# Build stage: the project and every dependency as wheels. Nothing of this stage but the
# wheels reaches the runtime image.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
COPY one_bus ./one_bus
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: the wheels installed from a bind mount (BuildKit; no copy of them left in
# a layer), offline, so the image holds exactly what the build stage resolved.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ONE_METRICS_PORT=9464
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels one-bus \
    && groupadd --system --gid 10001 onebus \
    && useradd --system --uid 10001 --gid 10001 --no-create-home onebus
# Numeric, so Kubernetes can check runAsNonRoot without a passwd lookup.
USER 10001
# /metrics, /healthz and /readyz (ONE_METRICS_PORT).
EXPOSE 9464
# Ready means started, connected to NATS and the store answering. urllib: slim has no
# curl, and urlopen raises on the 503 /readyz answers when not ready.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/readyz' % os.environ['ONE_METRICS_PORT'], timeout=3)"]
ENTRYPOINT ["one-bus"]
CMD ["serve"]
