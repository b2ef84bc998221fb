"""Delta aggregation against a model: random recordings and collects, every frame checked point by point.

The model is the issue's rules written plainly: per interval, a sum sends the sum of what was added, a gauge
the last value set, a histogram its bucket counts (bucket i: ``boundaries[i-1] < v <= boundaries[i]``), count,
sum, min and max; a series with nothing recorded is not sent; past ``max_series`` distinct attribute sets,
measurements go to the one overflow series. Recordings go through bound handles and unbound calls at random,
so both paths (and the unbound call's cache) meet the same checks.
"""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

OVERFLOW = (("otel.metric.overflow", True),)
BOUNDARIES = (0, 1.5, 10)
ATTRS = [{"k": i} for i in range(5)]
MAX_SERIES = 3

ints = st.integers(-(2**62), 2**62) | st.integers(-20, 20)
floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
numbers = ints | floats
increments = st.integers(0, 2**62) | st.integers(0, 9) | st.floats(0, 1e6)  # a counter's: never negative
op = st.one_of(
    st.tuples(st.just("counter"), st.integers(0, 4), increments, st.booleans()),
    st.tuples(st.just("updown"), st.integers(0, 4), numbers, st.booleans()),
    st.tuples(st.just("gauge"), st.integers(0, 4), numbers, st.booleans()),
    st.tuples(st.just("histogram"), st.integers(0, 4), numbers, st.booleans()),
    st.just(("collect",)),
)


class Model:
    """What each interval must send, per (instrument, attrs)."""

    def __init__(self):
        # per instrument, the attribute sets of its series in the order they were made
        self.series = {name: [] for name in ("counter", "updown", "gauge", "histogram")}
        self.interval = {}

    def key(self, name, attrs):
        made = self.series[name]
        flat = tuple(sorted(attrs.items()))
        if flat not in made:
            if len([s for s in made if s != OVERFLOW]) >= MAX_SERIES:
                flat = OVERFLOW
            if flat not in made:
                made.append(flat)
        return (name, flat)

    def record(self, name, attrs, v):
        key = self.key(name, attrs)
        if name == "gauge":
            self.interval[key] = v
        elif name == "histogram":
            buckets, values = self.interval.setdefault(key, ([0] * (len(BOUNDARIES) + 1), []))
            buckets[sum(1 for b in BOUNDARIES if v > b)] += 1
            values.append(v)
        else:
            self.interval[key] = self.interval.get(key, 0) + v

    def take(self):
        taken, self.interval = self.interval, {}
        return taken


def assert_number(got, want, what):
    # Exact for ints (an int64 sum); a float anywhere makes it a float sum, compared within its rounding.
    if isinstance(want, int) and -(2**63) <= want < 2**63 and isinstance(got, int):
        assert got == want, what
    else:
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6), (what, got, want)


def assert_histogram(got, want, what):
    buckets, values = want
    count, total, lo, hi, first = got[:5]
    sparse = got[5:]
    assert count == len(values), what
    assert sum(sparse) == count, what
    full = [0] * first + list(sparse) + [0] * (len(buckets) - first - len(sparse))
    assert full == buckets, (what, got, want)
    assert lo == min(values) and hi == max(values), what
    assert_number(total, sum(values), what)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, max_size=60))
def test_every_frame_is_what_the_model_says(make_recorder, ops):
    rec = make_recorder()
    meter = rec.meter
    instruments = {
        "counter": meter.counter("counter", max_series=MAX_SERIES),
        "updown": meter.updown_counter("updown", max_series=MAX_SERIES),
        "gauge": meter.gauge("gauge", max_series=MAX_SERIES),
        "histogram": meter.histogram("histogram", boundaries=BOUNDARIES, max_series=MAX_SERIES),
    }
    method = {"counter": "add", "updown": "add", "gauge": "set", "histogram": "record"}
    model = Model()
    for step in ops + [("collect",)]:
        if step[0] == "collect":
            want = model.take()
            got = rec.points() or {}
            assert set(got) == set(want), (got, want)
            for key, value in want.items():
                if key[0] == "histogram":
                    assert_histogram(got[key], value, key)
                elif key[0] == "gauge":
                    assert got[key] == value and type(got[key]) is type(value), (key, got[key], value)
                else:
                    assert_number(got[key], value, key)
            continue
        name, i, v, bound = step
        inst = instruments[name]
        if bound:
            getattr(inst.bind(ATTRS[i]), method[name])(v)
        else:
            getattr(inst, method[name])(v, ATTRS[i])
        model.record(name, ATTRS[i], v)
    for inst in instruments.values():
        assert inst.series_count <= MAX_SERIES + 1
