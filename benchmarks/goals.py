"""Every goal of issues 2, 3, 5, 7 and 9, checked against one run's results.

    for issue, text, measured, met in evaluate(results): ...   # met is True, False or None (not measured)

A goal the benchmarks cannot measure (e.g. a crash test that lives in the test suite) says where it is
checked instead and counts as neither met nor missed here.
"""

import os

from benchmarks.results import ratio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MEMORY_GOAL_SERIES = 1000  # memory goals are judged at 1,000 series (100 and 10,000 are in the tables)


def _us(r, lib, op, kind="hot_path"):
    s = r.per_op(kind, lib, op)
    return None if s is None else s["median"] * 1e6


def _ratio_goal(a, b, limit, what):
    x = ratio(a, b)
    if x is None:
        return "not measured", None
    return "%.2f× (%s)" % (x, what % (a, b)), x <= limit


def _at_most(value, limit, fmt):
    if value is None:
        return "not measured", None
    return fmt % value, value <= limit


def _at_least(value, limit, fmt):
    if value is None:
        return "not measured", None
    return fmt % value, value >= limit


def _hot_ratio(op_lite, op_peer, peer="prometheus"):
    def check(r):
        return _ratio_goal(_us(r, "litetel", op_lite), _us(r, peer, op_peer), 0.5, "%.3f vs %.3f µs")

    return check


def _memory(kind, limit):
    def check(r):
        return _at_most(r.value("memory.litetel.%s.%d" % (kind, MEMORY_GOAL_SERIES)), limit, "%.0f B/series")

    return check


def _import_stdlib_only(case):
    def check(r):
        f = r.figure("import.%s.rss" % case)
        if f is None:
            return "not measured", None
        extra = f.get("top_level_packages", [])
        return ("non-stdlib: " + ", ".join(extra)) if extra else "stdlib only", not extra

    return check


def _import_goals(case, what):
    """The three import goals of issue 2 for one import case."""
    return (
        ("2", "%s imports only the stdlib" % what, _import_stdlib_only(case)),
        ("2", "%s ≤ 3 ms" % what, lambda r: _at_most(r.value("import.%s.ms" % case), 3.0, "%.2f ms")),
        (
            "2",
            "%s ≤ 1 MiB RSS over the bare interpreter" % what,
            lambda r: _at_most(r.value("import.%s.rss" % case), 1024, "%.0f KiB"),
        ),
    )


def _mp_fits(prefix, context=()):
    """The 64K goal on one form; ``context``: (label, prefix) of other deployments whose smallest heap is quoted
    beside it."""

    def check(r):
        v = r.value(prefix + "fits_64k")
        if v is None:
            return "not measured", None
        smallest = r.value(prefix + "smallest_heap")
        runs_from = "" if smallest is None else "runs from %.0fK; " % smallest
        in_use = "%.0f KB in use after the scenario%s" % (
            r.value(prefix + "heap_after_scenario") / 1000,
            "" if v else " with a roomy heap",
        )
        quoted = ((label, r.value(p + "smallest_heap")) for label, p in context)
        others = "".join("; %s: runs from %.0fK" % (label, k) for label, k in quoted if k is not None)
        return "%s under 64K heap (%s%s)%s" % ("ran" if v else "failed", runs_from, in_use, others), bool(v)

    return check


def _mp_alloc(r):
    keys = ("mp.alloc_counter_add_int", "mp.alloc_histogram_record_int")
    values = [r.value(k) for k in keys]
    if None in values:
        return "not measured", None
    return "add %d B, record %d B per 10,000 calls" % tuple(values), max(values) <= 0


def _wire_ratio(variant):
    def check(r):
        text, met = _ratio_goal(
            r.value("wire.litetel.%s" % variant),
            r.value("wire.otel.delta.zstd3"),
            0.25,
            "%.1f vs %.1f B/point",
        )
        floor, ref = r.value("wire.floor.floats.zstd3"), r.value("wire.otel.delta.zstd3")
        if floor is not None and ref:
            # The goal's context: what no lossless encoding can go below (bench_wire.test_wire_float_floor),
            # and what is left without those floats at all (test_wire_without_float_stats).
            text += "; the histograms' float64 sum/min/max alone take %.1f B/point (%.2f×)" % (
                floor,
                floor / ref,
            )
            rest = r.value("wire.floor.no_float_stats.zstd3")
            if rest is not None:
                text += ", the rest without them %.1f (%.2f×)" % (rest, rest / ref)
        return text, met

    return check


