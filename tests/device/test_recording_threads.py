"""Threads recording while another thread collects: nothing lost or double counted, every histogram point
consistent. Run on both CPython paths: the atomic ``itertools.count`` one (default) and the locked one
(``LITETEL_PURE=1``, in a subprocess: ``accel`` decides once, at import).

Thread switches are forced every microsecond (``sys.setswitchinterval``) so that races are likely, not rare.
"""

import os
import subprocess
import sys
import threading

import pytest

from litetel import accel
from litetel.device import Device

THREADS = 6
ROUNDS = 20_000


def _hammer(record, collect_points):
    """Run ``record(k, i)`` in THREADS threads × ROUNDS while collecting; the list of every point list."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        start = threading.Barrier(THREADS + 1)
        done = []

        def run(k):
            start.wait()
            for i in range(ROUNDS):
                record(k, i)
            done.append(k)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        start.wait()
        intervals = []
        while len(done) < THREADS:
            intervals.append(collect_points())
        for t in threads:
            t.join()
        intervals.append(collect_points())
        return intervals
    finally:
        sys.setswitchinterval(old)


def _points_of(dev):
    def collect_points():
        payload = dev._build_payload()
        return [] if payload is None else payload[1]

    return collect_points


def check_counters_lose_nothing():
    dev = Device("threads-c")
    meter = dev.meter("t")
    counter = meter.counter("c")
    shared = counter.bind({"k": "shared"})
    updown = meter.updown_counter("u").bind()

    def record(k, i):
        shared.add(1)
        shared.add(2 if i % 3 else 1)  # the locked path and the count side by side
        counter.add(1, {"k": k % 2})  # unbound: the attrs cache and the series' handle
        updown.add(1 if i % 2 else -1)

    intervals = _hammer(record, _points_of(dev))
    assert len(intervals) > 2  # collects did race the recording
    totals = {}
    for points in intervals:
        for j in range(0, len(points), 2):
            totals[points[j]] = totals.get(points[j], 0) + points[j + 1]
    n = THREADS * ROUNDS
    shared_total = THREADS * sum(1 + (2 if i % 3 else 1) for i in range(ROUNDS))
    assert sorted(totals.values()) == sorted([0, n // 2, n // 2, shared_total])


def check_histogram_points_stay_consistent():
    """Racing records (ints and floats, bound and unbound) and collects: every point consistent, and over all
    intervals each bucket's count, the count, the sum, min and max are exactly those recorded."""
    dev = Device("threads-h")
    bounds = (1, 10, 100)
    hist = dev.meter("t").histogram("h", boundaries=bounds)
    bound = hist.bind()
    values = (0.5, 5, 50.0, 500, 7, 0.25, 100, 1.0)
    longest = [0]

    def record(k, i):
        v = values[(i + k) % len(values)]
        bound.record(v)
        hist.record(v, {"k": k % 2})
        if accel.ATOMIC_COUNT and not i % 64:
            longest[0] = max(longest[0], len(bound), len(bound._ints or ()))

    intervals = _hammer(record, _points_of(dev))
    count = 0
    total = 0.0
    buckets = [0] * (len(bounds) + 1)
    lowest, highest = [], []
    for points in intervals:
        for j in range(1, len(points), 2):
            n, s, lo, hi, first = points[j][:5]
            counts = points[j][5:]
            assert n == sum(counts) and n > 0, points[j]
            assert lo <= hi and counts[0] and counts[-1], points[j]
            assert 0 <= first and first + len(counts) <= len(buckets)
            for b, c in enumerate(counts):
                buckets[first + b] += c
            count += n
            total += s
            lowest.append(lo)
            highest.append(hi)
    recorded = [values[(i + k) % len(values)] for k in range(THREADS) for i in range(ROUNDS)] * 2
    want = [0] * len(buckets)
    for v in recorded:
        want[sum(1 for b in bounds if b < v)] += 1
    assert buckets == want and count == len(recorded)
    assert total == pytest.approx(sum(recorded), rel=1e-12)
    assert min(lowest) == min(values) and max(highest) == max(values)
    if accel.ATOMIC_COUNT:
        from litetel.lockfree import BATCH

        assert longest[0] < BATCH + THREADS  # pending values stay bounded


def test_counters_lose_nothing_while_collects_race():
    check_counters_lose_nothing()


def test_histogram_points_stay_consistent_while_collects_race():
    check_histogram_points_stay_consistent()


def test_the_count_path_is_used_on_cpython_with_the_gil():
    handle = Device("threads-k").meter("t").counter("c").bind()
    assert accel.ATOMIC_COUNT == (not os.environ.get("LITETEL_PURE") == "1")
    assert type(handle).__name__ == ("CountingSumHandle" if accel.ATOMIC_COUNT else "SumHandle")


@pytest.mark.parametrize("check", ["check_counters_lose_nothing", "check_histogram_points_stay_consistent"])
def test_the_locked_path_too(check):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    code = (
        "import sys; sys.path[:0] = [%r, %r]\n"
        "from litetel import accel; assert not accel.ATOMIC_COUNT\n"
        "import test_recording_threads as t; t.%s(); print('ok')" % (root, here, check)
    )
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, LITETEL_PURE="1"), cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
