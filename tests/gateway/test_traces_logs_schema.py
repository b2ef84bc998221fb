"""payload_schema for spans, log records and exemplars, and their expansion to OTLP: each refusal names its
reason, unknown dictionary entries ask for the dictionary, and a valid frame expands to the OTLP fields."""

import collections

import pytest

from litetel import frame
from litetel.device import Device
from litetel_gateway.decoder import Dictionary, Limits, NeedDict, Reject
from litetel_gateway.expand import ResourceSettings, build_request
from litetel_gateway.expand_signals import build_logs_request, build_traces_request, severity_text
from litetel_gateway.exporter_http import signal_endpoint
from litetel_gateway.payload_schema import validate_exemplars, validate_logs, validate_spans

Row = collections.namedtuple("Row", "id device epoch seq start_us end_us corrected n_points points")
TID, SID = bytes(range(1, 17)), bytes(range(1, 9))


def device_payload():
    dev = Device("schema-dev", resource={"service.name": "s"})
    tracer, log = dev.tracer("app", "3"), dev.logger("app")
    latency = dev.meter("app").histogram("lat", boundaries=(1, 10))
    with tracer.span("parent", {"a": "x"}) as parent, tracer.span("child", {"n": 2}) as child:
        child.add_event("ev", {"k": True})
        log.warning("w", {"f": 1.5})
        latency.record(5)
    header, payload, _ = frame.parse_frame(dev.collect())
    body = frame.decode_payload(header, payload)
    d = Dictionary()
    d.apply_delta(body[0], Limits())
    return body, d, parent, child


def changed(good):
    """``with_field(i, v)``: a one-entry list holding ``good`` with field ``i`` set to ``v``."""

    def with_field(i, v):
        e = list(good)
        e[i] = v
        return [e]

    return with_field


def reason(fn, *args):
    with pytest.raises(Reject) as info:
        fn(*args)
    return info.value.reason


def test_a_device_payload_validates_and_expands_to_otlp():
    body, d, parent, child = device_payload()
    spans, logs = body[2], body[3]
    assert validate_spans(spans, d, Limits()) == 2 and validate_logs(logs, d, Limits()) == 1
    import msgpack

    row = Row(1, "schema-dev", 7, 1, 1_000_000, 2_000_000, 0, 2, msgpack.packb(spans))
    request, n = build_traces_request([row], lambda dev, ep: d, ResourceSettings())
    assert n == 2
    (rs,) = request.resource_spans
    attrs = {kv.key: kv.value for kv in rs.resource.attributes}
    assert attrs["device.id"].string_value == "schema-dev" and attrs["service.name"].string_value == "s"
    (ss,) = rs.scope_spans
    assert (ss.scope.name, ss.scope.version) == ("app", "3")
    by_name = {s.name: s for s in ss.spans}
    c, p = by_name["child"], by_name["parent"]
    assert c.trace_id == parent.trace_id and c.parent_span_id == parent.span_id and p.parent_span_id == b""
    assert c.span_id == child.span_id and c.end_time_unix_nano <= 2_000_000_000
    assert c.end_time_unix_nano - c.start_time_unix_nano == (child.end_us - child.start_us) * 1000
    assert p.start_time_unix_nano <= c.start_time_unix_nano
    assert c.attributes[0].key == "n" and c.attributes[0].value.int_value == 2
    assert c.events[0].name == "ev" and c.events[0].attributes[0].value.bool_value is True
    assert c.flags == 0x101

    lrow = row._replace(points=msgpack.packb(logs), n_points=1)
    lrequest, n = build_logs_request([lrow], lambda dev, ep: d, ResourceSettings())
    (record,) = lrequest.resource_logs[0].scope_logs[0].log_records
    assert (n, record.body.string_value, record.severity_number, record.severity_text) == (1, "w", 13, "WARN")
    assert record.trace_id == child.trace_id and record.span_id == child.span_id
    assert record.attributes[0].value.double_value == 1.5


def test_exemplars_expand_into_the_histogram_point():
    import msgpack

    body, d, _parent, _child = device_payload()
    points = body[1]
    hist = next(points[i] for i in range(0, len(points), 2) if d.series_kind[points[i]] == 3)
    exemplars = [hist, [[5, 10, TID, SID]]]
    assert validate_exemplars(exemplars, points, d) == 1
    queued = msgpack.packb([points, None, [hist, [[5, 1_999_990, TID, SID]]]])
    request, _ = build_request(
        [Row(1, "schema-dev", 7, 1, 1_000_000, 2_000_000, 0, 2, queued)],
        lambda dev, ep: d,
        ResourceSettings(),
    )
    metrics = request.resource_metrics[0].scope_metrics
    (point,) = next(m for sm in metrics for m in sm.metrics if m.name == "lat").histogram.data_points
    (ex,) = point.exemplars
    assert (ex.as_int, ex.time_unix_nano, ex.trace_id, ex.span_id) == (5, 1_999_990_000, TID, SID)


