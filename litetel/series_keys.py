"""An instrument's series index packed into arrays (CPython): ``{canonical key: handle}`` without a key tuple or
a dict entry per series.

As a dict, the index cost about 125 bytes a series on CPython (the key tuple and the entry). ``SeriesKeys`` is
a dict-like stand-in (the methods ``instruments._Instrument`` uses) keeping, by series (0, 1, ... in the
order added):

- ``_arena``: one append-only ``bytearray`` holding each series' attribute *values* as one ``marshal`` record
  (written and read by one C call, exact for every attribute type), ``_starts`` where each record begins;
- ``_names``: which attribute-name tuple of ``_name_sets`` the series has (an instrument has few);
- ``_hashes`` and ``_table``: its key's hash, and an open-addressing hash table of series + 1 (0 empty, linear
  probing, load at most 1/2, rebuilt from ``_hashes`` as it fills);
- ``_handles``: its handle.

A lookup hashes the key, probes, and confirms a candidate by loading its record and comparing with ``==``:
so ``1``, ``1.0`` and ``True`` still name the same series, whose type is the first one seen. ``get`` may run
without the lock, as a dict's: entries are appended before the table points at them, and a table is filled
before it replaces the old one (a miss is confirmed under the lock by the caller). MicroPython keeps a dict:
a device has few series per instrument, and this module's code would cost it heap.

    >>> index = SeriesKeys()
    >>> index[("code", 200, "route", "/api")] = "handle 0"
    >>> index.get(("code", 200.0, "route", "/api"))   # equal values: the same series
    'handle 0'
    >>> list(index.items())
    [(('code', 200, 'route', '/api'), 'handle 0')]
"""

from array import array
from marshal import dumps, loads

_HASH_MASK = 0x7FFFFFFF  # what an array('i') holds


class SeriesKeys:
    """``{canonical key tuple: handle}``, packed; keys are added once, never removed."""

    def __init__(self):
        self._handles = []
        self._hashes = array("i")
        self._starts = array("I")
        self._arena = bytearray()
        self._names = array("B")  # promoted to 'I' by the 257th name set
        self._name_sets = []
        self._name_ids = {}
        self._table = array("H", bytes(32))

    def __len__(self):
        return len(self._handles)

    def __contains__(self, key):
        return self.get(key) is not None

    def get(self, key):
        """The handle of the series of canonical ``key``, or None."""
        h = hash(key) & _HASH_MASK
        table = self._table
        mask = len(table) - 1
        j = h & mask
        i = table[j] - 1
        while i >= 0:
            if self._hashes[i] == h:
                starts = self._starts  # self._values(i), inlined: a call is a fifth of a lookup's cost
                end = starts[i + 1] if i + 1 < len(starts) else len(self._arena)
                values = loads(self._arena[starts[i] : end])
                if values == key[1::2] and self._name_sets[self._names[i]] == key[::2]:
                    return self._handles[i]
            j = (j + 1) & mask
            i = table[j] - 1
        return None

    def __setitem__(self, key, handle):
        """Add the series of canonical ``key`` (not there yet; the caller holds the instrument's lock, and has
        checked the key's text: ``dictionary.check_key_text``, as marshal would take a lone surrogate)."""
        values = key[1::2]
        names = key[::2]
        n = self._name_ids.get(names)
        if n is None:
            n = self._name_ids[names] = len(self._name_sets)
            self._name_sets.append(names)
            if n > 255 and self._names.typecode == "B":
                self._names = array("I", self._names)
        i = len(self._handles)
        h = hash(key) & _HASH_MASK
        self._handles.append(handle)
        self._names.append(n)
        self._starts.append(len(self._arena))
        self._arena += dumps(values)
        self._hashes.append(h)
        table = self._table
        if 2 * (i + 1) > len(table):
            # Half full: a table twice the size, filled from the stored hashes (no record is loaded).
            size = 2 * len(table)
            table = array("H", bytes(2 * size)) if size <= 1 << 16 else array("I", bytes(4 * size))
            for j in range(i):
                _place(table, self._hashes[j], j)
        _place(table, h, i)
        self._table = table

    def values(self):
        """The handles, in the order their series were added."""
        return self._handles

    def items(self):
        """``(canonical key, handle)`` of every series, in the order added."""
        for i, handle in enumerate(self._handles):
            key = []
            for name, v in zip(self._name_sets[self._names[i]], self._values(i)):
                key.append(name)
                key.append(v)
            yield tuple(key), handle

    def _values(self, i):
        starts = self._starts
        end = starts[i + 1] if i + 1 < len(starts) else len(self._arena)
        return loads(self._arena[starts[i] : end])


def _place(table, h, i):
    mask = len(table) - 1
    j = h & mask
    while table[j]:
        j = (j + 1) & mask
    table[j] = i + 1


# Unbound calls' dicts by content (``_Instrument._cache_miss``, after its identity cache): a call site that
# builds its dict on every call finds its handle by the dict's items, in their order (a tuple's hash), not by
# the canonical key's sort and checks and this index's lookup (~0.5 against ~2.5 µs). Per instrument, at most
# CONTENT_CACHE_SIZE entries (cleared when full). Equal values of other types (1, 1.0, True) are one series
# either way; like the identity cache, a value equal to a known one but of a type bind() refuses (Decimal(1))
# is taken as that one (docs/api.md), where a call with it alone is refused: its type check cost 20% here.
CONTENT_CACHE_SIZE = 256


def by_content(inst, attrs):
    """The handle an unbound call of ``inst`` with a dict of the same content reached, or None."""
    cache = inst._by_content
    if cache is None:
        return None
    try:
        handle = cache.get(tuple(attrs.items()))
    except (AttributeError, TypeError):  # not a dict, or an unhashable value: bind() refuses them
        return None
    return handle


def remember_content(inst, attrs, handle):
    """Keep ``handle`` as the series of dicts with the content of ``attrs`` (a dict ``bind()`` accepted)."""
    if attrs.__class__ is not dict:
        return
    cache = inst._by_content
    if cache is None:
        cache = inst._by_content = {}
    elif len(cache) >= CONTENT_CACHE_SIZE:
        cache.clear()
    try:
        cache[tuple(attrs.items())] = handle
    except TypeError:  # a value bind() took that does not hash (a subclass): the full path each time
        pass
