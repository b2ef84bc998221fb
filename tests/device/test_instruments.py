"""Instruments: delta semantics, validation, attributes, cardinality cap, threads (CPython)."""

import enum
import math
import threading

import pytest

from litetel.device import Device
from litetel.dictionary import MAX_BOUNDARIES, MAX_KEY, MAX_SERIES_ATTRIBUTES, MAX_TEXT
from litetel.errors import InstrumentError
from litetel.histogram import DEFAULT_BOUNDARIES
from litetel.instruments import _LMAX

A = {"http.route": "/api", "http.request.method": "GET"}
A_KEY = (("http.request.method", "GET"), ("http.route", "/api"))


# ------------------------------------------------------------------------------------------- counters


def test_counter_sends_the_delta_of_each_interval(rec):
    c = rec.meter.counter("requests", unit="{request}")
    c.add(1, A)
    c.add(2, A)
    assert rec.points() == {("requests", A_KEY): 3}
    c.add(5, A)
    c.add(0)
    assert rec.points() == {("requests", A_KEY): 5, ("requests", ()): 0}
    assert rec.points() is None


def test_counter_float_increments_make_the_instrument_report_floats(rec):
    c = rec.meter.counter("bytes")
    h = c.bind()
    h.add(2)
    h.add(0.5)
    got = rec.points()[("bytes", ())]
    assert got == 2.5 and isinstance(got, float)
    h.add(3)
    assert rec.points()[("bytes", ())] == 3.0


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, math.inf, -math.inf, True, False, "1", None, 1j])
def test_counter_refuses_bad_increments_and_changes_nothing(rec, bad):
    c = rec.meter.counter("c")
    h = c.bind(A)
    h.add(4)
    with pytest.raises(InstrumentError):
        h.add(bad)
    with pytest.raises(InstrumentError):
        c.add(bad, A)
    assert rec.points() == {("c", A_KEY): 4}


def test_updown_counter_goes_both_ways_and_sends_a_zero_delta(rec):
    u = rec.meter.updown_counter("active")
    u.add(1)
    u.add(-3)
    assert rec.points() == {("active", ()): -2}
    u.add(2)
    u.add(-2)
    assert rec.points() == {("active", ()): 0}  # recorded, so sent: the net change was 0


@pytest.mark.parametrize("bad", [math.nan, math.inf, True, "x"])
def test_updown_refuses_bad_values(rec, bad):
    u = rec.meter.updown_counter("u").bind()
    u.add(-1)
    with pytest.raises(InstrumentError):
        u.add(bad)
    assert rec.points() == {("u", ()): -1}


def test_int_subclasses_are_plain_ints(rec):
    class Code(enum.IntEnum):
        OK = 200

    c = rec.meter.counter("c")
    c.add(Code.OK)
    got = rec.points()[("c", ())]
    assert got == 200 and type(got) is int


def test_add_one_steps_on_top_of_a_full_int_column(rec):
    # add(n) fills the column, add(1) steps past it (on CPython: the count's steps, added at collect).
    c = rec.meter.counter("edge").bind()
    c.add((1 << 63) - 1 if (1 << 63) - 1 <= _LMAX else _LMAX)
    c.add(1)
    c.add(1)
    got = rec.points()[("edge", ())]
    want = min((1 << 63) - 1, _LMAX) + 2
    assert got == (want if want <= (1 << 63) - 1 else float(want))
    c.add(1)
    assert rec.points()[("edge", ())] == 1


def test_sums_beyond_the_int_column_are_not_lost(rec):
    c = rec.meter.counter("big").bind()
    c.add(1 << 62)
    c.add((1 << 62) - 1)
    assert rec.points()[("big", ())] == (1 << 63) - 1  # the int64 maximum, exact
    for _ in range(5):
        c.add(1 << 62)
    c.add(1 << 70)
    u = rec.meter.updown_counter("ud").bind()
    for _ in range(3):
        u.add(-(1 << 62))
    h = rec.meter.histogram("h", boundaries=()).bind()
    h.record(1 << 62)
    h.record(1 << 62)
    got = rec.points()
    # Beyond int64 the wire carries a float: the nearest one, nothing wrapped or dropped.
    assert got[("big", ())] == float(5 * (1 << 62) + (1 << 70))
    assert got[("ud", ())] == float(-3 * (1 << 62))
    assert got[("h", ())][:2] == [2, float(1 << 63)]
    c.add(1)
    assert rec.points()[("big", ())] == 1  # the spill went with its interval


# ---------------------------------------------------------------------------------------------- gauge


