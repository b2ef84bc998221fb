"""Instruments and their series handles: ``Counter``, ``UpDownCounter``, ``Gauge`` (``Histogram`` is in
``histogram.py``, on the same ``_Instrument`` base).

An instrument keeps one *series* per distinct attribute set, up to ``max_series``; past that, measurements go
to one overflow series whose only attribute is ``otel.metric.overflow=True`` (OTel "Cardinality limits").
Values live in ``array`` columns (one slot per series) grown a few series at a time, and are aggregated as
deltas: ``collect()`` reads and resets every series recorded in the interval.

``bind(attrs)`` returns the series handle (one per series, made with it), the hot path: on MicroPython an
integer ``add``/``set``/``record`` through it allocates nothing (safe in an interrupt handler). On CPython
threads lose no update: a counter's ``add(1)`` is one atomic ``itertools.count`` step (``accel.ATOMIC_COUNT``),
everything else takes the instrument's lock.

    >>> from litetel.device import Device
    >>> meter = Device("doc-1").meter("demo")
    >>> hits = meter.counter("cache.hits", unit="{hit}")
    >>> hits.add(2, {"cache": "l1"})
    >>> l1 = hits.bind({"cache": "l1"})
    >>> l1.add(1)
"""

from array import array

from litetel.accel import ATOMIC_COUNT, MICROPYTHON, collect_garbage, new_lock
from litetel.dictionary import OVERFLOW_KEY, canonical_key, check_key_text
from litetel.errors import InstrumentError

if not MICROPYTHON:
    from litetel.series_keys import SeriesKeys, by_content, remember_content

COUNTER = 0
UPDOWN_COUNTER = 1
GAUGE = 2
HISTOGRAM = 3

# The range of an array('l') element on this port: 64-bit here, 32-bit on most microcontrollers. An integer
# sum leaving it spills into an exact Python int (MicroPython's struct/array would silently truncate it).
# (Measured from an array, not struct.calcsize: importing struct would cost CPython ~0.4 ms at startup.)
_LMAX = (1 << (8 * len(bytes(array("l", (0,)))) - 1)) - 1
_LMIN = -_LMAX - 1
_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
# Series slots added per growth step: a 64 KB heap cannot afford max_series up front, nor spare slots.
_GROW = 1 if MICROPYTHON else 4
_CACHE_SIZE = 2 if MICROPYTHON else 8  # attrs-dict → handle fast path entries per instrument
_NO_CACHE = {}  # the lookup cache of an instrument never called unbound (never written: see _cache_miss)
_ONE = 1  # `n is _ONE`: CPython keeps one object for every int 1, and a bool or float 1 is never it


# ------------------------------------------------------------------------------------------ validation


def as_number(v, name):
    """``v`` as a plain finite-or-not int/float, or InstrumentError. ``True``/``False`` are refused: a bool
    passed as a measurement is almost always a bug (pass 1/0 explicitly)."""
    t = v.__class__
    if t is int or t is float:
        return v
    if isinstance(v, bool):
        raise InstrumentError("%s: bool is not a measurement (pass 1 or 0)" % name)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    raise InstrumentError("%s: measurement must be int or float, not %s" % (name, t.__name__))


def finite(v):
    return v - v == 0  # false for NaN and +-inf


def as_float(v, name):
    """``float(v)`` of an int, or InstrumentError when no float holds it (``float(10**400)`` overflows; on
    MicroPython it is ``inf``, with no OverflowError)."""
    try:
        f = float(v)
    except OverflowError:
        f = None
    if f is None or not finite(f):
        raise InstrumentError("%s: %d is beyond any float" % (name, v))
    return f


# ------------------------------------------------------------------------------------------ instruments


