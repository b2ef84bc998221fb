"""The markdown of docs/benchmarks.md, section by section, from a Results.

    text = document(results, chart_name="benchmarks.png")

Every figure carries its spread; ratios are peer / litetel for costs (so "25×" means litetel is 25 times
cheaper) and are computed from medians measured in the same run.
"""

from benchmarks.formatting import fmt_figure, fmt_ratio, fmt_timing, median, table
from benchmarks.goals import evaluate
from benchmarks.headline import PEERS, headline
from benchmarks.libraries import LABELS, LIBS
from benchmarks.micropython_report import MP_ROWS, micropython_section  # noqa: F401 (MP_ROWS: the tests read it)
from benchmarks.results import ratio

HOT_PATH_CALLS = {  # op -> (litetel, OTel SDK, prometheus_client) call measured
    "counter_add_bound": ("`bound.add(1)`", "`counter.add(1, attrs)`", "`child.inc()`"),
    "counter_add_attrs": ("`counter.add(1, attrs)`", "`counter.add(1, attrs)`", "`labels(a, b, c).inc()`"),
    "counter_add_attrs_cycling": (
        "`counter.add(1, attrs)`, 50 dicts in turn",
        "`counter.add(1, attrs)`, 50 dicts in turn",
        "`labels(a, b, c).inc()`, 50 label sets in turn",
    ),
    "counter_add_no_attrs": ("`counter.add(1)`", "`counter.add(1)`", "`counter.inc()` (no labels)"),
    "updown_add_bound": ("`bound.add(1)`", "`updown.add(1, attrs)`", "gauge `child.inc()`"),
    "gauge_set_bound": ("`bound.set(41.5)`", "`gauge.set(41.5, attrs)`", "`child.set(41.5)`"),
    "histogram_record_bound": ("`bound.record(v)`", "`histogram.record(v, attrs)`", "`child.observe(v)`"),
    "histogram_record_attrs": (
        "`histogram.record(v, attrs)`",
        "`histogram.record(v, attrs)`",
        "`labels(a, b, c).observe(v)`",
    ),
}
WIRE_ROWS = (
    ("wire.litetel.micropython.none", "litetel msgpack, uncompressed, from MicroPython (real interpreter)"),
    ("wire.litetel.msgpack.none", "litetel msgpack, uncompressed"),
    ("wire.litetel.msgpack.zstd", "litetel msgpack + zstd"),
    ("wire.litetel.msgpack.deflate", "litetel msgpack + deflate"),
    ("wire.litetel.cbor.none", "litetel CBOR, uncompressed"),
    ("wire.litetel.cbor.zstd", "litetel CBOR + zstd"),
    ("wire.litetel.cbor.deflate", "litetel CBOR + deflate"),
    ("wire.otel.delta.raw", "OTLP protobuf, delta"),
    ("wire.otel.delta.gzip", "OTLP protobuf, delta + gzip"),
    ("wire.otel.delta.zstd3", "OTLP protobuf, delta + zstd-3"),
    ("wire.otel.cumulative.raw", "OTLP protobuf, cumulative"),
    ("wire.otel.cumulative.gzip", "OTLP protobuf, cumulative + gzip"),
    ("wire.otel.cumulative.zstd3", "OTLP protobuf, cumulative + zstd-3"),
    ("wire.prometheus.raw", "Prometheus text exposition (per scrape)"),
    ("wire.prometheus.gzip", "Prometheus text exposition + gzip (per scrape)"),
)


def _hot(r, lib, op):
    return r.per_op("hot_path", lib, op)


def goals_section(r):
    rows = []
    for issue, text, measured, met in evaluate(r):
        status = {True: "**met**", False: "**not met**", None: "not measured here"}[met]
        rows.append(["#" + issue, text, measured, status])
    return [
        "## Goals",
        "",
        "Every goal of issues 2, 3, 5, 7 and 9, judged on this run (a miss is reported as a miss).",
        "",
    ] + table(["issue", "goal", "measured", "status"], rows)


