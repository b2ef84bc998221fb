"""The rotel fixture against the real rotel-agent: hand-made OTLP in, parsed points out."""

import gzip
import time
import urllib.request

import pytest
from support.rotel import total
from support.rotel_log import DebugLogParser, parse_value

pb_metrics = pytest.importorskip("opentelemetry.proto.metrics.v1.metrics_pb2")
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest  # noqa: E402
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (  # noqa: E402
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

DELTA = pb_metrics.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = pb_metrics.AGGREGATION_TEMPORALITY_CUMULATIVE


def _attrs(target, **values):
    for key, value in values.items():
        kv = target.add(key=key.replace("_", "."))
        if isinstance(value, bool):
            kv.value.bool_value = value
        elif isinstance(value, int):
            kv.value.int_value = value
        elif isinstance(value, float):
            kv.value.double_value = value
        else:
            kv.value.string_value = value


def _metrics_request(device="sat-7", requests=(("/a", 42), ("/b", 8)), temporality=DELTA, now=None):
    now = now or time.time_ns()
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    _attrs(rm.resource.attributes, service_name="fleet", device_id=device)
    sm = rm.scope_metrics.add()
    sm.scope.name, sm.scope.version = "litetel.test", "1.0"
    counter = sm.metrics.add(name="requests.total", unit="{request}", description="requests served")
    counter.sum.aggregation_temporality, counter.sum.is_monotonic = temporality, True
    for route, value in requests:
        point = counter.sum.data_points.add(
            start_time_unix_nano=now - 10**9, time_unix_nano=now, as_int=value
        )
        _attrs(point.attributes, route=route, ok=True)
    gauge = sm.metrics.add(name="temperature", unit="Cel")
    gauge.gauge.data_points.add(time_unix_nano=now, as_double=-3.25)
    hist = sm.metrics.add(name="latency", unit="s")
    hist.histogram.aggregation_temporality = temporality
    point = hist.histogram.data_points.add(
        start_time_unix_nano=now - 10**9, time_unix_nano=now, count=5, sum=2.5
    )
    point.min, point.max = 0.1, 1.2
    point.explicit_bounds.extend([0.5, 1.0])
    point.bucket_counts.extend([2, 2, 1])
    return req


def _post(url, message, compress=False):
    body = message.SerializeToString()
    headers = {"Content-Type": "application/x-protobuf"}
    if compress:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    with urllib.request.urlopen(
        urllib.request.Request(url, data=body, headers=headers), timeout=5
    ) as response:
        return response.status


def test_metric_points_are_parsed_field_by_field(rotel):
    now = time.time_ns()
    assert _post(rotel.http_endpoint + "/v1/metrics", _metrics_request(now=now)) == 200
    points = rotel.wait_for_points(lambda pts: len(pts) >= 4, timeout_s=10)
    by_metric = {}
    for point in points:
        by_metric.setdefault(point.metric, []).append(point)

    a, b = by_metric["requests.total"]
    assert (a.value, a.attributes, b.value) == (42, {"route": "/a", "ok": True}, 8)
    assert a.resource == {"service.name": "fleet", "device.id": "sat-7"}
    assert (a.scope, a.scope_version, a.unit, a.description) == (
        "litetel.test",
        "1.0",
        "{request}",
        "requests served",
    )
    assert (a.type, a.temporality, a.monotonic) == ("sum", "delta", True)
    assert (a.start_ns, a.time_ns) == (now - 10**9, now)

    (gauge,) = by_metric["temperature"]
    assert (gauge.type, gauge.value, gauge.unit, gauge.temporality) == ("gauge", -3.25, "Cel", None)

    (hist,) = by_metric["latency"]
    assert hist.type == "histogram"
    assert (hist.count, hist.sum, hist.min, hist.max) == (5, 2.5, 0.1, 1.2)
    assert (hist.bounds, hist.bucket_counts) == ([0.5, 1.0], [2, 2, 1])


def test_totals_add_deltas_and_take_the_latest_cumulative(rotel):
    url = rotel.http_endpoint + "/v1/metrics"
    _post(url, _metrics_request(requests=(("/a", 1), ("/b", 2))))
    _post(url, _metrics_request(requests=(("/a", 10),)), compress=True)
    rotel.wait_for_total("requests.total", 13, timeout_s=10)
    assert rotel.total("requests.total", route="/a") == 11
    assert rotel.total("requests.total", **{"device.id": "sat-7"}) == 13  # a resource attribute
    assert rotel.total("requests.total", **{"device.id": "other"}) == 0
    assert rotel.total("latency") == 10  # histogram counts

    now = time.time_ns()
    _post(url, _metrics_request(device="sat-9", requests=(("/a", 5),), temporality=CUMULATIVE, now=now))
    _post(url, _metrics_request(device="sat-9", requests=(("/a", 7),), temporality=CUMULATIVE, now=now + 1))
    rotel.wait_for_total("requests.total", 7, timeout_s=10, **{"device.id": "sat-9"})


def test_restart_keeps_the_ports_and_the_points(rotel):
    ports = (rotel.http_port, rotel.grpc_port)
    _post(rotel.http_endpoint + "/v1/metrics", _metrics_request(requests=(("/a", 3),)))
    rotel.wait_for_total("requests.total", 3)
    old_pid = rotel.pid
    rotel.restart()
    assert (rotel.http_port, rotel.grpc_port) == ports and rotel.pid != old_pid
    _post(rotel.http_endpoint + "/v1/metrics", _metrics_request(requests=(("/a", 4),)))
    rotel.wait_for_total("requests.total", 7)

    rotel.kill()
    assert not rotel.running
    with pytest.raises(OSError):
        _post(rotel.http_endpoint + "/v1/metrics", _metrics_request())
    rotel.start()
    rotel.clear()
    assert rotel.points() == []


def test_grpc_metrics_arrive_too(rotel):
    grpc = pytest.importorskip("grpc")
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc

    with grpc.insecure_channel(rotel.grpc_endpoint) as channel:
        metrics_service_pb2_grpc.MetricsServiceStub(channel).Export(_metrics_request(), timeout=5)
    rotel.wait_for_total("requests.total", 50, timeout_s=10)


def test_spans_and_log_records_are_parsed(rotel):
    now = time.time_ns()
    traces = ExportTraceServiceRequest()
    rs = traces.resource_spans.add()
    _attrs(rs.resource.attributes, service_name="gateway")
    ss = rs.scope_spans.add()
    ss.scope.name = "litetel_gateway"
    span = ss.spans.add(trace_id=bytes(range(16)), span_id=bytes(range(8)), name="POST /v1/frames", kind=2)
    span.start_time_unix_nano, span.end_time_unix_nano = now - 1000, now
    span.status.code = 1
    _attrs(span.attributes, http_status=200)
    _post(rotel.http_endpoint + "/v1/traces", traces)

    logs = ExportLogsServiceRequest()
    rl = logs.resource_logs.add()
    _attrs(rl.resource.attributes, service_name="gateway")
    record = rl.scope_logs.add().log_records.add(time_unix_nano=now, severity_number=13, severity_text="WARN")
    record.body.string_value = "queue at 80 % (disk)"
    _attrs(record.attributes, reason="disk")
    _post(rotel.http_endpoint + "/v1/logs", logs)

    from support.ports import wait_for

    wait_for(lambda: rotel.spans() and rotel.logs(), 10)
    (parsed_span,) = rotel.spans()
    assert parsed_span.name == "POST /v1/frames"
    assert parsed_span.trace_id == bytes(range(16)).hex() and parsed_span.span_id == bytes(range(8)).hex()
    assert (parsed_span.start_ns, parsed_span.end_ns) == (now - 1000, now)
    assert parsed_span.kind == "SPAN_KIND_SERVER" and parsed_span.status_code == "STATUS_CODE_OK"
    assert parsed_span.attributes == {"http.status": 200}
    assert parsed_span.resource == {"service.name": "gateway"}
    (log,) = rotel.logs()
    assert (log.body, log.severity_number, log.severity_text) == ("queue at 80 % (disk)", 13, "WARN")
    assert log.attributes == {"reason": "disk"} and log.time_ns == now


def test_parser_handles_split_writes_and_rotels_own_lines():
    text = (
        "2026-11-25T03:56:56.105441Z  INFO Starting Rotel.\n"
        "ResourceMetrics #0\nResource attributes:\n     -> device.id: Str(a (b), c)\n"
        "ScopeMetrics #0\nMetric #0\nDescriptor:\n     -> Name: c\n     -> Description: \n     -> DataType: Sum\n"
        "     -> IsMonotonic: true\n     -> AggregationTemporality: AGGREGATION_TEMPORALITY_DELTA\n"
        "NumberDataPoints #0\nStartTimestamp: 1\nTimestamp: 2\nValue: 1.5\n"
        "NumberDataPoints #1\nTimestamp: 3\nValue: 4\n"
    )
    parser = DebugLogParser()
    lines = text.splitlines()
    parser.feed(lines[:15])
    assert [p.value for p in parser.points()] == [None]  # the open point, its value not read yet
    parser.feed(lines[15:])
    points = parser.points()
    assert [p.value for p in points] == [1.5, 4]
    assert points[0].resource == {"device.id": "a (b), c"} and points[0].scope == ""
    assert points[0].description == "" and points[1].start_ns == 0
    assert total(points, "c") == 5.5


@pytest.mark.parametrize(
    "rendered, value",
    [
        ("Int(-3)", -3),
        ("Double(2.5)", 2.5),
        ("Bool(false)", False),
        ("Str()", ""),
        ("Bytes([1, 255])", b"\x01\xff"),
        ("Slice(Str(x), Int(2))", ["x", 2]),
        ("Map(k:Double(2), s:Str(v))", {"k": 2.0, "s": "v"}),
    ],
)
def test_attribute_values(rendered, value):
    assert parse_value(rendered) == value