def test_gauge_sends_the_last_value_of_the_interval(rec):
    g = rec.meter.gauge("temp", unit="Cel")
    g.set(40, {"sensor": "cpu"})
    g.set(41.5, {"sensor": "cpu"})
    g.set(7)
    assert rec.points() == {("temp", (("sensor", "cpu"),)): 41.5, ("temp", ()): 7}
    g.set(3.5)
    g.set(12)
    got = rec.points()
    assert got == {("temp", ()): 12} and type(got[("temp", ())]) is int  # the unset series is not sent


def test_gauge_refuses_nan_and_bool_keeps_infinity(rec):
    g = rec.meter.gauge("g").bind()
    g.set(1)
    for bad in (math.nan, True, "2", None):
        with pytest.raises(InstrumentError):
            g.set(bad)
    assert rec.points() == {("g", ()): 1}
    g.set(-math.inf)
    assert rec.points() == {("g", ()): -math.inf}


def test_gauge_ints_beyond_the_column_become_floats(rec):
    g = rec.meter.gauge("g").bind()
    g.set(1 << 80)
    assert rec.points() == {("g", ()): float(1 << 80)}


# ------------------------------------------------------------------------------------------ histogram


def test_histogram_buckets_at_boundary_values(rec):
    h = rec.meter.histogram("h", boundaries=(0, 5, 10)).bind()
    for v in (-1, 0, 5, 5.0, 6, 10, 11, 10.5):
        h.record(v)
    # bucket i counts boundaries[i-1] < v <= boundaries[i]: (-inf,0], (0,5], (5,10], (10,inf)
    count, total, lo, hi, first, *counts = rec.points()[("h", ())]
    assert (count, first, counts) == (8, 0, [2, 2, 2, 2])
    assert total == 46.5 and lo == -1 and hi == 11


def test_histogram_ints_against_fractional_boundaries(rec):
    h = rec.meter.histogram("h", boundaries=(2.5, 7.5)).bind()
    for v in (2, 3, 7, 8, 2.5, 2.6, -3):
        h.record(v)
    count, total, lo, hi, first, *counts = rec.points()[("h", ())]
    assert (count, first, counts) == (7, 0, [3, 3, 1])  # {2, 2.5, -3} {3, 7, 2.6} {8}
    assert (lo, hi) == (-3, 8)
    assert total == pytest.approx(22.1)


def test_histogram_point_is_dense_from_first_to_last_nonempty_bucket(rec):
    h = rec.meter.histogram("h").bind({"k": 1})
    assert rec.meter.histogram("h").boundaries == DEFAULT_BOUNDARIES
    h.record(7)  # (5, 10] -> bucket 2
    h.record(300)  # (250, 500] -> bucket 8
    h.record(300)
    assert rec.points()[("h", (("k", 1),))] == [3, 607, 7, 300, 2, 1, 0, 0, 0, 0, 0, 2]
    h.record(20000)  # overflow bucket: index 15 of 16
    assert rec.points()[("h", (("k", 1),))] == [1, 20000, 20000, 20000, 15, 1]


def test_histogram_sum_min_max_types(rec):
    h = rec.meter.histogram("h").bind()
    h.record(3)
    h.record(9)
    got = rec.points()[("h", ())]
    assert got[1:4] == [12, 3, 9] and all(type(x) is int for x in got[1:4])
    h.record(2)
    h.record(0.5)
    h.record(11.25)
    got = rec.points()[("h", ())]
    assert got[:4] == [3, 13.75, 0.5, 11.25]


def test_histogram_with_no_boundaries_has_one_bucket(rec):
    h = rec.meter.histogram("h", boundaries=()).bind()
    h.record(1)
    h.record(-5.5)
    assert rec.points()[("h", ())] == [2, -4.5, -5.5, 1, 0, 2]


@pytest.mark.parametrize("bounds", [(5, 1), (1, 1), (1, math.nan), (0, math.inf), (True, 2), ("a",), 3])
def test_histogram_refuses_bad_boundaries(rec, bounds):
    with pytest.raises((InstrumentError, TypeError)):
        rec.meter.histogram("h", boundaries=bounds)
    assert rec.meter.instruments() == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, True, "1", None])
def test_histogram_refuses_bad_values_and_changes_nothing(rec, bad):
    hist = rec.meter.histogram("h", boundaries=(1,))
    h = hist.bind()
    h.record(1)
    with pytest.raises(InstrumentError):
        h.record(bad)
    with pytest.raises(InstrumentError):
        hist.record(bad)
    assert rec.points() == {("h", ()): [1, 1, 1, 1, 0, 1]}


# ----------------------------------------------------------------------------------------- attributes


