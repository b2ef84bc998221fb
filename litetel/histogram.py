"""``Histogram``: bucket counts, count, sum, min and max of each series per interval, and its series handle.

Built on ``instruments._Instrument`` (series bookkeeping, cardinality cap, collect): only the columns and the
recording differ. Ints and floats have their own columns, so a bound integer ``record`` allocates nothing on
MicroPython. This is the locked form, used on MicroPython, free-threaded CPython and with ``LITETEL_PURE=1``;
on CPython with the GIL ``Histogram`` adds ``lockfree.PendingHistogram``: handles that record without a lock.

    >>> from litetel.device import Device
    >>> latency = Device("doc-h").meter("demo").histogram("db.duration", unit="s", boundaries=(0.01, 0.1, 1))
    >>> latency.record(0.02, {"db.system": "sqlite"})
    >>> latency.bind({"db.system": "sqlite"}).record(0.5)
"""

from array import array

from litetel.accel import ATOMIC_COUNT, MICROPYTHON
from litetel.clock import ticks_us
from litetel.errors import InstrumentError
from litetel.instruments import _LMAX, _LMIN, HISTOGRAM, _Handle, _Instrument, as_float, as_number, finite

try:
    from _bisect import bisect_left as _bisect  # the C module itself: bisect.py would add ~0.15 ms of import
except ImportError:  # MicroPython

    def _bisect(seq, v):
        # First index whose boundary is >= v; a while loop over ints allocates nothing on MicroPython.
        lo = 0
        hi = len(seq)
        while lo < hi:
            mid = (lo + hi) >> 1
            if seq[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        return lo


_ZEROS = {}  # bucket count -> array of that many zeros: collect resets a series' buckets with one slice


def _zeros(n):
    zeros = _ZEROS.get(n)
    if zeros is None:
        zeros = _ZEROS[n] = array("l", [0] * n)
    return zeros


if MICROPYTHON:

    def _nonzero_range(counts):
        # (first, last + 1) of the non-empty buckets, of which a recorded series has one at least. While loops
        # over ints allocate nothing.
        first = 0
        while not counts[first]:
            first += 1
        end = len(counts)
        while not counts[end - 1]:
            end -= 1
        return first, end

else:

    def _nonzero_range(counts):
        # The same by C-level scans (filter, index): no bytecode per empty bucket.
        first = counts.index(next(filter(None, counts)))
        return first, len(counts) - counts[::-1].index(next(filter(None, reversed(counts))))


DEFAULT_BOUNDARIES = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)


def _floor(b):
    n = int(b)
    return n - 1 if n > b else n


_INT_BOUNDARIES = {}  # boundaries -> their floors: histograms with the same boundaries share one tuple


def _int_boundaries(boundaries):
    # The int boundaries are the floors of the real ones: for an int v, v <= b exactly when v <= floor(b).
    ibounds = _INT_BOUNDARIES.get(boundaries)
    if ibounds is None:
        ibounds = tuple([_floor(b) for b in boundaries])
        if ibounds == boundaries and all(b.__class__ is int for b in boundaries):
            ibounds = boundaries  # integral boundaries (OTel's defaults): one tuple serves both
        ibounds = _INT_BOUNDARIES.setdefault(boundaries, ibounds)
    return ibounds


_INF = float("inf")
_FLOAT_MAX = 1.7976931348623157e308


def bounded_sum(s):
    """A histogram point's sum as the wire takes it (finite): finite values whose float sum overflowed give
    the largest float of its sign (NaN: +inf and -inf met) instead of a point that fails the whole frame."""
    if finite(s):
        return s
    return _FLOAT_MAX if s > 0 else -_FLOAT_MAX if s < 0 else 0.0


# (typecode, sum, min, max) of a series' int and float columns before their first measurement.
_INT_EMPTY = ("l", 0, _LMAX, _LMIN)
_FLOAT_EMPTY = ("d", 0.0, _INF, -_INF)

# The current-span getter, set by litetel.tracing when it loads: None on a device without a tracer, so a
# record pays one global read for exemplars; with one, a call that allocates nothing while no span is current.
current_span = None


class HistogramHandle(_Handle):
    """A series of a ``Histogram``: ``record(v)``."""

    __slots__ = ("_base", "_buckets", "_icols", "_fcols")

    def __init__(self, inst, i):
        _Handle.__init__(self, inst, i)
        self._base = i * inst._nbuckets
        self._buckets = inst._buckets
        self._icols = inst._icols
        self._fcols = inst._fcols

    def record(self, v):
        """Record one measurement (int or float, finite). ``latency.bind(attrs).record(0.012)``"""
        # Ints and floats have their own columns (boundaries, stats): an int never meets a float,
        # which would allocate on MicroPython; a float sum needs no range check. Min and max start at the
        # sentinels (+max, -max): a series was recorded when its min <= max, so no flag is kept.
        t = v.__class__
        if t is float and v - v == 0.0:
            cols = self._fcols
        elif t is int and _LMIN <= v <= _LMAX:
            cols = self._icols
        else:
            return self._inst._record_other(self._i, v)
        i = self._i
        b = self._base + _bisect(cols[0], v)
        lock = self._lock
        lock.acquire()
        try:
            self._buckets[b] += 1
            stats = cols[1]
            j = 3 * i
            s = stats[j] + v
            if t is float or _LMIN <= s <= _LMAX:
                stats[j] = s
            else:
                stats[j] = 0
                self._inst._spill(i, s)
            if v < stats[j + 1]:
                stats[j + 1] = v
            if v > stats[j + 2]:
                stats[j + 2] = v
            if current_span is not None:
                span = current_span()
                if span is not None and span.sampled:
                    self._inst._keep_exemplar(b, v, span)
        finally:
            lock.release()


