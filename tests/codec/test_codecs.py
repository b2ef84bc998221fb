"""litetel.codecs: ids, the implementation chosen at import, and errors as CodecError on both paths."""

import json
import os
import subprocess
import sys

import pytest

from litetel import accel, cbor_c, codecs, decoding
from litetel.errors import CodecError

BATCH = [None, [0, [1, -2, 3.25, "a"], 1, 2**64 - 1, 2, -(2**63), 3, [1, 2.5, b"\x00"]], {"k": True}]


def test_ids_and_names():
    assert (codecs.MSGPACK, codecs.CBOR) == (0, 1)
    assert codecs.NAMES == {"msgpack": 0, "cbor": 1}


@pytest.mark.skipif(not accel.ENABLED, reason="LITETEL_PURE=1 chooses the pure twins (checked by test_litetel_pure_*)")
def test_c_libraries_are_used_when_installed():
    assert codecs.IMPLEMENTATION == {"msgpack": "c", "cbor": "c"}


def test_litetel_pure_selects_the_pure_twins():
    env = dict(os.environ, LITETEL_PURE="1")
    code = "import json; from litetel import codecs; print(json.dumps(codecs.IMPLEMENTATION))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {"msgpack": "pure", "cbor": "pure"}


@pytest.mark.parametrize("codec_id", [codecs.MSGPACK, codecs.CBOR])
def test_round_trip(codec_id):
    assert decoding.decode(codec_id, codecs.encode(codec_id, BATCH)) == BATCH


@pytest.mark.parametrize("codec_id", [2, -1, None, "msgpack"])
def test_unknown_codec_id(codec_id):
    with pytest.raises(CodecError, match="unknown codec"):
        codecs.encode(codec_id, 1)
    with pytest.raises(CodecError, match="unknown codec"):
        decoding.decode(codec_id, b"\x01")


@pytest.mark.parametrize("codec_id", [codecs.MSGPACK, codecs.CBOR])
@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, {1}, object(), [{"a": 1j}]])
def test_c_path_refuses_values_outside_the_data_model(codec_id, value):
    with pytest.raises(CodecError):
        codecs.encode(codec_id, value)


@pytest.mark.parametrize("codec_id", [codecs.MSGPACK, codecs.CBOR])
def test_c_path_decode_errors_are_codec_errors(codec_id):
    good = codecs.encode(codec_id, BATCH)
    for bad in (good[:-1], good + b"\x00", b"", "not bytes", None):
        with pytest.raises(CodecError):
            decoding.decode(codec_id, bad)


def test_cbor_c_path_refuses_semantic_tags_the_pure_twin_refuses():
    for tagged in (b"\xc1\x01", b"\xc2\x41\x05", b"\xd9\x01\x02\x80"):  # datetime, bignum, set
        with pytest.raises(CodecError):
            decoding.decode(codecs.CBOR, tagged)


def test_check_data_model():
    cbor_c.check_data_model(BATCH)
    cbor_c.check_data_model((1, bytearray(b"x")), encoding=True)
    with pytest.raises(CodecError):
        cbor_c.check_data_model((1, 2))  # decoders never produce tuples
    with pytest.raises(CodecError):
        cbor_c.check_data_model(-(2**63) - 1, encoding=True)
    cbor_c.check_data_model(-(2**64))  # CBOR's widest negative decodes
