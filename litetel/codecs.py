"""Payload codecs by wire id (wire-format §1 ``codec``): msgpack (0, the default) and CBOR (1).

Like msgpack-python's C-extension/fallback switch, each codec has two implementations and one is chosen, once
per process: the C library (``msgpack_c``, ``cbor_c``) when ``accel.ENABLED`` and it imports, else the pure
twin (``msgpack_encoder``/``msgpack_pure``, ``cbor_encoder``/``cbor_pure``). The choice is made on the codec's
first use, not at import: ``import litetel`` loads no C library, and a device that only encodes loads only the
encoder of the codec it sends. Decoding is the reading side's (``decoding.decode``: a device never loads it; a
pure decoder loads on the first decode). Both implementations produce the same data model and read each
other's bytes; ``IMPLEMENTATION`` says which is in use.

    >>> from litetel import codecs
    >>> codecs.encode(codecs.MSGPACK, [None, [0, 5]])
    b'\\x92\\xc0\\x92\\x00\\x05'
"""

from litetel import accel
from litetel.errors import CodecError

MSGPACK = 0
CBOR = 1
NAMES = {"msgpack": MSGPACK, "cbor": CBOR}

_chosen = {}  # codec id -> (implementation name, encode, decode or None), filled on the codec's first use


class Rows:
    """``[make(x) for x in items]`` made one row at a time as a pure encoder writes it: it encodes as an array.

    A frame's dictionary tables are the largest temporary of ``Device.collect()``; on a small MicroPython heap
    a row at a time, not the whole table, is what must fit. The C libraries get it as a list.
    """

    def __init__(self, make, items):
        self._make = make
        self._items = items

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return map(self._make, self._items)


def _choose(codec_id):
    if codec_id == MSGPACK:
        if accel.ENABLED:
            try:
                from litetel import msgpack_c

                return ("c", msgpack_c.encode, msgpack_c.decode)
            except ImportError:  # the C library is not installed
                pass
        from litetel.msgpack_encoder import packb

        return ("pure", packb, None)
    if codec_id == CBOR:
        if accel.ENABLED:
            try:
                from litetel import cbor_c

                return ("c", cbor_c.encode, cbor_c.decode)
            except ImportError:
                pass
        from litetel.cbor_encoder import dumps

        return ("pure", dumps, None)
    raise CodecError("unknown codec id %r" % (codec_id,))


def implementation(codec_id):
    """``(name, encode, decode)`` of codec ``codec_id``, chosen on first use; name is ``"c"`` or ``"pure"``.
    ``decode`` is None for a pure twin: ``decoding.decode`` imports its decoder."""
    try:
        return _chosen[codec_id]
    except (KeyError, TypeError):  # TypeError: an unhashable id, refused by _choose
        impl = _chosen[codec_id] = _choose(codec_id)
        return impl


def __getattr__(name):
    # ``codecs.IMPLEMENTATION``: asking for it is a use of both codecs (it chooses them).
    if name == "IMPLEMENTATION":
        return {"msgpack": implementation(MSGPACK)[0], "cbor": implementation(CBOR)[0]}
    raise AttributeError("module 'litetel.codecs' has no attribute %r" % (name,))


def encode(codec_id, obj):
    """Encode ``obj`` with codec ``codec_id``; ``CodecError`` for an unknown codec or a value outside the model.

    >>> encode(CBOR, {"a": 1})
    b'\\xa1aa\\x01'
    """
    return implementation(codec_id)[1](obj)


def encode_into(codec_id, obj, out):
    """Append the encoding of ``obj`` to the bytearray ``out`` (the pure encoders write into it).

    >>> encode_into(MSGPACK, [1], bytearray(b"x"))
    bytearray(b'x\\x91\\x01')
    """
    name, encode, _ = implementation(codec_id)
    if name == "pure":
        return encode(obj, out)
    out.extend(encode(obj))
    return out
