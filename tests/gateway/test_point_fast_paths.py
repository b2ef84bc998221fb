"""The per-point fast paths: validate_points' inline histogram accept and expand's one-pack point encoding.

Each is checked against the plain version it shortcuts: ``_check_histogram`` decides every histogram value
the same way (same reason), and every encoded point equals the data point built field by field with the
protobuf API.
"""

import math
from collections import namedtuple

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from litetel_gateway.decoder import COUNTER, GAUGE, HISTOGRAM, Dictionary, Limits, NeedDict, Reject
from litetel_gateway.expand import ResourceSettings, build_request
from litetel_gateway.payload_schema import UINT64_MAX, _check_histogram, validate_points

BOUNDS = [1.0, 2.0, 5.0]  # 4 buckets
Row = namedtuple("Row", "id device epoch seq start_us end_us corrected n_points points")


def dictionary():
    """Series 0: counter, 1: gauge, 2: histogram (BOUNDS), 3: histogram without bounds; attributes on 0 and 2."""
    strings = ["", "s", "c", "g", "h", "h0", "route", "/a", "ok"]
    d = Dictionary()
    delta = [
        0,
        strings,
        0,
        [[1, 0]],
        0,
        [[0, 2, COUNTER, 0, 0, None], [0, 3, GAUGE, 0, 0, None], [0, 4, HISTOGRAM, 0, 0, BOUNDS]]
        + [[0, 5, HISTOGRAM, 0, 0, []]],
        0,
        [[0, [6 * 4 + 0, 7, 8 * 4 + 3, True]], [1, []], [2, [6 * 4 + 0, 7]], [3, []]],
        None,
    ]
    d.apply_delta(delta, Limits())
    return d


def outcome(fn, *args):
    try:
        fn(*args)
    except Reject as exc:
        return "reject", exc.reason, str(exc)
    except NeedDict:
        return "need_dict"
    return "ok"


