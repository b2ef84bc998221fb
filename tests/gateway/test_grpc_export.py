"""OTLP/gRPC exporter: against real rotel, and a tiny local grpc.aio server for the failure mapping."""

import asyncio
import shutil
import subprocess
import time

import grpc
import pytest
from devicesim import COUNTER, HISTOGRAM, SimDevice
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import (
    logs_service_pb2,
    logs_service_pb2_grpc,
)
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import (
    trace_service_pb2,
    trace_service_pb2_grpc,
)
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from support.ports import free_port

from litetel_gateway.exporter_grpc import (
    OtlpGrpcExporter,
    parse_grpc_endpoint,
    result_from_rpc_error,
)

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
T0 = 1_700_000_000_000_000_000


def metrics_request(device_id="sat-7", counter=4242, gauge=21.5, hist=(3, 1, 0, 2)):
    """A hand-built request as the gateway's expand step would produce: one Sum, one Gauge, one Histogram."""
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.add(key="device.id", value=common_pb2.AnyValue(string_value=device_id))
    rm.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value="litetel-test"))
    sm = rm.scope_metrics.add()
    sm.scope.name = "probe"
    m = sm.metrics.add(name="frames.sent", unit="{frame}", description="frames sent")
    m.sum.is_monotonic = True
    m.sum.aggregation_temporality = DELTA
    m.sum.data_points.add(as_int=counter, start_time_unix_nano=T0, time_unix_nano=T0 + 10**9)
    m = sm.metrics.add(name="board.temperature", unit="Cel")
    m.gauge.data_points.add(as_double=gauge, time_unix_nano=T0 + 10**9)
    m = sm.metrics.add(name="loop.duration", unit="ms")
    m.histogram.aggregation_temporality = DELTA
    dp = m.histogram.data_points.add(start_time_unix_nano=T0, time_unix_nano=T0 + 10**9)
    dp.explicit_bounds.extend([1.0, 5.0, 10.0])
    dp.bucket_counts.extend(hist)
    dp.count = sum(hist)
    dp.sum = 77.25
    return request


# --- endpoint forms -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint, insecure, expected",
    [
        ("http://127.0.0.1:4317", None, ("127.0.0.1:4317", False)),
        ("https://collector.example:443", None, ("collector.example:443", True)),
        ("https://collector.example:443", True, ("collector.example:443", True)),  # the scheme wins
        ("http://collector/v1/metrics", None, ("collector:4317", False)),  # path ignored, default port
        ("collector:4317", None, ("collector:4317", True)),  # spec: bare host is TLS unless insecure
        ("collector:4317", True, ("collector:4317", False)),
        ("[::1]:5317", True, ("[::1]:5317", False)),
    ],
)
def test_endpoint_forms(endpoint, insecure, expected):
    assert parse_grpc_endpoint(endpoint, insecure) == expected


@pytest.mark.parametrize("endpoint", ["ftp://host:1", "http://:4317", ""])
def test_bad_endpoints_are_refused(endpoint):
    with pytest.raises(ValueError):
        parse_grpc_endpoint(endpoint)


def test_bad_compression_is_refused():
    with pytest.raises(ValueError):
        OtlpGrpcExporter("http://127.0.0.1:1", compression="zstd")


# --- status mapping, pure -----------------------------------------------------------------------------------


def status_trailer(code, message, retry_delay_s=None):
    status = status_pb2.Status(code=code, message=message)
    if retry_delay_s is not None:
        seconds = int(retry_delay_s)
        delay = duration_pb2.Duration(seconds=seconds, nanos=int(round((retry_delay_s - seconds) * 1e9)))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return (("grpc-status-details-bin", status.SerializeToString()),)


