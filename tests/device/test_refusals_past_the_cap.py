"""A refusal does not depend on the instrument's state (docs/api.md "Values refused", "Attributes"): past
the cap, attributes no frame could carry are refused as below it, not counted in the overflow series."""

import pytest

from litetel.errors import InstrumentError


@pytest.mark.parametrize("attrs", [{"k": "\ud800"}, {"k" * 300: 1}, {"a%d" % i: i for i in range(129)}])
def test_attributes_no_frame_could_carry_are_refused_past_the_cap_too(rec, attrs):
    # Below the cap these raise InstrumentError; past it they were counted in the overflow series (_new_series
    # swapped the key for OVERFLOW_KEY before check_key_text).
    c = rec.meter.counter("c", max_series=1)
    c.add(1, {"a": 1})
    with pytest.raises(InstrumentError):
        c.add(1, attrs)
    assert rec.points() == {("c", (("a", 1),)): 1}
