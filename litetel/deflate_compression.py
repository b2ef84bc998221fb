"""deflate payload compression (wire-format §1 compression ``2``, zlib container, RFC 1950).

CPython uses ``zlib``; MicroPython ``deflate.DeflateIO``, which compresses only when the firmware was built
with deflate compression (``CAN_COMPRESS``); inflating is more common. Imported by ``litetel.compression`` on
first use: a device that cannot deflate never loads it. ``decompress`` is bounded.

    >>> from litetel import deflate_compression
    >>> deflate_compression.decompress(deflate_compression.compress(b"ab" * 50), max_size=100) == b"ab" * 50
    True
"""

import io

from litetel.compression import exceeds
from litetel.errors import CodecError

try:
    import zlib as _zlib

    _deflate = None
except ImportError:  # MicroPython
    _zlib = None
    import deflate as _deflate

CAN_COMPRESS = _zlib is not None or hasattr(_deflate.DeflateIO, "write")

_ZLIB_STEP = 65536


def compress(data):
    """``data`` as a zlib stream; ``CodecError`` where this firmware cannot deflate."""
    if _zlib is not None:
        return _zlib.compress(data)
    if not CAN_COMPRESS:
        raise CodecError("deflate compression is not available in this MicroPython firmware")
    out = io.BytesIO()
    writer = _deflate.DeflateIO(out, _deflate.ZLIB)  # close=False: `out` stays readable
    writer.write(data)
    writer.close()
    return out.getvalue()


def decompress(data, max_size):
    """The bytes of one zlib stream, at most ``max_size`` of them (else ``CodecError``), nothing after it."""
    if _zlib is not None:
        return _zlib_decompress(data, max_size)
    return _deflateio_decompress(data, max_size)


def _zlib_decompress(data, max_size):
    # Small steps in and out: zlib copies the input it has not consumed (unconsumed_tail) and CPython builds
    # each output by joining blocks (twice its size at peak), so 64 KB steps keep the peak near max_size.
    dobj = _zlib.decompressobj()
    view = memoryview(data)
    pieces = []
    size = 0
    at = 0
    try:
        while not dobj.eof:
            source = dobj.unconsumed_tail
            if not source:
                if at >= len(view):
                    break
                source = view[at : at + _ZLIB_STEP]
                at += _ZLIB_STEP
            piece = dobj.decompress(source, min(_ZLIB_STEP, max_size + 1 - size))
            size += len(piece)
            if size > max_size:
                raise exceeds("deflate", max_size)
            pieces.append(piece)
    except _zlib.error as exc:
        raise CodecError("deflate: corrupt payload: %s" % exc)
    if not dobj.eof:
        raise CodecError("deflate: truncated payload")
    if dobj.unused_data or at < len(view):
        raise CodecError("deflate: extra data after the stream")
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _deflateio_decompress(data, max_size):
    try:
        source = io.BytesIO(data)
        reader = _deflate.DeflateIO(source, _deflate.ZLIB)
        out = reader.read(max_size + 1)
        if out is None:
            out = b""
        if len(out) > max_size:
            raise exceeds("deflate", max_size)
        if reader.read(1):  # short reads are allowed by the stream API: make sure the stream has really ended
            raise exceeds("deflate", max_size)
        if source.tell() < len(data):  # DeflateIO stops at the stream's end (its adler32), whatever follows
            raise CodecError("deflate: extra data after the stream")
    except CodecError:
        raise
    except MemoryError:  # the stream's window (up to 32 KB for CPython's zlib) does not fit in this heap
        raise CodecError("deflate: not enough memory for the stream's window")
    except Exception as exc:  # noqa: BLE001 -- OSError(EINVAL) for corrupt or truncated data; its type varies across ports
        raise CodecError("deflate: corrupt payload: %r" % (exc,))
    return out
