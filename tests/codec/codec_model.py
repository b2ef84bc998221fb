"""Helpers shared by the codec tests: the data-model strategy and NaN-aware equality."""

import math

from hypothesis import strategies as st

INT64_MIN = -(1 << 63)
UINT64_MAX = (1 << 64) - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(INT64_MIN, UINT64_MAX)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.binary(max_size=40)
)
keys = st.text(max_size=12) | st.integers(INT64_MIN, UINT64_MAX)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=8) | st.dictionaries(keys, children, max_size=6),
    max_leaves=24,
)
# "random nested batches": a list of dicts / lists of the data model, like a frame payload
batches = st.lists(st.dictionaries(keys, values, max_size=3) | st.lists(values, max_size=4), max_size=4)


def same(a, b):
    """Deep equality where NaN equals NaN, -0.0 differs from 0.0, and bool/int/float types must match."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b
