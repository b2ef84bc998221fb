"""Per-signal export settings end to end: traces and logs sent to their own endpoints (a gateway process
and real rotel), exporters built from the settings (shared when they can be, TLS with a private CA over
OTLP/HTTP and OTLP/gRPC), and the per-signal export counters on /metrics."""

import asyncio
import shutil
import subprocess
import time

import pytest
from faults.scenario_support import gateway_metrics, metric
from support.gateway import TEST_DEVICE_ID, TEST_DEVICE_KEY
from support.ports import free_port, wait_for

from litetel.device import Device
from litetel.ring_buffer import RingBuffer
from litetel_gateway.config import load_config
from litetel_gateway.server import make_exporters

BASE = ["--keys", "k.toml"]


def exporters_for(*argv, environ=None):
    return make_exporters(load_config(BASE + list(argv), environ=environ or {}))


# -- exporters built from the settings ----------------------------------------------------------------


def test_http_signals_share_one_exporter_with_their_own_urls():
    exporters = exporters_for(
        "--otlp-endpoint", "http://collector:4318", "--otlp-traces-endpoint", "http://traces:9/in"
    )
    assert exporters["metrics"] is exporters["traces"] is exporters["logs"]
    assert exporters["metrics"].endpoints == {
        "metrics": "http://collector:4318/v1/metrics",
        "traces": "http://traces:9/in",
        "logs": "http://collector:4318/v1/logs",
    }


def test_signals_with_different_settings_get_their_own_exporter():
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x-tenant=logs",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "traces-collector:4317",
        "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "true",
    }
    exporters = exporters_for(environ=env)
    assert len({id(e) for e in exporters.values()}) == 3
    assert exporters["logs"].headers["x-tenant"] == "logs" and "x-tenant" not in exporters["metrics"].headers
    traces = exporters["traces"]
    assert type(traces).__name__ == "OtlpGrpcExporter"
    assert (traces.target, traces.secure) == ("traces-collector:4317", False)  # INSECURE: plaintext
    assert exporters_for("--otlp-protocol", "grpc", "--otlp-endpoint", "c:4317")["metrics"].secure


def test_no_endpoint_no_exporter():
    assert exporters_for() == {}
    assert set(exporters_for("--otlp-logs-endpoint", "http://logs:1/l")) == {"logs"}


# -- TLS with a private CA --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (it is its own CA) and its key, made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("OPENSSL NOT FOUND: needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "ca.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "keyUsage=digitalSignature,keyCertSign",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def trace_request():
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    request = trace_service_pb2.ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.name, span.trace_id, span.span_id = "tls", b"\x01" * 16, b"\x02" * 8
    return request


async def https_receiver(cert, key, received):
    """An OTLP/HTTP traces receiver on TLS: answers 200 with an empty response, keeps the bodies."""
    import ssl

    from aiohttp import web

    async def traces(request):
        received.append(await request.read())
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    return runner, runner.addresses[0][1]


def test_http_export_trusts_the_configured_certificate(tls_files):
    cert, key = tls_files

    async def scenario():
        received = []
        runner, port = await https_receiver(cert, key, received)
        url = "https://127.0.0.1:%d/v1/traces" % port
        try:
            trusting = exporters_for("--otlp-traces-endpoint", url, "--otlp-certificate", str(cert))["traces"]
            system_store = exporters_for("--otlp-traces-endpoint", url)["traces"]
            ok, refused = (
                await trusting.export_traces(trace_request()),
                await system_store.export_traces(trace_request()),
            )
            await trusting.close()
            await system_store.close()
        finally:
            await runner.cleanup()
        return ok, refused, received

    ok, refused, received = asyncio.run(scenario())
    assert ok.ok, ok.message
    assert not refused.ok and refused.retryable and "certificate" in refused.message.lower()
    assert len(received) == 1  # only the exporter that trusts the CA got through


