"""The reading side of the litetel frame (wire-format §1): ``parse_frame``, ``iter_frames``, ``decode_payload``
and ``FrameHeader``. Imported by ``litetel.frame`` on first use of one of these names (``frame.parse_frame``
works as before): a device only writes frames, and on MicroPython every function loaded costs heap.

    >>> from litetel import frame
    >>> data = frame.encode_frame([None, [0, 5]], 0, 0, frame.device_hash("sat-7"), 7, 1, 0, 60000000)
    >>> parse_frame(data)[0].seq
    1
"""

import binascii
import struct

from litetel import decoding
from litetel.errors import FrameError
from litetel.frame import (
    _CODECS,
    _COMPRESSIONS,
    _CRC_COVERED,
    _U32_MAX,
    HEADER_FORMAT,
    HEADER_SIZE,
    KNOWN_FLAGS,
    MAGIC,
    VERSION,
)


class FrameHeader:
    """The parsed header fields of one frame (wire-format §1 names)."""

    FIELDS = ("flags", "codec", "compression", "device_hash", "epoch", "seq", "start", "end", "payload_len", "crc")

    def __init__(self, flags, codec, compression, device_hash, epoch, seq, start, end, payload_len, crc):
        self.flags = flags
        self.codec = codec
        self.compression = compression
        self.device_hash = device_hash
        self.epoch = epoch
        self.seq = seq
        self.start = start
        self.end = end
        self.payload_len = payload_len
        self.crc = crc

    @property
    def frame_size(self):
        return HEADER_SIZE + self.payload_len

    def as_dict(self):
        """The fields as a dict (``device_hash`` as hex), for logs and ``litetel inspect``."""
        out = {}
        for name in self.FIELDS:
            out[name] = getattr(self, name)
        out["device_hash"] = binascii.hexlify(self.device_hash).decode()
        return out

    def __repr__(self):
        return "FrameHeader(%s)" % ", ".join("%s=%r" % (n, getattr(self, n)) for n in self.FIELDS)


def parse_frame(buf, offset=0):
    """Parse the frame at ``buf[offset:]``: ``(FrameHeader, payload, next_offset)``; ``FrameError`` if invalid.

    Magic and version come first (they say how to read the rest), then length and CRC (so a flipped bit reads
    as corruption), then the field values.
    """
    left = len(buf) - offset
    if left < HEADER_SIZE:
        raise FrameError("truncated header: %d bytes at offset %d, need %d" % (left, offset, HEADER_SIZE))
    (magic, version, flags, codec, comp, reserved, dev, epoch, seq, start, end, payload_len,
     crc) = struct.unpack_from(HEADER_FORMAT, buf, offset)
    if magic != MAGIC:
        raise FrameError("bad magic %r at offset %d" % (magic, offset))
    if version != VERSION:
        raise FrameError("unsupported version %d at offset %d" % (version, offset))
    payload_at = offset + HEADER_SIZE
    next_offset = payload_at + payload_len
    if next_offset > len(buf):
        raise FrameError("truncated payload: header says %d bytes, %d follow" % (payload_len, len(buf) - payload_at))
    view = memoryview(buf)  # CRC over views: no copy of the payload
    actual = binascii.crc32(view[payload_at:next_offset], binascii.crc32(view[offset : offset + _CRC_COVERED]))
    if actual & _U32_MAX != crc:
        raise FrameError("crc mismatch at offset %d: header 0x%08x, computed 0x%08x" % (offset, crc, actual & _U32_MAX))
    if flags & ~KNOWN_FLAGS:
        raise FrameError("reserved flag bits set: 0x%02x" % flags)
    if reserved:
        raise FrameError("reserved field is 0x%04x, must be 0" % reserved)
    if codec not in _CODECS:
        raise FrameError("unknown codec %d" % codec)
    if comp not in _COMPRESSIONS:
        raise FrameError("unknown compression %d" % comp)
    if start > end:
        raise FrameError("start %d is after end %d" % (start, end))
    header = FrameHeader(flags, codec, comp, dev, epoch, seq, start, end, payload_len, crc)
    return header, buf[payload_at:next_offset], next_offset


def iter_frames(buf):
    """Yield ``(header, payload)`` for each frame of a concatenation (an upload body); ``FrameError`` on a bad one.

    >>> from litetel.frame import pack_frame
    >>> one = pack_frame(0, 0, 0, b"\\0" * 8, 1, 1, 0, 0, b"\\xc0")
    >>> [h.seq for h, p in iter_frames(one + one)]
    [1, 1]
    """
    offset = 0
    while offset < len(buf):
        header, payload, offset = parse_frame(buf, offset)
        yield header, payload


def decode_payload(header, payload, max_size=1 << 20):
    """Decompress (at most ``max_size`` bytes) and decode a frame's payload; ``CodecError`` on failure."""
    return decoding.decode(header.codec, decoding.decompress(header.compression, payload, max_size))