@pytest.mark.parametrize(
    "code, retryable",
    [
        (grpc.StatusCode.CANCELLED, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, True),
        (grpc.StatusCode.ABORTED, True),
        (grpc.StatusCode.OUT_OF_RANGE, True),
        (grpc.StatusCode.UNAVAILABLE, True),
        (grpc.StatusCode.DATA_LOSS, True),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, False),  # retryable only with RetryInfo
        (grpc.StatusCode.INVALID_ARGUMENT, False),
        (grpc.StatusCode.UNAUTHENTICATED, False),
        (grpc.StatusCode.PERMISSION_DENIED, False),
        (grpc.StatusCode.NOT_FOUND, False),
        (grpc.StatusCode.UNIMPLEMENTED, False),
        (grpc.StatusCode.INTERNAL, False),
        (grpc.StatusCode.UNKNOWN, False),
    ],
)
def test_status_codes_map_per_otlp_spec(code, retryable):
    result = result_from_rpc_error(code, "why", ())
    assert (result.ok, result.retryable, result.retry_after_s) == (False, retryable, None)
    assert code.name in result.message and "why" in result.message


def test_retry_info_makes_resource_exhausted_retryable_with_its_delay():
    trailer = status_trailer(code_pb2.RESOURCE_EXHAUSTED, "slow down", retry_delay_s=7.25)
    result = result_from_rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", trailer)
    assert result.retryable and result.retry_after_s == pytest.approx(7.25)
    trailer = status_trailer(code_pb2.RESOURCE_EXHAUSTED, "go away", retry_delay_s=10**9)
    result = result_from_rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "go away", trailer)
    assert result.retry_after_s == 3600  # at most an hour (exporter.MAX_RETRY_AFTER_S): a drain loop never parks


def test_malformed_status_trailer_is_ignored():
    trailer = (("grpc-status-details-bin", b"\xff\xff\xff"),)
    result = result_from_rpc_error(grpc.StatusCode.UNAVAILABLE, "down", trailer)
    assert result.retryable and result.retry_after_s is None


# --- a tiny local grpc.aio server ---------------------------------------------------------------------------


class ScriptedCollector(
    metrics_service_pb2_grpc.MetricsServiceServicer,
    trace_service_pb2_grpc.TraceServiceServicer,
    logs_service_pb2_grpc.LogsServiceServicer,
):
    """Answers each call with the next scripted behaviour and records what it received."""

    def __init__(self):
        self.script = []
        self.received = []  # (request, metadata dict)

    async def _answer(self, request, context, response):
        self.received.append((request, dict(context.invocation_metadata())))
        action = self.script.pop(0) if self.script else ("ok",)
        if action[0] == "abort":
            _, code, message, retry_delay_s = action
            await context.abort(
                code, message, trailing_metadata=status_trailer(code.value[0], message, retry_delay_s)
            )
        if action[0] == "sleep":
            await asyncio.sleep(action[1])
        if action[0] == "partial":
            response.partial_success.error_message = action[2]
            setattr(response.partial_success, action[1], action[3])
        return response

    async def Export(self, request, context):  # noqa: N802 - one name serves the three services
        if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
            response = metrics_service_pb2.ExportMetricsServiceResponse()
        elif isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
            response = trace_service_pb2.ExportTraceServiceResponse()
        else:
            response = logs_service_pb2.ExportLogsServiceResponse()
        return await self._answer(request, context, response)