def machine_section(r):
    m = r.machine()
    env = r.environment
    versions = env.get("versions", {})
    mp = r.figure("mp.fits_64k")
    rows = [
        ["CPU", "%s, %s cores" % (m["cpu"], m["cores"])],
        ["system", m["system"]],
        ["Python", m["python"]],
        ["MicroPython", "unix port %s" % mp["version"] if mp else "not run"],
        [
            "run",
            "%s; load average %s at start, %s at end"
            % (m["datetime"], _load(env.get("load_at_start")), _load(env.get("load_at_end"))),
        ],
        ["suite wall time", "%.0f s" % env["suite_seconds"] if "suite_seconds" in env else "—"],
    ]
    rows += [[name, version] for name, version in sorted(versions.items())]
    return ["## Machine and versions", ""] + table(["", ""], rows)


def _load(avg):
    return "—" if not avg else "/".join("%.2f" % x for x in avg)


def hot_path_section(r):
    rows = []
    for op, calls in HOT_PATH_CALLS.items():
        stats = {lib: _hot(r, lib, op) for lib in LIBS}
        lite = median(stats["litetel"])
        row = [op.replace("_", " ")]
        row += ["%s<br>%s" % (fmt_timing(stats[lib]), call) for lib, call in zip(LIBS, calls)]
        row += [fmt_ratio(ratio(median(stats[p]), lite)) for p in PEERS]
        rows.append(row)
    threads = {lib: r.per_op("threads", lib, "threads_add") for lib in LIBS}
    lite = median(threads["litetel"])
    rows.append(
        ["4 threads, one series (per add)"]
        + [fmt_timing(threads[lib]) for lib in LIBS]
        + [fmt_ratio(ratio(median(threads[p]), lite)) for p in PEERS]
    )
    header = ["operation"] + [LABELS[lib] for lib in LIBS] + ["OTel / litetel", "prometheus / litetel"]
    return [
        "## Hot path (time per operation, median and IQR)",
        "",
        (
            "Each timed call performs the operation 1,000 times in a `for` loop (the loop's ~20 ns is in "
            "every column). The OTel SDK has no bound handles, so its 'bound' rows call the instrument with "
            "a prebuilt 3-attribute dict. The thread row: 4 threads × 2,000 adds on one shared series, per "
            "add."
        ),
        "",
    ] + table(header, rows)


def memory_section(r):
    rows = []
    for kind in ("counter", "histogram"):
        for n in (100, 1000, 10000):
            figs = {lib: r.value("memory.%s.%s.%d" % (lib, kind, n)) for lib in LIBS}
            rows.append(
                ["%s, %s series" % (kind, f"{n:,}")]
                + ["—" if figs[lib] is None else "%.0f" % figs[lib] for lib in LIBS]
                + [fmt_ratio(ratio(figs[p], figs["litetel"])) for p in PEERS]
            )
    lines = [
        "## Memory",
        "",
        "### Bytes per series (tracemalloc)",
        "",
        (
            "Traced bytes after creating the instrument and N series with one measurement each, divided by "
            "N. Attribute dicts / label tuples are built beforehand; litetel's and prometheus_client's "
            "handles are kept alive. Histograms have 16 buckets. Deterministic (one sample)."
        ),
        "",
    ] + table(
        ["series"] + ["%s (B)" % LABELS[lib] for lib in LIBS] + ["OTel / litetel", "prometheus / litetel"],
        rows,
    )
    rows = []
    for case in ("litetel", "litetel_device", "litetel_export", "otel", "prometheus"):
        t, rss = r.figure("import.%s.ms" % case), r.figure("import.%s.rss" % case)
        statement = t.get("statement", "") if t else ""
        extra = ", ".join(rss.get("top_level_packages", [])) if rss else ""
        label = LABELS[case.split("_")[0]]
        cells = [label, "`%s`" % statement, fmt_figure(t, "%.2f"), fmt_figure(rss, "%.0f"), extra or "—"]
        rows.append(cells)
    lines += [
        "### Import time and RSS over the bare interpreter",
        "",
        "Fresh `python -c` subprocesses, 11 each; RSS is VmRSS after minus before the import.",
        "",
    ]
    return lines + table(
        ["library", "statement", "time (ms)", "RSS (KiB)", "other non-stdlib packages loaded"], rows
    )


