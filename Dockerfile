# litetel gateway: device frames in, OTLP out. Build from the repository root:
#   docker build -t litetel-gateway .
#   docker run -p 8080:8080 -v litetel-data:/data -v ./keys.toml:/etc/litetel/keys.toml:ro \
#     -e OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 litetel-gateway
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LITETEL_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz

# A fixed non-root uid/gid, so a host directory mounted on /data can be chowned to match.
RUN groupadd --system --gid 10001 litetel \
 && useradd --system --uid 10001 --gid litetel --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin litetel

WORKDIR /src
# Every gateway dependency ships manylinux wheels (grpcio, zstandard, msgpack, ...): no compiler needed.
COPY pyproject.toml README.md ./
COPY litetel ./litetel
COPY litetel_gateway ./litetel_gateway
RUN pip install ".[gateway]" \
 && mkdir -p /data /etc/litetel \
 && chown litetel:litetel /data

WORKDIR /data
VOLUME ["/data"]
USER litetel
EXPOSE 8080

# slim has no curl: ask /healthz with the interpreter that is already there.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['LITETEL_HEALTHCHECK_URL'], timeout=3).status == 200 else 1)"]

ENTRYPOINT ["litetel-gateway"]
CMD ["--listen", "0.0.0.0:8080", "--data-dir", "/data", "--keys", "/etc/litetel/keys.toml"]
