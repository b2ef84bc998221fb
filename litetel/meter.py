"""``Meter``: the instruments of one instrumentation scope (a library or component) of a Device.

Asking for an instrument name twice returns the same instrument (names compare case-insensitively, as in
OTel); the same name with another kind, unit or histogram boundaries is an ``InstrumentError``.

    >>> from litetel.device import Device
    >>> meter = Device("doc-2").meter("model_server", version="1.2")
    >>> c = meter.counter("http.server.request.count", unit="{request}")
    >>> c is meter.counter("http.server.request.count", unit="{request}")
    True
"""

from litetel.accel import collect_garbage, new_lock
from litetel.dictionary import MAX_BOUNDARIES
from litetel.errors import InstrumentError
from litetel.histogram import DEFAULT_BOUNDARIES, Histogram
from litetel.instruments import Counter, Gauge, UpDownCounter, as_number, finite


class Meter:
    """Creates and remembers the instruments of scope ``name`` (``version``); obtained from ``Device.meter``."""

    def __init__(self, dictionary, name, version=None, max_series=64):
        if name.__class__ is not str or not name:
            raise InstrumentError("meter name must be a non-empty str, got %r" % (name,))
        if version is not None and version.__class__ is not str:
            raise InstrumentError("meter version must be a str or None, got %r" % (version,))
        if max_series.__class__ is not int or max_series < 1:
            raise InstrumentError("max_series must be an int >= 1, got %r" % (max_series,))
        self.name = name
        self.version = version
        self.max_series = max_series
        self._dictionary = dictionary
        self._instruments = {}  # lower-cased name -> instrument
        self._lock = new_lock()
        self.scope_id = dictionary.add_scope(name, version or "")

    def __repr__(self):
        return "<Meter %s%s: %d instruments>" % (
            self.name, "" if self.version is None else " " + self.version, len(self._instruments))

    def counter(self, name, unit="", description="", max_series=None):
        """A monotonic sum. ``meter.counter("http.server.request.count", unit="{request}").add(1)``"""
        return self._get(Counter, name, unit, description, max_series)

    def updown_counter(self, name, unit="", description="", max_series=None):
        """A sum that goes up and down. ``meter.updown_counter("queue.depth").add(-1)``"""
        return self._get(UpDownCounter, name, unit, description, max_series)

    def gauge(self, name, unit="", description="", max_series=None):
        """The last value of each interval. ``meter.gauge("device.temperature", unit="Cel").set(41.5)``"""
        return self._get(Gauge, name, unit, description, max_series)

    def histogram(self, name, unit="", description="", boundaries=None, max_series=None):
        """A distribution. ``meter.histogram("db.duration", unit="s", boundaries=(0.01, 0.1, 1)).record(0.02)``

        ``boundaries`` default to OTel's ``(0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000,
        7500, 10000)``; they must be finite and strictly increasing.
        """
        return self._get(Histogram, name, unit, description, max_series, boundaries)

    def instruments(self):
        """The instruments created so far, as a list."""
        return list(self._instruments.values())

    def _get(self, cls, name, unit, description, max_series, *boundaries):
        check_name(name)
        if unit.__class__ is not str or len(unit) > 63:
            raise InstrumentError("%s: unit must be a str of at most 63 characters, got %r" % (name, unit))
        if description.__class__ is not str:
            raise InstrumentError("%s: description must be a str" % name)
        if max_series is None:
            max_series = self.max_series
        elif max_series.__class__ is not int or max_series < 1:
            raise InstrumentError("%s: max_series must be an int >= 1, got %r" % (name, max_series))
        if boundaries:
            given = boundaries[0]
            boundaries = (histogram_boundaries(given, name),)
        folded = name.lower()
        if folded == name:
            folded = name  # MicroPython's lower() copies: keep one string per instrument, not two
        lock = self._lock
        lock.acquire()
        try:
            found = self._instruments.get(folded)
            if found is None:
                collect_garbage()  # MicroPython: what lasts goes to the lowest holes (accel.py)
                found = cls(self._dictionary, self.scope_id, name, unit, description, max_series, *boundaries)
                self._instruments[folded] = found
                return found
        finally:
            lock.release()
        if found.__class__ is not cls or found.unit != unit:
            raise InstrumentError("%s: already a %s with unit %r, cannot be a %s with unit %r" % (
                name, found.__class__.__name__, found.unit, cls.__name__, unit))
        if boundaries and given is not None and found.boundaries != boundaries[0]:
            raise InstrumentError("%s: already a histogram with boundaries %r" % (name, found.boundaries))
        return found


_NAME_CHARS = "_.-/"


def check_name(name):
    """Refuse a name OTel would refuse: ASCII letter first, then ``[A-Za-z0-9_.-/]``, at most 255 chars."""
    if name.__class__ is not str or not 0 < len(name) <= 255:
        raise InstrumentError("instrument name must be a str of 1-255 characters, got %r" % (name,))
    for pos, c in enumerate(name):
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or (pos and ("0" <= c <= "9" or c in _NAME_CHARS))):
            raise InstrumentError("instrument name %r: character %r not allowed at %d" % (name, c, pos))


def histogram_boundaries(boundaries, name):
    """Validated boundaries as a tuple (OTel's defaults for ``None``): finite, strictly increasing, at most
    ``MAX_BOUNDARIES``."""
    if boundaries is None:
        return DEFAULT_BOUNDARIES
    out = []
    for b in boundaries:
        b = as_number(b, name + " boundaries")
        if not finite(b):
            raise InstrumentError("%s: boundaries must be finite, got %r" % (name, b))
        if out and b <= out[-1]:
            raise InstrumentError("%s: boundaries must be strictly increasing, got %r" % (name, boundaries))
        out.append(b)
    if len(out) > MAX_BOUNDARIES:
        raise InstrumentError("%s: %d boundaries, more than the %d a frame carries" % (name, len(out), MAX_BOUNDARIES))
    out = tuple(out)
    if boundaries.__class__ is tuple and all(a is b for a, b in zip(boundaries, out)):
        return boundaries  # the caller's own tuple: histograms made from one constant share it
    return out
