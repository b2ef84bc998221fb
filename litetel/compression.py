"""Payload compression by wire id (wire-format §1 ``compression``): none (0), zstd (1), deflate (2).

- zstd: CPython with ``zstandard``, level 3, one frame per payload (``zstd_compression``).
- deflate: zlib container (RFC 1950): CPython ``zlib``; MicroPython ``deflate.DeflateIO`` (compressing needs
  firmware built with deflate compression; decompressing is more common) (``deflate_compression``).
- none: always.

The zstd and deflate code is imported when that compression is first asked about, never at import: a device
sending uncompressed frames never loads it, and ``import litetel`` loads no C library.

``decompress`` is bounded: it never produces (or allocates for) more than ``max_size`` + a little, whatever
the compressed bytes claim, and raises ``CodecError("... exceeds ...")`` beyond it: a 10 KB decompression
bomb costs nothing.

    >>> from litetel import compression
    >>> comp = compression.best_available()
    >>> blob = compression.compress(comp, b"abc" * 100)
    >>> compression.decompress(comp, blob, max_size=1000) == b"abc" * 100
    True
"""

from litetel import accel
from litetel.errors import CodecError

NONE = 0
ZSTD = 1
DEFLATE = 2
NAMES = {"none": NONE, "zstd": ZSTD, "deflate": DEFLATE}

ZSTD_LEVEL = 3

_backends = {}  # comp id -> module with compress(data), decompress(data, max_size), or None when unavailable


def exceeds(comp_name, max_size):
    """The ``CodecError`` for a payload larger than ``max_size`` once decompressed."""
    return CodecError("%s payload exceeds the limit of %d bytes when decompressed" % (comp_name, max_size))


def _load(comp_id):
    if comp_id == ZSTD:
        if accel.MICROPYTHON:
            return None
        try:
            from litetel import zstd_compression

            return zstd_compression
        except ImportError:  # zstandard is not installed
            return None
    if comp_id == DEFLATE:
        try:
            from litetel import deflate_compression

            return deflate_compression
        except ImportError:  # a MicroPython firmware without the deflate module
            return None
    return None


def _backend(comp_id):
    try:
        return _backends[comp_id]
    except (KeyError, TypeError):
        if comp_id not in (ZSTD, DEFLATE):
            return None
        found = _backends[comp_id] = _load(comp_id)
        return found


def _unavailable(comp_id):
    return CodecError("compression id %r is unknown or unavailable here" % (comp_id,))


def available():
    """The compression ids ``compress`` can produce here, e.g. ``[0, 1, 2]`` on CPython with zstandard."""
    return [comp_id for comp_id in (NONE, ZSTD, DEFLATE) if can_compress(comp_id)]


def can_compress(comp_id):
    """True when ``compress`` produces ``comp_id`` here (loads only that compression's code)."""
    if comp_id == NONE:
        return True
    if comp_id == DEFLATE and not _deflate_writes():
        return False
    return _backend(comp_id) is not None


def _deflate_writes():
    # Probed without loading deflate_compression: a MicroPython device that cannot deflate never loads it.
    try:
        import zlib  # noqa: F401

        return True
    except ImportError:
        try:
            import deflate
        except ImportError:
            return False
        return hasattr(deflate.DeflateIO, "write")


def can_decompress(comp_id):
    """True when ``decompress`` handles ``comp_id`` here (MicroPython may inflate without deflating)."""
    return comp_id == NONE or _backend(comp_id) is not None


def best_available():
    """The compression a device should use: zstd when accelerations are on, else deflate, else none."""
    comps = available()
    if accel.ENABLED and ZSTD in comps:
        return ZSTD
    if DEFLATE in comps:
        return DEFLATE
    return NONE


def compress(comp_id, data):
    """Compress ``data`` (bytes-like) with ``comp_id``; ``CodecError`` when that id is unknown or unavailable.

    >>> compress(NONE, b"abc")
    b'abc'
    """
    if comp_id == NONE:
        return bytes(data)
    if not can_compress(comp_id):
        raise _unavailable(comp_id)
    return _backends[comp_id].compress(data)


def decompress(comp_id, data, max_size):
    """Decompress ``data``; ``CodecError`` when corrupt, unknown/unavailable, or larger than ``max_size`` bytes.

    >>> decompress(NONE, b"abcd", max_size=3)
    Traceback (most recent call last):
    ...
    litetel.errors.CodecError: uncompressed payload exceeds the limit of 3 bytes when decompressed
    """
    if comp_id == NONE:
        if len(data) > max_size:
            raise exceeds("uncompressed", max_size)
        return bytes(data)
    backend = _backend(comp_id)
    if backend is None:
        raise _unavailable(comp_id)
    return backend.decompress(data, max_size)
