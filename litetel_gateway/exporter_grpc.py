"""OTLP/gRPC exporter: the gateway's second export protocol (the first is OTLP/HTTP).

One call is one attempt; the drain loop decides when to retry, from the `ExportResult` returned here.
Failures are mapped per the OTLP specification (otlp.md, "Failures" for OTLP/gRPC):

- retryable: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and
  RESOURCE_EXHAUSTED only when the server attached a `google.rpc.RetryInfo` (it then promises recovery);
- the retry delay comes from `RetryInfo.retry_delay` in the `grpc-status-details-bin` trailer when present;
- every other status is permanent (the batch goes to the dead letters);
- an OK reply with `partial_success` is a success that reports `rejected_points` and the server's message.

Example::

    exporter = OtlpGrpcExporter("http://127.0.0.1:4317", headers={"x-tenant": "sat"})
    result = await exporter.export_metrics(request)   # an ExportMetricsServiceRequest
    if not result.ok and result.retryable:
        await asyncio.sleep(result.retry_after_s or backoff)
    await exporter.close()
"""

import asyncio
from urllib.parse import urlsplit

import grpc
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from litetel_gateway.exporter import MAX_RETRY_AFTER_S, Exporter, ExportResult

__all__ = ["OtlpGrpcExporter", "ExportResult", "parse_grpc_endpoint", "result_from_rpc_error"]

DEFAULT_PORT = 4317
USER_AGENT = "litetel-gateway"

RETRYABLE_CODES = frozenset(
    (
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    )
)

_STATUS_DETAILS_KEY = "grpc-status-details-bin"
_COMPRESSIONS = {"gzip": grpc.Compression.Gzip, "none": grpc.Compression.NoCompression}


def parse_grpc_endpoint(endpoint: str, insecure: bool | None = None) -> tuple[str, bool]:
    """Return `(target, secure)` for a gRPC endpoint as the OTEL_* variables spell it.

    `http://h:p` is plaintext and `https://h:p` is TLS whatever `insecure` says (the scheme wins, as in the
    spec); a bare `h:p` is TLS unless `insecure` is true (the spec's OTEL_EXPORTER_OTLP_INSECURE default).
    A path is ignored (gRPC has none); a missing port is 4317.

    >>> parse_grpc_endpoint("http://collector:4317")
    ('collector:4317', False)
    >>> parse_grpc_endpoint("collector", insecure=True)
    ('collector:4317', False)
    """
    text = endpoint.strip()
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError("gRPC endpoint scheme must be http or https: %r" % endpoint)
        secure = scheme == "https"
    else:
        parts = urlsplit("//" + text)
        secure = not insecure
    if not parts.hostname:
        raise ValueError("gRPC endpoint has no host: %r" % endpoint)
    host = parts.hostname
    if ":" in host:  # IPv6 literal: gRPC wants it bracketed, as in a URL
        host = "[" + host + "]"
    return "%s:%d" % (host, parts.port or DEFAULT_PORT), secure


def _retry_delay_s(trailing_metadata) -> float | None:
    """The `RetryInfo.retry_delay` carried in a `google.rpc.Status` trailer, in seconds (at most
    `MAX_RETRY_AFTER_S`), or None."""
    for key, value in trailing_metadata or ():
        if key != _STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
        except Exception:  # a malformed trailer must not turn a retryable failure into a crash
            return None
        for detail in status.details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return min(max(0.0, info.retry_delay.seconds + info.retry_delay.nanos / 1e9), MAX_RETRY_AFTER_S)
    return None


def result_from_rpc_error(code: grpc.StatusCode, details: str | None, trailing_metadata=()) -> ExportResult:
    """Map a failed call's status to an `ExportResult` per the OTLP/gRPC failure rules."""
    retry_after_s = _retry_delay_s(trailing_metadata)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        # Only a server that says when to come back is expected to recover (spec: RetryInfo present).
        retryable = retry_after_s is not None
    else:
        retryable = code in RETRYABLE_CODES
    message = "grpc %s: %s" % (code.name if code is not None else "UNKNOWN", details or "")
    if retryable:
        return ExportResult.retry(message, retry_after_s)
    return ExportResult.permanent(message)