class _Instrument:
    """Series bookkeeping shared by every kind: attrs → series index, cardinality cap, growth, collect."""

    kind = -1
    # Few instance attributes: on MicroPython an instance's attribute table costs 16 bytes a slot, and grows
    # 10 -> 12 -> 17 slots. What is usually the same lives here, on the class: an empty unit and description,
    # the no-op lock (MicroPython), no lookup cache (made by the first unbound call), no spilled sums.
    unit = ""
    description = ""
    _cache = _NO_CACHE
    _by_content = None  # CPython: {tuple(attrs.items()): handle} of unbound calls (series_keys.by_content)
    _spilled = None  # {series index: int} for sums beyond the int column, made when first needed
    if MICROPYTHON:
        _lock = new_lock()

    def __init__(self, dictionary, scope_id, name, unit, description, max_series):
        self.name = name
        if unit:
            self.unit = unit
        if description:
            self.description = description
        self.max_series = max_series
        self.scope_id = scope_id
        self._dictionary = dictionary
        if not MICROPYTHON:
            self._lock = new_lock()
        # canonical key -> the series' handle: on CPython packed (series_keys.py: a key tuple and a dict entry
        # would cost 125 bytes a series); a device has few series an instrument, and every line of code costs it.
        self._index = {} if MICROPYTHON else SeriesKeys()
        self._gids = array("I")  # local series index -> device-wide series id
        self._dirty = bytearray()  # per series slot: recorded in this interval; its length is the capacity
        self.id = dictionary.add_instrument(self)

    def __repr__(self):
        return "<%s %s: %d series>" % (self.__class__.__name__, self.name, len(self._gids))

    @property
    def series_count(self):
        """Series created so far, the overflow series included (at most ``max_series + 1``)."""
        return len(self._gids)

    @property
    def boundaries(self):
        return None

    def bind(self, attrs=None):
        """The handle of the series for ``attrs`` (created on first use; the overflow series past the cap).
        The same handle each time: it is made with the series."""
        key = canonical_key(attrs)
        handle = self._index.get(key)
        return self._new_series(key) if handle is None else handle

    # Unbound calls look up ``self._cache`` first: a dict seen recently (by identity, checked by equality:
    # it may have been mutated, or its id reused) skips building the canonical key. Inlined in
    # add/set/record, as a call costs as much as the lookup.

    def _cache_miss(self, attrs, v):
        if not MICROPYTHON:  # a dict built on every call: found by its content (series_keys.by_content)
            handle = by_content(self, attrs)
            if handle is not None:
                return (None, handle)  # not kept by identity: such dicts would evict the ones passed again
        self._number(v)  # a refused value makes no series: checked before bind() would make one
        handle = self.bind(attrs)  # validates attrs first
        if not MICROPYTHON:
            remember_content(self, attrs, handle)
        e = (None if attrs is None else dict(attrs), handle)
        cache = self._cache
        if cache is _NO_CACHE:
            cache = self._cache = {}
        elif len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[id(attrs)] = e
        return e

    def _new_series(self, key):
        lock = self._lock
        lock.acquire()
        try:
            index = self._index
            handle = index.get(key)  # another thread may have created it meanwhile
            if handle is None:
                check_key_text(key)  # before the cap: a key no frame could carry is refused, not overflowed
                if (len(index) - (OVERFLOW_KEY in index) >= self.max_series or key == OVERFLOW_KEY
                        or not self._dictionary.admits(key, self.scope_id)):  # the epoch's limits (epoch_limits.py)
                    key = OVERFLOW_KEY
                    handle = index.get(key)
                if handle is None:
                    collect_garbage()  # MicroPython: what lasts goes to the lowest holes (accel.py)
                    local = len(self._gids)
                    if local == len(self._dirty):
                        self._grow(_GROW)
                    handle = index[key] = self._handle_class(self, local)  # may refuse the key: first
                    self._gids.append(self._dictionary.new_series(key))
        finally:
            lock.release()
        return handle

    def _grow(self, n):
        self._dirty.extend(bytes(n))

    def _series_since(self, first_gid):
        """``[(series_id, key), ...]`` of this instrument's series with id >= ``first_gid``."""
        self._lock.acquire()
        try:
            gids = self._gids
            return [(gids[h._i], key) for key, h in self._index.items() if gids[h._i] >= first_gid]
        finally:
            self._lock.release()

    def _collect(self, out):
        """Append ``series_id, value`` of every series recorded since the last call, and reset them."""
        self._lock.acquire()
        try:
            dirty = self._dirty
            gids = self._gids
            for i in range(len(gids)):
                if dirty[i]:
                    out.append(gids[i])
                    out.append(self._take(i, dirty[i]))
                    dirty[i] = 0
        finally:
            self._lock.release()

    def _spill(self, i, s):
        # An integer sum past the array('l') range: keep it exactly in a Python int (rare, allocates).
        spill = self._spilled
        if spill is None:
            spill = self._spilled = {}
        spill[i] = spill.get(i, 0) + s

    def _with_spill(self, i, v):
        # v plus what spilled: exact, but the wire carries int64, so a larger sum goes as a float.
        spill = self._spilled
        if spill is not None and i in spill:
            v += spill.pop(i)
        return v if v.__class__ is float or _INT64_MIN <= v <= _INT64_MAX else float(v)


