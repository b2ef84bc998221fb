"""One run's results, read back: pytest-benchmark timings (per operation) and the side-JSON figures.

r = Results.load("benchmarks/results")
r.per_op("hot_path", "litetel", "counter_add_bound")   # {"median": s, "iqr": s, ...} per operation
r.figure("wire.litetel.msgpack.zstd")                  # {"median": ..., "unit": "B/point", ...}
"""

import json
import os

BENCHMARK_JSON = "benchmark.json"
MEASUREMENTS_JSON = "measurements.json"
_STATS = ("median", "iqr", "q1", "q3", "mean", "stddev", "min", "max")


class Results:
    def __init__(self, benchmark, figures, environment):
        self.benchmark = benchmark
        self.figures = figures
        self.environment = environment
        self._timings = {}
        for b in benchmark.get("benchmarks", []):
            info = b.get("extra_info", {})
            if "kind" in info:
                self._timings[(info["kind"], info["lib"], info.get("op", ""))] = b

    @classmethod
    def load(cls, directory):
        benchmark = {}  # a quick (--benchmark-disable) run writes no timings
        path = os.path.join(directory, BENCHMARK_JSON)
        if os.path.exists(path):
            with open(path) as f:
                benchmark = json.load(f)
        with open(os.path.join(directory, MEASUREMENTS_JSON)) as f:
            side = json.load(f)
        return cls(benchmark, side["figures"], side.get("environment", {}))

    def per_op(self, kind, lib, op=""):
        """Timing stats in seconds per operation (the timed call divided by the ops it performs), or None."""
        b = self._timings.get((kind, lib, op))
        if b is None:
            return None
        n = b["extra_info"].get("ops_per_call", 1)
        stats = {k: b["stats"][k] / n for k in _STATS}
        stats["rounds"] = b["stats"]["rounds"]
        return stats

    def rate(self, kind, lib, op=""):
        """Operations (e.g. data points) per second from per_op's median, or None."""
        s = self.per_op(kind, lib, op)
        return None if s is None else 1.0 / s["median"]

    def figure(self, key):
        return self.figures.get(key)

    def value(self, key):
        f = self.figures.get(key)
        return None if f is None else f["median"]

    def machine(self):
        info = self.benchmark.get("machine_info", {})
        cpu = info.get("cpu", {})
        return {
            "cpu": cpu.get("brand_raw") or self.environment.get("cpu_model", "unknown"),
            "cores": self.environment.get("cpu_count") or cpu.get("count"),
            "python": "%s %s" % (info.get("python_implementation", ""), info.get("python_version", "")),
            "system": "%s %s" % (info.get("system", ""), info.get("release", "")),
            "datetime": self.benchmark.get("datetime", ""),
        }


def ratio(a, b):
    """a / b, or None when either is missing."""
    if a is None or b is None or b == 0:
        return None
    return a / b
