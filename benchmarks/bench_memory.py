"""Memory: tracemalloc bytes per series, and import time + RSS of each library over the bare interpreter.

Per series = (traced bytes after creating the instrument and N series, one measurement each) / N, with the
device / provider / registry and the attribute dicts (or label tuples) built beforehand, and the handles
litetel / prometheus_client return kept alive, as an application does. litetel's max_series is raised
to fit N.
Import figures come from fresh subprocesses (`python -c`), repeated for a spread, after one run that writes
the .pyc files (as an installed package has them).
"""

import gc
import json
import os
import subprocess
import sys
import tracemalloc

import pytest

from benchmarks import reference_workload as wl
from benchmarks.libraries import LIBS, load_side

SIZES = (100, 1000, 10000)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What an application imports to record and export with each library.
OWN_PACKAGE = {"litetel": "litetel", "otel": "opentelemetry", "prometheus": "prometheus_client"}
# import case -> (library, statement). litetel exports Device lazily, so `import litetel` alone is not what an
# application pays: `litetel_device` adds the first use (recording), `litetel_export` what a Device with an
# endpoint loads by its first upload (codecs, compression, signing, uploader, transport), like with like with
# the OTel statement, which includes its exporter.
IMPORTS = {
    "litetel": "import litetel",
    "litetel_device": "import litetel; litetel.Device",
    "litetel_export": "import litetel; litetel.Device; import litetel.uploader, litetel.transport, litetel.signing, "
    "litetel.codecs, litetel.msgpack_c, litetel.compression, litetel.zstd_compression",
    "otel": "import opentelemetry.sdk.metrics, opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "prometheus": "import prometheus_client",
}
_IMPORT_PROBE = """
import sys, time
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
r0 = rss()
t0 = time.perf_counter()
%s
t1 = time.perf_counter()
r1 = rss()
import json
print(json.dumps({"seconds": t1 - t0, "rss": r1 - r0, "modules": sorted(sys.modules)}))
"""


def traced_bytes_per_series(side, kind, n):
    inputs = side.series_inputs(wl.many_series(n))
    side.new_series(side.memory_host(1), kind, inputs[:1])  # lazy imports and one-off caches: not measured
    host = side.memory_host(n)  # the device / provider / registry is not per-series memory
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        owner = side.new_series(host, kind, inputs)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert owner is not None
    return (after - before) / n


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ("counter", "histogram"))
@pytest.mark.parametrize("lib", LIBS)
def test_memory_per_series(lib, kind, n, measurements, quick):
    n = min(n, 100) if quick else n  # quick mode only proves the code runs
    per_series = traced_bytes_per_series(load_side(lib), kind, n)
    assert per_series > 0
    measurements.record("memory.%s.%s.%d" % (lib, kind, n), per_series, unit="B/series", lib=lib)


def import_probe(statement, write_bytecode=False):
    env = dict(os.environ, LITETEL_PURE="")
    if write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE % statement],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("case", sorted(IMPORTS))
def test_import_cost(case, measurements, quick):
    lib = case.split("_")[0]
    load_side(lib)
    # An installed package has its .pyc files (pip compiles them; the peers' were): write litetel's first, so
    # a clean clone is not timed compiling its sources.
    import_probe(IMPORTS[case], write_bytecode=True)
    probes = [import_probe(IMPORTS[case]) for _ in range(1 if quick else 11)]
    bare = set(
        import_probe("pass")["modules"]
    )  # site hooks (.pth files) are the interpreter's, not the lib's
    new = {m.split(".")[0] for m in set(probes[0]["modules"]) - bare}
    non_stdlib = sorted(new - set(sys.stdlib_module_names) - {OWN_PACKAGE[lib]})
    seconds = [p["seconds"] * 1e3 for p in probes]
    measurements.record("import.%s.ms" % case, seconds, unit="ms", lib=lib, statement=IMPORTS[case])
    rss = [p["rss"] / 1024 for p in probes]
    measurements.record("import.%s.rss" % case, rss, unit="KiB", lib=lib, top_level_packages=non_stdlib)
