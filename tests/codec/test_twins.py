"""The pure-Python codecs and the C libraries are interchangeable (issue 3): each reads the other's bytes.

Property tests over random nested batches of the data model (None, bool, 64-bit ints, floats incl. NaN/inf,
str, bytes, lists, dicts).
"""

import math
import struct

import cbor2
import msgpack
import pytest
from codec_model import batches, same, values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litetel import cbor_pure, msgpack_pure
from litetel.errors import CodecError

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def c_msgpack_packb(obj):
    return msgpack.packb(obj, use_bin_type=True)


def c_msgpack_unpackb(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


# (name, pure encode, pure decode, C encode, C decode)
TWINS = [
    ("msgpack", msgpack_pure.packb, msgpack_pure.unpackb, c_msgpack_packb, c_msgpack_unpackb),
    ("cbor", cbor_pure.dumps, cbor_pure.loads, cbor2.dumps, cbor2.loads),
]
TWIN_IDS = [t[0] for t in TWINS]


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@PROPERTY
@given(batch=batches)
def test_pure_and_c_library_read_each_other(twin, batch):
    _, pure_encode, pure_decode, c_encode, c_decode = twin
    pure_bytes = pure_encode(batch)
    assert same(c_decode(pure_bytes), batch), "pure encoding, C decoding"
    assert same(pure_decode(c_encode(batch)), batch), "C encoding, pure decoding"
    assert same(pure_decode(pure_bytes), batch), "pure round trip"


@PROPERTY
@given(value=values)
def test_pure_msgpack_bytes_equal_the_c_library_without_floats(value):
    # Same smallest-encoding rules: byte-identical except floats (the pure twin sends exact float32s in 5 bytes).
    if _has_float(value):
        return
    assert msgpack_pure.packb(value) == c_msgpack_packb(value)


@PROPERTY
@given(value=values)
def test_pure_cbor_bytes_equal_cbor2_canonical_without_multi_key_maps(value):
    # cbor2's canonical mode sorts map keys; otherwise both use preferred serialization, floats included.
    if _has_multi_key_map(value):
        return
    assert cbor_pure.dumps(value) == cbor2.dumps(value, canonical=True)


def _has_float(value):
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return False


def _has_multi_key_map(value):
    if isinstance(value, dict):
        return len(value) > 1 or any(_has_multi_key_map(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_multi_key_map(v) for v in value)
    return False


# ------------------------------------------------------------------------------------ specific encodings


@pytest.mark.parametrize(
    "value, encoded",
    [
        (0, "00"), (127, "7f"), (128, "cc80"), (255, "ccff"), (256, "cd0100"), (65536, "ce00010000"),
        (2**32, "cf0000000100000000"), (2**64 - 1, "cfffffffffffffffff"),
        (-1, "ff"), (-32, "e0"), (-33, "d0df"), (-129, "d1ff7f"), (-32769, "d2ffff7fff"),
        (-(2**31) - 1, "d3ffffffff7fffffff"), (-(2**63), "d38000000000000000"),
        (1.5, "ca3fc00000"), (0.1, "cb3fb999999999999a"), ("a" * 31, "bf" + "61" * 31), ("", "a0"),
        (b"", "c400"), ([], "90"), ({}, "80"), (None, "c0"), (True, "c3"), (False, "c2"),
    ],
)
def test_msgpack_smallest_encodings(value, encoded):
    assert msgpack_pure.packb(value).hex() == encoded
    assert same(msgpack_pure.unpackb(bytes.fromhex(encoded)), value)


@pytest.mark.parametrize(
    "value, encoded",
    [
        (0, "00"), (23, "17"), (24, "1818"), (256, "190100"), (2**64 - 1, "1bffffffffffffffff"),
        (-1, "20"), (-(2**63), "3b7fffffffffffffff"), (1.5, "f93e00"), (100000.0, "fa47c35000"),
        (0.1, "fb3fb999999999999a"), (float("inf"), "f97c00"), (-0.0, "f98000"),
        (None, "f6"), (True, "f5"), (False, "f4"), ("", "60"), (b"", "40"), ([], "80"), ({}, "a0"),
    ],
)
def test_cbor_preferred_encodings(value, encoded):
    assert cbor_pure.dumps(value).hex() == encoded
    assert same(cbor_pure.loads(bytes.fromhex(encoded)), value)


def test_nan_is_encoded_and_decoded():
    assert math.isnan(msgpack_pure.unpackb(msgpack_pure.packb(float("nan"))))
    assert cbor_pure.dumps(float("nan")) == b"\xf9\x7e\x00"
    assert math.isnan(cbor2.loads(cbor_pure.dumps(float("nan"))))


@given(bits=st.integers(0, 0xFFFF))
def test_cbor_half_decoding_matches_struct(bits):
    expected = struct.unpack(">e", struct.pack(">H", bits))[0]
    assert same(cbor_pure.half_to_float(bits), expected)


@pytest.mark.parametrize("encode", [msgpack_pure.packb, cbor_pure.dumps], ids=["msgpack", "cbor"])
@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, {1, 2}, object(), 1j, [{"a": [{1}]}]])
def test_values_outside_the_data_model_are_refused(encode, value):
    with pytest.raises(CodecError):
        encode(value)


# an array of one array of one array ... 5000 deep: a recursive decoder without a limit would blow the stack
DEEP_BYTES = {"msgpack": b"\x91" * 5000 + b"\xc0", "cbor": b"\x81" * 5000 + b"\xf6"}


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
def test_nesting_limit(twin):
    name, pure_encode, pure_decode, c_encode, _ = twin
    ok = []
    for _ in range(msgpack_pure.MAX_DEPTH - 1):
        ok = [ok]
    assert pure_decode(pure_encode(ok)) == ok  # MAX_DEPTH containers deep is fine
    too_deep = [ok]
    with pytest.raises(CodecError, match="nesting"):
        pure_encode(too_deep)
    with pytest.raises(CodecError, match="nesting"):
        pure_decode(c_encode(too_deep))
    with pytest.raises(CodecError, match="nesting"):
        pure_decode(DEEP_BYTES[name])


def test_tuples_and_bytearrays_encode_as_arrays_and_bytes():
    assert msgpack_pure.unpackb(msgpack_pure.packb((1, bytearray(b"x")))) == [1, b"x"]
    assert cbor_pure.loads(cbor_pure.dumps((1, memoryview(b"x")))) == [1, b"x"]
