"""Hot path: one recording call, per library, single thread and with threads contending on one series.

Each timed call runs the operation LOOP times in a plain `for` loop, so the figure per operation is
time / LOOP; the loop's own cost (~20 ns) is in every library's figure alike, which only narrows ratios.
The OTel SDK has no bound handles: its "bound" rows are `instrument.add(1, attrs)` with a prebuilt dict.
"""

import threading

import pytest

from benchmarks.libraries import LIBS, load_side

LOOP = 1000
OPS = (
    "counter_add_bound",
    "counter_add_attrs",
    "counter_add_attrs_cycling",
    "counter_add_no_attrs",
    "updown_add_bound",
    "gauge_set_bound",
    "histogram_record_bound",
    "histogram_record_attrs",
)
THREADS = 4
ADDS_PER_THREAD = 2000


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("lib", LIBS)
def test_hot_path(benchmark, lib, op):
    owner, ops = load_side(lib).hot_path_loops(LOOP)
    benchmark.group = "hot path: " + op
    benchmark.extra_info.update(kind="hot_path", lib=lib, op=op, ops_per_call=LOOP)
    benchmark(ops[op])
    assert owner is not None


@pytest.mark.parametrize("lib", LIBS)
def test_threads_contending(benchmark, lib):
    owner, adds = load_side(lib).contended_add(ADDS_PER_THREAD)

    def run():
        threads = [threading.Thread(target=adds) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    benchmark.group = "hot path: %d threads contending on one series" % THREADS
    benchmark.extra_info.update(
        kind="threads", lib=lib, op="threads_add", ops_per_call=THREADS * ADDS_PER_THREAD
    )
    benchmark.pedantic(run, rounds=10, warmup_rounds=1)
    assert owner is not None
