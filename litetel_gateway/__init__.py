"""litetel gateway: signed device frames in, OpenTelemetry (OTLP) out, with a durable SQLite queue.

    python -m litetel_gateway --listen 127.0.0.1:8080 --data-dir ./gateway-data --keys keys.toml \
        --otlp-endpoint http://127.0.0.1:4318

Stages follow a frame's path: receiver → decoder/store → expand → exporter (see docs/gateway.md).
The exporter interface (ExportResult, Exporter, DrainLoop) lives in ``litetel_gateway.exporter``.
"""

__version__ = "0.1.0"
