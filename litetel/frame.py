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
    _check_fields(flags, codec, compression, device_hash, epoch, seq, start, end, len(payload))
    header = struct.pack(HEADER_FORMAT[:-1], MAGIC, VERSION, flags, codec, compression, 0, device_hash,
                         epoch, seq, start, end, len(payload))
    crc = binascii.crc32(payload, binascii.crc32(header)) & _U32_MAX
    return header + struct.pack(">I", crc) + payload


def _check_fields(flags, codec, compression, device_hash, epoch, seq, start, end, payload_len):
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
    _check_range("payload length", payload_len, _U32_MAX)


def encode_frame(obj, codec, compression, device_hash, epoch, seq, start, end, flags=0, out=None):
    """Encode ``obj`` with ``codec``, compress it, and frame it (``CodecError`` / ``FrameError`` on failure).

    ``out``: a bytearray of ``HEADER_SIZE`` bytes to write an uncompressed frame into (made with room to grow:
    ``Device.collect``); ``out`` is then returned, not bytes (ignored when compressing)."""
    if compression != _compression.NONE:
        payload = _compression.compress(compression, _codecs.encode(codec, obj))
        return pack_frame(flags, codec, compression, device_hash, epoch, seq, start, end, payload)
    # Uncompressed (MicroPython's usual case): the payload is encoded into one buffer after a reserved header,
    # packed there in place. One frame-sized copy at the end, not three: on a small fragmented heap each
    # copy needs a contiguous block.
    given = out is not None
    out = _codecs.encode_into(codec, obj, out if given else bytearray(HEADER_SIZE))
    n = len(out) - HEADER_SIZE
    _check_fields(flags, codec, compression, device_hash, epoch, seq, start, end, n)
    struct.pack_into(HEADER_FORMAT[:-1], out, 0, MAGIC, VERSION, flags, codec, compression, 0, device_hash,
                     epoch, seq, start, end, n)
    view = memoryview(out)
    crc = binascii.crc32(view[HEADER_SIZE:], binascii.crc32(view[:_CRC_COVERED])) & _U32_MAX
    struct.pack_into(">I", out, _CRC_COVERED, crc)
    return out if given else bytes(out)


_READING = ("FrameHeader", "parse_frame", "iter_frames", "decode_payload")


def __getattr__(name):
    # The reading side lives in frame_parse, loaded on first use: a device only writes frames, and on a
    # MicroPython heap every function loaded costs RAM. Once loaded, its names are this module's too.
    if name in _READING:
        from litetel import frame_parse

        g = globals()
        for n in _READING:
            g[n] = getattr(frame_parse, n)
        return g[name]
    raise AttributeError("module 'litetel.frame' has no attribute %r" % (name,))
