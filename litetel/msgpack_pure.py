"""Pure-Python msgpack for the data model litetel uses: the twin of the C library ``msgpack``.

Runs on MicroPython. Covers None, bool, int (-2**63 .. 2**64-1), float, str, bytes, list/tuple and dict, always
in the smallest encoding (fixint, fixstr, fixarray, ...). Floats that survive a float32 round trip exactly are
sent as float32 (5 bytes instead of 9); they decode to the same Python float.

The decoder is total: any input either decodes or raises ``CodecError`` (truncated, garbage, extension types,
nesting deeper than ``MAX_DEPTH``, a declared length larger than the bytes left).

    >>> from litetel import msgpack_pure
    >>> msgpack_pure.packb([1, -2, "a", None, {"k": b"v"}])
    b'\\x95\\x01\\xfe\\xa1a\\xc0\\x81\\xa1k\\xc4\\x01v'
    >>> msgpack_pure.unpackb(b'\\x93\\x01\\xa1a\\xc0')
    [1, 'a', None]
"""

import struct

from litetel.errors import CodecError

MAX_DEPTH = 32

_UINT64_MAX = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INT32_MIN = -(1 << 31)


# ---------------------------------------------------------------------------------------------- encoding


STR = 0
BIN = 1
ARRAY = 2
MAP = 3


class Writer:
    """The walk over the data model shared by the pure msgpack and CBOR encoders.

    A subclass sets the one-byte ``NIL``/``FALSE``/``TRUE`` codes and defines ``integer(n)``, ``real(x)`` and
    ``head(kind, n)`` (the start of a STR/BIN/ARRAY/MAP of ``n`` bytes or items); the type checks, UTF-8,
    depth limit and recursion live here once.
    """

    NIL = FALSE = TRUE = 0

    def __init__(self):
        self.out = bytearray()

    def encode(self, obj):
        """The bytes of ``obj``."""
        self.write(obj)
        return bytes(self.out)

    def write(self, obj, depth=0):
        out = self.out
        # `is True/False` first: on CPython bool is an int, on MicroPython it is not.
        if obj is None:
            out.append(self.NIL)
        elif obj is False:
            out.append(self.FALSE)
        elif obj is True:
            out.append(self.TRUE)
        elif isinstance(obj, int):
            self.integer(obj)
        elif isinstance(obj, float):
            self.real(obj)
        elif isinstance(obj, str):
            try:
                data = obj.encode("utf-8")
            except UnicodeError:
                raise CodecError("str is not encodable as UTF-8")
            self.head(STR, len(data))
            out.extend(data)
        elif isinstance(obj, (bytes, bytearray, memoryview)):
            self.head(BIN, len(obj))
            out.extend(obj)
        elif isinstance(obj, (list, tuple)):
            self.enter(depth)
            self.head(ARRAY, len(obj))
            for item in obj:
                self.write(item, depth + 1)
        elif isinstance(obj, dict):
            self.enter(depth)
            self.head(MAP, len(obj))
            for key, value in obj.items():
                self.write(key, depth + 1)
                self.write(value, depth + 1)
        else:
            raise CodecError("cannot encode %s" % type(obj).__name__)

    def enter(self, depth):
        if depth >= MAX_DEPTH:
            raise CodecError("nesting deeper than %d" % MAX_DEPTH)

    def extend_packed(self, fmt, code, value):
        self.out.extend(struct.pack(fmt, code, value))


def packb(obj):
    """Encode ``obj`` as msgpack bytes; ``CodecError`` for a type or int outside the data model.

    >>> packb({"n": 300})
    b'\\x81\\xa1n\\xcd\\x01,'
    """
    return _Writer().encode(obj)


# kind -> (fix code, largest fix length, 8-bit code or 0, 16-bit code, 32-bit code)
_HEADS = (
    (0xA0, 31, 0xD9, 0xDA, 0xDB),  # STR
    (0, -1, 0xC4, 0xC5, 0xC6),  # BIN: no fix form
    (0x90, 15, 0, 0xDC, 0xDD),  # ARRAY: no 8-bit form
    (0x80, 15, 0, 0xDE, 0xDF),  # MAP
)


class _Writer(Writer):
    NIL = 0xC0
    FALSE = 0xC2
    TRUE = 0xC3

    def integer(self, n):
        out = self.out
        if n >= 0:
            if n < 0x80:
                out.append(n)
            elif n < 0x100:
                out.append(0xCC)
                out.append(n)
            elif n < 0x10000:
                self.extend_packed(">BH", 0xCD, n)
            elif n < 0x100000000:
                self.extend_packed(">BI", 0xCE, n)
            elif n <= _UINT64_MAX:
                self.extend_packed(">BQ", 0xCF, n)
            else:
                raise CodecError("int %d does not fit in 64 bits" % n)
        elif n >= -32:
            out.append(n & 0xFF)
        elif n >= -0x80:
            self.extend_packed(">Bb", 0xD0, n)
        elif n >= -0x8000:
            self.extend_packed(">Bh", 0xD1, n)
        elif n >= _INT32_MIN:
            self.extend_packed(">Bi", 0xD2, n)
        elif n >= _INT64_MIN:
            self.extend_packed(">Bq", 0xD3, n)
        else:
            raise CodecError("int %d does not fit in 64 bits" % n)

    def real(self, x):
        f32 = float32_exact(x)
        if f32 is None:
            self.extend_packed(">Bd", 0xCB, x)
        else:
            self.out.append(0xCA)
            self.out.extend(f32)

    def head(self, kind, n):
        """Type byte(s) for a str/bin/array/map of ``n`` elements, in the smallest form the type has."""
        fix, fix_max, code8, code16, code32 = _HEADS[kind]
        if n <= fix_max:
            self.out.append(fix | n)
        elif n < 0x100 and code8:
            self.out.append(code8)
            self.out.append(n)
        elif n < 0x10000:
            self.extend_packed(">BH", code16, n)
        elif n < 0x100000000:
            self.extend_packed(">BI", code32, n)
        else:
            raise CodecError("length %d does not fit in 32 bits" % n)


def float32_exact(x):
    """The 4 big-endian float32 bytes of ``x`` when they decode back to exactly ``x``, else None.

    (On MicroPython struct silently saturates out-of-range values; the round trip catches that too.)
    """
    try:
        packed = struct.pack(">f", x)
    except OverflowError:  # CPython refuses values beyond float32 range
        return None
    if struct.unpack(">f", packed)[0] == x:
        return packed
    return None


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
            return str(self.data[start : start + n], "utf-8")
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
