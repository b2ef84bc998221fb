"""Lock-free recording on CPython with the GIL: counter and histogram series handles that take no lock.

Used when ``accel.ATOMIC_COUNT`` holds (CPython with the GIL, not ``LITETEL_PURE=1``): ``instruments.py``
then takes its ``Counter`` and ``UpDownCounter`` from here, and ``histogram.py`` builds its ``Histogram`` on
``PendingHistogram``. MicroPython never loads this module, so its code costs a device no heap. Both rest on
one fact: a single C call (``next()`` of an ``itertools.count``, ``array.append``) runs whole under the GIL,
so no other thread's bytecode can interleave with it.

- A counter series handle is an ``itertools.count``: ``add(1)`` is one ``next()``; collect reads the steps
  with ``next()`` too and subtracts its own reads. Other amounts take the instrument's lock.
- A histogram series handle is also the series' *pending buffer*, an ``array('d')``: ``record(v)`` appends
  ``v``. The values are folded into the instrument's columns under its lock a batch at a time: by the
  recording thread once ``BATCH`` are pending, and by ``collect()``, which takes whatever is pending. A record
  made while a sampled span is current takes the locked path, which keeps its exemplar.

    >>> from litetel.device import Device
    >>> meter = Device("doc-lf").meter("demo")
    >>> hits = meter.counter("cache.hits").bind({"cache": "l1"})
    >>> hits.add(1)         # one next() of the handle
    >>> latency = meter.histogram("db.duration", unit="s", boundaries=(0.01, 0.1, 1)).bind()
    >>> latency.record(0.02)
    >>> len(latency)        # pending: folded into the columns by the next collect (or a full batch)
    1
"""

import sys
from _bisect import bisect_left, bisect_right
from array import array
from itertools import count as _count

from litetel.instruments import _INT64_MAX, _LMAX, _LMIN, _ONE, _Sum
from litetel.instruments import Counter as LockedCounter
from litetel.instruments import UpDownCounter as LockedUpDownCounter

# ------------------------------------------------------------------------------------------ handles


class _Block:
    """256 consecutive series of one instrument. A handle holds its block and its offset in it, a small int,
    which CPython shares: an index past 256 would be a 32-byte int object per handle."""

    __slots__ = ("inst", "base")

    def __init__(self, inst, base):
        self.inst = inst
        self.base = base


class _InBlock:
    """What a handle holding ``_block`` and ``_j`` (its offset there) reads as ``_inst`` and ``_i``."""

    __slots__ = ()

    @property
    def _inst(self):
        return self._block.inst

    @property
    def _i(self):
        return self._block.base + self._j

    def _place(self, inst, i):
        # Series are made in order under the lock: the previous one's handle is in the index by then.
        self._block = inst._index.values()[i - 1]._block if i & 255 else _Block(inst, i)
        self._j = i & 255


# ------------------------------------------------------------------------------------------- counters


class CountingSumHandle(_count, _InBlock):
    """A series of a ``Counter`` or ``UpDownCounter`` on CPython with the GIL: ``add(n=1)``.

    The handle is an ``itertools.count``: ``add(1)``, the common case, advances it with ``next()``, one C
    call, which the GIL runs whole, so threads lose no step without taking a lock (``accel.ATOMIC_COUNT``
    says when that holds). ``collect()`` reads the steps with ``next()`` too and subtracts its own reads;
    other increments take the instrument's lock and its columns.
    """

    __slots__ = ("_block", "_j")

    def __new__(cls, inst, i):
        self = _count.__new__(cls)
        self._place(inst, i)
        return self

    def add(self, n=1):
        """Add ``n`` (int or float; counters refuse negatives). ``ok.add(1)``"""
        if n is _ONE:
            next(self)
        else:
            b = self._block
            b.inst._add(b.base + self._j, n)

    def __repr__(self):
        return "<%s of %s #%d>" % (self.__class__.__name__, self._inst.name, self._i)


class _CountingSum(_Sum):
    """A sum whose handles count ``add(1)`` steps, read by collect with ``next()`` too.

    A series' int column holds its locked int adds minus (collect's previous read + 1): the read returns that
    plus the steps, so the interval's int sum is the column plus the read, with no column of reads. A new
    series' column is 0, as if the previous read returned -1.
    """

    _handle_class = CountingSumHandle

    def _collect(self, out):
        """As ``_Instrument._collect``, adding each handle's ``next()`` steps since the previous call."""
        self._lock.acquire()
        try:
            dirty = self._dirty
            gids = self._gids
            ints = self._ints
            floats = self._floats
            only_ints = floats is None and self._spilled is None  # the common case, inlined below
            for i, h in enumerate(self._index.values()):  # in series order (series_keys.py)
                r = next(h)
                v = ints[i] + r  # the interval's int sum: locked adds and steps
                ints[i] = -1 - r
                if v or dirty[i]:  # the locked adds set dirty: a sum of 0 without them means nothing added
                    dirty[i] = 0
                    out.append(gids[i])
                    if only_ints:
                        out.append(v if v <= _INT64_MAX else float(v))  # the wire's int64, as _with_spill
                        continue
                    v = self._with_spill(i, v)
                    if floats is not None:  # once a float was added, the instrument reports floats
                        v += floats[i]
                        floats[i] = 0.0
                    out.append(v)
        finally:
            self._lock.release()


