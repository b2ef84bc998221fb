"""Pure-Python CBOR (RFC 8949) *encoder*: the device's half of ``cbor_pure``, loaded only by a CBOR device.

Definite lengths and the shortest argument encoding; floats are sent as float16 or float32 when that is exact
(preferred serialization, RFC 8949 §4.2.2), else float64; NaN is the canonical half ``f9 7e00``.

    >>> from litetel import cbor_encoder
    >>> cbor_encoder.dumps([1, -2, "a", None, 1.5])
    b'\\x85\\x01!aa\\xf6\\xf9>\\x00'
"""

import struct

from litetel.errors import CodecError
from litetel.msgpack_encoder import Writer, float32_exact

_UINT64_MAX = (1 << 64) - 1
_INT64_MIN = -(1 << 63)


def _struct_has_half():
    try:
        return struct.unpack(">e", struct.pack(">e", 1.5))[0] == 1.5
    except (ValueError, struct.error):
        return False


_HAS_HALF = _struct_has_half()


# ---------------------------------------------------------------------------------------------- encoding


def dumps(obj, out=None):
    """Encode ``obj`` as CBOR bytes; ``CodecError`` for a type or int outside the data model. With ``out``
    (a bytearray) the encoding is appended to it instead, and ``out`` returned.

    >>> dumps({"n": 300})
    b'\\xa1an\\x19\\x01,'
    """
    if out is None:
        return _Writer().encode(obj)
    _Writer(out).write(obj)
    return out


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
