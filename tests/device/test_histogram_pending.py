"""Histogram points against a plain reference, through every recording path: on CPython with the GIL the
buffered one (values pending in the handle, folded a batch at a time by the recording thread or by collect),
the locked one elsewhere (``LITETEL_PURE=1``: the suite runs in both modes).
"""

import math
import random
from bisect import bisect_left

import pytest

from litetel import accel
from litetel.errors import InstrumentError
from litetel.histogram import Histogram

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
if accel.ATOMIC_COUNT:
    from litetel.lockfree import BATCH
else:
    BATCH = 32  # the same amounts of values exercise the locked path


def reference_point(values, bounds):
    """The wire point (wire format §2.2) of ``values``, computed the plain way."""
    counts = [0] * (len(bounds) + 1)
    for v in values:
        counts[bisect_left(bounds, v)] += 1
    first = next(i for i, c in enumerate(counts) if c)
    last = max(i for i, c in enumerate(counts) if c)
    return [len(values), sum(values), min(values), max(values), first] + counts[first : last + 1]


def assert_point(got, values, bounds):
    want = reference_point(values, bounds)
    assert got[0] == want[0] and got[4:] == want[4:], (got, want)
    assert got[2:4] == want[2:4] and [type(x) for x in got[2:4]] == [type(x) for x in want[2:4]]
    assert got[1] == pytest.approx(want[1], rel=1e-12, abs=1e-12) and type(got[1]) is type(want[1])


def values_of(kind, n, rng):
    if kind == "floats":
        return [rng.lognormvariate(-3, 1.5) for _ in range(n)]
    if kind == "ints":
        return [rng.randrange(-3, 12) for _ in range(n)]
    return [rng.lognormvariate(-3, 1.5) if rng.random() < 0.5 else rng.randrange(0, 12) for _ in range(n)]


@pytest.mark.parametrize("kind", ["floats", "ints", "mixed"])
@pytest.mark.parametrize("n", [1, 2, BATCH - 1, BATCH, BATCH + 1, 5 * BATCH + 7])
def test_points_match_the_reference(rec, kind, n):
    rng = random.Random(n * 7 + len(kind))
    hist = rec.meter.histogram("h", boundaries=BOUNDS)
    bound = hist.bind({"k": "bound"})
    for interval in range(3):
        values = values_of(kind, n, rng)
        other = values_of(kind, n // 2 + 1, rng)
        for v in values:
            bound.record(v)
        for v in other:
            hist.record(v, {"k": "unbound"})
        got = rec.points()
        assert_point(got[("h", (("k", "bound"),))], values, BOUNDS)
        assert_point(got[("h", (("k", "unbound"),))], other, BOUNDS)
    assert rec.points() is None  # nothing left pending


def test_values_on_boundaries_and_beyond_the_last_in_one_batch(rec):
    h = rec.meter.histogram("h", boundaries=(0, 5, 10)).bind()
    values = [-1, 0, 5, 5.0, 6, 10, 11, 10.5, 0.0, -0.0, 4.999999, 5.000001, 1e6, -1e6] * (BATCH // 4)
    for v in values:
        h.record(v)
    assert_point(rec.points()[("h", ())], values, (0, 5, 10))


def test_pending_values_stay_below_a_batch(rec):
    hist = rec.meter.histogram("h", boundaries=BOUNDS)
    h = hist.bind()
    for i in range(10 * BATCH + 3):
        h.record(i * 0.001)
        h.record(i)
        if accel.ATOMIC_COUNT:
            assert len(h) < BATCH and len(h._ints) < BATCH
    got = rec.points()[("h", ())]
    assert got[0] == 2 * (10 * BATCH + 3)
    if accel.ATOMIC_COUNT:
        assert len(h) == 0 and len(h._ints) == 0


def test_int_sums_spill_exactly_through_batches(rec):
    h = rec.meter.histogram("h", boundaries=()).bind()
    n = 3 * BATCH + 1
    for _ in range(n):
        h.record(1 << 62)
    got = rec.points()[("h", ())]
    assert got[:4] == [n, float(n << 62), 1 << 62, 1 << 62]
    for _ in range(BATCH):
        h.record(3)
    assert rec.points()[("h", ())][:2] == [BATCH, 3 * BATCH]  # the spill went with its interval


def test_ints_beyond_the_column_and_bad_values(rec):
    h = rec.meter.histogram("h", boundaries=(1,)).bind()
    h.record(1 << 70)  # beyond the int column: recorded as the nearest float
    for bad in (math.nan, math.inf, True, "1", None):
        with pytest.raises(InstrumentError):
            h.record(bad)
    assert rec.points()[("h", ())] == [1, float(1 << 70), float(1 << 70), float(1 << 70), 1, 1]


def test_the_handle_kind_follows_accel():
    from litetel.device import Device

    hist = Device("p-kind").meter("t").histogram("h")
    assert isinstance(hist, Histogram)
    assert type(hist.bind()).__name__ == (
        "BufferedHistogramHandle" if accel.ATOMIC_COUNT else "HistogramHandle"
    )


def test_records_inside_a_sampled_span_join_the_pending_ones(rec):
    hist = rec.meter.histogram("h", boundaries=BOUNDS)
    h = hist.bind()
    tracer = rec.dev.tracer("t")
    rng = random.Random(5)
    outside = values_of("mixed", BATCH + 5, rng)
    inside = values_of("mixed", 7, rng)
    for v in outside[:10]:
        h.record(v)
    with tracer.span("work"):
        for v in inside:
            h.record(v)  # the locked path, which keeps exemplars
    for v in outside[10:]:
        h.record(v)
    assert_point(rec.points()[("h", ())], outside + inside, BOUNDS)
