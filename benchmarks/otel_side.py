"""The OpenTelemetry Python SDK as a peer: instruments, the reference workload and its OTLP payloads.

The SDK has no bound handles, so every "bound" operation is ``instrument.add(1, attrs)`` with a prebuilt dict
(the fastest way its API allows). Payloads come from the SDK's own encoder, ``encode_metrics``, exactly what
its OTLP/HTTP exporter serializes.

    reader, meter = new_meter("delta")
    payloads = reference_payloads("delta")     # one serialized ExportMetricsServiceRequest per interval
"""

import functools

from benchmarks import reference_workload as wl
from benchmarks.repeat import repeat, repeat_cycling

OP_VALUE = 0.042  # a latency in the middle of the boundaries, so bucket search is not a best case


def new_meter(temporality="delta", cardinality_limit=2000):
    """A MeterProvider wired to an in-memory reader; returns (reader, meter)."""
    from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
    from opentelemetry.sdk.metrics import _Gauge as Gauge  # the synchronous gauge (exported under this name)
    from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
    from opentelemetry.sdk.resources import Resource

    kind = AggregationTemporality.DELTA if temporality == "delta" else AggregationTemporality.CUMULATIVE
    classes = (Counter, UpDownCounter, Histogram, Gauge)
    reader = InMemoryMetricReader(
        preferred_temporality={cls: kind for cls in classes},
        cardinality_limits={cls: cardinality_limit for cls in classes},
    )
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create(wl.RESOURCE),
        views=[
            View(instrument_type=Histogram, aggregation=ExplicitBucketHistogramAggregation(wl.BOUNDARIES))
        ],
    )
    return reader, provider.get_meter(wl.SCOPE_NAME)


def encode(metrics_data):
    """MetricsData -> OTLP protobuf bytes, the SDK exporter's own path."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

    return encode_metrics(metrics_data).SerializeToString()


def reference_instruments(meter):
    counter = meter.create_counter(wl.COUNTER_NAME, unit="{request}", description="HTTP requests")
    histogram = meter.create_histogram(wl.HISTOGRAM_NAME, unit="s", description="HTTP request duration")
    return counter, histogram


def record_interval(counter, histogram, interval):
    for attrs, latencies in zip(wl.SERIES, interval):
        counter.add(len(latencies), attrs)
        record = histogram.record
        for v in latencies:
            record(v, attrs)


@functools.cache
def reference_metrics_data(temporality):
    """The SDK's MetricsData collected after each of the 10 intervals of the reference workload (cached:
    the wire and gateway benchmarks share it)."""
    reader, meter = new_meter(temporality)
    counter, histogram = reference_instruments(meter)
    collected = []
    for interval in wl.intervals():
        record_interval(counter, histogram, interval)
        collected.append(reader.get_metrics_data())
    return collected


def reference_payloads(temporality):
    """The 10 intervals of the reference workload as OTLP request bytes (one export per interval)."""
    return [encode(data) for data in reference_metrics_data(temporality)]


def count_points(payload):
    """Data points in serialized OTLP request bytes (a check that a payload holds what it should)."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    n = 0
    for rm in ExportMetricsServiceRequest.FromString(payload).resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                n += len(m.sum.data_points) + len(m.gauge.data_points) + len(m.histogram.data_points)
    return n


def export_setup():
    """(record_one_interval, export) for the export-CPU benchmark: export = collect + encode + serialize."""
    reader, meter = new_meter("delta")
    counter, histogram = reference_instruments(meter)
    light = wl.light_interval()

    def record():
        record_interval(counter, histogram, light)

    def export():
        return encode(reader.get_metrics_data())

    return record, export


def hot_path_loops(n):
    """(owner, {operation name: a function doing that operation n times}); names shared by all three sides.

    Keep `owner` alive while the functions run.
    """
    reader, meter = new_meter("delta")
    attrs = dict(wl.SERIES[0])
    counter = meter.create_counter("bench.counter")
    plain = meter.create_counter("bench.counter.plain")
    updown = meter.create_up_down_counter("bench.updown")
    gauge = meter.create_gauge("bench.gauge")
    histogram = meter.create_histogram("bench.histogram")
    return reader, {
        "counter_add_bound": repeat(n, counter.add, 1, attrs),
        "counter_add_attrs": repeat(n, counter.add, 1, attrs),  # the same call: the SDK has no bound handles
        "counter_add_attrs_cycling": repeat_cycling(n, counter.add, 1, [dict(s) for s in wl.SERIES]),
        "counter_add_no_attrs": repeat(n, plain.add, 1),
        "updown_add_bound": repeat(n, updown.add, 1, attrs),
        "gauge_set_bound": repeat(n, gauge.set, 41.5, attrs),
        "histogram_record_bound": repeat(n, histogram.record, OP_VALUE, attrs),
        "histogram_record_attrs": repeat(n, histogram.record, OP_VALUE, attrs),
    }


def contended_add(n):
    """(owner, adds): adds() does n adds on one series that every thread shares."""
    reader, meter = new_meter("delta")
    counter = meter.create_counter("bench.contended")
    return reader, repeat(n, counter.add, 1, dict(wl.SERIES[0]))


def series_inputs(attr_sets):
    """What the caller holds before creating series: the attribute dicts themselves."""
    return attr_sets


def memory_host(n):
    """The SDK pipeline (provider + reader), created before measuring, with room for n series."""
    reader, meter = new_meter("delta", cardinality_limit=n + 10)
    return reader, meter


def new_series(host, kind, attr_sets):
    """The instrument and one series of `kind` per attribute dict, one measurement each; returns them."""
    _, meter = host
    if kind == "counter":
        inst = meter.create_counter("bench.mem.counter")
        for attrs in attr_sets:
            inst.add(1, attrs)
    else:
        inst = meter.create_histogram("bench.mem.histogram")
        for attrs in attr_sets:
            inst.record(OP_VALUE, attrs)
    return inst
