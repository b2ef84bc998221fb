"""Valid litetel frames for ring-buffer tests: litetel.frame.pack_frame when it exists, else the §1 layout."""

import binascii
import struct

try:
    from litetel.frame import pack_frame
except ImportError:  # frame.py not written yet: the same bytes, straight from wire-format §1

    def pack_frame(flags, codec, compression, device_hash, epoch, seq, start, end, payload):
        head = struct.pack(">2sBBBBH8sIIQQI", b"LT", 1, flags, codec, compression, 0, device_hash, epoch, seq,
                           start, end, len(payload))
        return head + struct.pack(">I", binascii.crc32(payload, binascii.crc32(head))) + payload


DEVICE_HASH = b"\x01\x02\x03\x04\x05\x06\x07\x08"


def make_frame(seq, size=100, epoch=7):
    """A valid frame of exactly `size` bytes carrying `seq`; its payload encodes the seq so content is checkable."""
    payload = bytes((seq + i) & 0xFF for i in range(size - 48))
    return pack_frame(0, 0, 0, DEVICE_HASH, epoch, seq, seq * 1000, seq * 1000 + 999, payload)


def frame_ok(frame):
    """True when `frame` is a whole frame whose CRC matches (independent of the buffer's own checks)."""
    if len(frame) < 48 or frame[:3] != b"LT\x01":
        return False
    payload_len, crc = struct.unpack_from(">II", frame, 40)
    return len(frame) == 48 + payload_len and binascii.crc32(frame[48:], binascii.crc32(frame[:44])) == crc
