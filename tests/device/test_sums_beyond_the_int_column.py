"""Integer sums beyond the array('l') column (docs/api.md: "kept exactly in a Python int; a delta outside
int64 is sent as the nearest float"), and ints no float can hold (refused with InstrumentError)."""

import pytest

from litetel.errors import InstrumentError
from litetel.instruments import _LMIN


def test_updown_counter_adds_a_large_negative_int(rec):
    # _Sum._add: `n >= self._floor` is false for n < _LMIN - 1, so _add_other -> _number -> _add -> ... forever.
    # On a 32-bit board (_LMIN = -2**31) an add(-3_000_000_000) is enough.
    u = rec.meter.updown_counter("delta")
    u.add(-(2**64))
    u.add(2**64 - 5)
    assert rec.points() == {("delta", ()): -5}


def test_updown_counter_large_negative_int_through_the_locked_class(rec):
    from litetel.instruments import _Sum

    assert _Sum._floor == _LMIN - 1
    u = rec.meter.updown_counter("delta")
    h = u.bind({"k": "v"})
    h.add(_LMIN - 2)
    got = rec.points()[("delta", (("k", "v"),))]
    assert got == float(_LMIN - 2)  # outside int64: the nearest float


def test_a_counter_increment_no_float_can_hold_is_refused_not_fatal_to_collect(rec):
    # The increment is accepted, then collect() raises OverflowError (float(10**400)) after taking every
    # instrument's points: the other counter's 3 of this interval never reaches a frame.
    other = rec.meter.counter("other")
    other.add(3)
    c = rec.meter.counter("c")
    try:
        c.add(10**400)
    except InstrumentError:
        pass  # refused up front: fine
    assert rec.points() == {("other", ()): 3}


@pytest.mark.parametrize("kind, method", [("gauge", "set"), ("histogram", "record")])
def test_an_int_no_float_can_hold_is_an_instrument_error(rec, kind, method):
    # docs/api.md "Values refused": every refusal is an InstrumentError; here it is an OverflowError.
    inst = getattr(rec.meter, kind)("x")
    with pytest.raises(InstrumentError):
        getattr(inst, method)(10**400)
    assert rec.points() is None


def test_int_increments_whose_sum_no_float_can_hold_are_refused(rec):
    # Each 10**308 fits a float; their interval sum does not: collect() raised OverflowError (CPython) and lost
    # every instrument's points; MicroPython sent inf, which the gateway rejects with the whole frame.
    other = rec.meter.counter("other")
    other.add(3)
    c = rec.meter.counter("c")
    c.add(10**308)
    with pytest.raises(InstrumentError):
        c.add(10**308)
    assert rec.points() == {("other", ()): 3, ("c", ()): float(10**308)}