def test_grpc_export_trusts_the_configured_certificate(tls_files):
    grpc = pytest.importorskip("grpc")
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    cert, key = tls_files
    received = []

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(self, request, context):
            received.append(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    async def scenario():
        server = grpc.aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
        credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
        port = server.add_secure_port("127.0.0.1:0", credentials)
        await server.start()
        try:
            # a scheme-less endpoint is TLS unless --otlp-insecure says otherwise
            args = ["--otlp-protocol", "grpc", "--otlp-traces-endpoint", "127.0.0.1:%d" % port]
            trusting = exporters_for(*args, "--otlp-certificate", str(cert))["traces"]
            plaintext = exporters_for(*args, "--otlp-insecure", "--otlp-timeout", "2")["traces"]
            results = (
                await trusting.export_traces(trace_request()),
                await plaintext.export_traces(trace_request()),
            )
            await trusting.close()
            await plaintext.close()
        finally:
            await server.stop(None)
        return results

    ok, refused = asyncio.run(scenario())
    assert ok.ok, ok.message
    assert not refused.ok  # plaintext against a TLS port: the handshake fails
    assert len(received) == 1 and received[0].resource_spans[0].scope_spans[0].spans[0].name == "tls"


# -- a gateway process: traces and logs to their own endpoints, counted per signal on /metrics -------


def test_traces_and_logs_go_to_their_own_endpoints_and_are_counted_per_signal(make_gateway, rotel):
    dead_base = "http://127.0.0.1:%d" % free_port()  # nothing listens: metrics exports keep failing
    gateway = make_gateway(
        otlp_endpoint=dead_base,
        extra_args=[
            "--otlp-traces-endpoint", rotel.http_endpoint + "/v1/traces",
            "--otlp-logs-endpoint", rotel.http_endpoint + "/v1/logs",
        ],
    )  # fmt: skip
    dev = Device(
        TEST_DEVICE_ID,
        endpoint=gateway.url,
        key=bytes.fromhex(TEST_DEVICE_KEY),
        buffer=RingBuffer(capacity=1 << 16),
        resource={"service.name": "signal-endpoints"},
    )
    dev.meter("signals").counter("signals.requests").add(5)
    tracer, log = dev.tracer("signals"), dev.logger("signals")
    with tracer.span("outer"):
        with tracer.span("inner"):
            log.info("inside")
        time.sleep(0.001)
    with tracer.span("second"):
        pass
    log.warning("outside")
    dev.collect()
    assert dev.flush() >= 1

    wait_for(
        lambda: len(rotel.spans()) >= 3 and len(rotel.logs()) >= 2, 15, message="spans and logs in rotel"
    )
    assert {s.name for s in rotel.spans()} == {"outer", "inner", "second"}
    assert {r.body for r in rotel.logs()} == {"inside", "outside"}

    def exported():
        values = gateway_metrics(gateway)
        done = (
            metric(values, "litetel_gateway_signal_items_out_total", signal="traces") == 3
            and metric(values, "litetel_gateway_signal_items_out_total", signal="logs") == 2
            and metric(
                values, "litetel_gateway_signal_export_requests_total", signal="metrics", outcome="retry"
            )
        )
        return values if done else None

    values = wait_for(exported, 15, message="per-signal export counters on /metrics")
    for signal in ("traces", "logs"):
        assert (
            metric(values, "litetel_gateway_signal_export_requests_total", signal=signal, outcome="ok") >= 1
        )
        assert metric(values, "litetel_gateway_signal_queue_frames", signal=signal) == 0
        assert metric(values, "litetel_gateway_signal_dead_letter_items_total", signal=signal) == 0
        assert metric(values, "litetel_gateway_signal_export_seconds_count", signal=signal) >= 1
    # the metrics signal is stuck on the dead base endpoint: nothing out, its frame still queued
    assert metric(values, "litetel_gateway_signal_items_out_total", signal="metrics") == 0
    assert metric(values, "litetel_gateway_signal_export_requests_total", signal="metrics", outcome="ok") == 0
    assert metric(values, "litetel_gateway_signal_queue_frames", signal="metrics") >= 1
    assert metric(values, "litetel_gateway_signal_queue_items", signal="metrics") >= 1
    # the unlabelled families stay the metrics signal's alone
    assert metric(values, "litetel_gateway_points_out_total") == 0
    assert metric(values, "litetel_gateway_export_requests_total", outcome="retry") == metric(
        values, "litetel_gateway_signal_export_requests_total", signal="metrics", outcome="retry"
    )
    assert metric(values, "litetel_gateway_queue_frames") == metric(
        values, "litetel_gateway_signal_queue_frames", signal="metrics"
    )