class _Scalar(_Instrument):
    """One int and (from the first float on) one float column: the storage of sums and gauges."""

    _floats = None

    def __init__(self, *args):
        self._ints = array("l")
        _Instrument.__init__(self, *args)

    def _grow(self, n):
        _Instrument._grow(self, n)
        self._ints.extend(array("l", [0] * n))
        if self._floats is not None:
            self._floats.extend(array("d", [0.0] * n))

    def _need_floats(self):
        # Float columns are created on the first float measurement: integer-only instruments never pay.
        if self._floats is None:
            self._floats = array("d", [0.0] * len(self._dirty))
        return self._floats


# ---------------------------------------------------------------------------------------------- sums


class _Handle:
    """One series of an instrument: the columns it writes, held directly (no attribute chains)."""

    __slots__ = ("_i", "_inst", "_lock")
    if MICROPYTHON:
        _lock = _Instrument._lock  # the shared no-op lock: one attribute fewer per handle

    def __init__(self, inst, i):
        self._inst = inst
        self._i = i
        if not MICROPYTHON:
            self._lock = inst._lock

    def __repr__(self):
        return "<%s of %s #%d>" % (self.__class__.__name__, self._inst.name, self._i)


class SumHandle(_Handle):
    """A series of a ``Counter`` or ``UpDownCounter``: ``add(n=1)``. The locked form (MicroPython,
    free-threaded CPython, ``LITETEL_PURE=1``); ``CountingSumHandle`` is the CPython one."""

    __slots__ = ()

    def add(self, n=1):
        """Add ``n`` (int or float; counters refuse negatives). ``ok.add(1)``"""
        self._inst._add(self._i, n)


class _Sum(_Scalar):
    _handle_class = SumHandle
    _floor = _LMIN - 1

    def add(self, n=1, attrs=None):
        """Add ``n`` to the series of ``attrs``: ``requests.add(1, {"http.route": "/api"})``."""
        e = self._cache.get(id(attrs))
        if e is None or e[0] != attrs:
            e = self._cache_miss(attrs, n)
        e[1].add(n)

    def _add(self, i, n):
        # The locked increment of series i: any n but a CountingSumHandle's add(1).
        if n.__class__ is int and n >= self._floor:
            lock = self._lock
            lock.acquire()
            try:
                self._add_int(i, n)
                self._dirty[i] = 1
            finally:
                lock.release()
        else:
            self._add_other(i, n)

    def _add_int(self, i, n):
        # Under the lock.
        a = self._ints
        s = a[i] + n
        if _LMIN <= s <= _LMAX:
            a[i] = s
        else:
            # Refused before anything changes: collect could not send it. The interval's whole sum, not n
            # alone: increments each a float holds can still add up past every float.
            spill = self._spilled
            as_float(s + spill[i] if spill is not None and i in spill else s, self.name)
            a[i] = 0
            self._spill(i, s)

    def _number(self, n):
        # n as the int or float this sum adds, or InstrumentError.
        v = as_number(n, self.name)
        if not finite(v):
            raise InstrumentError("%s: %r is not a finite number" % (self.name, v))
        if v < 0 and self._floor == 0:
            raise InstrumentError("%s: a counter only increases, got %r" % (self.name, v))
        return v

    def _add_other(self, i, n):
        v = self._number(n)
        lock = self._lock
        lock.acquire()
        try:
            if v.__class__ is int:  # not through _add: an int below its floor would come back here forever
                self._add_int(i, v)
            else:
                floats = self._need_floats()
                s = floats[i] + v
                if not finite(s):  # each finite, their sum not: no frame could carry it
                    raise InstrumentError("%s: adding %r makes the interval's sum %r" % (self.name, v, s))
                floats[i] = s
            self._dirty[i] = 1
        finally:
            lock.release()

    def _take(self, i, _dirty):
        v = self._ints[i]
        self._ints[i] = 0
        v = self._with_spill(i, v)
        if self._floats is not None:  # once a float was added, the instrument reports floats
            v += self._floats[i]
            self._floats[i] = 0.0
        return v


