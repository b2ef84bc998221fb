"""Pure-Python CBOR (RFC 8949) for the data model litetel uses: the twin of the C library ``cbor2``.

Runs on MicroPython. Covers None, bool, int (-2**63 .. 2**64-1 when encoding), float, str, bytes, list/tuple and
dict, with definite lengths and the shortest argument encoding. Floats are sent as float16 or float32 when that
is exact (preferred serialization, RFC 8949 §4.2.2), else float64; NaN is the canonical half ``f9 7e00``.

The decoder is total: any input either decodes or raises ``CodecError`` (truncated, garbage, tags, indefinite
lengths, simple values other than false/true/null, nesting deeper than ``MAX_DEPTH``, a declared length larger
than the bytes left).

    >>> from litetel import cbor_pure
    >>> cbor_pure.dumps([1, -2, "a", None, 1.5])
    b'\\x85\\x01!aa\\xf6\\xf9>\\x00'
    >>> cbor_pure.loads(b'\\xa1aa\\x82\\x01\\xf5')
    {'a': [1, True]}
"""

import struct

from litetel.errors import CodecError
from litetel.msgpack_pure import MAX_DEPTH, ByteReader, Writer, float32_exact

_UINT64_MAX = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INF = float("inf")
_NAN = float("nan")


def _struct_has_half():
    try:
        return struct.unpack(">e", struct.pack(">e", 1.5))[0] == 1.5
    except (ValueError, struct.error):
        return False


_HAS_HALF = _struct_has_half()


# ---------------------------------------------------------------------------------------------- encoding


def dumps(obj):
    """Encode ``obj`` as CBOR bytes; ``CodecError`` for a type or int outside the data model.

    >>> dumps({"n": 300})
    b'\\xa1an\\x19\\x01,'
    """
    return _Writer().encode(obj)


_MAJOR = (3, 2, 4, 5)  # Writer kind (STR, BIN, ARRAY, MAP) -> CBOR major type


class _Writer(Writer):
    NIL = 0xF6
    FALSE = 0xF4
    TRUE = 0xF5

    def argument(self, major, n):
        """The initial byte(s) of a data item: major type and its argument in the shortest form."""
        if n < 24:
            self.out.append((major << 5) | n)
        elif n < 0x100:
            self.out.append((major << 5) | 24)
            self.out.append(n)
        elif n < 0x10000:
            self.extend_packed(">BH", (major << 5) | 25, n)
        elif n < 0x100000000:
            self.extend_packed(">BI", (major << 5) | 26, n)
        else:
            self.extend_packed(">BQ", (major << 5) | 27, n)

    def head(self, kind, n):
        self.argument(_MAJOR[kind], n)

    def integer(self, n):
        if n >= 0:
            if n > _UINT64_MAX:
                raise CodecError("int %d does not fit in 64 bits" % n)
            self.argument(0, n)
        else:
            if n < _INT64_MIN:
                raise CodecError("int %d does not fit in 64 bits" % n)
            self.argument(1, -1 - n)

    def real(self, x):
        out = self.out
        if x != x:  # noqa: PLR0124 -- NaN (MicroPython builds may lack math.isnan)
            out.extend(b"\xf9\x7e\x00")  # the canonical NaN
            return
        if _HAS_HALF:
            try:
                half = struct.pack(">e", x)
            except OverflowError:  # CPython refuses values beyond float16 range
                half = None
            # MicroPython saturates silently instead: the round trip rejects that.
            if half is not None and struct.unpack(">e", half)[0] == x:
                out.append(0xF9)
                out.extend(half)
                return
        single = float32_exact(x)
        if single is None:
            self.extend_packed(">Bd", 0xFB, x)
        else:
            out.append(0xFA)
            out.extend(single)


# ---------------------------------------------------------------------------------------------- decoding


def loads(data, max_depth=MAX_DEPTH):
    """Decode one CBOR data item that spans all of ``data``; ``CodecError`` for anything else.

    >>> loads(b'\\x3b\\x7f\\xff\\xff\\xff\\xff\\xff\\xff\\xff')
    -9223372036854775808
    """
    return _Reader(data, max_depth).whole()


def half_to_float(h):
    """The value of IEEE 754 half-precision bits ``h`` (RFC 8949 Appendix D), without struct's 'e'."""
    exp = (h >> 10) & 0x1F
    mant = h & 0x3FF
    if exp == 0:
        value = mant * 5.960464477539063e-08  # 2**-24
    elif exp != 31:
        value = (mant + 1024) * 2.0 ** (exp - 25)
    elif mant == 0:
        value = _INF
    else:
        value = _NAN
    return -value if h & 0x8000 else value


_ARG_FORMATS = {24: (">B", 1), 25: (">H", 2), 26: (">I", 4), 27: (">Q", 8)}


class _Reader(ByteReader):
    NAME = "CBOR"

    def value(self, depth):
        start = self.take(1)
        ib = self.data[start]
        major = ib >> 5
        info = ib & 0x1F
        if major == 7:
            return self.simple(info, start)
        if info < 24:
            arg = info
        else:
            fmt = _ARG_FORMATS.get(info)
            if fmt is None:
                raise CodecError("unsupported CBOR initial byte 0x%02x at offset %d (indefinite or reserved)"
                                 % (ib, start))
            arg = self.unpack(fmt[0], fmt[1])
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self.raw(arg)
        if major == 3:
            return self.text(arg)
        if major == 4:
            return self.array(arg, depth)
        if major == 5:
            return self.map(arg, depth)
        raise CodecError("CBOR tag %d at offset %d is not supported" % (arg, start))

    def simple(self, info, start):
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 25:
            return half_to_float(self.unpack(">H", 2))
        if info == 26:
            return self.unpack(">f", 4)
        if info == 27:
            return self.unpack(">d", 8)
        raise CodecError("unsupported CBOR simple value %d at offset %d" % (info, start))
