"""expand.py: queued frames → ExportMetricsServiceRequest, checked field by field against the OTLP data
model invariants (bucket counts sum to count, bounds increase, start ≤ time, delta start = previous end)."""

from devicesim import COUNTER, GAUGE, HISTOGRAM, UP_DOWN_COUNTER, SimDevice
from google.protobuf.internal import api_implementation
from opentelemetry.proto.metrics.v1 import metrics_pb2

from litetel_gateway.expand import ResourceSettings, build_request

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND


def attrs(kvs):
    out = {}
    for kv in kvs:
        field = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, field)
    return out


def export(harness, settings=None):
    request, n = build_request(
        harness.queue(), harness.store.reader_dictionary, settings or ResourceSettings()
    )
    # what goes on the wire parses back to the same message
    again = type(request).FromString(request.SerializeToString())
    assert again == request
    return request, n


def metrics_by_name(request):
    out = {}
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out.setdefault(m.name, []).append((rm, sm, m))
    return out


def test_upb_backend_is_in_use():
    assert api_implementation.Type() == "upb"


def full_device():
    dev = SimDevice(resource={"service.name": "model-server", "host.name": "pi"})
    c = dev.series(
        dev.instrument("http.requests", COUNTER, "{request}", "Requests served"),
        {"route": "/a", "ok": True, "code": 200, "ratio": 0.5},
    )
    u = dev.series(dev.instrument("queue.depth", UP_DOWN_COUNTER, "{item}", scope=("other.scope", "")))
    g = dev.series(dev.instrument("temperature", GAUGE, "Cel"))
    h = dev.series(dev.instrument("latency", HISTOGRAM, "ms", "", bounds=[1, 5, 10]), {"route": "/a"})
    return dev, c, u, g, h


def test_every_instrument_kind_expands_with_its_fields(harness):
    dev, c, u, g, h = full_device()
    harness.send(
        dev, [dev.frame([c, 5, u, -2, g, 21.5, h, [3, 12.5, 0.5, 9.0, 0, 1, 0, 2]], T0, T0 + SECOND)]
    )
    request, n = export(harness)
    assert n == 4
    (rm,) = request.resource_metrics
    resource = attrs(rm.resource.attributes)
    assert resource == {"service.name": "model-server", "host.name": "pi", "device.id": "sat-7"}
    scopes = {sm.scope.name: sm for sm in rm.scope_metrics}
    assert scopes["test.scope"].scope.version == "1.0" and scopes["other.scope"].scope.version == ""
    by_name = metrics_by_name(request)

    ((_, _, m),) = by_name["http.requests"]
    assert (m.unit, m.description) == ("{request}", "Requests served")
    assert m.sum.is_monotonic and m.sum.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    (dp,) = m.sum.data_points
    assert dp.as_int == 5 and dp.WhichOneof("value") == "as_int"
    assert attrs(dp.attributes) == {"route": "/a", "ok": True, "code": 200, "ratio": 0.5}
    assert (dp.start_time_unix_nano, dp.time_unix_nano) == (T0 * 1000, (T0 + SECOND) * 1000)

    ((_, sm, m),) = by_name["queue.depth"]
    assert sm.scope.name == "other.scope" and not m.sum.is_monotonic and m.sum.data_points[0].as_int == -2

    ((_, _, m),) = by_name["temperature"]
    assert m.WhichOneof("data") == "gauge" and m.gauge.data_points[0].as_double == 21.5

    ((_, _, m),) = by_name["latency"]
    assert m.histogram.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    (dp,) = m.histogram.data_points
    assert list(dp.explicit_bounds) == [1.0, 5.0, 10.0]
    assert list(dp.bucket_counts) == [1, 0, 2, 0]  # dense, len(bounds) + 1
    assert (dp.count, dp.sum, dp.min, dp.max) == (3, 12.5, 0.5, 9.0)
    assert attrs(dp.attributes) == {"route": "/a"}


def check_invariants(request):
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                for dp in getattr(m, kind).data_points:
                    assert dp.start_time_unix_nano <= dp.time_unix_nano
                    if kind == "histogram":
                        bounds = list(dp.explicit_bounds)
                        assert all(a < b for a, b in zip(bounds, bounds[1:]))
                        assert len(dp.bucket_counts) == len(bounds) + 1
                        assert sum(dp.bucket_counts) == dp.count
                        if dp.count:
                            assert dp.min <= dp.max


