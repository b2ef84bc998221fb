"""CPython's ``Histogram``: series handles that record without a lock, and a collect done by C-level slices.

Loaded by ``histogram.py`` in place of its locked ``Histogram`` when ``accel.ATOMIC_COUNT`` holds (CPython with
the GIL, not ``LITETEL_PURE=1``); MicroPython never loads it, so its code costs a device no heap.

A series handle is also the series' *pending buffer*, an ``array('d')``: a bound ``record(v)`` appends ``v``,
one C call that the GIL runs whole, so threads lose no value and take no lock. The values are folded into the
instrument's columns under its lock a batch at a time: by the recording thread once ``BATCH`` are pending,
and by ``collect()``, which folds whatever is pending first. A record made while a sampled span is current
takes the locked path, which keeps its exemplar.

    >>> from litetel.device import Device
    >>> latency = Device("doc-p").meter("demo").histogram("db.duration", unit="s", boundaries=(0.01, 0.1, 1))
    >>> ok = latency.bind({"db.system": "sqlite"})
    >>> ok.record(0.02)
    >>> len(ok)            # pending: folded into the columns by the next collect (or a full batch)
    1
"""

import sys
from _bisect import bisect_left, bisect_right
from array import array

from litetel.histogram import Histogram as LockedHistogram
from litetel.instruments import _LMAX, _LMIN

# The histogram module, still loading (it imports this one last): litetel.tracing sets its current_span.
_histogram = sys.modules["litetel.histogram"]

# Values pending per series and type before the recording thread folds them: large enough that a fold's
# fixed cost is spread thin, small enough to bound memory. A series holds at most BATCH - 1 values plus one
# per thread that appends to it at the same instant (each appends, then the one holding the lock folds).
BATCH = 32


class BufferedHistogramHandle(array):
    """A series of a ``Histogram`` on CPython with the GIL: ``record(v)``.

    The handle is an ``array('d')`` holding the series' pending floats; its pending ints go to a second
    ``array('l')``, made by the series' first int.
    """

    __slots__ = ("_i", "_inst", "_ints")

    def __new__(cls, inst, i):
        self = array.__new__(cls, "d")
        self._inst = inst
        self._i = i
        self._ints = None
        return self

    def record(self, v):
        """Record one measurement (int or float, finite). ``latency.bind(attrs).record(0.012)``"""
        t = v.__class__
        if t is float and v - v == 0.0:
            pending = self
        elif t is int and _LMIN <= v <= _LMAX:
            pending = self._ints
            if pending is None:
                return self._inst._first_int(self, v)
        else:
            return self._inst._record_other(self._i, v)  # checks v; the locked path
        if _histogram.current_span is not None:
            span = _histogram.current_span()
            if span is not None and span.sampled:
                return self._inst._record_other(self._i, v)  # the locked path keeps the exemplar
        pending.append(v)
        if len(pending) >= BATCH:
            self._inst._drain(self)

    def __repr__(self):
        return "<%s of %s #%d, %d pending>" % (
            self.__class__.__name__,
            self._inst.name,
            self._i,
            len(self) + len(self._ints or ()),
        )


class Histogram(LockedHistogram):
    """``histogram.Histogram`` with buffered series handles and a collect done by C-level slices."""

    _handle_class = BufferedHistogramHandle

    def _first_int(self, h, v):
        # Series h's first int. Its int array is made under the lock: two racing first ints must not each
        # make one, as an append to the array that lost the race would be lost. v takes the locked path.
        self._lock.acquire()
        if h._ints is None:
            h._ints = array("l")
        self._lock.release()
        self._record_other(h._i, v)

    def _drain(self, h):
        # The recording thread's fold of a full batch.
        self._lock.acquire()
        try:
            self._fold(h, h._i, self._fcols)
            if h._ints:
                self._fold(h._ints, h._i, self._icols)
        finally:
            self._lock.release()

    def _fold(self, pending, i, cols):
        # Under the lock: pending values of series i into one type's columns.
        if not pending:
            return
        point = _point(_take_sorted(pending), cols[0])
        buckets = self._buckets
        b = i * self._nbuckets + point[4]
        for c in point[5:]:
            buckets[b] += c
            b += 1
        sums, mins, maxs = cols[1], cols[2], cols[3]
        mins[i] = min(mins[i], point[2])
        maxs[i] = max(maxs[i], point[3])
        s = sums[i] + point[1]
        if s.__class__ is float or _LMIN <= s <= _LMAX:
            sums[i] = s
        else:
            sums[i] = 0
            self._spill(i, s)

    def _collect(self, out):
        """As ``LockedHistogram._collect``, with every series' pending values."""
        self._lock.acquire()
        try:
            gids = self._gids
            icols = self._icols
            fcols = self._fcols
            imin, imax, fmin, fmax = icols[2], icols[3], fcols[2], fcols[3]
            for h in self._index.values():  # every series has its handle here
                i = h._i
                if h._ints:
                    self._fold(h._ints, i, icols)
                if h and fmin[i] > fmax[i] and imin[i] > imax[i]:
                    # Only pending floats (the common case): the point is made from them, the columns untouched.
                    out.append(gids[i])
                    out.append(_point(_take_sorted(h), fcols[0]))
                    continue
                self._fold(h, i, fcols)
                if imin[i] <= imax[i] or fmin[i] <= fmax[i]:
                    out.append(gids[i])
                    out.append(self._take(i))
        finally:
            self._lock.release()


def _take_sorted(pending):
    # Under the lock, so two takers never get the same values. tolist() and the del are one C call each: a
    # record appending between them lands after the values taken, and stays pending for the next take.
    values = pending.tolist()
    del pending[: len(values)]
    values.sort()
    return values


def _point(values, bounds):
    # The point of sorted values (wire format §2.2), bucket by bucket rather than value by value: from the
    # first value's bucket, bisect the values at each bucket's upper boundary. Min and max are the ends.
    n = len(values)
    nbounds = len(bounds)
    b = bisect_left(bounds, values[0])
    point = [n, sum(values), values[0], values[-1], b]
    j = 0
    while j < n:
        k = n if b == nbounds else bisect_right(values, bounds[b], j)
        point.append(k - j)
        j = k
        b += 1
    return point
