"""series_keys.py (CPython's series index, dict-like): packed keys round-trip every attribute type, and the hash lookup
finds each series (colliding hashes, table growth, equal values of other types) and nothing else."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litetel import epoch_limits, series_keys
from litetel.device import Device
from litetel.dictionary import canonical_key
from litetel.errors import InstrumentError

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def counter(max_series=100):
    return Device("sk-test", max_series=max_series).meter("m").counter("c")


def keys_of(inst):
    """{canonical key: local series index}, as the instrument stores them."""
    return {key: i for i, (_, key) in enumerate(inst._series_since(0))}


EDGE_KEYS = [
    (),
    ("s", ""),
    ("s", "ünïcödé → ✓ 😀"),
    ("i", 0, "j", INT64_MIN, "k", INT64_MAX, "l", -1, "m", 63, "n", -64, "o", 1 << 40),
    ("f", 0.5, "g", -0.0, "h", 1e300, "i", float("inf"), "j", -float("inf"), "k", 5e-324),
    ("a", True, "b", False),
    ("http.request.method", "GET", "http.response.status_code", 200, "http.route", "/api/r7"),
    ("k" * 256, "v" * 4096),  # the longest a frame carries (dictionary.MAX_KEY, MAX_TEXT)
    ("x", "same", "y", "same"),  # one object twice in one record
]


@pytest.mark.parametrize("key", EDGE_KEYS)
def test_a_packed_key_unpacks_to_the_same_values_and_types(key):
    c = counter()
    first = c.bind({"x": 1})
    h = c.bind(dict(zip(key[0::2], key[1::2])))
    assert h is not first and c._index.get(key) is h and c._index.get(("x", 1)) is first
    [(gid0, k0), (gid1, back)] = c._series_since(0)
    assert (k0, back) == (("x", 1), key) and [type(v) for v in back] == [type(v) for v in key]
    assert (gid0, gid1) == (0, 1)
    wire = c._dictionary.attrs(back)  # the delta's: key sids; str values inline, or sids when in the table
    strings = c._dictionary.strings
    assert [strings[tk >> 2] for tk in wire[0::2]] == list(key[0::2])
    values = [strings[v] if tk & 3 == 0 and type(v) is int else v for tk, v in zip(wire[0::2], wire[1::2])]
    assert values == list(key[1::2])


def test_equal_values_of_other_types_name_the_same_series_whose_type_is_the_first_seen():
    c = counter()
    one = c.bind({"v": 1})
    assert c.bind({"v": 1.0}) is one and c.bind({"v": True}) is one
    assert type(c._series_since(0)[0][1][1]) is int
    assert c.bind({"v": 2}) is not one and c.bind({"v": "1"}) is not one and c.series_count == 3


@pytest.mark.parametrize("n", [1, 3, 40])
def test_colliding_hashes_are_told_apart_by_the_keys(monkeypatch, n):
    monkeypatch.setattr(series_keys, "hash", lambda key: 12345, raising=False)  # every key: one probe chain
    c = counter()
    handles = [c.bind({"i": i}) for i in range(n)]
    assert len(set(map(id, handles))) == n
    assert [c.bind({"i": i}) for i in range(n)] == handles and c._index.get(("i", n)) is None
    assert set(c._index._hashes) == {12345}


def test_the_table_grows_and_keeps_every_series(monkeypatch):
    monkeypatch.setattr(epoch_limits, "MAX_EPOCH_SERIES", 40000)  # more series than a gateway takes of a device
    c = counter(max_series=40000)
    sizes = set()
    attr_sets = [{"route": "/r%d" % i, "code": i % 7} for i in range(33000)]
    handles = []
    for i, attrs in enumerate(attr_sets):
        handles.append(c.bind(attrs))
        sizes.add((len(c._index._table), c._index._table.typecode))
        assert 2 * (i + 1) <= len(c._index._table)  # load at most 1/2
    assert sorted(sizes)[:2] == [(16, "H"), (32, "H")] and (1 << 16, "H") in sizes and (1 << 17, "I") in sizes
    assert all(c.bind(attrs) is h for attrs, h in zip(attr_sets, handles))
    assert c._index.get(canonical_key({"route": "/r33000", "code": 5})) is None
    assert [c._dictionary.strings.count(s) for s in ("code", "route", "/r5")] == [1, 1, 0]


def test_past_256_attribute_name_sets_each_series_keeps_its_names():
    c = counter(max_series=1000)
    handles = [c.bind({"k%d" % i: i}) for i in range(300)]
    assert c._index._names.typecode == "I" and len(c._index._name_sets) == 300
    assert [c.bind({"k%d" % i: i}) for i in range(300)] == handles
    assert c._index.get(("k1", 2)) is None and c._series_since(299)[0][1] == ("k299", 299)


def test_a_value_utf8_cannot_encode_is_refused_and_adds_nothing():
    c = counter()
    c.bind({"a": "x"})
    with pytest.raises(InstrumentError, match="UTF-8"):
        c.bind({"b": "\ud800"})
    assert c.series_count == 1 and c._dictionary.series_count == 1 and keys_of(c) == {("a", "x"): 0}


_values = st.one_of(
    st.text(max_size=20),
    st.integers(INT64_MIN, INT64_MAX),
    st.floats(allow_nan=False),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=8), _values, max_size=4), max_size=30))
def test_any_attribute_sets_round_trip_and_are_found(attr_sets):
    c = counter()
    model = {}
    for attrs in attr_sets:
        key = canonical_key(attrs)
        h = c.bind(attrs)
        assert model.setdefault(key, h) is h
    stored = keys_of(c)
    assert set(stored) == set(model) and all(c._index.get(key) is model[key] for key in model)


def test_handles_past_256_series_record_into_their_own_series(make_recorder):
    # Lock-free handles hold a block of 256 series and their offset in it, not their index (lockfree.py).
    rec = make_recorder(max_series=1000)
    meter = rec.dev.meter("m")
    c = meter.counter("c")
    h = meter.histogram("h", boundaries=(10,))
    counts = [c.bind({"i": i}) for i in range(600)]
    hists = [h.bind({"i": i}) for i in range(600)]
    for i in (0, 255, 256, 257, 511, 512, 599):
        assert counts[i]._i == i and counts[i]._inst is c and hists[i]._i == i and hists[i]._inst is h
        counts[i].add(1)
        counts[i].add(i + 2)  # the locked path: through the block to series i
        counts[i].add(0.5)
        hists[i].record(i)  # an int: the locked path
        hists[i].record(0.5)
    got = rec.points()
    for i in (0, 255, 256, 257, 511, 512, 599):
        assert got[("c", (("i", i),))] == i + 3.5
        assert got[("h", (("i", i),))][0] == 2
    assert len(got) == 14 and "#599" in repr(counts[599])
