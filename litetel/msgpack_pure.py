"""Pure-Python msgpack for the data model litetel uses: the twin of the C library ``msgpack``.

Runs on MicroPython. The encoder (``packb``) lives in ``msgpack_encoder``, which is all a device loads; this
module adds the decoder, for the platform side (tests, ``litetel inspect``, the CPython fallback).

The decoder is total: any input either decodes or raises ``CodecError`` (truncated, garbage, extension types,
nesting deeper than ``MAX_DEPTH``, a declared length larger than the bytes left).

    >>> from litetel import msgpack_pure
    >>> msgpack_pure.packb([1, -2, "a", None, {"k": b"v"}])
    b'\\x95\\x01\\xfe\\xa1a\\xc0\\x81\\xa1k\\xc4\\x01v'
    >>> msgpack_pure.unpackb(b'\\x93\\x01\\xa1a\\xc0')
    [1, 'a', None]
"""

import struct

from litetel.accel import MICROPYTHON
from litetel.errors import CodecError
from litetel.msgpack_encoder import MAX_DEPTH, Writer, float32_exact, has_surrogate, packb  # noqa: F401 -- the twin's whole API

# ---------------------------------------------------------------------------------------------- decoding

# type byte -> (struct format, size) of the fixed-size scalars
_SCALARS = {
    0xCA: (">f", 4),
    0xCB: (">d", 8),
    0xCC: (">B", 1),
    0xCD: (">H", 2),
    0xCE: (">I", 4),
    0xCF: (">Q", 8),
    0xD0: (">b", 1),
    0xD1: (">h", 2),
    0xD2: (">i", 4),
    0xD3: (">q", 8),
}

# type byte -> (kind, struct format of the length, its size)
_SIZED = {
    0xD9: ("s", ">B", 1),
    0xDA: ("s", ">H", 2),
    0xDB: ("s", ">I", 4),
    0xC4: ("b", ">B", 1),
    0xC5: ("b", ">H", 2),
    0xC6: ("b", ">I", 4),
    0xDC: ("a", ">H", 2),
    0xDD: ("a", ">I", 4),
    0xDE: ("m", ">H", 2),
    0xDF: ("m", ">I", 4),
}


def unpackb(data, max_depth=MAX_DEPTH):
    """Decode one msgpack value that spans all of ``data``; ``CodecError`` for anything else.

    >>> unpackb(b'\\xd3\\x80\\x00\\x00\\x00\\x00\\x00\\x00\\x00')
    -9223372036854775808
    """
    return _Reader(data, max_depth).whole()


class ByteReader:
    """A bounds-checked cursor over encoded bytes, shared by the pure msgpack and CBOR decoders.

    A subclass defines ``value(depth)`` (decode the item at ``pos``) and ``NAME``; containers, strings and
    every length check live here, so both decoders refuse the same lies the same way.
    """

    NAME = "?"

    def __init__(self, data, max_depth):
        if isinstance(data, memoryview):
            data = bytes(data)
        elif not isinstance(data, (bytes, bytearray)):
            raise CodecError("%s input must be bytes, not %s" % (self.NAME, type(data).__name__))
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.max_depth = max_depth

    def whole(self):
        """The one value that must span all the bytes."""
        obj = self.value(0)
        if self.pos != self.end:
            raise CodecError("%d bytes of extra data after the %s value" % (self.end - self.pos, self.NAME))
        return obj

    def take(self, n):
        """Advance over ``n`` bytes and return where they start; refuse to run past the end."""
        start = self.pos
        if n > self.end - start:
            raise CodecError("truncated %s: need %d bytes at offset %d, %d left"
                             % (self.NAME, n, start, self.end - start))
        self.pos = start + n
        return start

    def unpack(self, fmt, size):
        return struct.unpack_from(fmt, self.data, self.take(size))[0]

    def raw(self, n):
        start = self.take(n)
        return bytes(self.data[start : start + n])

    def text(self, n):
        start = self.take(n)
        try:
            data = self.data[start : start + n]
            if MICROPYTHON and has_surrogate(data):  # MicroPython's str() takes an encoded surrogate
                raise UnicodeError
            return str(data, "utf-8")
        except UnicodeError:
            raise CodecError("invalid UTF-8 in %s string at offset %d" % (self.NAME, start))

    def enter(self, n, min_item_size, depth):
        # Every item takes at least one byte: a count larger than the bytes left is a lie, refused before looping.
        if n * min_item_size > self.end - self.pos:
            raise CodecError("%s container of %d items at offset %d exceeds the %d bytes left"
                             % (self.NAME, n, self.pos, self.end - self.pos))
        if depth >= self.max_depth:
            raise CodecError("%s nesting deeper than %d" % (self.NAME, self.max_depth))

    def array(self, n, depth):
        self.enter(n, 1, depth)
        out = []
        for _ in range(n):
            out.append(self.value(depth + 1))
        return out

    def map(self, n, depth):
        self.enter(n, 2, depth)
        out = {}
        for _ in range(n):
            key = self.value(depth + 1)
            if isinstance(key, (list, dict)):
                raise CodecError("unhashable %s map key at offset %d" % (self.NAME, self.pos))
            out[key] = self.value(depth + 1)
        return out


class _Reader(ByteReader):
    NAME = "msgpack"

    def value(self, depth):
        b = self.data[self.take(1)]
        if b < 0x80:
            return b
        if b >= 0xE0:
            return b - 0x100
        if b >= 0xA0 and b <= 0xBF:
            return self.text(b & 0x1F)
        if b >= 0x90 and b <= 0x9F:
            return self.array(b & 0x0F, depth)
        if b <= 0x8F:
            return self.map(b & 0x0F, depth)
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        scalar = _SCALARS.get(b)
        if scalar is not None:
            return self.unpack(scalar[0], scalar[1])
        sized = _SIZED.get(b)
        if sized is None:
            raise CodecError("unsupported msgpack type byte 0x%02x at offset %d" % (b, self.pos - 1))
        kind = sized[0]
        n = self.unpack(sized[1], sized[2])
        if kind == "s":
            return self.text(n)
        if kind == "b":
            return self.raw(n)
        if kind == "a":
            return self.array(n, depth)
        return self.map(n, depth)
