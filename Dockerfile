# The service image: `one-bus serve`, configured by ONE_* environment variables.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
COPY one_bus ./one_bus
RUN pip install --no-cache-dir . && useradd --system --uid 10001 onebus
# Numeric, so Kubernetes can check runAsNonRoot without a passwd lookup.
USER 10001
ENTRYPOINT ["one-bus"]
CMD ["serve"]