class Counter(_CountingSum, LockedCounter):
    __doc__ = LockedCounter.__doc__


class UpDownCounter(_CountingSum, LockedUpDownCounter):
    __doc__ = LockedUpDownCounter.__doc__


# ----------------------------------------------------------------------------------------- histograms

# The litetel.histogram module, whose current_span litetel.tracing sets; bound by the first PendingHistogram
# (this module may load while litetel.histogram is still loading, or before it).
_histogram = None

# Values pending per series and type before the recording thread folds them: large enough that a fold's
# fixed cost is spread thin, small enough to bound memory. A series holds at most BATCH - 1 values plus one
# per thread that appends to it at the same instant (each appends, then the one holding the lock folds).
BATCH = 32


class BufferedHistogramHandle(array, _InBlock):
    """A series of a ``Histogram`` on CPython with the GIL: ``record(v)``.

    The handle is an ``array('d')`` holding the series' pending floats; its pending ints go to a second
    ``array('l')``, made by the series' first int.
    """

    __slots__ = ("_block", "_j", "_ints")

    def __new__(cls, inst, i):
        self = array.__new__(cls, "d")
        self._place(inst, i)
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


class PendingHistogram:
    """What ``histogram.Histogram`` adds on CPython with the GIL (a mixin over it): buffered series handles,
    folded under the lock by the recording thread or by collect."""

    _handle_class = BufferedHistogramHandle

    def __init__(self, *args, **kwargs):
        global _histogram
        _histogram = sys.modules["litetel.histogram"]  # loaded by now
        super().__init__(*args, **kwargs)

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
        point = _take_point(pending, cols[0])
        buckets = self._buckets
        b = i * self._nbuckets + point[4]
        for c in point[5:]:
            buckets[b] += c
            b += 1
        stats = cols[1]  # sum, min, max of each series in a row
        j = 3 * i
        stats[j + 1] = min(stats[j + 1], point[2])
        stats[j + 2] = max(stats[j + 2], point[3])
        s = stats[j] + point[1]
        if s.__class__ is float or _LMIN <= s <= _LMAX:
            stats[j] = s
        else:
            stats[j] = 0
            self._spill(i, s)

    def _collect(self, out):
        """As ``histogram.Histogram._collect``, with every series' pending values."""
        self._lock.acquire()
        try:
            gids = self._gids
            icols = self._icols
            fcols = self._fcols
            ints, floats = icols[1], fcols[1]
            for i, h in enumerate(self._index.values()):  # in series order (series_keys.py)
                j = 3 * i
                if h._ints:
                    self._fold(h._ints, i, icols)
                if h and floats[j + 1] > floats[j + 2] and ints[j + 1] > ints[j + 2]:
                    # Only pending floats (the common case): the point is made from them, the columns untouched.
                    out.append(gids[i])
                    out.append(_take_point(h, fcols[0]))
                    continue
                self._fold(h, i, fcols)
                if ints[j + 1] <= ints[j + 2] or floats[j + 1] <= floats[j + 2]:
                    out.append(gids[i])
                    out.append(self._take(i))
        finally:
            self._lock.release()


def _take_point(pending, bounds):
    """The point (wire format §2.2) of the values taken from ``pending``, which keeps any appended meanwhile."""
    # Under the lock, so two takers never get the same values. tolist() and the del are one C call each: a
    # record appending between them lands after the values taken, and stays pending for the next take.
    values = pending.tolist()
    n = len(values)
    del pending[:n]
    values.sort()
    # Bucket by bucket rather than value by value: from the first value's bucket, bisect the sorted values at
    # each bucket's upper boundary. Min and max are the ends.
    nbounds = len(bounds)
    b = bisect_left(bounds, values[0])
    point = [n, _histogram.bounded_sum(sum(values)), values[0], values[-1], b]
    j = 0
    while j < n:
        k = n if b == nbounds else bisect_right(values, bounds[b], j)
        point.append(k - j)
        j = k
        b += 1
    return point
