"""msgpack through the C library ``msgpack`` (CPython), with the pure twin's errors and limits but its nesting
depth (the library's own, 1024; a walk to hold 32 would cost the encoder 6x, and no device payload nests
past 5 levels).

Imported by ``litetel.codecs`` on the first msgpack encode or decode when ``accel.ENABLED``; an ImportError
(the library is not installed) makes it use ``msgpack_encoder``/``msgpack_pure`` instead.

    >>> from litetel import msgpack_c
    >>> msgpack_c.decode(msgpack_c.encode([1, "a"]))
    [1, 'a']
"""

import msgpack

from litetel.codecs import Rows
from litetel.errors import CodecError


def _refuse_ext(code, data):
    raise CodecError("msgpack extension type %d is not supported" % code)


def _rows_as_list(obj):
    if isinstance(obj, Rows):  # a table made as it is encoded (codecs.Rows): the C library takes a list
        return list(obj)
    raise TypeError("can not serialize %r object" % type(obj).__name__)


def encode(obj):
    """msgpack bytes of ``obj``; ``CodecError`` for a value outside the data model."""
    try:
        return msgpack.packb(obj, use_bin_type=True, default=_rows_as_list)
    except (TypeError, ValueError, OverflowError) as exc:  # unsupported type, int too large, too deep
        raise CodecError("msgpack encode: %s" % exc)


def decode(data):
    """The one value spanning ``data``; every failure is a ``CodecError``."""
    try:
        n = len(data)
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_refuse_ext,
                              max_str_len=n, max_bin_len=n, max_array_len=n, max_map_len=n // 2,
                              max_ext_len=0)  # max_ext_len=0 also refuses the timestamp ext ext_hook never sees
    except CodecError:
        raise
    except Exception as exc:  # noqa: BLE001 -- ExtraData, FormatError, StackError, ValueError, TypeError, UnicodeDecodeError...
        raise CodecError("msgpack decode: %s: %s" % (type(exc).__name__, exc))
    return obj
