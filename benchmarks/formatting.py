"""How figures are written in docs/benchmarks.md: times with units, spreads, ratios, markdown tables.

fmt_seconds(3.1e-7)                    # "310 ns"
table(["a", "b"], [[1, 2]])            # markdown lines
"""


def fmt_seconds(s):
    if s is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return "%.3g %s" % (s / scale, unit)
    return "%.3g ns" % (s * 1e9)


def fmt_timing(stats):
    if stats is None:
        return "not measured"
    return "%s (IQR %s)" % (fmt_seconds(stats["median"]), fmt_seconds(stats["iqr"]))


def fmt_figure(f, fmt="%.1f"):
    if f is None:
        return "not measured"
    text = fmt % f["median"]
    if f["n"] > 1:
        text += " (IQR " + fmt % f["iqr"] + ")"
    return text


def fmt_ratio(x):
    if x is None:
        return "—"
    return ("%.1f×" % x) if x < 100 else ("%.0f×" % x)


def median(stats):
    return None if stats is None else stats["median"]


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]
