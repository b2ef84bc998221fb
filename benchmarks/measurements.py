"""Figures that are not timings (bytes, heap, RSS, MicroPython µs), with their spread, in a side JSON.

pytest-benchmark keeps the timings; everything else a benchmark module measures goes through the
`measurements` fixture (benchmarks/conftest.py) and lands in the file given by ``--measurements-json``:

    def test_wire(measurements):
        measurements.record("wire.otel.delta.zstd3", [36.1], unit="B/point", lib="otel")
"""

import json
import statistics

MAX_KEPT_SAMPLES = 100


def summarize(samples):
    """median, quartiles, IQR, stddev, min, max and n of a list of numbers."""
    data = sorted(float(s) for s in samples)
    n = len(data)
    if n >= 2:
        q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
        stddev = statistics.stdev(data)
    else:
        q1 = q3 = data[0]
        stddev = 0.0
    return {
        "median": statistics.median(data),
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "stddev": stddev,
        "min": data[0],
        "max": data[-1],
        "n": n,
    }


class Measurements:
    """Collects named figures during a pytest session; `write(path)` dumps them as JSON."""

    def __init__(self):
        self.figures = {}
        self.environment = {}

    def record(self, key, samples, unit, **meta):
        """Record `samples` (a number or a list of numbers) under `key`; `meta` is free-form context."""
        if not isinstance(samples, (list, tuple)):
            samples = [samples]
        entry = summarize(samples)
        # Long series (e.g. 5,000 request latencies) keep only their summary: the JSON is committed.
        kept = list(samples) if len(samples) <= MAX_KEPT_SAMPLES else []
        entry.update(unit=unit, samples=kept, **meta)
        self.figures[key] = entry
        return entry

    def write(self, path):
        with open(path, "w") as f:
            json.dump({"figures": self.figures, "environment": self.environment}, f, indent=1, sort_keys=True)


def machine_environment():
    """CPU model, core count and library versions, stored with the figures so a report can be re-rendered."""
    import os

    from benchmarks.libraries import versions

    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu_model": model, "cpu_count": os.cpu_count(), "versions": versions()}