class Histogram(_Instrument):
    """Bucket counts, count, sum, min and max per interval: ``latency.record(0.012, attrs)``.

    Bucket ``i`` counts ``boundaries[i-1] < v <= boundaries[i]``; there are ``len(boundaries) + 1``.
    """

    kind = HISTOGRAM
    _handle_class = HistogramHandle

    def __init__(self, dictionary, scope_id, name, unit, description, max_series, boundaries=DEFAULT_BOUNDARIES):
        self._nbuckets = len(boundaries) + 1
        self._buckets = array("l")
        # (boundaries, stats) per measurement type, stats holding the sum, min and max of each series in a
        # row (one array, not three: on MicroPython each array costs a header and a rounded-up block).
        # The boundaries are self._fcols[0]; a float compared with an int boundary: exact.
        self._icols = (_int_boundaries(boundaries), array("l"))
        self._fcols = (boundaries, array("d"))
        _Instrument.__init__(self, dictionary, scope_id, name, unit, description, max_series)

    _exemplars = None  # {flat bucket index: (value, ticks_us, trace_id, span_id)}, made by the first exemplar

    @property
    def boundaries(self):
        return self._fcols[0]

    def _keep_exemplar(self, b, v, span):
        # The most recent measurement made inside a sampled span, per bucket (wire format §2.6).
        ex = self._exemplars
        if ex is None:
            ex = self._exemplars = {}
        ex[b] = (v, ticks_us(), span.trace_id, span.span_id)

    def _take_exemplars(self, out, end_ticks, series_in_frame):
        """Append ``series_id, [[value, ago_us, trace_id, span_id], ...]`` of the kept exemplars whose series
        has a point in this frame (``series_in_frame``), and forget them all."""
        self._lock.acquire()
        ex, self._exemplars = self._exemplars, None
        self._lock.release()
        if not ex:
            return
        by_series = {}
        nb = self._nbuckets
        for b, (v, t, trace_id, span_id) in ex.items():
            gid = self._gids[b // nb]
            if gid in series_in_frame:
                ago = end_ticks - t  # >= 0 (§2.6): one recorded while collect() ran is at the frame's end
                by_series.setdefault(gid, []).append([v, ago if ago > 0 else 0, trace_id, span_id])
        for gid, entries in by_series.items():
            out.append(gid)
            out.append(entries)

    def record(self, v, attrs=None):
        """Record ``v`` into the series of ``attrs``."""
        e = self._cache.get(id(attrs))
        if e is None or e[0] != attrs:
            e = self._cache_miss(attrs, v)
        e[1].record(v)

    def _grow(self, n):
        _Instrument._grow(self, n)
        self._buckets.extend(array("l", [0] * (n * self._nbuckets)))
        for cols, (typecode, zero, top, bottom) in ((self._icols, _INT_EMPTY), (self._fcols, _FLOAT_EMPTY)):
            cols[1].extend(array(typecode, [zero, top, bottom] * n))  # min above any value, max below any

    def _number(self, v):
        # v as the int or float this histogram records, or InstrumentError.
        v = as_number(v, self.name)
        if not finite(v):
            raise InstrumentError("%s: %r is not a finite number" % (self.name, v))
        if v.__class__ is int and not _LMIN <= v <= _LMAX:
            v = as_float(v, self.name)  # beyond this port's int column
        return v

    def _record_other(self, i, v):
        HistogramHandle(self, i).record(self._number(v))

    def _collect(self, out):
        """As ``_Instrument._collect``; a series was recorded when its int or float min <= max."""
        self._lock.acquire()
        try:
            gids = self._gids
            ints, floats = self._icols[1], self._fcols[1]
            for i in range(len(gids)):
                j = 3 * i
                if ints[j + 1] <= ints[j + 2] or floats[j + 1] <= floats[j + 2]:
                    out.append(gids[i])
                    out.append(self._take(i))
        finally:
            self._lock.release()

    def _take(self, i):
        # Under the lock. Whole-slice array operations, not a loop over the buckets: collect's cost.
        nb = self._nbuckets
        base = i * nb
        counts = list(self._buckets[base : base + nb])
        self._buckets[base : base + nb] = _zeros(nb)
        first, end = _nonzero_range(counts)
        total = 0
        lo = hi = None
        j = 3 * i
        for cols, (_, zero, top, bottom) in ((self._icols, _INT_EMPTY), (self._fcols, _FLOAT_EMPTY)):
            stats = cols[1]
            low, high = stats[j + 1], stats[j + 2]
            if low <= high:
                total += stats[j]
                lo = low if lo is None else min(lo, low)
                hi = high if hi is None else max(hi, high)
                stats[j] = zero
                stats[j + 1] = top
                stats[j + 2] = bottom
        return [sum(counts), bounded_sum(self._with_spill(i, total)), lo, hi, first] + counts[first:end]


if ATOMIC_COUNT:
    # CPython with the GIL: series handles that record without a lock (lockfree.py; MicroPython never loads it).
    from litetel.lockfree import PendingHistogram

    class Histogram(PendingHistogram, Histogram):
        __doc__ = Histogram.__doc__
