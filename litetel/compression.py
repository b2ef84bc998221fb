"""Payload compression by wire id (wire-format §1 ``compression``): none (0), zstd (1), deflate (2).

- zstd: CPython with ``zstandard``, level 3, one frame per payload.
- deflate: zlib container (RFC 1950): CPython ``zlib``; MicroPython ``deflate.DeflateIO`` (compressing needs
  firmware built with deflate compression; decompressing is more common).
- none: always.

``decompress`` is bounded: it never produces (or allocates for) more than ``max_size`` + a little, whatever
the compressed bytes claim, and raises ``CodecError("... exceeds ...")`` beyond it: a 10 KB decompression
bomb costs nothing.

    >>> from litetel import compression
    >>> comp = compression.best_available()
    >>> blob = compression.compress(comp, b"abc" * 100)
    >>> compression.decompress(comp, blob, max_size=1000) == b"abc" * 100
    True
"""

import io

from litetel import accel
from litetel.errors import CodecError

NONE = 0
ZSTD = 1
DEFLATE = 2
NAMES = {"none": NONE, "zstd": ZSTD, "deflate": DEFLATE}

ZSTD_LEVEL = 3


def _exceeds(comp_name, max_size):
    return CodecError("%s payload exceeds the limit of %d bytes when decompressed" % (comp_name, max_size))


# ------------------------------------------------------------------------------------------------ none


def _none_compress(data):
    return bytes(data)


def _none_decompress(data, max_size):
    if len(data) > max_size:
        raise _exceeds("uncompressed", max_size)
    return bytes(data)


# ------------------------------------------------------------------------------------------------ zstd

try:
    if accel.MICROPYTHON:
        raise ImportError("no zstandard on MicroPython")
    import zstandard as _zstd
except ImportError:
    _zstd = None

if _zstd is not None:
    _zstd_compressor = _zstd.ZstdCompressor(level=ZSTD_LEVEL)  # reused: a new context costs more than compressing
    _zstd_lock = accel.new_lock()  # a ZstdCompressor must not be used by two threads at once

    def _zstd_compress(data):
        with _zstd_lock:
            return _zstd_compressor.compress(data)

    def _zstd_decompress(data, max_size):
        # The window the decoder may allocate is capped too (2 MB, what level 3 streams use, or the output
        # bound): a frame claiming a 128 MB window is refused before anything is allocated.
        window = 1 << max(21, max_size.bit_length())
        try:
            params = _zstd.get_frame_parameters(data)
            dctx = _zstd.ZstdDecompressor(max_window_size=window)
            if params.content_size != _zstd.CONTENTSIZE_UNKNOWN:
                # A declared size is checked, never trusted: zstd verifies the output matches it exactly.
                if params.content_size > max_size:
                    raise _exceeds("zstd", max_size)
                return dctx.decompress(data, allow_extra_data=False)
            # Unknown size (a streamed frame): measure it with a bounded read, then decode it whole
            # (which also checks the frame is complete and nothing follows it).
            produced = len(dctx.stream_reader(data).read(max_size + 1))
            if produced > max_size:
                raise _exceeds("zstd", max_size)
            return dctx.decompress(data, max_output_size=max(produced, 1), allow_extra_data=False)
        except _zstd.ZstdError as exc:
            if "too much memory" in str(exc):
                raise CodecError("zstd frame window exceeds the limit of %d bytes" % window)
            raise CodecError("zstd: corrupt payload: %s" % exc)


# --------------------------------------------------------------------------------------------- deflate

_zlib = None
_deflate = None
_DEFLATE_CAN_COMPRESS = False
try:
    import zlib as _zlib

    _DEFLATE_CAN_COMPRESS = True
except ImportError:
    try:
        import deflate as _deflate

        _DEFLATE_CAN_COMPRESS = hasattr(_deflate.DeflateIO, "write")
    except ImportError:
        pass


