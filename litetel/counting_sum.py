"""CPython's ``Counter`` and ``UpDownCounter``: a series handle that is an ``itertools.count``, so ``add(1)``
takes no lock.

Loaded by ``instruments.py`` in place of its locked counters when ``accel.ATOMIC_COUNT`` holds (CPython with
the GIL, not ``LITETEL_PURE=1``); MicroPython never loads it, so its code costs a device no heap.

    >>> from litetel.device import Device
    >>> hits = Device("doc-c").meter("demo").counter("cache.hits")
    >>> l1 = hits.bind({"cache": "l1"})
    >>> l1.add(1)          # one next() of the handle
    >>> l1.add(5)          # any other amount: the locked path
"""

from array import array
from itertools import count as _count

from litetel.instruments import _ONE, _Sum
from litetel.instruments import Counter as LockedCounter
from litetel.instruments import UpDownCounter as LockedUpDownCounter


class CountingSumHandle(_count):
    """A series of a ``Counter`` or ``UpDownCounter`` on CPython with the GIL: ``add(n=1)``.

    The handle is an ``itertools.count``: ``add(1)``, the common case, advances it with ``next()``, one C
    call, which the GIL runs whole, so threads lose no step without taking a lock (``accel.ATOMIC_COUNT``
    says when that holds). ``collect()`` reads the steps with ``next()`` too and subtracts its own reads;
    other increments take the instrument's lock and its columns.
    """

    __slots__ = ("_i", "_inst")

    def __new__(cls, inst, i):
        self = _count.__new__(cls)
        self._inst = inst
        self._i = i
        return self

    def add(self, n=1):
        """Add ``n`` (int or float; counters refuse negatives). ``ok.add(1)``"""
        if n is _ONE:
            next(self)
        else:
            self._inst._add(self._i, n)

    def __repr__(self):
        return "<%s of %s #%d>" % (self.__class__.__name__, self._inst.name, self._i)


class _CountingSum(_Sum):
    """A sum whose handles count ``add(1)`` steps; collect adds them to the locked columns' value."""

    _handle_class = CountingSumHandle

    def __init__(self, *args):
        self._seen = array("q")  # per series: what collect's last next() of its handle returned
        super().__init__(*args)

    def _grow(self, n):
        super()._grow(n)
        self._seen.extend(array("q", [-1] * n))  # -1: the first next() returns the adds made before it

    def _collect(self, out):
        """As ``_Instrument._collect``, adding each handle's ``next()`` steps since the previous call."""
        self._lock.acquire()
        try:
            dirty = self._dirty
            seen = self._seen
            for h in self._index.values():  # every series has its handle here
                i = h._i
                r = next(h)
                steps = r - seen[i] - 1  # the adds since the previous read (which was a step too)
                seen[i] = r
                if steps:
                    self._add_int(i, steps)
                if steps or dirty[i]:
                    out.append(self._gids[i])
                    out.append(self._take(i, dirty[i]))
                    dirty[i] = 0
        finally:
            self._lock.release()


class Counter(_CountingSum, LockedCounter):
    __doc__ = LockedCounter.__doc__


class UpDownCounter(_CountingSum, LockedUpDownCounter):
    __doc__ = LockedUpDownCounter.__doc__
