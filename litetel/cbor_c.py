"""CBOR through the C library ``cbor2`` (CPython), held to the pure twin's data model, errors and limits.

Imported by ``litetel.codecs`` on the first CBOR encode or decode when ``accel.ENABLED`` (cbor2 pulls in
``typing``: a msgpack device never pays for it); an ImportError makes it use ``cbor_encoder``/``cbor_pure``.

    >>> from litetel import cbor_c
    >>> cbor_c.decode(cbor_c.encode({"a": [1, 2.5]}))
    {'a': [1, 2.5]}
"""

import io

import cbor2

from litetel.codecs import Rows
from litetel.errors import CodecError
from litetel.msgpack_encoder import MAX_DEPTH

_INT_MIN = -(1 << 64)  # the widest ints either decoder can produce (CBOR major type 1)
_INT_LIMIT = 1 << 64
_INT64_MIN = -(1 << 63)


def encode(obj):
    """Canonical CBOR bytes of ``obj`` (shortest floats, like the pure twin); ``CodecError`` outside the model."""
    # cbor2 would also encode bignums (as tags), sets, datetimes...: the data model stops where the twin's does.
    check_data_model(obj, encoding=True)
    try:
        return cbor2.dumps(obj, canonical=True, default=_rows_as_list)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError("CBOR encode: %s" % exc)


def _rows_as_list(encoder, obj):
    if not isinstance(obj, Rows):
        raise TypeError("cannot serialize type %s" % type(obj).__name__)
    encoder.encode(list(obj))  # a table made as it is encoded (codecs.Rows): the C library takes a list


def _refuse_tag(decoder):
    raise CodecError("CBOR tags are not supported")


# cbor2's built-in tags that would decode to values inside the data model (bignums, string references,
# shared values, the self-described marker): refused like the pure twin refuses every tag. The other
# built-in tags give datetimes, sets, Decimals...: check_data_model refuses those.
_TAGS_REFUSED = {tag: _refuse_tag for tag in (2, 3, 25, 28, 29, 256, 55799)}


def decode(data):
    """The one CBOR item spanning ``data``, within the data model; every failure is a ``CodecError``."""
    try:
        reader = io.BytesIO(data)
        decoder = cbor2.CBORDecoder(reader, semantic_decoders=_TAGS_REFUSED, max_depth=MAX_DEPTH,
                                    allow_indefinite=False)
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
    tuples, ``codecs.Rows`` and bytes-likes, and ints from -2**63 (msgpack's widest).

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
    if depth >= MAX_DEPTH:
        raise CodecError("nesting deeper than %d" % MAX_DEPTH)
    if isinstance(obj, list) or (encoding and isinstance(obj, (tuple, Rows))):
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