def test_span_refusals_name_their_reason():
    body, d, _, _ = device_payload()
    with_field = changed(body[2][0])
    limits = Limits()
    assert reason(validate_spans, {"not": "a list"}, d, limits) == "schema"
    assert reason(validate_spans, [body[2][0][:12]], d, limits) == "schema"
    assert reason(validate_spans, with_field(1, bytes(16)), d, limits) == "schema"  # zero trace id
    assert reason(validate_spans, with_field(2, b"short"), d, limits) == "schema"
    assert reason(validate_spans, with_field(3, "not bytes"), d, limits) == "schema"
    assert reason(validate_spans, with_field(5, 9), d, limits) == "schema"  # kind
    assert reason(validate_spans, with_field(6, -1), d, limits) == "schema"  # start after frame end
    assert reason(validate_spans, with_field(8, [1]), d, limits) == "schema"  # odd attrs
    assert reason(validate_spans, with_field(8, [4, "x", 4, "y"]), d, limits) == "schema"  # duplicate key
    assert (
        reason(validate_spans, with_field(8, [0, "x" * 5000]), d, Limits(max_value_len=10)) == "limit_string"
    )
    assert reason(validate_spans, with_field(9, [[0, -5, []]]), d, limits) == "schema"  # event before start
    assert reason(validate_spans, with_field(10, 3), d, limits) == "schema"  # status
    with pytest.raises(NeedDict):
        validate_spans(with_field(4, len(d.strings)), d, limits)  # a name the gateway lacks
    with pytest.raises(NeedDict):
        validate_spans(with_field(0, len(d.scopes)), d, limits)


def test_an_inline_span_and_event_name_validates_and_expands():
    # A device whose string table is full sends a new name as text instead of a sid (wire format §2.4).
    import msgpack

    body, d, _, _ = device_payload()
    span = list(body[2][0])
    span[4] = "order 8131"
    span[9] = [["retry 3", 0, []]]
    limits = Limits()
    assert validate_spans([span], d, limits) == 1
    assert reason(validate_spans, [span], d, Limits(max_value_len=5)) == "limit_string"
    assert reason(validate_spans, changed(span)(4, 1.5), d, limits) == "schema"
    assert reason(validate_spans, changed(span)(9, [[b"x", 0, []]]), d, limits) == "schema"
    row = Row(1, "schema-dev", 7, 1, 1_000_000, 2_000_000, 0, 1, msgpack.packb([span]))
    request, n = build_traces_request([row], lambda dev, ep: d, ResourceSettings())
    (otlp_span,) = request.resource_spans[0].scope_spans[0].spans
    assert (n, otlp_span.name, otlp_span.events[0].name) == (1, "order 8131", "retry 3")


def test_log_and_exemplar_refusals_name_their_reason():
    body, d, _, _ = device_payload()
    with_field = changed(body[3][0])
    limits = Limits()
    assert validate_logs(None, d, limits) == 0
    assert reason(validate_logs, with_field(2, 25), d, limits) == "schema"  # severity
    assert reason(validate_logs, with_field(3, [1, 2]), d, limits) == "schema"  # body type
    assert reason(validate_logs, with_field(5, b"x"), d, limits) == "schema"  # trace id size
    assert reason(validate_logs, with_field(7, 256), d, limits) == "schema"
    points = body[1]
    counter_like = points[0]
    assert reason(validate_exemplars, [999, []], points, d) == "schema"  # not a point of this frame
    if d.series_kind[counter_like] != 3:
        assert reason(validate_exemplars, [counter_like, []], points, d) == "schema"
    hist = next(points[i] for i in range(0, len(points), 2) if d.series_kind[points[i]] == 3)
    assert reason(validate_exemplars, [hist, [[1.0, 0, TID]]], points, d) == "schema"
    assert reason(validate_exemplars, [hist, [[float("nan"), 0, TID, SID]]], points, d) == "schema"


def test_severity_text_and_signal_endpoints():
    assert [severity_text(n) for n in (0, 1, 5, 9, 14, 17, 21, 24)] == [
        "",
        "TRACE",
        "DEBUG",
        "INFO",
        "WARN2",
        "ERROR",
        "FATAL",
        "FATAL4",
    ]
    assert signal_endpoint("http://c:4318/v1/metrics", "traces") == "http://c:4318/v1/traces"
    assert signal_endpoint("http://c:4318/custom/path", "logs") == "http://c:4318/custom/v1/logs"
