"""Series keys packed into bytes (CPython): an instrument's attribute sets without a tuple or dict entry each.

An instrument found its series in ``{canonical key tuple: handle}``: about 125 bytes a series on CPython (the
tuple and the dict entry). ``SeriesKeys``, the CPython base of ``instruments._Instrument``'s series index,
keeps instead, by local series index (0, 1, ...):

- ``_arena``: one append-only ``bytearray`` holding each series' attribute *values* as one ``marshal`` record
  (written and read by one C call, exact for every attribute type; ``_starts`` says where each begins);
- ``_names``: which attribute-name tuple of ``_name_sets`` it has (an instrument has few: each is kept once);
- ``_hashes`` and ``_table``: its key's hash, and an open-addressing hash table of local index + 1 (0 empty,
  linear probing, load at most 1/2, rebuilt from ``_hashes`` as it fills);
- ``_gids`` and ``_handles``: its device-wide series id and its handle.

A lookup hashes the canonical key tuple, probes, and confirms a candidate by loading its record and comparing
with ``==``: so ``1``, ``1.0`` and ``True`` still name the same series, whose type is the first one seen.
MicroPython never loads this module (its code would cost a device heap, and a device has few series per
instrument): ``instruments._SeriesIndex`` keeps the dict there. Callers hold the instrument's lock.

    >>> from litetel.device import Device
    >>> hits = Device("doc-sk").meter("demo").counter("hits")
    >>> ok = hits.bind({"route": "/api", "code": 200})
    >>> hits.bind({"code": 200.0, "route": "/api"}) is ok   # equal values: the same series
    True
    >>> hits._series_since(0)   # [(series id, canonical key)]
    [(0, ('code', 200, 'route', '/api'))]
"""

import marshal
from array import array

from litetel.errors import InstrumentError

_HASH_MASK = 0x7FFFFFFF  # what an array('i') holds


class SeriesKeys:
    """The series of one instrument: their packed keys, hash lookup, series ids and handles."""

    def __init__(self):
        self._gids = array("I")
        self._handles = []
        self._hashes = array("i")
        self._starts = array("I")
        self._arena = bytearray()
        self._names = array("B")  # promoted to 'I' by the 257th name set
        self._name_sets = []
        self._name_ids = {}
        self._table = array("H", bytes(32))

    def _find(self, key):
        """The handle of the series of canonical ``key``, or None."""
        h = hash(key) & _HASH_MASK
        table = self._table
        mask = len(table) - 1
        j = h & mask
        while True:
            i = table[j] - 1
            if i < 0:
                return None
            if (
                self._hashes[i] == h
                and self._name_sets[self._names[i]] == key[::2]
                and self._values(i) == key[1::2]
            ):
                return self._handles[i]
            j = (j + 1) & mask

    def _values(self, i):
        starts = self._starts
        end = starts[i + 1] if i + 1 < len(starts) else len(self._arena)
        return marshal.loads(self._arena[starts[i] : end])

    def _add_key(self, key, handle):
        """Add the series of canonical ``key`` (not there yet) with its ``handle``; its series id is the
        dictionary's next. InstrumentError, adding nothing, for a str value UTF-8 cannot encode (a lone
        surrogate: marshal would take it, the wire could not)."""
        values = key[1::2]
        for v in values:
            if v.__class__ is str and not v.isascii():
                try:
                    v.encode("utf-8")
                except UnicodeError:
                    raise InstrumentError("attribute value %r is not encodable as UTF-8" % v) from None
        names = key[::2]
        dictionary = self._dictionary
        n = self._name_ids.get(names)
        if n is None:
            dictionary._intern_key(key)  # attribute keys travel as sids (wire format §2.1)
            n = self._name_ids[names] = len(self._name_sets)
            self._name_sets.append(names)
            if n > 255 and self._names.typecode == "B":
                self._names = array("I", self._names)
        i = len(self._gids)
        self._gids.append(dictionary.new_series())
        self._handles.append(handle)
        self._names.append(n)
        self._starts.append(len(self._arena))
        self._arena += marshal.dumps(values)
        h = hash(key) & _HASH_MASK
        self._hashes.append(h)
        table = self._table
        if 2 * (i + 1) > len(table):
            # Half full: a table twice the size, filled from the stored hashes (no record is loaded).
            size = 2 * len(table)
            table = self._table = array("H", bytes(2 * size)) if size <= 1 << 16 else array("I", bytes(4 * size))
            for j in range(i):
                _place(table, self._hashes[j], j)
        _place(table, h, i)

    def _series_since(self, first_gid):
        """``[(series_id, canonical key), ...]`` of this instrument's series with id >= ``first_gid``."""
        self._lock.acquire()
        try:
            gids = self._gids
            out = []
            for i in range(len(gids)):
                if gids[i] >= first_gid:
                    key = []
                    for name, v in zip(self._name_sets[self._names[i]], self._values(i)):
                        key.append(name)
                        key.append(v)
                    out.append((gids[i], tuple(key)))
            return out
        finally:
            self._lock.release()


def _place(table, h, i):
    mask = len(table) - 1
    j = h & mask
    while table[j]:
        j = (j + 1) & mask
    table[j] = i + 1