def _result_from_response(response, rejected_field: str) -> ExportResult:
    partial = response.partial_success
    rejected = getattr(partial, rejected_field)
    message = partial.error_message
    if rejected or message:
        message = "partial success: %d rejected: %s" % (rejected, message)
    return ExportResult.success(rejected, message)


class OtlpGrpcExporter(Exporter):
    """Sends OTLP export requests over gRPC (`grpc.aio`), one attempt per call.

    `headers` (a mapping or pairs) become call metadata with lower-case keys, as gRPC requires.
    `compression` is "gzip" or "none"; `timeout_s` is the deadline of one call.
    `root_certificates` (PEM bytes) replaces the system trust store for TLS endpoints.

    Example::

        exporter = OtlpGrpcExporter("https://otel.example:4317", headers={"authorization": "Bearer x"})
        result = await exporter.export_metrics(request)
    """

    def __init__(
        self,
        endpoint: str,
        headers=None,
        compression: str = "gzip",
        timeout_s: float = 10.0,
        insecure: bool | None = None,
        root_certificates: bytes | None = None,
    ):
        if compression not in _COMPRESSIONS:
            raise ValueError("compression must be 'gzip' or 'none', not %r" % (compression,))
        self.endpoint = endpoint
        self.target, self.secure = parse_grpc_endpoint(endpoint, insecure)
        pairs = headers.items() if hasattr(headers, "items") else (headers or ())
        self.metadata = tuple((str(k).strip().lower(), str(v).strip()) for k, v in pairs)
        self.compression = _COMPRESSIONS[compression]
        self.timeout_s = timeout_s
        self._root_certificates = root_certificates
        self._channel = None
        self._stubs = None

    def _ensure_channel(self):
        # Created on first use so that the channel belongs to the running event loop.
        if self._channel is None:
            options = (("grpc.primary_user_agent", USER_AGENT),)
            if self.secure:
                credentials = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
                self._channel = grpc.aio.secure_channel(self.target, credentials, options=options)
            else:
                self._channel = grpc.aio.insecure_channel(self.target, options=options)
            self._stubs = {
                "metrics": metrics_service_pb2_grpc.MetricsServiceStub(self._channel),
                "traces": trace_service_pb2_grpc.TraceServiceStub(self._channel),
                "logs": logs_service_pb2_grpc.LogsServiceStub(self._channel),
            }
        return self._stubs

    async def _export(self, signal: str, request, rejected_field: str) -> ExportResult:
        stub = self._ensure_channel()[signal]
        try:
            response = await stub.Export(
                request,
                timeout=self.timeout_s,
                metadata=self.metadata or None,
                compression=self.compression,
            )
        except grpc.aio.AioRpcError as error:
            return result_from_rpc_error(error.code(), error.details(), error.trailing_metadata())
        except (OSError, asyncio.TimeoutError) as error:  # transport trouble outside gRPC's own statuses
            return ExportResult.retry("%s: %s" % (type(error).__name__, error))
        return _result_from_response(response, rejected_field)

    async def export_metrics(self, request) -> ExportResult:
        """Send one `ExportMetricsServiceRequest`; `rejected_points` counts rejected data points."""
        return await self._export("metrics", request, "rejected_data_points")

    async def export_traces(self, request) -> ExportResult:
        """Send one `ExportTraceServiceRequest`; `rejected_points` counts rejected spans."""
        return await self._export("traces", request, "rejected_spans")

    async def export_logs(self, request) -> ExportResult:
        """Send one `ExportLogsServiceRequest`; `rejected_points` counts rejected log records."""
        return await self._export("logs", request, "rejected_log_records")

    async def close(self) -> None:
        """Close the channel; in-flight calls are cancelled. The exporter may be used again afterwards."""
        channel, self._channel, self._stubs = self._channel, None, None
        if channel is not None:
            await channel.close()