def _export_ratio(r):
    return _ratio_goal(_us(r, "litetel", "", "export"), _us(r, "otel", "", "export"), 0.1, "%.0f vs %.0f µs")


def _gateway_rate(r):
    return _at_least(r.rate("gateway", "litetel"), 250_000, "%.0f points/s")


def _gateway_ratio(r):
    x = ratio(r.rate("gateway", "litetel"), r.rate("gateway", "otel"))
    return _at_least(x, 3.0, "%.2f× the OTel SDK's encode rate")


def _gateway_load(r):
    lost, p99, rate = (r.figure("gateway.load." + k) for k in ("lost", "p99_ms", "requests_per_s"))
    if lost is None:
        return "not measured", None
    offered = lost["sent"] / r.figure("gateway.load.latency_ms")["seconds"]
    text = "%d of %d frames lost; p99 %.0f ms; served %.0f of %.0f offered req/s" % (
        lost["median"],
        lost["sent"],
        p99["median"],
        rate["median"],
        offered,
    )
    # "Posting once a second" holds only if the gateway keeps up with the offered rate.
    return text, lost["median"] == 0 and rate["median"] >= 0.95 * offered


def _tracing_ratio(op):
    def check(r):
        lite, otel = _us(r, "litetel", op, "tracing_goal"), _us(r, "otel", op, "tracing_goal")
        return _ratio_goal(lite, otel, 0.2, "%.2f vs %.2f µs")

    return check


def _claim_20x(r):
    x = ratio(_us(r, "otel", "counter_add_attrs"), _us(r, "litetel", "counter_add_bound"))
    return _at_least(x, 20.0, "%.1f× (OTel add(1, attrs) / litetel bound add)")


def _suite_time(r):
    return _at_most(r.environment.get("suite_seconds"), 300, "%.0f s")


def _elsewhere(where):
    def check(r):
        return "checked by " + where, None

    return check


def _script_heap(*scripts):
    """A MicroPython goal the test suite checks: each script runs at the heap its ``# heapsize:`` line says
    (the runner enforces it), so the goal is met when every such heap is at most 64K."""

    def check(r):
        heaps = {}
        for script in scripts:
            with open(os.path.join(ROOT, "tests", "micropython", script)) as f:
                first = f.readline().split(":")[-1].strip()
            heaps[script] = int(first.rstrip("Kk"))
        text = ", ".join("%s runs at %dK" % (s, k) for s, k in heaps.items()) + " (test suite)"
        return text, max(heaps.values()) <= 64

    return check