def test_attribute_order_does_not_matter(rec):
    c = rec.meter.counter("c")
    c.add(1, {"a": 1, "b": "x", "c": True})
    c.add(1, {"c": True, "a": 1, "b": "x"})
    c.bind({"b": "x", "c": True, "a": 1}).add(1)
    assert rec.points() == {("c", (("a", 1), ("b", "x"), ("c", True))): 3}
    assert rec.dev.dictionary.series_count == 1  # one series for all three orders


def test_attribute_types_reach_the_wire(rec):
    g = rec.meter.gauge("g")
    g.set(1, {"s": "v", "i": -7, "f": 2.5, "b": False})
    ((name, attrs),) = rec.points()
    assert dict(attrs) == {"s": "v", "i": -7, "f": 2.5, "b": False}
    assert type(dict(attrs)["b"]) is bool and type(dict(attrs)["i"]) is int


def test_none_and_empty_attributes_are_the_same_series(rec):
    c = rec.meter.counter("c")
    c.add(1)
    c.add(1, {})
    c.bind(None).add(1)
    assert rec.points() == {("c", ()): 3}


@pytest.mark.parametrize("attrs", [
    {1: "x"}, {"": "x"}, {"k": None}, {"k": [1]}, {"k": b"x"}, {"k": math.nan}, {"k": 1 << 63},
    [("k", "v")], "k=v",
])
def test_bad_attributes_are_refused_and_create_nothing(rec, attrs):
    c = rec.meter.counter("c")
    before = rec.dev.dictionary.series_count
    with pytest.raises(InstrumentError):
        c.add(1, attrs)
    with pytest.raises(InstrumentError):
        c.bind(attrs)
    assert rec.dev.dictionary.series_count == before
    assert rec.points() is None


