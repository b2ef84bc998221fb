"""Unbound calls find their series by the attribute dict's content (CPython): a call site that builds its dict
on every call skips the canonical key and the packed index (``series_keys.by_content``), with the outcome of
the full path: its refusals included, but for a value equal to a known one (docs/api.md)."""

from decimal import Decimal

import pytest

from litetel.errors import InstrumentError
from litetel.series_keys import CONTENT_CACHE_SIZE


def test_equal_dicts_built_per_call_count_into_one_series(rec):
    c = rec.meter.counter("requests")
    for i in range(300):
        c.add(1, {"route": "/a" if i % 3 else "/b", "code": 200})  # a new dict object every call
    c.add(1, {"code": 200, "route": "/a"})  # another order: the same series, by the full path
    assert rec.points() == {("requests", (("code", 200), ("route", "/a"))): 201,
                            ("requests", (("code", 200), ("route", "/b"))): 100}


def test_refused_values_stay_refused_and_equal_ones_join_the_known_series(rec):
    c = rec.meter.counter("requests")
    with pytest.raises(InstrumentError):
        c.add(1, {"code": Decimal(1)})  # never seen: the full path refuses its type
    with pytest.raises(InstrumentError):
        c.add(1, {"code": [1]})  # unhashable: the full path refuses it
    first = {"code": 1}  # kept alive: a new dict reusing its id would be an identity-cache hit instead
    c.add(1, first)
    c._cache.clear()  # only the content cache knows {"code": 1} now
    c.add(1, {"code": Decimal(1)})  # equal to a known value: taken as it, as api.md says; no new series
    assert rec.points() == {("requests", (("code", 1),)): 2} and c.series_count == 1


def test_gauges_and_histograms_find_their_series_by_content_too(rec):
    g = rec.meter.gauge("temp")
    h = rec.meter.histogram("lat", boundaries=(10,))
    for v in (5, 50, 7):
        g.set(v, {"sensor": "a"})
        h.record(v, {"sensor": "a"})
    assert g._by_content is not None and h._by_content is not None  # the content path was taken
    got = rec.points()
    assert got[("temp", (("sensor", "a"),))] == 7  # the last value set
    assert got[("lat", (("sensor", "a"),))][:2] == [3, 62]  # three records, one series: count, sum


def test_the_content_cache_is_bounded_and_overflow_stays_exact(rec):
    c = rec.meter.counter("users", max_series=10)
    for round_ in range(2):
        for i in range(CONTENT_CACHE_SIZE + 50):
            c.add(1, {"user": i})
            assert len(c._by_content) <= CONTENT_CACHE_SIZE
    got = rec.points()
    assert sum(got.values()) == 2 * (CONTENT_CACHE_SIZE + 50) and c.series_count == 11  # 10 + overflow
    assert got[("users", (("otel.metric.overflow", True),))] == 2 * (CONTENT_CACHE_SIZE + 40)
