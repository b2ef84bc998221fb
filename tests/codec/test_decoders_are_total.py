"""Decoders are total: garbage, truncated or bit-flipped input decodes or raises CodecError, nothing else.

Covers the pure twins and the C-library paths behind ``litetel.codecs`` (which must translate every
library exception, and refuse what lies outside the data model: extension types, tags, sets...).
"""

import cbor2
import msgpack
import pytest
from codec_model import batches, same
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litetel import accel, cbor_c, cbor_pure, codecs, msgpack_c, msgpack_pure
from litetel.errors import CodecError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# name -> (encode to valid bytes, decoders that must be total)
DECODERS = {
    "msgpack": (msgpack_pure.packb, [msgpack_pure.unpackb, msgpack_c.decode]),
    "cbor": (cbor_pure.dumps, [cbor_pure.loads, cbor_c.decode]),
}


def decode_or_codec_error(decoder, data):
    """The decoded value, or None after a CodecError; any other exception fails the test."""
    try:
        return [decoder(data)]
    except CodecError:
        return None


@pytest.mark.parametrize("name", sorted(DECODERS))
@FUZZ
@given(data=st.binary(max_size=64))
def test_random_bytes(name, data):
    pure, c_path = DECODERS[name][1]
    from_pure = decode_or_codec_error(pure, data)
    from_c = decode_or_codec_error(c_path, data)
    if from_pure is not None and from_c is not None:
        assert same(from_pure[0], from_c[0])  # when both accept bytes, they agree on what they mean


@pytest.mark.parametrize("name", sorted(DECODERS))
@FUZZ
@given(batch=batches, data=st.data())
def test_truncated_and_bit_flipped_encodings(name, batch, data):
    encode, decoders = DECODERS[name]
    encoded = encode(batch)
    cut = data.draw(st.integers(0, len(encoded) - 1), label="cut")
    bit = data.draw(st.integers(0, len(encoded) * 8 - 1), label="bit")
    flipped = bytearray(encoded)
    flipped[bit // 8] ^= 1 << (bit % 8)
    for decoder in decoders:
        with pytest.raises(CodecError):  # the formats are prefix-free: a strict prefix never decodes
            decoder(encoded[:cut])
        decode_or_codec_error(decoder, bytes(flipped))


@pytest.mark.parametrize(
    "name, data",
    [
        ("msgpack", b"\xc1"),  # never-used type byte
        ("msgpack", b"\xd6\xff\x00\x00\x00\x01"),  # timestamp extension
        ("msgpack", b"\xd4\x05\x00"),  # fixext 1
        ("msgpack", b"\xdd\xff\xff\xff\xff"),  # array32 declaring 4 billion items
        ("msgpack", b"\xdb\xff\xff\xff\xff"),  # str32 declaring 4 GB
        ("msgpack", b"\x81\x91\x01\x02"),  # list as map key
        ("msgpack", b"\xa2\xff\xfe"),  # invalid UTF-8
        ("msgpack", b"\x01\x02"),  # extra data
        ("msgpack", b""),
        ("cbor", b"\xc1\x01"),  # tag 1 (epoch datetime)
        ("cbor", b"\xd9\xd9\xf7\x82\x01\x02"),  # self-described CBOR marker (cbor2 yields a tuple)
        ("cbor", b"\x9f\x01\xff"),  # indefinite array
        ("cbor", b"\xf7"),  # undefined
        ("cbor", b"\xf0"),  # simple value 16
        ("cbor", b"\x9b\x00\x00\x00\xff\xff\xff\xff\xff"),  # array declaring 2**40 items
        ("cbor", b"\x5b\x00\x00\x00\xff\xff\xff\xff\xff"),  # bytes declaring 1 TB
        ("cbor", b"\xa1\x81\x01\x02"),  # array as map key
        ("cbor", b"\xd9\x01\x02\x82\x01\x02"),  # tag 258: a set
        ("cbor", b"\x1c"),  # reserved additional info
        ("cbor", b""),
    ],
)
def test_known_bad_inputs(name, data):
    for decoder in DECODERS[name][1]:
        with pytest.raises(CodecError):
            decoder(data)


@pytest.mark.skipif(not accel.ENABLED, reason="LITETEL_PURE=1 chooses the pure twins (checked by test_litetel_pure_*)")
def test_c_paths_are_the_ones_checked():
    # The C-library wrappers are exercised above; make sure this environment really has them.
    assert msgpack_c.msgpack is msgpack and cbor_c.cbor2 is cbor2
    assert codecs.implementation(codecs.MSGPACK)[2] is msgpack_c.decode
    assert codecs.implementation(codecs.CBOR)[2] is cbor_c.decode