REFUSED = {  # instrument kind -> (how to record unbound, values it refuses)
    "counter": ("add", [-1, math.nan, math.inf, True, "1", None]),
    "updown_counter": ("add", [math.nan, -math.inf, False, "1", None]),
    "gauge": ("set", [math.nan, True, "1", None]),
    "histogram": ("record", [math.nan, math.inf, True, "1", None]),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_a_refused_value_with_new_attributes_makes_no_series(rec, kind):
    # The value is checked before the series is made: a refused call takes no cardinality slot and puts
    # nothing in the dictionary, so the next frame carries no trace of it.
    inst = getattr(rec.meter, kind)("x", max_series=2)
    method, refused = REFUSED[kind]
    for i, bad in enumerate(refused):
        with pytest.raises(InstrumentError):
            getattr(inst, method)(bad, {"attempt": i})
    assert inst.series_count == 0 and rec.dev.dictionary.series_count == 0
    getattr(inst, method)(1, {"attempt": 0})  # the cap (2) is still free: its own series, not the overflow
    ((name, attrs),) = rec.points()
    assert attrs == (("attempt", 0),)


def test_a_mutated_attribute_dict_goes_to_its_new_series(rec):
    c = rec.meter.counter("c")
    attrs = {"k": "a"}
    c.add(1, attrs)
    attrs["k"] = "b"
    c.add(10, attrs)
    attrs["k"] = "a"
    c.add(100, attrs)
    assert rec.points() == {("c", (("k", "a"),)): 101, ("c", (("k", "b"),)): 10}


def test_many_distinct_dicts_past_the_lookup_cache(rec):
    c = rec.meter.counter("c")
    for rnd in range(3):
        for i in range(40):
            c.add(i, {"i": i % 20})
    got = rec.points()
    assert got == {("c", (("i", j),)): 3 * (j + j + 20) for j in range(20)}


def test_enum_attribute_values_are_plain(rec):
    class Method(str, enum.Enum):
        GET = "GET"

    class Code(enum.IntEnum):
        OK = 200

    c = rec.meter.counter("c")
    c.add(1, {"m": Method.GET, "code": Code.OK})
    c.add(1, {"m": "GET", "code": 200})
    ((name, attrs), value), = rec.points().items()
    assert value == 2 and attrs == (("code", 200), ("m", "GET"))
    assert type(attrs[0][1]) is int and type(attrs[1][1]) is str


# ----------------------------------------------------------------------------------- cardinality cap

OVERFLOW = (("otel.metric.overflow", True),)


def test_past_the_cap_measurements_go_to_the_overflow_series(rec):
    c = rec.meter.counter("c", max_series=3)
    for i in range(10):
        c.add(i + 1, {"i": i})
    c.add(1000, {"i": 0})  # an existing series keeps its own
    got = rec.points()
    assert got == {("c", (("i", 0),)): 1001, ("c", (("i", 1),)): 2, ("c", (("i", 2),)): 3,
                   ("c", OVERFLOW): sum(range(4, 11))}
    assert sum(got.values()) == sum(range(1, 11)) + 1000  # never dropped, never double counted
    assert c.series_count == 4  # three series and the overflow: memory stops growing
    for i in range(100, 200):
        c.add(1, {"i": i})
        c.bind({"i": i}).add(1)
    assert c.series_count == 4 and len(c._index) == 4 and len(c._index._arena) < 100
    assert rec.points() == {("c", OVERFLOW): 200}


def test_histogram_and_gauge_overflow(rec):
    h = rec.meter.histogram("h", boundaries=(10,), max_series=1)
    g = rec.meter.gauge("g", max_series=1)
    h.record(1, {"a": 1})
    h.record(20, {"a": 2})
    h.bind({"a": 3}).record(30)
    g.set(1, {"a": 1})
    g.set(2, {"a": 2})
    g.set(3, {"a": 3})
    got = rec.points()
    assert got[("h", (("a", 1),))] == [1, 1, 1, 1, 0, 1]
    assert got[("h", OVERFLOW)] == [2, 50, 20, 30, 1, 2]
    assert got[("g", OVERFLOW)] == 3 and got[("g", (("a", 1),))] == 1


def test_cap_defaults_come_from_meter_then_device(make_recorder):
    rec = make_recorder(max_series=2)
    assert rec.meter.counter("a").max_series == 2
    m = rec.dev.meter("other", max_series=5)
    assert m.counter("b").max_series == 5
    assert m.counter("c", max_series=1).max_series == 1
    with pytest.raises(InstrumentError):
        m.counter("d", max_series=0)


# ----------------------------------------------------------------------------------- names and kinds


@pytest.mark.parametrize("name", ["", "1abc", "_x", "a b", "é", "a" * 256, "a*", None, 5])
def test_invalid_instrument_names(rec, name):
    with pytest.raises(InstrumentError):
        rec.meter.counter(name)


def test_valid_instrument_names(rec):
    for name in ("a", "A.b_c-d/e9", "x" * 255):
        assert rec.meter.gauge(name).name == name


def test_same_name_same_instrument_other_kind_or_unit_is_an_error(rec):
    m = rec.meter
    c = m.counter("http.requests", unit="{request}", description="first")
    assert m.counter("http.requests", unit="{request}") is c
    assert m.counter("HTTP.Requests", unit="{request}") is c  # OTel names are case-insensitive
    with pytest.raises(InstrumentError):
        m.updown_counter("http.requests", unit="{request}")
    with pytest.raises(InstrumentError):
        m.counter("http.requests", unit="By")
    h = m.histogram("lat", boundaries=(1, 2))
    assert m.histogram("lat", boundaries=[1.0, 2.0]) is h
    assert m.histogram("lat") is h
    with pytest.raises(InstrumentError):
        m.histogram("lat", boundaries=(1, 3))
    assert len(m.instruments()) == 2


def test_unknown_keyword_arguments_are_type_errors(rec):
    with pytest.raises(TypeError):
        rec.meter.counter("c", units="s")
    c = rec.meter.counter("c")
    with pytest.raises(TypeError):
        c.add(1, attributes={"a": 1})
    with pytest.raises(TypeError):
        c.bind({}).add(1, {"a": 1})


LONE = "\ud800"  # a str CPython holds but UTF-8 cannot encode: no frame could carry it


@pytest.mark.parametrize("make", [
    lambda dev: dev.meter("m" + LONE),
    lambda dev: dev.meter("m2", version=LONE),
    lambda dev: dev.meter("test").counter("c3", unit=LONE),
    lambda dev: dev.meter("test").gauge("g3", description="d" + LONE),
    lambda dev: dev.tracer("t" + LONE),
    lambda dev: dev.logger("l", version=LONE),
    lambda dev: Device("d2", resource={"k": "v" + LONE}),
    lambda dev: Device("d3", resource={"k" + LONE: "v"}),
    lambda dev: dev.meter("test").counter("c").add(1, {"k" + LONE: 1}),
    lambda dev: dev.meter("test").counter("c").bind({"k": "v" + LONE}),
    lambda dev: dev.meter("test").counter("c").add(1, {"a": 1, "k" + LONE: 1}),  # "a" is not interned first
], ids=["meter", "meter-version", "unit", "description", "tracer", "logger-version", "resource-value",
        "resource-key", "attribute-key", "attribute-value", "second-attribute-key"])
def test_text_no_frame_could_carry_is_refused_where_it_enters_and_adds_nothing(rec, make):
    c = rec.meter.counter("c")
    c.add(1)
    assert rec.points() == {("c", ()): 1}
    strings = list(rec.dev.dictionary.strings)
    with pytest.raises(InstrumentError, match="not encodable as UTF-8"):
        make(rec.dev)
    assert rec.dev.dictionary.strings == strings and [m.name for m in rec.dev._meters.values()] == ["test"]
    insts = rec.dev.dictionary.instruments
    assert [len(i._index) for i in insts] == [i.series_count for i in insts] == [1]  # no half-made series
    c.add(2)
    assert rec.points() == {("c", ()): 2}  # and every frame after goes out as before


def test_bad_unit_and_description(rec):
    with pytest.raises(InstrumentError):
        rec.meter.counter("c", unit="x" * 64)
    with pytest.raises(InstrumentError):
        rec.meter.counter("c", description=3)


# -------------------------------------------------------------------------------------------- threads


def test_threads_lose_no_update_on_one_handle(rec):
    h = rec.meter.counter("c").bind(A)

    def run():
        for _ in range(100_000):
            h.add(1)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rec.points() == {("c", A_KEY): 800_000}


def test_threads_creating_series_and_recording_concurrently(rec):
    c = rec.meter.counter("c", max_series=50)
    hist = rec.meter.histogram("h", boundaries=(0.5,))
    barrier = threading.Barrier(6)
    totals = []

    def run(k):
        barrier.wait()
        for i in range(3000):
            c.add(1, {"i": (i * 7 + k) % 80})
            hist.record(0.25 if i % 2 else 1.0)
        totals.append(3000)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    got = {}
    for _ in range(5):  # collect while recording: nothing lost or double counted across intervals
        for key, v in (rec.points() or {}).items():
            if key[0] == "c":
                got[key] = got.get(key, 0) + v
            else:
                got[key] = got.get(key, 0) + v[0]
    for t in threads:
        t.join()
    for key, v in (rec.points() or {}).items():
        got[key] = got.get(key, 0) + (v if key[0] == "c" else v[0])
    assert sum(v for k, v in got.items() if k[0] == "c") == 18000
    assert got[("h", ())] == 18000
    assert len([k for k in got if k[0] == "c"]) == 51  # 50 series and the overflow
    assert sorted(len(set(inst._gids)) == inst.series_count for inst in (c, hist)) == [True, True]


# ------------------------------------------------------------------------------ the wire's limits

LIMIT_CASES = {  # what a frame may carry at most (dictionary.MAX_*): (at the limit, one past it)
    "attributes": (lambda n: {"k%d" % i: i for i in range(n)}, MAX_SERIES_ATTRIBUTES),
    "key length": (lambda n: {"k" * n: 1}, MAX_KEY),
    "value length": (lambda n: {"k": "v" * n}, MAX_TEXT),
}


@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
def test_attributes_past_the_wire_limits_are_refused_and_create_nothing(rec, case):
    # A gateway rejects a frame carrying more (limit_attrs, limit_key, limit_string), and every dictionary
    # refresh after it: accepted, one series would cost every later frame its points.
    make, limit = LIMIT_CASES[case]
    c = rec.meter.counter("c")
    with pytest.raises(InstrumentError, match="more than the %d a frame carries" % limit):
        c.add(1, make(limit + 1))
    with pytest.raises(InstrumentError):
        c.bind(make(limit + 1))
    assert rec.dev.dictionary.series_count == 0
    c.add(1, make(limit))
    assert list(rec.points().values()) == [1]


def test_instrument_and_scope_text_past_the_wire_limits_is_refused(rec):
    with pytest.raises(InstrumentError, match="512 a frame carries"):
        rec.meter.histogram("h", boundaries=range(MAX_BOUNDARIES + 1))
    assert len(rec.meter.histogram("h", boundaries=range(MAX_BOUNDARIES)).boundaries) == MAX_BOUNDARIES
    with pytest.raises(InstrumentError, match="4096 a frame carries"):
        rec.meter.counter("c", description="d" * (MAX_TEXT + 1))
    with pytest.raises(InstrumentError, match="4096 a frame carries"):
        rec.dev.meter("m" * (MAX_TEXT + 1))
    with pytest.raises(InstrumentError, match="4096 a frame carries"):
        rec.dev.meter("m", version="v" * (MAX_TEXT + 1))
    with pytest.raises(InstrumentError, match="128 a frame carries"):
        Device("d", resource={"k%d" % i: i for i in range(MAX_SERIES_ATTRIBUTES + 1)})
    assert [i.name for i in rec.meter.instruments()] == ["h"]
