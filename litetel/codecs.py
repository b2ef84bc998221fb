"""Payload codecs by wire id (wire-format §1 ``codec``): msgpack (0, the default) and CBOR (1).

The implementation of each codec is chosen once, at import: the C library (``msgpack``, ``cbor2``) when
``accel.ENABLED`` and it imports, else the pure-Python twin. Both produce the same data model and read each
other's bytes; ``IMPLEMENTATION`` says which one is in use. Every decode failure is a ``CodecError``.

    >>> from litetel import codecs
    >>> data = codecs.encode(codecs.MSGPACK, [None, [0, 5]])
    >>> codecs.decode(codecs.MSGPACK, data)
    [None, [0, 5]]
"""

import io

from litetel import accel, msgpack_pure
from litetel.errors import CodecError

MSGPACK = 0
CBOR = 1
NAMES = {"msgpack": MSGPACK, "cbor": CBOR}

_INT_MIN = -(1 << 64)  # the widest ints either decoder can produce (CBOR major type 1)
_INT_LIMIT = 1 << 64
_INT64_MIN = -(1 << 63)


def _c_library(name):
    if not accel.ENABLED:
        return None
    try:
        return __import__(name)
    except ImportError:
        return None


# --------------------------------------------------------------------------------------------- msgpack

_msgpack = _c_library("msgpack")


def _refuse_ext(code, data):
    raise CodecError("msgpack extension type %d is not supported" % code)


def _msgpack_c_encode(obj):
    try:
        return _msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:  # unsupported type, int too large, too deep
        raise CodecError("msgpack encode: %s" % exc)


def _msgpack_c_decode(data):
    try:
        n = len(data)
        obj = _msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_refuse_ext,
                               max_str_len=n, max_bin_len=n, max_array_len=n, max_map_len=n // 2,
                               max_ext_len=0)  # max_ext_len=0 also refuses the timestamp ext ext_hook never sees
    except CodecError:
        raise
    except Exception as exc:  # noqa: BLE001 -- ExtraData, FormatError, StackError, ValueError, TypeError, UnicodeDecodeError...
        raise CodecError("msgpack decode: %s: %s" % (type(exc).__name__, exc))
    return obj


# ------------------------------------------------------------------------------------------------ CBOR

_cbor2 = _c_library("cbor2")


def _cbor_c_encode(obj):
    # cbor2 would also encode bignums (as tags), sets, datetimes...: the data model stops where the twin's does.
    check_data_model(obj, encoding=True)
    try:
        return _cbor2.dumps(obj, canonical=True)  # canonical = shortest floats, like the pure twin
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError("CBOR encode: %s" % exc)


def _refuse_tag(decoder):
    raise CodecError("CBOR tags are not supported")


# cbor2's built-in tags that would decode to values inside the data model (bignums, string references,
# shared values, the self-described marker): refused like the pure twin refuses every tag. The other
# built-in tags give datetimes, sets, Decimals...: check_data_model refuses those.
_CBOR_TAGS_REFUSED = {tag: _refuse_tag for tag in (2, 3, 25, 28, 29, 256, 55799)}


def _cbor_c_decode(data):
    try:
        reader = io.BytesIO(data)
        decoder = _cbor2.CBORDecoder(reader, semantic_decoders=_CBOR_TAGS_REFUSED,
                                     max_depth=msgpack_pure.MAX_DEPTH, allow_indefinite=False)
        obj = decoder.decode()
        extra = len(data) - reader.tell()  # cbor2 stops after one item: the rest is garbage, as for msgpack
    except Exception as exc:  # noqa: BLE001 -- CBORDecodeError and whatever a hook or hashing raises
        raise CodecError("CBOR decode: %s: %s" % (type(exc).__name__, exc))
    if extra:
        raise CodecError("%d bytes of extra data after the CBOR value" % extra)
    # cbor2 turns semantic tags into datetimes, Decimals, sets...: only the litetel data model may pass.
    check_data_model(obj)
    return obj


def check_data_model(obj, encoding=False, depth=0):
    """Raise ``CodecError`` unless ``obj`` is within the codec data model (types, int range, depth).

    A decoded value holds lists, bytes and ints from -2**64 (CBOR's widest); a value to encode may also hold
    tuples and bytes-likes, and ints from -2**63 (msgpack's widest).

    >>> check_data_model({"a": [1, 2.5, b"x"]})
    >>> check_data_model([{1, 2}])
    Traceback (most recent call last):
    ...
    litetel.errors.CodecError: set is outside the codec data model
    """
    if obj is None or obj is True or obj is False or isinstance(obj, (float, str, bytes)):
        return
    if isinstance(obj, int):
        if (_INT64_MIN if encoding else _INT_MIN) <= obj < _INT_LIMIT:
            return
        raise CodecError("int %d does not fit in 64 bits" % obj)
    if depth >= msgpack_pure.MAX_DEPTH:
        raise CodecError("nesting deeper than %d" % msgpack_pure.MAX_DEPTH)
    if isinstance(obj, list) or (encoding and isinstance(obj, tuple)):
        for item in obj:
            check_data_model(item, encoding, depth + 1)
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            check_data_model(key, encoding, depth + 1)
            check_data_model(value, encoding, depth + 1)
        return
    if encoding and isinstance(obj, (bytearray, memoryview)):
        return
    raise CodecError("%s is outside the codec data model" % type(obj).__name__)


# ---------------------------------------------------------------------------------- the chosen strategy

if _msgpack is not None:
    _MSGPACK_IMPL = ("c", _msgpack_c_encode, _msgpack_c_decode)
else:
    _MSGPACK_IMPL = ("pure", msgpack_pure.packb, msgpack_pure.unpackb)



def _cbor_pure_encode(obj):
    # Imported on first use: a MicroPython device sending msgpack never spends RAM compiling the CBOR twin.
    from litetel import cbor_pure

    return cbor_pure.dumps(obj)


def _cbor_pure_decode(data):
    from litetel import cbor_pure

    return cbor_pure.loads(data)


if _cbor2 is not None:
    _CBOR_IMPL = ("c", _cbor_c_encode, _cbor_c_decode)
else:
    _CBOR_IMPL = ("pure", _cbor_pure_encode, _cbor_pure_decode)

IMPLEMENTATION = {"msgpack": _MSGPACK_IMPL[0], "cbor": _CBOR_IMPL[0]}
_ENCODERS = {MSGPACK: _MSGPACK_IMPL[1], CBOR: _CBOR_IMPL[1]}
_DECODERS = {MSGPACK: _MSGPACK_IMPL[2], CBOR: _CBOR_IMPL[2]}


def encode(codec_id, obj):
    """Encode ``obj`` with codec ``codec_id``; ``CodecError`` for an unknown codec or a value outside the model.

    >>> encode(CBOR, {"a": 1})
    b'\\xa1aa\\x01'
    """
    try:
        encoder = _ENCODERS[codec_id]
    except KeyError:
        raise CodecError("unknown codec id %r" % (codec_id,))
    return encoder(obj)


def decode(codec_id, data):
    """Decode the single value in ``data``; ``CodecError`` for an unknown codec or bytes that do not decode.

    >>> decode(MSGPACK, b'\\x92\\x01\\xc0')
    [1, None]
    """
    try:
        decoder = _DECODERS[codec_id]
    except KeyError:
        raise CodecError("unknown codec id %r" % (codec_id,))
    return decoder(data)