def test_delta_points_chain_start_to_previous_end_across_frames(harness):
    dev, c, u, g, h = full_device()
    for i in range(5):
        frame = dev.frame([c, i + 1, h, [1, 2.0, 2.0, 2.0, 1, 1]], T0 + i * SECOND, T0 + (i + 1) * SECOND)
        harness.send(dev, [frame])
    request, n = export(harness)
    assert n == 10
    check_invariants(request)
    ((_, _, m),) = metrics_by_name(request)["http.requests"]
    points = list(m.sum.data_points)
    assert [p.as_int for p in points] == [1, 2, 3, 4, 5]
    for prev, cur in zip(points, points[1:]):
        assert cur.start_time_unix_nano == prev.time_unix_nano


def test_cumulative_points_keep_the_series_start_and_totals(make_harness):
    harness = make_harness(temporality="cumulative")
    dev, c, u, g, h = full_device()
    for i in range(3):
        frame = dev.frame([c, 2, h, [1, 2.0, 2.0, 2.0, 1, 1]], T0 + i * SECOND, T0 + (i + 1) * SECOND)
        harness.send(dev, [frame])
    request, _ = export(harness, ResourceSettings(temporality="cumulative"))
    check_invariants(request)
    ((_, _, m),) = metrics_by_name(request)["http.requests"]
    assert m.sum.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    assert [p.as_int for p in m.sum.data_points] == [2, 4, 6]
    assert {p.start_time_unix_nano for p in m.sum.data_points} == {T0 * 1000}
    ((_, _, m),) = metrics_by_name(request)["latency"]
    assert [p.count for p in m.histogram.data_points] == [1, 2, 3]
    assert list(m.histogram.data_points[-1].bucket_counts) == [0, 3, 0, 0]


def test_resource_precedence_and_clock_flag(harness):
    dev = SimDevice()  # no resource attributes of its own
    c = dev.series(dev.instrument("c", COUNTER))
    harness.send(
        dev,
        [dev.frame([c, 1], T0 - 7200 * SECOND, T0 - 7200 * SECOND + 1)],
        time_ms=(T0 - 7200 * SECOND) // 1000,
        receive_us=T0,
    )
    settings = ResourceSettings({"deployment.environment": "lab", "service.name": "from-attrs"}, "from-env")
    request, _ = export(harness, settings)
    resource = attrs(request.resource_metrics[0].resource.attributes)
    assert resource == {
        "deployment.environment": "lab",
        "service.name": "from-env",
        "device.id": "sat-7",
        "litetel.clock.corrected": True,
    }
    assert (
        attrs(
            build_request(harness.queue(), harness.store.reader_dictionary, ResourceSettings())[0]
            .resource_metrics[0]
            .resource.attributes
        )["service.name"]
        == "litetel-device"
    )


def test_devices_and_epochs_get_their_own_resource(harness):
    a, ca = SimDevice("sat-7"), None
    ca = a.series(a.instrument("c", COUNTER))
    b = SimDevice("sat-8")
    cb = b.series(b.instrument("c", COUNTER))
    harness.send(a, [a.frame([ca, 1], T0, T0 + 1)])
    harness.send(b, [b.frame([cb, 2], T0, T0 + 1)])
    a.reboot(epoch=9)
    ca2 = a.series(0)
    harness.send(a, [a.frame([ca2, 3], T0 + 2, T0 + 3)])
    request, n = export(harness)
    assert n == 3 and len(request.resource_metrics) == 3
    ids = [attrs(rm.resource.attributes)["device.id"] for rm in request.resource_metrics]
    assert ids == ["sat-7", "sat-8", "sat-7"]


def test_large_values_and_long_attribute_values_encode(harness):
    dev = SimDevice()
    c = dev.series(dev.instrument("c", COUNTER), {"long": "x" * 3000})
    g = dev.series(dev.instrument("g", GAUGE))
    h = dev.series(dev.instrument("h", HISTOGRAM, bounds=list(range(1, 100))))
    harness.send(dev, [dev.frame([c, (1 << 63) - 1, g, -5, h, [1, 50.0, 50.0, 50.0, 50, 1]], T0, T0 + 1)])
    request, _ = export(harness)
    by_name = metrics_by_name(request)
    dp = by_name["c"][0][2].sum.data_points[0]
    assert dp.as_int == (1 << 63) - 1 and attrs(dp.attributes)["long"] == "x" * 3000
    assert by_name["g"][0][2].gauge.data_points[0].as_int == -5
    hp = by_name["h"][0][2].histogram.data_points[0]
    assert len(hp.bucket_counts) == 100 and hp.bucket_counts[50] == 1
    check_invariants(request)
