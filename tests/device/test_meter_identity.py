"""meter(name) and meter(name, "") are one scope on the wire (Dictionary.add_scope(name, version or "")), so
one Meter: as two, each with its own instrument table, one scope got a counter and a gauge both named "n"."""

import pytest

from litetel.errors import InstrumentError


def test_the_same_scope_cannot_hold_one_name_as_two_kinds(rec):
    a = rec.dev.meter("lib")
    b = rec.dev.meter("lib", "")
    assert a.scope_id == b.scope_id
    a.counter("n")
    with pytest.raises(InstrumentError):
        b.gauge("n")