def _zlib_compress(data):
    return _zlib.compress(data)


_ZLIB_STEP = 65536


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
                raise _exceeds("deflate", max_size)
            pieces.append(piece)
    except _zlib.error as exc:
        raise CodecError("deflate: corrupt payload: %s" % exc)
    if not dobj.eof:
        raise CodecError("deflate: truncated payload")
    if dobj.unused_data or at < len(view):
        raise CodecError("deflate: extra data after the stream")
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _deflateio_compress(data):
    out = io.BytesIO()
    writer = _deflate.DeflateIO(out, _deflate.ZLIB)  # close=False: `out` stays readable
    writer.write(data)
    writer.close()
    return out.getvalue()


def _deflateio_decompress(data, max_size):
    try:
        reader = _deflate.DeflateIO(io.BytesIO(data), _deflate.ZLIB)
        out = reader.read(max_size + 1)
        if out is None:
            out = b""
        if len(out) > max_size:
            raise _exceeds("deflate", max_size)
        if reader.read(1):  # short reads are allowed by the stream API: make sure the stream has really ended
            raise _exceeds("deflate", max_size)
    except CodecError:
        raise
    except MemoryError:  # the stream's window (up to 32 KB for CPython's zlib) does not fit in this heap
        raise CodecError("deflate: not enough memory for the stream's window")
    except Exception as exc:  # noqa: BLE001 -- OSError(EINVAL) for corrupt or truncated data; its type varies across ports
        raise CodecError("deflate: corrupt payload: %r" % (exc,))
    return out


# ---------------------------------------------------------------------------------- the chosen strategy

_COMPRESSORS = {NONE: _none_compress}
_DECOMPRESSORS = {NONE: _none_decompress}
if _zstd is not None:
    _COMPRESSORS[ZSTD] = _zstd_compress
    _DECOMPRESSORS[ZSTD] = _zstd_decompress
if _zlib is not None:
    _COMPRESSORS[DEFLATE] = _zlib_compress
    _DECOMPRESSORS[DEFLATE] = _zlib_decompress
elif _deflate is not None:
    if _DEFLATE_CAN_COMPRESS:
        _COMPRESSORS[DEFLATE] = _deflateio_compress
    _DECOMPRESSORS[DEFLATE] = _deflateio_decompress


def available():
    """The compression ids ``compress`` can produce here, e.g. ``[0, 1, 2]`` on CPython with zstandard."""
    return sorted(_COMPRESSORS)


def can_decompress(comp_id):
    """True when ``decompress`` handles ``comp_id`` here (MicroPython may inflate without deflating)."""
    return comp_id in _DECOMPRESSORS


def best_available():
    """The compression a device should use: zstd when accelerations are on, else deflate, else none."""
    if accel.ENABLED and ZSTD in _COMPRESSORS:
        return ZSTD
    if DEFLATE in _COMPRESSORS:
        return DEFLATE
    return NONE


def compress(comp_id, data):
    """Compress ``data`` (bytes-like) with ``comp_id``; ``CodecError`` when that id is unknown or unavailable.

    >>> compress(NONE, b"abc")
    b'abc'
    """
    try:
        compressor = _COMPRESSORS[comp_id]
    except KeyError:
        raise CodecError("compression id %r is unknown or unavailable here" % (comp_id,))
    return compressor(data)


def decompress(comp_id, data, max_size):
    """Decompress ``data``; ``CodecError`` when corrupt, unknown/unavailable, or larger than ``max_size`` bytes.

    >>> decompress(NONE, b"abcd", max_size=3)
    Traceback (most recent call last):
    ...
    litetel.errors.CodecError: uncompressed payload exceeds the limit of 3 bytes when decompressed
    """
    try:
        decompressor = _DECOMPRESSORS[comp_id]
    except KeyError:
        raise CodecError("compression id %r is unknown or unavailable here" % (comp_id,))
    return decompressor(data, max_size)
