"""The headline: the block docs/benchmarks.md opens with (the README quotes it) and the chart's ratios.

lines = headline(results)            # markdown between HEADLINE_START and HEADLINE_END
rows = headline_ratios(results)      # (metric, peer, peer cost / litetel cost) for chart.draw_ratios
lines = readme_block(results)        # what README.md quotes: the headline and the goals not met
"""

from benchmarks.formatting import fmt_ratio, fmt_seconds, median, table
from benchmarks.goals import MEMORY_GOAL_SERIES, evaluate
from benchmarks.libraries import LABELS
from benchmarks.results import ratio

HEADLINE_START = "<!-- benchmarks:headline:start -->"
HEADLINE_END = "<!-- benchmarks:headline:end -->"
PEERS = ("otel", "prometheus")
# Each library's comparable payload: litetel's CPython default, OTLP delta (issue 3's reference), a scrape.
WIRE_COMPRESSED = {
    "litetel": "wire.litetel.msgpack.zstd",
    "otel": "wire.otel.delta.zstd3",
    "prometheus": "wire.prometheus.gzip",
}
WIRE_RAW = {
    "litetel": "wire.litetel.msgpack.none",
    "otel": "wire.otel.delta.raw",
    "prometheus": "wire.prometheus.raw",
}


def _shown(fmt):
    return lambda v: "—" if v is None else fmt % v


def _measures(r):
    """(name, lib -> cost, cost -> text, chart label or None): lower cost is better for every measure."""

    def hot(op):
        return lambda lib: median(r.per_op("hot_path", lib, op))

    def import_ms(lib):
        return r.value("import.%s.ms" % ("litetel_export" if lib == "litetel" else lib))

    def memory(kind):
        return lambda lib: r.value("memory.%s.%s.%d" % (lib, kind, MEMORY_GOAL_SERIES))

    return (
        ("bound counter `add(1)`", hot("counter_add_bound"), fmt_seconds, "bound counter add"),
        (
            "counter `add(1, attrs)` (3 attributes, 50 sets in turn)",
            hot("counter_add_attrs_cycling"),
            fmt_seconds,
            "counter add, 3 attrs",
        ),
        ("bound histogram `record(v)`", hot("histogram_record_bound"), fmt_seconds, "bound histogram record"),
        (
            f"memory per counter series ({MEMORY_GOAL_SERIES:,} series)",
            memory("counter"),
            _shown("%.0f B"),
            "memory / counter series",
        ),
        (
            "memory per 16-bucket histogram series",
            memory("histogram"),
            _shown("%.0f B"),
            "memory / histogram series",
        ),
        (
            "wire bytes per point, compressed",
            lambda lib: r.value(WIRE_COMPRESSED[lib]),
            _shown("%.1f B"),
            "wire bytes / point, compressed",
        ),
        ("wire bytes per point, uncompressed", lambda lib: r.value(WIRE_RAW[lib]), _shown("%.1f B"), None),
        (
            "export one 100-point interval (CPU)",
            lambda lib: median(r.per_op("export", lib)),
            fmt_seconds,
            "export CPU / interval",
        ),
        ("`import` time, recording and export (litetel: `Device` and its upload path)", import_ms, _shown("%.1f ms"), None),
    )


def headline_ratios(r):
    """(metric, peer label, peer cost / litetel cost) rows for the chart."""
    rows = []
    for _, cost, _, label in _measures(r):
        if label:
            rows += [(label, LABELS[peer], ratio(cost(peer), cost("litetel"))) for peer in PEERS]
    rows.append(
        ("gateway points/s", LABELS["otel"], ratio(r.rate("gateway", "litetel"), r.rate("gateway", "otel")))
    )
    for op, label in (("span", "span start + end"), ("log", "log record")):
        signal = [median(r.per_op("signals", lib, op)) for lib in ("otel", "litetel")]
        rows.append((label, LABELS["otel"], ratio(*signal)))
    return rows


def headline(r):
    """The block the README quotes: one row per measure; peer cells show the figure and (peer / litetel)."""
    rows = []
    for name, cost, show, _ in _measures(r):
        lite = cost("litetel")
        cells = [name, show(lite)]
        for peer in PEERS:
            x = ratio(cost(peer), lite)
            cells.append(show(cost(peer)) + ("" if x is None else " (%s)" % fmt_ratio(x)))
        rows.append(cells)
    gw, otel = r.rate("gateway", "litetel"), r.rate("gateway", "otel")
    gateway = (
        "Gateway: frames → OTLP protobuf at **%s data points/s** on one core, %s the OTel SDK's own encoder "
        "(%s points/s). Peer cells show the peer's figure and (peer / litetel)."
        % (
            "—" if gw is None else f"{gw:,.0f}",
            fmt_ratio(ratio(gw, otel)),
            "—" if otel is None else f"{otel:,.0f}",
        )
    )
    lines = [HEADLINE_START, ""]
    lines += table(["", "litetel", LABELS["otel"], LABELS["prometheus"]], rows)
    return lines + [gateway, "", HEADLINE_END, ""]


def readme_block(r):
    """The README's quote of this run: the headline table, then every goal not met with its figure."""
    block = headline(r)
    lines = [
        (
            "From the last `make bench` run ([docs/benchmarks.md](docs/benchmarks.md): machine, versions, "
            "spreads, and every goal met or not)."
        )
    ]
    lines += block[block.index(HEADLINE_START) + 1 : block.index(HEADLINE_END)]  # starts and ends blank
    missed = [
        "- #%s %s: %s" % (issue, text, measured) for issue, text, measured, met in evaluate(r) if met is False
    ]
    if missed:
        lines += ["Not met on this run:", ""] + missed + [""]
    return lines
