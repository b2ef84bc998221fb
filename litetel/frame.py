"""The litetel frame: a 48-byte header and a payload (wire-format §1), with its CRC.

    >>> from litetel import frame
    >>> data = frame.encode_frame([None, [0, 5]], codec=0, compression=0, device_hash=frame.device_hash("sat-7"),
    ...                           epoch=7, seq=1, start=0, end=60000000)
    >>> header, payload, next_offset = frame.parse_frame(data)
    >>> header.seq, next_offset == len(data)
    (1, True)
    >>> frame.decode_payload(header, payload)
    [None, [0, 5]]

Every field is range-checked before packing (MicroPython's struct truncates silently), and ``parse_frame``
raises ``FrameError`` whose message starts with the reason: ``bad magic``, ``unsupported version``,
``truncated``, ``crc mismatch``, ``reserved``, ``unknown codec``, ``unknown compression``.
"""

import binascii
import struct

from litetel import codecs as _codecs
from litetel import compression as _compression
from litetel.errors import FrameError

MAGIC = b"LT"
VERSION = 1
HEADER_SIZE = 48
FLAG_CLOCK_TICKS = 0x01
FLAG_DICT_REFRESH = 0x02
KNOWN_FLAGS = FLAG_CLOCK_TICKS | FLAG_DICT_REFRESH

HEADER_FORMAT = ">2sBBBBH8sIIQQII"
_CRC_COVERED = 44  # header bytes before the crc32 field
_U32_MAX = 0xFFFFFFFF
_U64_MAX = 0xFFFFFFFFFFFFFFFF

_CODECS = (_codecs.MSGPACK, _codecs.CBOR)
_COMPRESSIONS = (_compression.NONE, _compression.ZSTD, _compression.DEFLATE)


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


def device_hash(device_id):
    """The 8-byte hash identifying ``device_id`` in frame headers: ``sha256(device_id.encode())[:8]``.

    >>> device_hash("sat-7").hex()
    'faf1ff0beec0cacb'
    """
    import hashlib  # here, not at import: OpenSSL's hashlib costs CPython ~3 ms to load, once per Device

    return hashlib.sha256(device_id.encode("utf-8")).digest()[:8]


def _check_range(name, value, maximum):
    if not isinstance(value, int) or value is True or value is False or value < 0 or value > maximum:
        raise FrameError("%s out of range: %r (0..%d)" % (name, value, maximum))


def pack_frame(flags, codec, compression, device_hash, epoch, seq, start, end, payload):
    """Header + payload bytes of one frame; ``FrameError`` for any field outside its wire range.

    >>> len(pack_frame(0, 0, 0, b"\\0" * 8, 1, 2, 10, 20, b"\\x90"))
    49
    """
    _check_range("flags", flags, 0xFF)
    if flags & ~KNOWN_FLAGS:
        raise FrameError("reserved flag bits set: 0x%02x" % flags)
    if codec not in _CODECS:
        raise FrameError("unknown codec %r" % (codec,))
    if compression not in _COMPRESSIONS:
        raise FrameError("unknown compression %r" % (compression,))
    if not isinstance(device_hash, (bytes, bytearray)) or len(device_hash) != 8:
        raise FrameError("device_hash must be 8 bytes")
    _check_range("epoch", epoch, _U32_MAX)
    _check_range("seq", seq, _U32_MAX)
    _check_range("start", start, _U64_MAX)
    _check_range("end", end, _U64_MAX)
    if start > end:
        raise FrameError("start %d is after end %d" % (start, end))
    _check_range("payload length", len(payload), _U32_MAX)
    header = struct.pack(HEADER_FORMAT[:-1], MAGIC, VERSION, flags, codec, compression, 0, device_hash,
                         epoch, seq, start, end, len(payload))
    crc = binascii.crc32(payload, binascii.crc32(header)) & _U32_MAX
    return header + struct.pack(">I", crc) + payload


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

    >>> one = pack_frame(0, 0, 0, b"\\0" * 8, 1, 1, 0, 0, b"\\xc0")
    >>> [h.seq for h, p in iter_frames(one + one)]
    [1, 1]
    """
    offset = 0
    while offset < len(buf):
        header, payload, offset = parse_frame(buf, offset)
        yield header, payload


def encode_frame(obj, codec, compression, device_hash, epoch, seq, start, end, flags=0):
    """Encode ``obj`` with ``codec``, compress it, and frame it (``CodecError`` / ``FrameError`` on failure)."""
    payload = _compression.compress(compression, _codecs.encode(codec, obj))
    return pack_frame(flags, codec, compression, device_hash, epoch, seq, start, end, payload)


def decode_payload(header, payload, max_size=1 << 20):
    """Decompress (at most ``max_size`` bytes) and decode a frame's payload; ``CodecError`` on failure."""
    return _codecs.decode(header.codec, _compression.decompress(header.compression, payload, max_size))