GOALS = (
    (
        "2",
        "bound `add(1)` ≤ 0.5× prometheus_client `child.inc()`",
        _hot_ratio("counter_add_bound", "counter_add_bound"),
    ),
    (
        "2",
        "bound histogram `record(v)` ≤ 0.5× prometheus_client `child.observe(v)`",
        _hot_ratio("histogram_record_bound", "histogram_record_bound"),
    ),
    (
        "2",
        "`add(1, attrs)` ≤ 0.5× prometheus_client `labels(a, b, c).inc()` (one dict, passed again)",
        _hot_ratio("counter_add_attrs", "counter_add_attrs"),
    ),
    (
        "2",
        "`add(1, attrs)` ≤ 0.5× prometheus_client `labels(a, b, c).inc()` (the 50 series' dicts in turn)",
        _hot_ratio("counter_add_attrs_cycling", "counter_add_attrs_cycling"),
    ),
    (
        "2",
        f"memory per counter series ≤ 150 B (tracemalloc, {MEMORY_GOAL_SERIES:,} series)",
        _memory("counter", 150),
    ),
    (
        "2",
        f"memory per 16-bucket histogram series ≤ 400 B (tracemalloc, {MEMORY_GOAL_SERIES:,} series)",
        _memory("histogram", 400),
    ),
    *_import_goals("litetel", "`import litetel`"),
    *_import_goals("litetel_device", "`import litetel; litetel.Device` (what recording needs)"),
    (
        "2",
        (
            "MicroPython: import + 20 series + 10,000 recordings + collect() into an 8 KB RAM buffer under "
            "`-X heapsize=64K` (litetel from .py sources)"
        ),
        _mp_fits("mp."),
    ),
    (
        "2",
        "the same, litetel precompiled to .mpy (the form devices deploy)",
        _mp_fits(
            "mp.mpy.",
            (("as a ROMFS image", "mp.rom."), ("32-bit build, .mpy", "mp32.mpy."), ("32-bit build, ROMFS", "mp32.rom.")),
        ),
    ),
    ("2", "MicroPython: bound integer add/record allocates 0 bytes over 10,000 calls", _mp_alloc),
    (
        "3",
        "compressed bytes/point ≤ 0.25× OTel delta + zstd-3 (msgpack + zstd, CPython default)",
        _wire_ratio("msgpack.zstd"),
    ),
    (
        "3",
        "compressed bytes/point ≤ 0.25× OTel delta + zstd-3 (msgpack + deflate, a MicroPython board's choice; encoded on CPython)",
        _wire_ratio("msgpack.deflate"),
    ),
    (
        "3",
        "uncompressed ≤ 20 B/point (msgpack, no compressor: what a MicroPython device sends, real interpreter)",
        lambda r: _at_most(r.value("wire.litetel.micropython.none"), 20.0, "%.1f B/point"),
    ),
    (
        "3",
        "the same from a CPython device (string attribute values inline, docs/wire-format.md §2.1)",
        lambda r: _at_most(r.value("wire.litetel.msgpack.none"), 20.0, "%.1f B/point"),
    ),
    ("3", "encode + compress of a 100-point interval ≤ 0.1× OTel SDK collect + encode", _export_ratio),
    (
        "3",
        "crash test: ≥ 200 SIGKILLs of a file-backed ring buffer writer, nothing torn returned",
        _elsewhere("tests/ring_buffer/test_ring_buffer_crash.py (test suite)"),
    ),
    (
        "3",
        "MicroPython: frames encode and the RAM ring buffer works under `-X heapsize=64K`",
        _script_heap("mp_test_frame.py", "mp_test_ring_buffer.py"),
    ),
    ("5", "frames → OTLP protobuf ≥ 250,000 data points/s on one core", _gateway_rate),
    ("5", "frames → OTLP protobuf ≥ 3× the OTel SDK's `encode_metrics` rate per point", _gateway_ratio),
    (
        "5",
        "gateway idle RSS ≤ 60 MiB",
        lambda r: _at_most(r.value("gateway.idle_rss"), 60.0, "%.1f MiB (no OTLP endpoint, after /readyz)"),
    ),
    ("5", "1,000 simulated devices posting once a second: no loss, p99 ingest latency", _gateway_load),
    (
        "9",
        "a span with 3 attributes, start to end ≤ 0.2× the OTel SDK (batch processor, bench_tracing.py)",
        _tracing_ratio("span"),
    ),
    ("9", "a log record ≤ 0.2× the OTel SDK's logs API with a batch processor", _tracing_ratio("log")),
    (
        "9",
        "MicroPython: tracing and logging work under `-X heapsize=64K` with the client's metrics",
        _script_heap("mp_test_tracing.py"),
    ),
    ("7", "the 20× claim: bound add ≥ 20× faster than the OTel SDK's `add(1, attrs)`", _claim_20x),
    ("7", "`make bench` regenerates everything in a few minutes (≤ 300 s)", _suite_time),
)


def evaluate(results):
    """[(issue, goal text, measured text, met)] for every goal, in issue order."""
    rows = []
    for issue, text, check in GOALS:
        measured, met = check(results)
        rows.append((issue, text, measured, met))
    return rows
