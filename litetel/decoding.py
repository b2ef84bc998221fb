"""The reading half of ``codecs`` and ``compression``: ``decode`` a payload, and ``decompress`` it, bounded.

A device only encodes and compresses; it never loads this module, as on a MicroPython heap every function
loaded costs RAM. Frame readers load it: ``frame_parse``, the gateway, ``litetel inspect`` and the tests.

``decompress`` never produces (or allocates for) more than ``max_size`` + a little, whatever the compressed
bytes claim, and raises ``CodecError("... exceeds ...")`` beyond it: a 10 KB decompression bomb costs nothing.
Every decode failure is a ``CodecError`` too.

    >>> from litetel import codecs, compression, decoding
    >>> decoding.decode(codecs.MSGPACK, codecs.encode(codecs.MSGPACK, [None, [0, 5]]))
    [None, [0, 5]]
    >>> comp = compression.best_available()
    >>> decoding.decompress(comp, compression.compress(comp, b"abc" * 100), max_size=1000) == b"abc" * 100
    True
"""

from litetel import codecs as _codecs
from litetel import compression as _compression


def decode(codec_id, data):
    """Decode the single value in ``data``; ``CodecError`` for an unknown codec or bytes that do not decode.

    >>> decode(_codecs.MSGPACK, b'\\x92\\x01\\xc0')
    [1, None]
    """
    dec = _codecs.implementation(codec_id)[2]
    if dec is None:  # the pure twin's decoder, imported on the first decode
        if codec_id == _codecs.MSGPACK:
            from litetel.msgpack_pure import unpackb as dec
        else:
            from litetel.cbor_pure import loads as dec
    return dec(data)


def can_decompress(comp_id):
    """True when ``decompress`` handles ``comp_id`` here (MicroPython may inflate without deflating)."""
    return comp_id == _compression.NONE or _compression.backend(comp_id) is not None


def decompress(comp_id, data, max_size):
    """Decompress ``data``; ``CodecError`` when corrupt, unknown/unavailable, or larger than ``max_size`` bytes.

    >>> decompress(_compression.NONE, b"abcd", max_size=3)
    Traceback (most recent call last):
    ...
    litetel.errors.CodecError: uncompressed payload exceeds the limit of 3 bytes when decompressed
    """
    if comp_id == _compression.NONE:
        if len(data) > max_size:
            raise _compression.exceeds("uncompressed", max_size)
        return bytes(data)
    backend = _compression.backend(comp_id)
    if backend is None:
        raise _compression.unavailable(comp_id)
    return backend.decompress(data, max_size)
