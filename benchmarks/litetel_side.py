"""litetel as the library under test: the same operations, workload and payloads as the peers' sides.

frames = reference_frames("msgpack", "zstd")    # one frame per interval of the reference workload
owner, ops = hot_path_loops(1000)               # bound handles: the hot path litetel is built for
"""

import functools

from benchmarks import reference_workload as wl
from benchmarks.repeat import repeat, repeat_cycling
from litetel import Device, RingBuffer  # the public API of issue 2 (lazy exports of litetel/__init__)
from litetel import frame as wire

OP_VALUE = 0.042
BIG_BUFFER = 4 << 20  # never full in a benchmark: a drop would add self-telemetry points


def new_device(codec="msgpack", compression="auto", max_series=64):
    return Device(
        "bench-device",
        resource=dict(wl.RESOURCE),
        buffer=RingBuffer(capacity=BIG_BUFFER),
        codec=codec,
        compression=compression,
        max_series=max_series,
    )


def reference_instruments(dev):
    meter = dev.meter(wl.SCOPE_NAME)
    counter = meter.counter(wl.COUNTER_NAME, unit="{request}", description="HTTP requests")
    histogram = meter.histogram(
        wl.HISTOGRAM_NAME, unit="s", description="HTTP request duration", boundaries=wl.BOUNDARIES
    )
    # Bound once, as an instrumented server does per route: the hot path.
    return [(counter.bind(attrs), histogram.bind(attrs)) for attrs in wl.SERIES]


def record_interval(handles, interval):
    for (count, latency), latencies in zip(handles, interval):
        count.add(len(latencies))
        record = latency.record
        for v in latencies:
            record(v)


@functools.cache
def reference_frames(codec, compression):
    """The 10 intervals of the reference workload as frames (header + payload) from Device.collect()
    (cached: the wire and gateway benchmarks share them)."""
    dev = new_device(codec, compression)
    handles = reference_instruments(dev)
    frames = []
    for interval in wl.intervals():
        record_interval(handles, interval)
        frames.append(dev.collect())
    return frames


def frame_points(frame_bytes):
    """The flat ``[series_id, value, ...]`` points list of one frame (wire format §2.2)."""
    header, payload, _ = wire.parse_frame(frame_bytes, 0)
    return wire.decode_payload(header, payload)[1]


def count_frame_points(frame_bytes):
    """Data points in one frame (a check that a frame holds what it should)."""
    return len(frame_points(frame_bytes)) // 2


def export_setup():
    """(record_one_interval, export) for the export-CPU benchmark: export = Device.collect()."""
    dev = new_device()
    handles = reference_instruments(dev)
    light = wl.light_interval()

    def record():
        record_interval(handles, light)

    return record, dev.collect


def hot_path_loops(n):
    """(owner, {operation name: a function doing that operation n times}); see otel_side.hot_path_loops."""
    dev = new_device()
    meter = dev.meter("bench")
    attrs = dict(wl.SERIES[0])
    counter = meter.counter("bench.counter")
    plain = meter.counter("bench.counter.plain")
    histogram = meter.histogram("bench.histogram", boundaries=wl.BOUNDARIES)
    bound_counter = counter.bind(attrs)
    bound_updown = meter.updown_counter("bench.updown").bind(attrs)
    bound_gauge = meter.gauge("bench.gauge").bind(attrs)
    bound_histogram = histogram.bind(attrs)
    return dev, {
        "counter_add_bound": repeat(n, bound_counter.add, 1),
        "counter_add_attrs": repeat(n, counter.add, 1, attrs),
        "counter_add_attrs_cycling": repeat_cycling(n, counter.add, 1, [dict(s) for s in wl.SERIES]),
        "counter_add_no_attrs": repeat(n, plain.add, 1),
        "updown_add_bound": repeat(n, bound_updown.add, 1),
        "gauge_set_bound": repeat(n, bound_gauge.set, 41.5),
        "histogram_record_bound": repeat(n, bound_histogram.record, OP_VALUE),
        "histogram_record_attrs": repeat(n, histogram.record, OP_VALUE, attrs),
    }


def contended_add(n):
    """(owner, adds): adds() does n bound `add(1)` on one series that every thread shares."""
    dev = new_device()
    bound = dev.meter("bench").counter("bench.contended").bind(dict(wl.SERIES[0]))
    return dev, repeat(n, bound.add, 1)


def series_inputs(attr_sets):
    """What the caller holds before creating series: the attribute dicts themselves."""
    return attr_sets


def memory_host(n):
    """A device (default RAM buffer) and a meter whose max_series fits n, created before measuring."""
    dev = Device("bench-device", max_series=n + 10)
    return dev, dev.meter("bench.mem")


def new_series(host, kind, attr_sets):
    """The instrument and one bound series per attribute dict, one measurement each; the handles are kept,
    as an application keeps them."""
    _, meter = host
    if kind == "counter":
        inst = meter.counter("bench.mem.counter")
        handles = [inst.bind(attrs) for attrs in attr_sets]
        for h in handles:
            h.add(1)
    else:
        inst = meter.histogram("bench.mem.histogram", boundaries=wl.BOUNDARIES)
        handles = [inst.bind(attrs) for attrs in attr_sets]
        for h in handles:
            h.record(OP_VALUE)
    return inst, handles
