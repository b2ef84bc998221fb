"""Pure-Python CBOR (RFC 8949) for the data model litetel uses: the twin of the C library ``cbor2``.

Runs on MicroPython. The encoder (``dumps``) lives in ``cbor_encoder``, which is all a CBOR device loads; this
module adds the decoder, for the platform side (tests, ``litetel inspect``, the CPython fallback).

The decoder is total: any input either decodes or raises ``CodecError`` (truncated, garbage, tags, indefinite
lengths, simple values other than false/true/null, nesting deeper than ``MAX_DEPTH``, a declared length larger
than the bytes left).

    >>> from litetel import cbor_pure
    >>> cbor_pure.dumps([1, -2, "a", None, 1.5])
    b'\\x85\\x01!aa\\xf6\\xf9>\\x00'
    >>> cbor_pure.loads(b'\\xa1aa\\x82\\x01\\xf5')
    {'a': [1, True]}
"""

from litetel.cbor_encoder import dumps  # noqa: F401 -- the twin's whole API
from litetel.errors import CodecError
from litetel.msgpack_encoder import MAX_DEPTH
from litetel.msgpack_pure import ByteReader

_INF = float("inf")
_NAN = float("nan")


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
