"""Pure-Python msgpack *encoder* (the device's half of ``msgpack_pure``), and the walk both pure encoders share.

A device only encodes: this module is all it loads for msgpack (the decoder in ``msgpack_pure`` stays on the
platform side: tests, ``litetel inspect``, the CPython fallback). Covers None, bool, int (-2**63 .. 2**64-1),
float, str, bytes, list/tuple (and ``codecs.Rows``) and dict, always in the smallest encoding (fixint, fixstr,
fixarray, ...). Floats that survive a float32 round trip exactly are sent as float32 (5 bytes instead of 9).

    >>> from litetel import msgpack_encoder
    >>> msgpack_encoder.packb([1, -2, "a", None, {"k": b"v"}])
    b'\\x95\\x01\\xfe\\xa1a\\xc0\\x81\\xa1k\\xc4\\x01v'
"""

import struct

from litetel.accel import MICROPYTHON
from litetel.codecs import Rows
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

    def __init__(self, out=None):
        self.out = bytearray() if out is None else out

    def encode(self, obj):
        """The bytes of ``obj``."""
        self.write(obj)
        return bytes(self.out)

    def write(self, obj, depth=0):
        out = self.out
        # `is True/False` first: on CPython bool is an int, on MicroPython it is not. No `isinstance(obj, (a, b))`:
        # MicroPython builds that tuple on every call (garbage per value, fragmenting a small heap).
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
            if MICROPYTHON and b"\xed" in data and has_surrogate(data):  # MicroPython encodes one as ED A0..BF
                raise CodecError("str is not encodable as UTF-8")
            self.head(STR, len(data))
            out.extend(data)
        elif isinstance(obj, bytes) or isinstance(obj, bytearray) or isinstance(obj, memoryview):
            self.head(BIN, len(obj))
            out.extend(obj)
        elif isinstance(obj, list) or isinstance(obj, tuple) or isinstance(obj, Rows):
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


def packb(obj, out=None):
    """Encode ``obj`` as msgpack bytes; ``CodecError`` for a type or int outside the data model. With ``out``
    (a bytearray) the encoding is appended to it instead, and ``out`` returned.

    >>> packb({"n": 300})
    b'\\x81\\xa1n\\xcd\\x01,'
    """
    if out is None:
        return _Writer().encode(obj)
    _Writer(out).write(obj)  # no copy: a frame is encoded right after its reserved header (frame.py)
    return out


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


def has_surrogate(data):
    """True when ``data`` holds a surrogate code point encoded as if UTF-8 (ED A0..BF ..), which UTF-8 is not:
    MicroPython's str may hold one (``chr(0xD800)``, ``b"\\xed\\xa0\\x80".decode()``); CPython's refuses to encode it."""
    i = data.find(b"\xed")
    while 0 <= i < len(data) - 1:
        if data[i + 1] >= 0xA0:
            return True
        i = data.find(b"\xed", i + 1)
    return False


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
