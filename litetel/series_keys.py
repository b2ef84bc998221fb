"""Series keys packed into bytes: an instrument's attribute sets without a tuple or dict entry per series.

An instrument used to keep ``{canonical key tuple: handle}``: about 125 bytes a series on CPython (the tuple
and the dict entry), more on MicroPython. ``SeriesKeys`` (a base of ``instruments._Instrument``) keeps instead

- ``_arena``: one append-only ``bytearray`` holding every series' key packed, attribute after attribute, as
  ``varint(key_sid * 4 + type)`` then the value: a str as ``varint(len)`` and its UTF-8, an int as a zigzag
  varint, a float as its 8 bytes, a bool as one byte (type as in wire format §2.1: 0 str, 1 int, 2 float,
  3 bool; attribute keys are interned in the device's string table, values are not);
- ``_meta``: an ``array('i')`` of three ints per series: its device-wide series id, its key's hash, and where
  its key starts in the arena;
- ``_table``: an open-addressing hash table (``array('i')`` of local series index + 1, 0 empty, linear probing,
  load at most 1/2), made once an instrument has more than ``_SCAN`` series: below that a scan of ``_meta``
  is as fast, and costs no table. MicroPython always scans: a device has few series per instrument, and
  every line of code costs it heap.

A lookup hashes the canonical key tuple (transient, as before) and confirms a candidate of the same hash by
unpacking its stored key and comparing with ``==``: so ``1``, ``1.0`` and ``True`` still name the same
series, whose type is the first one seen. Callers hold the instrument's lock.

    >>> keys = SeriesKeys()
    >>> strings = []
    >>> def sid(s):
    ...     strings.append(s)
    ...     return len(strings) - 1
    >>> key = ("http.route", "/api", "status", 200)
    >>> i = keys._add_key(key, key_hash(key), sid, 7)   # 7: its device-wide series id
    >>> keys._find(("http.route", "/api", "status", 200.0), key_hash(key), strings) == i
    True
    >>> keys._wire_attrs(i)   # the wire's flat [key_sid * 4 + type, value, ...], string values inline
    [0, '/api', 5, 200]
"""

from array import array

from litetel.accel import MICROPYTHON
from litetel.errors import InstrumentError

_HASH_MASK = 0x3FFFFFFF  # a small int on every port, held by an array('i')
_SCAN = 1 << 30 if MICROPYTHON else 8  # up to this many series a lookup scans the hashes; past it: a table
_STRING = 0
_INT = 1
_FLOAT = 2
_BOOL = 3


def key_hash(key):
    """The hash a canonical key is stored under: ``hash(key)`` masked to what an ``array('i')`` holds."""
    return hash(key) & _HASH_MASK


def _put_varint(out, n):
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


class SeriesKeys:
    """The packed keys of one instrument's series, by local series index (0, 1, ...), and their lookup."""

    _table = None  # made past _SCAN series
    _arena = b""  # made by the first key with attributes: many instruments have only the series without

    def __init__(self):
        self._meta = array("i")  # series id, key hash, arena offset of each series

    def _find(self, key, h, strings):
        """The local index of the series of canonical ``key`` (hash ``h``), or -1."""
        meta = self._meta
        table = self._table
        if table is None:
            for i in range(len(meta) // 3):
                if meta[3 * i + 1] == h and self._wire_attrs(i, strings) == key:
                    return i
            return -1
        mask = len(table) - 1
        j = h & mask
        while True:
            slot = table[j]
            if not slot:
                return -1
            i = slot - 1
            if meta[3 * i + 1] == h and self._wire_attrs(i, strings) == key:
                return i
            j = (j + 1) & mask

    def _add_key(self, key, h, sid, gid):
        """Append series ``gid`` of canonical ``key`` (hash ``h``; ``sid`` interns an attribute key): its
        local index.

        Raises InstrumentError, adding nothing, for a str value that UTF-8 cannot encode (a lone surrogate).
        """
        packed = bytearray()
        for j in range(0, len(key), 2):
            v = key[j + 1]
            t = v.__class__
            if t is str:
                try:
                    b = v.encode("utf-8")
                except UnicodeError:
                    raise InstrumentError("attribute %r: value is not encodable as UTF-8" % key[j])
                _put_varint(packed, sid(key[j]) * 4 + _STRING)
                _put_varint(packed, len(b))
                packed.extend(b)
            elif t is bool:
                _put_varint(packed, sid(key[j]) * 4 + _BOOL)
                packed.append(1 if v else 0)
            elif t is int:
                _put_varint(packed, sid(key[j]) * 4 + _INT)
                _put_varint(packed, v << 1 if v >= 0 else ((-v) << 1) - 1)  # zigzag: small magnitudes, few bytes
            else:
                _put_varint(packed, sid(key[j]) * 4 + _FLOAT)
                packed.extend(bytes(array("d", (v,))))
        arena = self._arena
        if packed and arena.__class__ is bytes:
            arena = self._arena = bytearray()
        meta = self._meta
        i = len(meta) // 3
        meta.append(gid)
        meta.append(h)
        meta.append(len(arena))
        if packed:
            arena.extend(packed)
        table = self._table
        if table is not None and 2 * (i + 1) <= len(table):
            self._place(table, h, i)
        elif i + 1 > _SCAN:
            self._rehash(i + 1)
        return i

    if not MICROPYTHON:

        def _place(self, table, h, i):
            mask = len(table) - 1
            j = h & mask
            while table[j]:
                j = (j + 1) & mask
            table[j] = i + 1

        def _rehash(self, n):
            # A new table of at least twice n slots, filled from the stored hashes (no key is unpacked).
            size = 16
            while size < 2 * n:
                size <<= 1
            table = array("i", bytes(4 * size))
            meta = self._meta
            for i in range(n):
                self._place(table, meta[3 * i + 1], i)
            self._table = table

    # ----------------------------------------------------------------------------------- reading

    def _wire_attrs(self, i, strings=None):
        """Series ``i``'s attributes as the wire's flat list ``[key_sid * 4 + type, value, ...]``; or, given
        the device's string table ``strings``, its canonical key tuple ``(k1, v1, ...)``."""
        arena = self._arena
        meta = self._meta
        p = meta[3 * i + 2]
        end = meta[3 * i + 5] if 3 * i + 5 < len(meta) else len(arena)
        out = []
        while p < end:
            tk, p = _get_varint(arena, p)
            t = tk & 3
            if t == _STRING:
                n, p = _get_varint(arena, p)
                v = str(arena[p : p + n], "utf-8")
                p += n
            elif t == _INT:
                v, p = _get_varint(arena, p)
                v = -((v + 1) >> 1) if v & 1 else v >> 1
            elif t == _FLOAT:
                v = array("d", arena[p : p + 8])[0]
                p += 8
            else:
                v = arena[p] == 1
                p += 1
            out.append(tk if strings is None else strings[tk >> 2])
            out.append(v)
        return out if strings is None else tuple(out)

def _get_varint(buf, p):
    b = buf[p]
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        p += 1
        b = buf[p]
        n |= (b & 0x7F) << shift
        shift += 7
    return n, p + 1
