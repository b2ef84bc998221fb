"""litetel.frame: wire-format §1 header, CRC, faults, range checks, and the encode/decode conveniences."""

import binascii
import hashlib
import struct

import pytest

from litetel import codecs, compression, frame
from litetel.errors import CodecError, FrameError

DEV = frame.device_hash("sat-7")
PAYLOAD_OBJ = [None, [0, 5, 1, [3, 10.5, 0.5, 7.0, 2, 1, 1, 1]]]
FIELDS = {"flags": 0, "codec": 0, "compression": 0, "device_hash": DEV, "epoch": 0xDEADBEEF, "seq": 42,
          "start": 1_000_000, "end": 61_000_000}


def make(payload=b"\x92\xc0\x90", **overrides):
    fields = dict(FIELDS, **overrides)
    return frame.pack_frame(payload=payload, **fields)


def test_constants():
    assert (frame.MAGIC, frame.VERSION, frame.HEADER_SIZE) == (b"LT", 1, 48)
    assert (frame.FLAG_CLOCK_TICKS, frame.FLAG_DICT_REFRESH) == (1, 2)
    assert struct.calcsize(frame.HEADER_FORMAT) == frame.HEADER_SIZE


def test_device_hash_is_sha256_prefix():
    assert frame.device_hash("sat-7") == hashlib.sha256(b"sat-7").digest()[:8]


def test_layout_matches_the_wire_format():
    data = make(flags=frame.FLAG_CLOCK_TICKS, codec=1, compression=2)
    assert data[:2] == b"LT" and data[2] == 1 and data[3] == 1 and data[4] == 1 and data[5] == 2
    assert data[6:8] == b"\0\0" and data[8:16] == DEV
    assert struct.unpack(">IIQQI", data[16:44]) == (0xDEADBEEF, 42, 1_000_000, 61_000_000, 3)
    assert struct.unpack(">I", data[44:48])[0] == binascii.crc32(data[48:], binascii.crc32(data[:44]))
    assert data[48:] == b"\x92\xc0\x90"


def test_round_trip_and_offsets():
    first, second = make(seq=1), make(seq=2, payload=b"")
    buf = b"junk" + first + second
    header, payload, next_offset = frame.parse_frame(buf, 4)
    assert (header.seq, header.epoch, header.device_hash, header.start, header.end) == (1, 0xDEADBEEF, DEV,
                                                                                        1_000_000, 61_000_000)
    assert (header.payload_len, header.frame_size, payload) == (3, 51, b"\x92\xc0\x90")
    assert next_offset == 4 + len(first)
    header, payload, next_offset = frame.parse_frame(buf, next_offset)
    assert (header.seq, payload, next_offset) == (2, b"", len(buf))
    assert header.as_dict()["device_hash"] == DEV.hex()


def test_iter_frames_over_an_upload_body():
    body = b"".join(make(seq=s) for s in range(1, 6))
    assert [h.seq for h, _ in frame.iter_frames(body)] == [1, 2, 3, 4, 5]
    assert list(frame.iter_frames(b"")) == []
    with pytest.raises(FrameError, match="truncated"):
        list(frame.iter_frames(body[:-1]))


@pytest.mark.parametrize("codec_id", [codecs.MSGPACK, codecs.CBOR])
@pytest.mark.parametrize("comp", compression.available())
def test_encode_frame_and_decode_payload(codec_id, comp):
    data = frame.encode_frame(PAYLOAD_OBJ, codec_id, comp, DEV, 7, 3, 10, 20, flags=frame.FLAG_CLOCK_TICKS)
    header, payload, _ = frame.parse_frame(data)
    assert (header.codec, header.compression, header.flags) == (codec_id, comp, frame.FLAG_CLOCK_TICKS)
    assert frame.decode_payload(header, payload) == PAYLOAD_OBJ


def test_decode_payload_is_bounded():
    data = frame.encode_frame(["x" * 5000], codecs.MSGPACK, compression.ZSTD, DEV, 7, 3, 10, 20)
    header, payload, _ = frame.parse_frame(data)
    with pytest.raises(CodecError, match="exceeds"):
        frame.decode_payload(header, payload, max_size=1000)


# ------------------------------------------------------------------------------------------------ faults


def test_every_single_bit_flip_is_detected():
    data = make(payload=bytes(range(40)))
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        byte = bit // 8
        with pytest.raises(FrameError) as info:
            frame.parse_frame(bytes(flipped))
        message = str(info.value)
        if byte < 2:
            assert message.startswith("bad magic")
        elif byte == 2:
            assert message.startswith("unsupported version")
        elif 40 <= byte < 44:  # payload_len: either past the end, or shorter and then the CRC disagrees
            assert message.startswith(("truncated", "crc mismatch"))
        else:
            assert message.startswith("crc mismatch"), (byte, message)


def test_truncated_anywhere():
    data = make(payload=b"0123456789")
    for cut in range(len(data)):
        with pytest.raises(FrameError, match="^truncated"):
            frame.parse_frame(data[:cut])


def resigned(data, at, value):
    """`data` with header byte `at` set to `value` and a CRC recomputed to match (a sender bug, not noise)."""
    buf = bytearray(data)
    buf[at] = value
    buf[44:48] = struct.pack(">I", binascii.crc32(buf[48:], binascii.crc32(bytes(buf[:44]))))
    return bytes(buf)


@pytest.mark.parametrize(
    "at, value, reason",
    [
        (0, ord("X"), "bad magic"),
        (2, 2, "unsupported version"),
        (2, 0, "unsupported version"),
        (3, 0x04, "reserved flag bits"),
        (3, 0x80, "reserved flag bits"),
        (4, 2, "unknown codec"),
        (5, 3, "unknown compression"),
        (6, 1, "reserved field"),
        (7, 1, "reserved field"),
    ],
)
def test_header_faults_with_a_valid_crc(at, value, reason):
    with pytest.raises(FrameError, match="^" + reason):
        frame.parse_frame(resigned(make(), at, value))


def test_start_after_end_is_refused():
    buf = bytearray(make())
    buf[24:32] = struct.pack(">Q", 10**9)
    with pytest.raises(FrameError, match="after end"):
        frame.parse_frame(resigned(bytes(buf), 24, buf[24]))


@pytest.mark.parametrize(
    "field, value",
    [
        ("flags", 4), ("flags", -1), ("flags", 256), ("codec", 2), ("codec", -1), ("compression", 3),
        ("device_hash", b"short"), ("device_hash", "sat-7sat"), ("epoch", -1), ("epoch", 2**32),
        ("seq", 2**32), ("seq", 1.0), ("start", -1), ("start", 2**64), ("end", 2**64), ("end", None),
        ("start", 61_000_001),  # after end
    ],
)
def test_pack_frame_refuses_out_of_range_fields(field, value):
    with pytest.raises(FrameError):
        make(**{field: value})


def test_pack_frame_accepts_the_extremes():
    data = make(flags=3, epoch=2**32 - 1, seq=2**32 - 1, start=2**64 - 1, end=2**64 - 1)
    header, _, _ = frame.parse_frame(data)
    assert (header.flags, header.epoch, header.seq, header.start, header.end) == (3, 2**32 - 1, 2**32 - 1,
                                                                                  2**64 - 1, 2**64 - 1)