def wire_section(r):
    ref = r.value("wire.otel.delta.zstd3")
    rows = []
    for key, name in WIRE_ROWS:
        f = r.figure(key)
        v = None if f is None else f["median"]
        total = "" if f is None else "{:,}".format(int(f.get("total_bytes", v * 1000)))
        rows.append([name, "—" if v is None else "%.1f" % v, total, fmt_ratio(ratio(v, ref))])
    return (
        [
            "## Wire: bytes per data point on the reference workload",
            "",
            (
                "50 series × (counter + 16-bucket histogram) with 3 HTTP attributes, 10 intervals of 60 s, 1–20 "
                "req/s per series (Poisson-ish), log-normal latencies around 50 ms, seeded "
                "(`benchmarks/reference_workload.py`): 1,000 data points. Each interval is one payload, "
                "compressed on its own. litetel counts whole frames (48-byte header included) with its series "
                "dictionary, amortized over the 10 intervals; OTLP is the SDK's own `encode_metrics` output; "
                "Prometheus is one scrape per interval. Deterministic (seeded): one sample each."
            ),
            "",
        ]
        + table(["payload", "B/point", "bytes, 10 intervals", "× OTLP delta + zstd-3"], rows)
        + _float_floor(r, ref)
    )


def _float_floor(r, ref):
    floor = r.value("wire.floor.floats.zstd3")
    if floor is None or not ref:
        return []
    lines = [
        "",
        (
            "**The floor of any lossless encoding:** the histograms' float64 sum, min and max alone — 150 "
            "measured values per interval, packed as plain doubles and compressed with zstd-3 — take "
            "%.1f B/point (%.2f× OTLP delta + zstd-3; raw %.1f B/point): random measurements do not compress. "
            "Issue 3's goal of 0.25× (%.1f B/point) lies below it."
            % (floor, floor / ref, r.value("wire.floor.floats.raw") or 0, 0.25 * ref)
        ),
    ]
    rest, f32 = r.value("wire.floor.no_float_stats.zstd3"), r.value("wire.lossy.float32.zstd3")
    if rest is not None and f32 is not None:
        lines += [
            "",
            (
                "**Without those floats** (`test_wire_without_float_stats`: the frames re-encoded with every "
                "histogram's sum, min and max 0, a bound below any float encoding of them, lossy or not) the "
                "frames take %.1f B/point compressed (%.2f×) and %.1f raw: %s. With every float sent as "
                "float32 (lossy), %.1f B/point compressed (%.2f×) and %.1f raw."
                % (
                    rest,
                    rest / ref,
                    r.value("wire.floor.no_float_stats.raw"),
                    "a lossy float encoding alone cannot reach the 0.25× goal"
                    if rest > 0.25 * ref
                    else "a lossy float encoding could reach the 0.25× goal",
                    f32,
                    f32 / ref,
                    r.value("wire.lossy.float32.raw"),
                )
            ),
        ]
    return lines


def export_section(r):
    stats = {lib: r.per_op("export", lib) for lib in LIBS}
    lite = median(stats["litetel"])
    what = {
        "litetel": "`Device.collect()`: close, encode, compress, frame, append to the RAM buffer",
        "otel": "reader collect + `encode_metrics` + `SerializeToString` (no compression)",
        "prometheus": "`generate_latest(registry)` (one scrape)",
    }
    rows = [
        [
            LABELS[lib],
            what[lib],
            fmt_timing(stats[lib]),
            "1×" if lib == "litetel" else fmt_ratio(ratio(median(stats[lib]), lite)),
        ]
        for lib in LIBS
    ]
    return ["## Device export CPU: one 100-point interval", ""] + table(
        ["library", "work timed", "time (median, IQR)", "peer / litetel"], rows
    )


def gateway_section(r):
    rows = []
    what = {
        "litetel": (
            "litetel gateway: parse + verify CRC + decompress + decode + dictionary + validate + queue "
            "encoding + `build_request` + `SerializeToString` (no SQLite, no HTTP)"
        ),
        "otel": "OTel SDK: `encode_metrics(MetricsData)` + `SerializeToString` of the same intervals",
    }
    for lib in ("litetel", "otel"):
        s = r.per_op("gateway", lib)
        rate = None if s is None else 1.0 / s["median"]
        rows.append([what[lib], "—" if rate is None else f"{rate:,.0f}", fmt_timing(s)])
    x = ratio(r.rate("gateway", "litetel"), r.rate("gateway", "otel"))
    return (
        ["## Gateway: frames → OTLP protobuf bytes (one core)", ""]
        + table(["path", "data points/s", "time per point (median, IQR)"], rows)
        + [
            "litetel gateway / OTel SDK encoder: **%s**. Idle RSS of the gateway process "
            "(`python -m litetel_gateway`, no OTLP endpoint, after /readyz): %s MiB."
            % (fmt_ratio(x), fmt_figure(r.figure("gateway.idle_rss"))),
            "",
        ]
        + load_section(r)
    )