numbers = st.one_of(
    st.integers(-3, 40),
    st.integers(UINT64_MAX - 2, UINT64_MAX + 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([True, False, None, "1", 1.0, -0.0, 1e308]),
)
histogram_values = st.one_of(
    st.lists(numbers, max_size=11),
    # well-formed or nearly: the count is the buckets' sum give or take one, so most reach the last checks
    st.tuples(
        st.sampled_from([0, 0, 0, 1, -1]),
        st.floats(0, 100),
        st.floats(0, 1),
        st.floats(0.5, 2),
        st.integers(-1, 4),
        st.lists(st.one_of(st.integers(-1, 3), st.sampled_from([True, 1.0])), max_size=5),
    ).map(lambda t: [sum(t[5]) + t[0], *t[1:5], *t[5]]),
    numbers,
)


@settings(max_examples=1500, deadline=None)
@given(histogram_values)
def test_validate_points_decides_every_histogram_value_as_check_histogram_does(value):
    d = dictionary()
    # _check_histogram may not see the value after validate_points' fast path sorted its own copy
    expected = outcome(_check_histogram, list(value) if type(value) is list else value, tuple(BOUNDS))
    assert outcome(validate_points, [2, value], d) == expected


def test_the_fast_path_accepts_the_common_shape_and_leaves_the_value_alone():
    d = dictionary()
    value = [6, 4.5, 0.5, 4.0, 1, 3, 0, 3]
    assert validate_points([0, 7, 2, value, 1, -1.5], d) == 3
    assert value == [6, 4.5, 0.5, 4.0, 1, 3, 0, 3]


@pytest.mark.parametrize(
    "value",
    [
        [UINT64_MAX + 1, 1.0, 1.0, 1.0, 0, UINT64_MAX, 1],  # not encodable as fixed64
        [2, 1.0, 1.0, 1.0, 0, 1, 1.0],  # a float bucket count (the sum is a float)
        [2, 1.0, 1.0, 1.0, 0, 3, -1],  # sums right, one count negative
        [1, 1.0, 1.0, math.inf, 0, 1],  # infinite max
        [1, 1e308, 1e308, 1e308, 0, 1],  # finite, though their sum is not: still valid
    ],
)
def test_edge_values_are_decided_by_the_full_check(value):
    expected = outcome(_check_histogram, list(value), tuple(BOUNDS))
    assert outcome(validate_points, [2, value], dictionary()) == expected
    assert (expected == "ok") == (value[1] == 1e308)


# -- expand ---------------------------------------------------------------------------------------


def key_values(pairs):
    out = []
    for key, value in pairs:
        any_value = AnyValue(bool_value=value) if type(value) is bool else AnyValue(string_value=value)
        out.append(KeyValue(key=key, value=any_value))
    return out


def reference_histogram_point(value, start_ns, end_ns, attributes, bounds, exemplars=()):
    count, total, low, high, first, *counts = value
    dense = [0] * (len(bounds) + 1)
    dense[first : first + len(counts)] = counts
    p = metrics_pb2.HistogramDataPoint(
        start_time_unix_nano=start_ns,
        time_unix_nano=end_ns,
        count=count,
        sum=total,
        bucket_counts=dense,
        explicit_bounds=bounds,
        attributes=key_values(attributes),
    )
    if count:
        p.min, p.max = low, high
    for ex_value, time_us, trace_id, span_id in exemplars:
        ex = p.exemplars.add(time_unix_nano=time_us * 1000, trace_id=trace_id, span_id=span_id)
        if type(ex_value) is int:
            ex.as_int = ex_value
        else:
            ex.as_double = ex_value
    return p


def points_of(request):
    out = {}
    for sm in request.resource_metrics[0].scope_metrics:
        for m in sm.metrics:
            out[m.name] = getattr(m, m.WhichOneof("data")).data_points
    return out


@pytest.mark.parametrize("with_starts", [False, True])
def test_encoded_points_equal_points_built_field_by_field(with_starts):
    d = dictionary()
    route, ok = ("route", "/a"), ("ok", True)
    exemplars = [[2.5, 1_500, b"\x01" * 16, b"\x02" * 8], [7, 1_600, b"\x03" * 16, b"\x04" * 8]]
    frames = [
        # int and double numbers; a histogram with leading and trailing empty buckets; an empty one
        ([0, 5, 1, 21.5, 2, [3, 4.5, 1.5, 3.0, 1, 2, 1], 3, [0, 0.0, None, None, 0]], None),
        # a large count, negative gauge, all buckets set, exemplars on one histogram
        ([0, (1 << 63) - 1, 1, -2, 2, [10, 9.0, 0.1, 9.0, 0, 1, 2, 3, 4], 3, [2, 1.0, 0.5, 0.5, 0, 2]], exemplars),
    ]
    rows, expected = [], {"c": [], "g": [], "h": [], "h0": []}
    for i, (points, ex) in enumerate(frames):
        start_us, end_us = 1_000 * (i + 1), 1_000 * (i + 2)
        starts = [start_us - 10 * k for k in range(4)] if with_starts else None
        queued = [points, starts] + ([[2, ex]] if ex else [])
        rows.append(Row(i, "dev", 7, i, start_us, end_us, False, 4, msgpack.packb(queued)))
        start_ns = [(starts[k] if starts else start_us) * 1000 for k in range(4)]
        end_ns = end_us * 1000
        c, g = points[1], points[3]
        expected["c"].append(
            metrics_pb2.NumberDataPoint(
                start_time_unix_nano=start_ns[0], time_unix_nano=end_ns, as_int=c, attributes=key_values([route, ok])
            )
        )
        gauge = metrics_pb2.NumberDataPoint(start_time_unix_nano=start_ns[1], time_unix_nano=end_ns)
        if type(g) is int:
            gauge.as_int = g
        else:
            gauge.as_double = g
        expected["g"].append(gauge)
        expected["h"].append(reference_histogram_point(points[5], start_ns[2], end_ns, [route], BOUNDS, ex or ()))
        expected["h0"].append(reference_histogram_point(points[7], start_ns[3], end_ns, [], []))
    request, n = build_request(rows, lambda device, epoch: d, ResourceSettings())
    assert n == 8
    got = points_of(request)
    for name, want in expected.items():
        assert list(got[name]) == want, name
        assert [p.SerializeToString() for p in got[name]] == [p.SerializeToString() for p in want]
