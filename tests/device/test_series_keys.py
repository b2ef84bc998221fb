"""series_keys.py: packed series keys round-trip every attribute type, and the hash lookup finds each series
(colliding hashes, table growth, equal values of other types) and nothing else."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from litetel.dictionary import canonical_key
from litetel.errors import InstrumentError
from litetel.series_keys import _SCAN, SeriesKeys, key_hash

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class Strings:
    """A string table like the device dictionary's: ``sid`` interns, ``table`` resolves."""

    def __init__(self):
        self.table = []
        self.ids = {}

    def sid(self, s):
        if s not in self.ids:
            self.ids[s] = len(self.table)
            self.table.append(s)
        return self.ids[s]


def stored(keys_list, h=None):
    """A SeriesKeys holding each key (hash ``h`` for all when given: forced collisions), and its strings."""
    keys, strings = SeriesKeys(), Strings()
    for i, key in enumerate(keys_list):
        assert keys._add_key(key, key_hash(key) if h is None else h, strings.sid, 100 + i) == i
        assert keys._meta[3 * i] == 100 + i
    return keys, strings


EDGE_KEYS = [
    (),
    ("s", ""),
    ("s", "ünïcödé → ✓ 😀"),
    ("i", 0, "j", INT64_MIN, "k", INT64_MAX, "l", -1, "m", 63, "n", -64, "o", 1 << 40),
    ("f", 0.5, "g", -0.0, "h", 1e300, "i", float("inf"), "j", -float("inf"), "k", 5e-324),
    ("a", True, "b", False),
    ("http.request.method", "GET", "http.response.status_code", 200, "http.route", "/api/r7"),
    ("k" * 300, "v" * 5000),
]


@pytest.mark.parametrize("key", EDGE_KEYS)
def test_a_packed_key_unpacks_to_the_same_values_and_types(key):
    keys, strings = stored([("x", 1), key])
    back = keys._wire_attrs(1, strings.table)
    assert back == key and [type(v) for v in back] == [type(v) for v in key]
    assert keys._find(key, key_hash(key), strings.table) == 1
    wire = keys._wire_attrs(1)
    assert wire[1::2] == list(key[1::2])
    assert [strings.table[tk >> 2] for tk in wire[0::2]] == list(key[0::2])
    assert [tk & 3 for tk in wire[0::2]] == [
        3 if type(v) is bool else 1 if type(v) is int else 2 if type(v) is float else 0 for v in key[1::2]
    ]


def test_equal_values_of_other_types_name_the_same_series_whose_type_is_the_first_seen():
    keys, strings = stored([("v", 1)])
    for same in (("v", 1.0), ("v", True)):
        assert keys._find(same, key_hash(same), strings.table) == 0
    assert type(keys._wire_attrs(0, strings.table)[1]) is int
    assert keys._find(("v", 2), key_hash(("v", 2)), strings.table) == -1
    assert keys._find(("v", "1"), key_hash(("v", "1")), strings.table) == -1


@pytest.mark.parametrize("n", [3, _SCAN, _SCAN + 1, 100])
def test_colliding_hashes_are_told_apart_by_the_keys(n):
    all_keys = [("i", i) for i in range(n)]
    keys, strings = stored(all_keys, h=12345)  # every key under one hash: scans and probes go the whole way
    assert (keys._table is None) == (n <= _SCAN)
    for i, key in enumerate(all_keys):
        assert keys._find(key, 12345, strings.table) == i
    assert keys._find(("i", n), 12345, strings.table) == -1
    assert keys._find(("i", 0), 54321, strings.table) == -1  # the right key under another hash: not it


def test_the_table_grows_and_keeps_every_series():
    keys, strings = SeriesKeys(), Strings()
    sizes = set()
    all_keys = [("route", "/r%d" % i, "code", i % 7) for i in range(2000)]
    for i, key in enumerate(all_keys):
        keys._add_key(key, key_hash(key), strings.sid, i)
        if keys._table is not None:
            sizes.add(len(keys._table))
            assert 2 * (i + 1) <= len(keys._table)  # load at most 1/2
    assert sorted(sizes)[0] == 32 and len(sizes) >= 7  # grown by doubling from the first table
    assert all(keys._find(k, key_hash(k), strings.table) == i for i, k in enumerate(all_keys))
    assert keys._find(("route", "/r2000", "code", 5), key_hash(("route", "/r2000", "code", 5)), strings.table) == -1
    assert sorted(strings.table) == ["code", "route"]  # keys interned, values not


def test_a_value_utf8_cannot_encode_is_refused_and_adds_nothing():
    keys, strings = stored([("a", "x")])
    with pytest.raises(InstrumentError, match="UTF-8"):
        keys._add_key(("b", "\ud800"), 7, strings.sid, 1)
    assert len(keys._meta) == 3 and keys._wire_attrs(0, strings.table) == ("a", "x")


_values = st.one_of(
    st.text(max_size=20),
    st.integers(INT64_MIN, INT64_MAX),
    st.floats(allow_nan=False),
    st.booleans(),
)


@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=8), _values, max_size=4), max_size=30))
def test_any_attribute_sets_round_trip_and_are_found(attr_sets):
    keys, strings = SeriesKeys(), Strings()
    index = {}
    for attrs in attr_sets:
        key = canonical_key(attrs)
        found = keys._find(key, key_hash(key), strings.table)
        if key in index:
            assert found == index[key]
        else:
            assert found == -1
            index[key] = keys._add_key(key, key_hash(key), strings.sid, len(index))
    for key, i in index.items():
        assert keys._wire_attrs(i, strings.table) == key
