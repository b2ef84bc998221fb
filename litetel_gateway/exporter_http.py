"""OTLP/HTTP protobuf exporter (aiohttp): one attempt per call, the drain loop retries.

    exporter = OtlpHttpExporter("http://127.0.0.1:4318/v1/metrics", headers={"x-tenant": "a"})
    result = await exporter.export_metrics(request)   # ExportMetricsServiceRequest
    await exporter.close()

Status handling follows the OTLP/HTTP spec: 200 → success (``partial_success`` counted; another 2xx, which
some receivers answer, too), 429/502/503/504 and connection errors/timeouts → retryable (Retry-After
honoured), any other status → permanent. Redirects are not followed (aiohttp would turn the POST into a GET
on 301/302/303, whose 200 would pass for an export): a 3xx is retryable, logged with its Location, so a
moved endpoint keeps the data queued until the configuration is fixed.
"""

import asyncio
import gzip
import logging

import aiohttp
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from litetel_gateway.config import signal_endpoint
from litetel_gateway.exporter import Exporter, ExportResult, parse_retry_after

log = logging.getLogger("litetel_gateway.exporter_http")

RETRYABLE_STATUS = frozenset((429, 502, 503, 504))
_RESPONSES = {  # signal -> (response message, its partial_success count field)
    "metrics": (metrics_service_pb2.ExportMetricsServiceResponse, "rejected_data_points"),
    "traces": (trace_service_pb2.ExportTraceServiceResponse, "rejected_spans"),
    "logs": (logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records"),
}


class OtlpHttpExporter(Exporter):
    """POSTs ``application/x-protobuf`` to ``endpoint`` (the full URL, e.g. ``.../v1/metrics``); traces and
    logs go to ``traces_endpoint``/``logs_endpoint``, by default the same path with ``traces``/``logs``.
    ``ssl_context`` (an :class:`ssl.SSLContext`, e.g. trusting a private CA) is used for https URLs."""

    def __init__(self, endpoint, headers=None, compression="gzip", timeout_s=10.0, traces_endpoint=None,
                 logs_endpoint=None, ssl_context=None):
        if compression not in ("gzip", "none"):
            raise ValueError("compression must be 'gzip' or 'none', not %r" % (compression,))
        self.endpoint = endpoint
        self.endpoints = {
            "metrics": endpoint,
            "traces": traces_endpoint or signal_endpoint(endpoint, "traces"),
            "logs": logs_endpoint or signal_endpoint(endpoint, "logs"),
        }
        self.headers = dict(headers or {})
        self.headers["Content-Type"] = "application/x-protobuf"
        if compression == "gzip":
            self.headers["Content-Encoding"] = "gzip"
        self.compression = compression
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.ssl_context = ssl_context
        self._session = None

    def _get_session(self):
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.ssl_context if self.ssl_context is not None else True)
            self._session = aiohttp.ClientSession(timeout=self.timeout, connector=connector)
        return self._session

    async def export_metrics(self, request):
        return await self._export("metrics", request)

    async def export_traces(self, request):
        return await self._export("traces", request)

    async def export_logs(self, request):
        return await self._export("logs", request)

    async def _export(self, signal, request):
        body = request.SerializeToString()
        if self.compression == "gzip":
            body = gzip.compress(body, compresslevel=6)
        try:
            url = self.endpoints[signal]
            async with self._get_session().post(
                url, data=body, headers=self.headers, allow_redirects=False
            ) as response:
                payload = await response.read()
                if 300 <= response.status < 400:
                    payload = ("redirect to %s, not followed" % response.headers.get("Location", "?")).encode()
                return self._result(response.status, response.headers.get("Retry-After"), payload, signal)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return ExportResult.retry("%s: %s" % (type(exc).__name__, exc))

    @staticmethod
    def _result(status, retry_after, payload, signal="metrics"):
        if 200 <= status < 300:
            return _partial_success(payload, signal)
        message = "HTTP %d: %s" % (status, payload[:200].decode("utf-8", "replace"))
        if status in RETRYABLE_STATUS or 300 <= status < 400:
            return ExportResult.retry(message, parse_retry_after(retry_after))
        return ExportResult.permanent(message)

    async def close(self):
        if self._session is not None:
            await self._session.close()
            self._session = None


def _partial_success(payload, signal="metrics"):
    response_class, rejected_field = _RESPONSES[signal]
    reply = response_class()
    try:
        reply.ParseFromString(payload)
    except Exception:  # a receiver answering 200 with a body we cannot read still accepted the data
        return ExportResult.success(message="unparseable 200 response body")
    partial = reply.partial_success
    return ExportResult.success(getattr(partial, rejected_field), partial.error_message)
