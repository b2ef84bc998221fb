"""OTLP/HTTP protobuf exporter (aiohttp): one attempt per call, the drain loop retries.

    exporter = OtlpHttpExporter("http://127.0.0.1:4318/v1/metrics", headers={"x-tenant": "a"})
    result = await exporter.export_metrics(request)   # ExportMetricsServiceRequest
    await exporter.close()

Status handling follows the OTLP/HTTP spec: 200 → success (``partial_success`` counted), 429/502/503/504
and connection errors/timeouts → retryable (Retry-After honoured), any other status → permanent.
"""

import asyncio
import gzip
import logging

import aiohttp
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from litetel_gateway.exporter import Exporter, ExportResult, parse_retry_after

log = logging.getLogger("litetel_gateway.exporter_http")

RETRYABLE_STATUS = frozenset((429, 502, 503, 504))


class OtlpHttpExporter(Exporter):
    """POSTs ``application/x-protobuf`` to ``endpoint`` (the full URL, e.g. ``.../v1/metrics``)."""

    def __init__(self, endpoint, headers=None, compression="gzip", timeout_s=10.0):
        if compression not in ("gzip", "none"):
            raise ValueError("compression must be 'gzip' or 'none', not %r" % (compression,))
        self.endpoint = endpoint
        self.headers = dict(headers or {})
        self.headers["Content-Type"] = "application/x-protobuf"
        if compression == "gzip":
            self.headers["Content-Encoding"] = "gzip"
        self.compression = compression
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = None

    def _get_session(self):
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def export_metrics(self, request):
        body = request.SerializeToString()
        if self.compression == "gzip":
            body = gzip.compress(body, compresslevel=6)
        try:
            async with self._get_session().post(self.endpoint, data=body, headers=self.headers) as response:
                payload = await response.read()
                return self._result(response.status, response.headers.get("Retry-After"), payload)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return ExportResult.retry("%s: %s" % (type(exc).__name__, exc))

    @staticmethod
    def _result(status, retry_after, payload):
        if status == 200:
            return _partial_success(payload)
        message = "HTTP %d: %s" % (status, payload[:200].decode("utf-8", "replace"))
        if status in RETRYABLE_STATUS:
            return ExportResult.retry(message, parse_retry_after(retry_after))
        return ExportResult.permanent(message)

    async def close(self):
        if self._session is not None:
            await self._session.close()
            self._session = None


def _partial_success(payload):
    reply = metrics_service_pb2.ExportMetricsServiceResponse()
    try:
        reply.ParseFromString(payload)
    except Exception:  # a receiver answering 200 with a body we cannot read still accepted the data
        return ExportResult.success(message="unparseable 200 response body")
    partial = reply.partial_success
    return ExportResult.success(partial.rejected_data_points, partial.error_message)
