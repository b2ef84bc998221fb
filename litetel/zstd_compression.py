"""zstd payload compression (wire-format §1 compression ``1``) through the C library ``zstandard`` (CPython).

Imported by ``litetel.compression`` when zstd is first asked about; level 3, one frame per payload, and a
bounded ``decompress``.

    >>> from litetel import zstd_compression
    >>> zstd_compression.decompress(zstd_compression.compress(b"abc" * 100), max_size=300) == b"abc" * 100
    True
"""

import zstandard

from litetel.accel import new_lock
from litetel.compression import ZSTD_LEVEL, exceeds
from litetel.errors import CodecError

_compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)  # reused: a new context costs more than compressing
_lock = new_lock()  # a ZstdCompressor must not be used by two threads at once


def compress(data):
    """One zstd frame holding ``data``."""
    with _lock:
        return _compressor.compress(data)


def decompress(data, max_size):
    """The bytes of one zstd frame, at most ``max_size`` of them (else ``CodecError``), nothing after it."""
    # The window the decoder may allocate is capped too (2 MB, what level 3 streams use, or the output bound):
    # a frame claiming a 128 MB window is refused before anything is allocated.
    window = 1 << max(21, max_size.bit_length())
    try:
        params = zstandard.get_frame_parameters(data)
        dctx = zstandard.ZstdDecompressor(max_window_size=window)
        if params.content_size != zstandard.CONTENTSIZE_UNKNOWN:
            # A declared size is checked, never trusted: zstd verifies the output matches it exactly.
            if params.content_size > max_size:
                raise exceeds("zstd", max_size)
            return dctx.decompress(data, allow_extra_data=False)
        # Unknown size (a streamed frame): measure it with a bounded read, then decode it whole (which also
        # checks the frame is complete and nothing follows it).
        produced = len(dctx.stream_reader(data).read(max_size + 1))
        if produced > max_size:
            raise exceeds("zstd", max_size)
        return dctx.decompress(data, max_output_size=max(produced, 1), allow_extra_data=False)
    except zstandard.ZstdError as exc:
        if "too much memory" in str(exc):
            raise CodecError("zstd frame window exceeds the limit of %d bytes" % window)
        raise CodecError("zstd: corrupt payload: %s" % exc)
