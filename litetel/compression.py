"""Payload compression by wire id (wire-format §1 ``compression``): none (0), zstd (1), deflate (2).

- zstd: CPython with ``zstandard``, level 3, one frame per payload (``zstd_compression``).
- deflate: zlib container (RFC 1950): CPython ``zlib``; MicroPython ``deflate.DeflateIO`` (compressing needs
  firmware built with deflate compression; decompressing is more common) (``deflate_compression``).
- none: always.

The zstd and deflate code is imported when that compression is first asked about, never at import: a device
sending uncompressed frames never loads it, and ``import litetel`` loads no C library.

Decompressing, bounded against bombs, is the reading side's: ``decoding.decompress`` (a device never loads it).

    >>> from litetel import compression
    >>> comp = compression.best_available()
    >>> len(compression.compress(comp, b"abc" * 100)) < 300
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


def backend(comp_id):
    """The module compressing (and decompressing) ``comp_id`` here, or None (loaded on first use)."""
    try:
        return _backends[comp_id]
    except (KeyError, TypeError):
        if comp_id not in (ZSTD, DEFLATE):
            return None
        found = _backends[comp_id] = _load(comp_id)
        return found


def unavailable(comp_id):
    """The ``CodecError`` for a compression id unknown or unavailable here."""
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
    return backend(comp_id) is not None


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
        raise unavailable(comp_id)
    return _backends[comp_id].compress(data)