def load_section(r):
    lat = r.figure("gateway.load.latency_ms")
    if lat is None:
        return ["Load: not measured.", ""]
    rows = [
        ["simulated devices × seconds", "%d × %d" % (lat["devices"], lat["seconds"])],
        ["frames lost (not acknowledged `ok`)", fmt_figure(r.figure("gateway.load.lost"), "%.0f")],
        ["ingest latency, median (ms)", "%.1f" % lat["median"]],
        ["ingest latency, p99 (ms)", fmt_figure(r.figure("gateway.load.p99_ms"), "%.1f")],
        ["ingest latency, max (ms)", "%.1f" % lat["max"]],
        ["requests served per second (offered: %d)" % lat["devices"],
         fmt_figure(r.figure("gateway.load.requests_per_s"), "%.0f")],
        ["gateway RSS at the end (MiB)", fmt_figure(r.figure("gateway.load.rss"), "%.1f")],
    ]  # fmt: skip
    return [
        "### Load: devices posting once a second on loopback",
        "",
        (
            "`benchmarks/bench_gateway_load.py`: real `Device`s, signed requests, a device never posts "
            "before its previous reply; the load client runs on the same cores as the gateway."
        ),
        "",
    ] + table(["figure", "value"], rows)


def traces_logs_section(r):
    rows = []
    for op, call in (
        ("span", "`with tracer.span(name, attrs): pass`"),
        ("log", "`logger.warning(body, attrs)`"),
    ):
        lite, otel = r.per_op("signals", "litetel", op), r.per_op("signals", "otel", op)
        rows.append([call, fmt_timing(lite), fmt_timing(otel), fmt_ratio(ratio(median(otel), median(lite)))])
    for op, call in (
        ("span", "`tracer.start_span(name, attrs).end()`"),
        ("log", "`logger.warning(body, attrs)`"),
    ):
        lite, otel = r.per_op("tracing_goal", "litetel", op), r.per_op("tracing_goal", "otel", op)
        call += " vs the SDK with a batch processor (`bench_tracing.py`, issue 9's goals)"
        rows.append([call, fmt_timing(lite), fmt_timing(otel), fmt_ratio(ratio(median(otel), median(lite)))])
    wire = []
    for op in ("span", "log"):
        values = {
            k: r.value("wire.%s.%s" % (op, k))
            for k in ("litetel.none", "litetel.zstd", "otel.raw", "otel.zstd3")
        }
        wire.append(
            ["per %s" % op]
            + ["—" if values[k] is None else "%.1f" % values[k] for k in values]
            + [fmt_ratio(ratio(values["otel.zstd3"], values["litetel.zstd"]))]
        )
    return (
        [
            "## Spans and log records vs the OTel SDK",
            "",
            (
                "`benchmarks/bench_traces_logs.py`. Time per operation with 3 attributes (1,000 per round, "
                "buffers emptied between rounds, untimed); the SDK runs its cheapest complete path (Simple "
                "processor into an in-memory exporter). Wire: 10 intervals of 50 spans / records, litetel "
                "frames (dictionary amortized) vs OTLP from the SDK's `encode_spans` / `encode_logs`. "
                "prometheus_client has neither signal. Issue 9's goals use the batch-processor rows."
            ),
            "",
        ]
        + table(["operation", "litetel", LABELS["otel"], "OTel / litetel"], rows)
        + table(
            ["bytes", "litetel", "litetel + zstd", "OTLP", "OTLP + zstd-3", "OTLP+zstd-3 / litetel+zstd"],
            wire,
        )
    )


def document(r, chart_name="benchmarks.png"):
    lines = [
        "# litetel benchmarks",
        "",
        (
            "Generated by `make bench` (`python -m benchmarks.report`) from `benchmarks/results/`; do not "
            "edit by hand. litetel, the OpenTelemetry Python SDK and prometheus_client are measured side by "
            "side in the same run; ratios are peer / litetel (higher is better for litetel)."
        ),
        "",
    ]
    lines += headline(r)
    lines += ["![headline ratios](%s)" % chart_name, ""]
    for section in (
        goals_section,
        machine_section,
        hot_path_section,
        memory_section,
        wire_section,
        export_section,
        gateway_section,
        micropython_section,
    ):
        lines += section(r)
    lines += traces_logs_section(r)
    return "\n".join(lines)