class Counter(_Sum):
    """A monotonic sum: ``counter.add(n, attrs)`` with ``n >= 0``; sent as the delta of each interval."""

    kind = COUNTER
    _floor = 0


class UpDownCounter(_Sum):
    """A non-monotonic sum: ``active.add(1)`` … ``active.add(-1)``; sent as the delta of each interval."""

    kind = UPDOWN_COUNTER


# --------------------------------------------------------------------------------------------- gauge

_GAUGE_INT = 1
_GAUGE_FLOAT = 2


class GaugeHandle(_Handle):
    """A series of a ``Gauge``: ``set(v)``."""

    __slots__ = ("_dirty", "_floats", "_ints")

    def __init__(self, inst, i):
        _Handle.__init__(self, inst, i)
        self._dirty = inst._dirty
        self._ints = inst._ints
        self._floats = inst._floats

    def set(self, v):
        """Set the value (int or float; NaN refused). ``temp.bind({"sensor": "cpu"}).set(40)``"""
        t = v.__class__
        if t is int and _LMIN <= v <= _LMAX:
            col = self._ints
            kind = _GAUGE_INT
        elif t is float and v == v:
            col = self._floats
            kind = _GAUGE_FLOAT
        else:
            return self._inst._set_other(self._i, v)
        i = self._i
        self._lock.acquire()
        col[i] = v
        self._dirty[i] = kind
        self._lock.release()


class Gauge(_Scalar):
    """The last value set in each interval: ``temp.set(41.5, {"sensor": "cpu"})``. NaN is refused."""

    kind = GAUGE
    _handle_class = GaugeHandle

    def __init__(self, *args):
        _Scalar.__init__(self, *args)
        self._floats = array("d")  # gauges are often floats: their column always exists

    def set(self, v, attrs=None):
        """Set the series of ``attrs`` to ``v``."""
        e = self._cache.get(id(attrs))
        if e is None or e[0] != attrs:
            e = self._cache_miss(attrs, v)
        e[1].set(v)

    def _number(self, v):
        # v as the int or float this gauge stores, or InstrumentError.
        v = as_number(v, self.name)
        if v != v:
            raise InstrumentError("%s: NaN is not a gauge value" % self.name)
        if v.__class__ is int and not _LMIN <= v <= _LMAX:
            v = as_float(v, self.name)  # beyond this port's int column: the nearest float
        return v

    def _set_other(self, i, v):
        GaugeHandle(self, i).set(self._number(v))

    def _take(self, i, dirty):
        if dirty == _GAUGE_INT:
            return self._ints[i]
        return self._floats[i]


if ATOMIC_COUNT:
    # CPython with the GIL: counters whose add(1) takes no lock (lockfree.py). Imported last, as it builds on this
    # module; MicroPython never loads it (its code would cost a device heap).
    from litetel.lockfree import Counter, UpDownCounter  # noqa: F401 (replace the classes above)
