"""prometheus_client as a peer: pre-bound children (`labels(...)` once), the reference workload as scrapes.

Prometheus is pulled, cumulative and text: one scrape per interval exposes every series.

    registry, counter, histogram = reference_registry()
    scrapes = reference_scrapes()               # generate_latest() bytes after each interval
"""

from benchmarks import reference_workload as wl
from benchmarks.repeat import repeat

OP_VALUE = 0.042


def _prom_name(otel_name):
    return otel_name.replace(".", "_")


def reference_registry():
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    counter = Counter(_prom_name(wl.COUNTER_NAME), "HTTP requests", wl.LABEL_NAMES, registry=registry)
    histogram = Histogram(
        _prom_name(wl.HISTOGRAM_NAME),
        "HTTP request duration",
        wl.LABEL_NAMES,
        unit="seconds",
        buckets=wl.BOUNDARIES,
        registry=registry,
    )
    return registry, counter, histogram


def record_interval(counter, histogram, interval):
    for attrs, latencies in zip(wl.SERIES, interval):
        labels = wl.label_values(attrs)
        counter.labels(*labels).inc(len(latencies))
        observe = histogram.labels(*labels).observe
        for v in latencies:
            observe(v)


def reference_scrapes():
    """The text exposition scraped after each of the 10 intervals (cumulative, every series every time)."""
    from prometheus_client import generate_latest

    registry, counter, histogram = reference_registry()
    scrapes = []
    for interval in wl.intervals():
        record_interval(counter, histogram, interval)
        scrapes.append(generate_latest(registry))
    return scrapes


def export_setup():
    """(record_one_interval, export) for the export-CPU benchmark: export = generate_latest()."""
    from prometheus_client import generate_latest

    registry, counter, histogram = reference_registry()
    light = wl.light_interval()

    def record():
        record_interval(counter, histogram, light)

    def export():
        return generate_latest(registry)

    return record, export


def hot_path_loops(n):
    """(owner, {operation name: a function doing that operation n times}); see otel_side.hot_path_loops."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()
    labels = wl.label_values(wl.SERIES[0])
    counter = Counter("bench_counter", "c", wl.LABEL_NAMES, registry=registry)
    plain = Counter("bench_counter_plain", "c", registry=registry)
    updown = Gauge("bench_updown", "u", wl.LABEL_NAMES, registry=registry)
    gauge = Gauge("bench_gauge", "g", wl.LABEL_NAMES, registry=registry)
    histogram = Histogram("bench_histogram", "h", wl.LABEL_NAMES, buckets=wl.BOUNDARIES, registry=registry)
    counter_child = counter.labels(*labels)
    updown_child = updown.labels(*labels)
    gauge_child = gauge.labels(*labels)
    histogram_child = histogram.labels(*labels)
    a, b, c = labels
    loop = range(n)

    def counter_add_attrs():  # labels(...) resolves the child on every call: its "attributes" path
        for _ in loop:
            counter.labels(a, b, c).inc()

    all_labels = [wl.label_values(s) for s in wl.SERIES]
    k = len(all_labels)

    def counter_add_attrs_cycling():  # the same loop shape as repeat_cycling's
        for i in loop:
            counter.labels(*all_labels[i % k]).inc()

    def histogram_record_attrs():
        for _ in loop:
            histogram.labels(a, b, c).observe(OP_VALUE)

    return registry, {
        "counter_add_bound": repeat(n, counter_child.inc),
        "counter_add_attrs": counter_add_attrs,
        "counter_add_attrs_cycling": counter_add_attrs_cycling,
        "counter_add_no_attrs": repeat(n, plain.inc),
        "updown_add_bound": repeat(n, updown_child.inc),
        "gauge_set_bound": repeat(n, gauge_child.set, 41.5),
        "histogram_record_bound": repeat(n, histogram_child.observe, OP_VALUE),
        "histogram_record_attrs": histogram_record_attrs,
    }


def contended_add(n):
    """(owner, adds): adds() does n `child.inc()` on one series that every thread shares."""
    from prometheus_client import CollectorRegistry, Counter

    registry = CollectorRegistry()
    child = Counter("bench_contended", "c", wl.LABEL_NAMES, registry=registry).labels(
        *wl.label_values(wl.SERIES[0])
    )
    return registry, repeat(n, child.inc)


def series_inputs(attr_sets):
    """What the caller holds before creating series: label value tuples (built outside the measurement)."""
    return [wl.label_values(attrs) for attrs in attr_sets]


def memory_host(n):
    """The registry, created before measuring."""
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


def new_series(registry, kind, label_sets):
    """The instrument and one labelled child per label tuple (from series_inputs), one measurement each."""
    from prometheus_client import Counter, Histogram

    if kind == "counter":
        inst = Counter("bench_mem_counter", "c", wl.LABEL_NAMES, registry=registry)
        for labels in label_sets:
            inst.labels(*labels).inc()
    else:
        inst = Histogram("bench_mem_histogram", "h", wl.LABEL_NAMES, buckets=wl.BOUNDARIES, registry=registry)
        for labels in label_sets:
            inst.labels(*labels).observe(OP_VALUE)
    return inst