def with_local_collector(scenario):
    """Run `scenario(collector, port)` against a fresh in-process gRPC server."""

    async def main():
        collector = ScriptedCollector()
        server = grpc.aio.server()
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(collector, server)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(collector, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            return await scenario(collector, port)
        finally:
            await server.stop(None)

    return asyncio.run(main())


def test_local_server_failure_mapping_and_partial_success():
    async def scenario(collector, port):
        collector.script = [
            ("abort", grpc.StatusCode.UNAVAILABLE, "collector restarting", 2.5),
            ("abort", grpc.StatusCode.INVALID_ARGUMENT, "bad metric name", None),
            ("abort", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota", None),
            ("abort", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota", 1.0),
            ("partial", "rejected_data_points", "2 points had NaN bounds", 2),
            ("ok",),
        ]
        exporter = OtlpGrpcExporter("http://127.0.0.1:%d" % port, headers={"X-Tenant": "fleet-a"})
        results = [await exporter.export_metrics(metrics_request()) for _ in range(6)]
        await exporter.close()
        return collector, results

    collector, results = with_local_collector(scenario)
    unavailable, invalid, exhausted, exhausted_with_info, partial, ok = results
    assert (unavailable.ok, unavailable.retryable, unavailable.retry_after_s) == (False, True, 2.5)
    assert "UNAVAILABLE" in unavailable.message and "collector restarting" in unavailable.message
    assert (invalid.ok, invalid.retryable) == (False, False)
    assert "INVALID_ARGUMENT" in invalid.message and "bad metric name" in invalid.message
    assert (exhausted.ok, exhausted.retryable, exhausted.retry_after_s) == (False, False, None)
    assert (exhausted_with_info.retryable, exhausted_with_info.retry_after_s) == (True, 1.0)
    assert (partial.ok, partial.rejected_points) == (True, 2)
    assert "2 points had NaN bounds" in partial.message
    assert (ok.ok, ok.rejected_points, ok.message) == (True, 0, "")
    # Every attempt arrived intact, with the headers as lower-case metadata.
    assert len(collector.received) == 6
    for request, metadata in collector.received:
        assert request == metrics_request()
        assert metadata["x-tenant"] == "fleet-a"
        assert metadata["user-agent"].startswith("litetel-gateway")


def test_traces_and_logs_partial_success_count_their_own_fields():
    async def scenario(collector, port):
        collector.script = [
            ("partial", "rejected_spans", "span too big", 4),
            ("partial", "rejected_log_records", "log too big", 5),
        ]
        exporter = OtlpGrpcExporter("http://127.0.0.1:%d" % port, compression="none")
        traces = await exporter.export_traces(trace_service_pb2.ExportTraceServiceRequest())
        logs = await exporter.export_logs(logs_service_pb2.ExportLogsServiceRequest())
        await exporter.close()
        return traces, logs

    traces, logs = with_local_collector(scenario)
    assert (traces.ok, traces.rejected_points) == (True, 4) and "span too big" in traces.message
    assert (logs.ok, logs.rejected_points) == (True, 5) and "log too big" in logs.message


def test_deadline_exceeded_is_retryable():
    async def scenario(collector, port):
        collector.script = [("sleep", 2.0)]
        exporter = OtlpGrpcExporter("http://127.0.0.1:%d" % port, timeout_s=0.2)
        result = await exporter.export_metrics(metrics_request())
        await exporter.close()
        return result

    result = with_local_collector(scenario)
    assert (result.ok, result.retryable) == (False, True)
    assert "DEADLINE_EXCEEDED" in result.message


def test_nothing_listening_is_retryable_and_exporter_recovers_when_it_appears():
    port = free_port()

    async def main():
        exporter = OtlpGrpcExporter("127.0.0.1:%d" % port, insecure=True, timeout_s=2)
        down = await exporter.export_metrics(metrics_request())
        await exporter.close()  # the drain loop may close and reuse the exporter
        server = grpc.aio.server()
        collector = ScriptedCollector()
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(collector, server)
        server.add_insecure_port("127.0.0.1:%d" % port)
        await server.start()
        try:
            up = await exporter.export_metrics(metrics_request())
        finally:
            await exporter.close()
            await server.stop(None)
        return down, up, collector

    down, up, collector = asyncio.run(main())
    assert (down.ok, down.retryable) == (False, True) and "UNAVAILABLE" in down.message
    assert up.ok and len(collector.received) == 1


# --- real rotel ---------------------------------------------------------------------------------------------


def export_once(endpoint, request):
    async def main():
        exporter = OtlpGrpcExporter(endpoint)
        try:
            return await exporter.export_metrics(request)
        finally:
            await exporter.close()

    return asyncio.run(main())


def test_rotel_receives_the_values_exported_over_grpc(rotel):
    result = export_once(
        "http://" + rotel.grpc_endpoint, metrics_request("sat-42", counter=918273, gauge=-3.75)
    )
    assert result.ok, result.message
    rotel.wait_for_total("frames.sent", 918273, timeout_s=10, **{"device.id": "sat-42"})
    (counter,) = rotel.points("frames.sent")
    assert counter.resource == {"device.id": "sat-42", "service.name": "litetel-test"}
    assert (counter.scope, counter.unit, counter.description) == ("probe", "{frame}", "frames sent")
    assert (counter.temporality, counter.monotonic) == ("delta", True)
    assert (counter.start_ns, counter.time_ns) == (T0, T0 + 10**9)
    rotel.wait_for_points(lambda points: any(p.metric == "loop.duration" for p in points))
    assert [g.value for g in rotel.points("board.temperature")] == [-3.75]
    (hist,) = rotel.points("loop.duration")
    assert (hist.count, hist.sum, hist.bounds, hist.bucket_counts) == (6, 77.25, [1, 5, 10], [3, 1, 0, 2])


def test_gateway_exports_over_grpc_to_rotel(make_gateway, rotel):
    """End to end: a device posts to a gateway process configured with OTEL_EXPORTER_OTLP_PROTOCOL=grpc."""
    gateway = make_gateway(
        otlp_endpoint="http://" + rotel.grpc_endpoint, env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    )
    dev = SimDevice(resource={"service.name": "grpc-fleet"})
    requests = dev.series(dev.instrument("http.server.request.count", COUNTER, "{request}"), {"route": "/a"})
    latency = dev.series(dev.instrument("http.server.duration", HISTOGRAM, "ms", bounds=[10, 50]))
    second = 1_000_000
    t = int(time.time()) * second - 30 * second
    frames = [
        dev.frame([requests, 4, latency, [2, 70.0, 30.0, 40.0, 1, 2]], t, t + second),
        dev.frame([requests, 9], t + second, t + 2 * second),
    ]
    status, reply = dev.post(gateway.url, frames)
    assert (status, reply["results"]) == (200, ["ok", "ok"])

    rotel.wait_for_total("http.server.request.count", 13, timeout_s=20, **{"device.id": "sat-7"})
    points = rotel.points("http.server.request.count")
    assert [p.value for p in points] == [4, 9]
    assert points[1].start_ns == points[0].time_ns == (t + second) * 1000
    assert points[0].resource["service.name"] == "grpc-fleet" and points[0].attributes == {"route": "/a"}
    rotel.wait_for_total("http.server.duration", 2, timeout_s=10)
    (hist,) = rotel.points("http.server.duration")
    assert (hist.count, hist.sum, hist.min, hist.max, hist.bucket_counts) == (2, 70, 30, 40, [0, 2, 0])
    # Arrival proves the protocol: the only endpoint configured is rotel's gRPC port, where OTLP/HTTP fails.


# --- TLS (https:// endpoints) -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """(key PEM, certificate PEM) for localhost/127.0.0.1, made by the openssl command-line tool."""
    if shutil.which("openssl") is None:
        pytest.skip("LOUD: no openssl command to make a test certificate; gRPC over TLS NOT tested")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return key.read_bytes(), cert.read_bytes()


def test_https_endpoint_uses_tls_and_verifies_the_server(self_signed):
    key, cert = self_signed

    async def main():
        collector = ScriptedCollector()
        server = grpc.aio.server()
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(collector, server)
        port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)]))
        await server.start()
        try:
            results = []
            for endpoint, roots in [
                ("https://localhost:%d" % port, cert),  # trusted: delivered over TLS
                ("https://localhost:%d" % port, None),  # system trust store: the self-signed cert is refused
                ("http://localhost:%d" % port, None),  # plaintext to a TLS port: fails
            ]:
                exporter = OtlpGrpcExporter(endpoint, root_certificates=roots, timeout_s=5)
                results.append(await exporter.export_metrics(metrics_request()))
                await exporter.close()
            return results, collector
        finally:
            await server.stop(None)

    (trusted, untrusted, plaintext), collector = asyncio.run(main())
    assert trusted.ok, trusted.message
    assert (untrusted.ok, untrusted.retryable) == (False, True) and "UNAVAILABLE" in untrusted.message
    assert (plaintext.ok, plaintext.retryable) == (False, True)
    assert len(collector.received) == 1
