"""The series dictionary of one Device epoch (wire format §2.1): strings, scopes, instruments, series.

Names, units and attributes travel once: each table is append-only, and every frame carries only the
entries added since the previous frame (``delta()``). After the gateway lost them (``need_dict``) the
uploader sends ``refresh()``: the whole dictionary, every base 0.

Series entries are not stored here: each instrument's index holds its series' keys (a dict of key tuples on
MicroPython, packed on CPython: ``series_keys.py``) and ids, and the dictionary reads them from there when it
builds a delta. Attribute keys are interned; string attribute values are interned, and sent as sids, on
MicroPython only: on CPython they always travel inline (see ``attrs``).

    >>> d = Dictionary({"service.name": "demo"})
    >>> d.sid("cpu")
    1
    >>> delta = d.delta()
    >>> delta[1], delta[8]
    (['service.name', 'cpu'], [0, 'demo'])
"""

from array import array

from litetel.accel import MICROPYTHON, new_lock
from litetel.errors import InstrumentError

# What one frame may carry (wire format §2.1), the defaults of a gateway's limits (litetel_gateway.decoder
# .Limits). Refused where they enter: a frame carrying more is rejected whole, and so is every dictionary
# refresh after it, which would cost every point the device records from then on.
MAX_TEXT = 4096  # characters of any string
MAX_KEY = 256  # characters of an attribute key (instrument names and units are held shorter: meter.py)
MAX_SERIES_ATTRIBUTES = 128  # of one series, and of the resource (a span keeps 32: signal_buffer.py)
MAX_BOUNDARIES = 512  # of one histogram
SELF_SCOPE = "litetel"  # the scope of the device's own telemetry (its loss counters)
OVERFLOW_KEY = ("otel.metric.overflow", True)  # the attributes of an instrument's overflow series
# Past this many strings in an epoch, the text of spans and log records is no longer interned: a name travels
# inline, a record with a new attribute key is dropped and counted. It bounds a board's heap against names that
# carry ids (MicroPython; a CPython device keeps to the gateway's limit instead: epoch_limits.py).
MAX_SIGNAL_STRINGS = 256

_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
_STRING = 0
_INT = 1
_FLOAT = 2
_BOOL = 3


def _attr_value(k, v):
    t = v.__class__
    if t is str or t is bool:
        return v
    if t is int:
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise InstrumentError("attribute %r: int %d outside int64" % (k, v))
        return v
    if t is float:
        if v != v:
            raise InstrumentError("attribute %r: NaN is not an attribute value" % k)
        return v
    # Subclasses (IntEnum, str enums) become their plain value, so the key compares and encodes plainly.
    if isinstance(v, int):
        return _attr_value(k, int(v))
    if isinstance(v, float):
        return _attr_value(k, float(v))
    if isinstance(v, str):
        return v[:]
    raise InstrumentError("attribute %r: value must be str, int, float or bool, not %s" % (k, t.__name__))


def check_text(s, limit=MAX_TEXT):
    """``InstrumentError`` unless a frame can carry ``s``: at most ``limit`` characters, and encodable as UTF-8
    (on CPython a str may hold a lone surrogate, ``"\\ud800"``, which is not; MicroPython's str is UTF-8)."""
    if len(s) > limit:
        raise InstrumentError("%r...: %d characters, more than the %d a frame carries" % (s[:24], len(s), limit))
    if MICROPYTHON:
        from litetel.msgpack_encoder import has_surrogate

        if has_surrogate(s.encode()):  # MicroPython's str may hold a lone surrogate too (ED A0..BF ..)
            raise InstrumentError("%r is not encodable as UTF-8, so no frame could carry it" % (s,))
    elif not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeError:
            raise InstrumentError("%r is not encodable as UTF-8, so no frame could carry it" % (s,))


def check_key_text(key):
    """``check_text`` of every str of canonical ``key``, its attribute keys (``MAX_KEY``) and values, and at
    most ``MAX_SERIES_ATTRIBUTES`` attributes: before its series is made (the hot path's ``canonical_key`` does
    not pay for it)."""
    n = len(key) // 2
    if n > MAX_SERIES_ATTRIBUTES:
        raise InstrumentError("%d attributes, more than the %d a frame carries" % (n, MAX_SERIES_ATTRIBUTES))
    for i in range(len(key)):
        s = key[i]
        if s.__class__ is str:
            check_text(s, MAX_TEXT if i & 1 else MAX_KEY)


def canonical_key(attrs):
    """The series key of an attribute dict: a flat tuple ``(k1, v1, k2, v2, ...)`` sorted by key.

    Validates keys (non-empty str) and values (str, int64, non-NaN float, bool). Values equal in Python
    (``1``, ``1.0``, ``True``) give equal keys: the first one seen fixes the series' attribute type.

    >>> canonical_key({"b": 2, "a": "x"})
    ('a', 'x', 'b', 2)
    """
    if not attrs:
        if attrs is None or attrs.__class__ is dict:
            return ()
    try:
        items = attrs.items()
    except AttributeError:
        raise InstrumentError("attributes must be a dict, not %s" % attrs.__class__.__name__)
    pairs = []
    for k, v in items:
        if not isinstance(k, str) or not k:
            raise InstrumentError("attribute keys must be non-empty str, got %r" % (k,))
        pairs.append((k if k.__class__ is str else k[:], _attr_value(k, v)))  # (a str's [:] copies on MicroPython)
    pairs.sort()  # keys are unique, so values are never compared
    flat = []
    for k, v in pairs:
        flat.append(k)
        flat.append(v)
    return tuple(flat)


class Dictionary:
    """Append-only tables of one epoch, and how much of them the previous frames already carried."""

    def __init__(self, resource=None):
        self.strings = []
        self._sids = {}
        self.scopes = []  # (name_sid, version_sid)
        self._scope_ids = {}
        self.instruments = []  # instrument objects, by instrument id
        self.series_count = 0
        self._lock = new_lock()
        self._sent = (0, 0, 0, 0)  # table sizes the previous deltas covered
        self._resource_sent = False
        self._resource = canonical_key(resource)
        check_key_text(self._resource)  # its values travel inline on CPython (attrs()), not through sid()
        self._intern_key(self._resource)

    # ----------------------------------------------------------------------------------- growing

    def sid(self, s):
        """The id of string ``s`` in the string table, added when new (``InstrumentError`` when ``s`` is not
        encodable as UTF-8: refused where it enters, not by every frame after)."""
        i = self._sids.get(s)
        if i is None:
            check_text(s)
            i = self._intern(self.strings, self._sids, s)
        return i

    def signal_sid(self, s):
        """The sid of ``s``, the text of a span or log record (a name, an attribute key), or None when it is
        new and the epoch has ``MAX_SIGNAL_STRINGS`` strings: a name then travels inline, and a record with
        that key is dropped and counted (``signal_buffer``)."""
        i = self._sids.get(s)
        if i is None and len(self.strings) < MAX_SIGNAL_STRINGS:
            i = self.sid(s)
        return i

    def add_scope(self, name, version=""):
        """The id of instrumentation scope ``(name, version)``, added when new."""
        check_text(version)  # before the name is interned: a refused scope adds nothing
        return self._intern(self.scopes, self._scope_ids, (self.sid(name), self.sid(version)))

    def _intern(self, table, ids, entry):
        i = ids.get(entry)
        if i is None:
            lock = self._lock
            lock.acquire()
            try:
                i = ids.get(entry)  # another thread may have added it meanwhile
                if i is None:
                    i = len(table)
                    table.append(entry)
                    ids[entry] = i
            finally:
                lock.release()
        return i

    def add_instrument(self, inst):
        """Register an instrument (its strings first, so any delta holding it holds them); its id."""
        check_text(inst.unit)  # all checked before any is interned: a refused instrument adds nothing
        check_text(inst.description)
        self.sid(inst.name)
        self.sid(inst.unit)
        self.sid(inst.description)
        lock = self._lock
        lock.acquire()
        try:
            self.instruments.append(inst)
            return len(self.instruments) - 1
        finally:
            lock.release()

    def admits(self, key, scope_id):
        """Whether a new series of canonical ``key`` (of an instrument of scope ``scope_id``) fits the epoch;
        if not, it goes to its instrument's overflow series. Always here: a CPython Device uses
        ``epoch_limits.Dictionary``, held within a gateway's limits, which a MicroPython heap cannot reach."""
        return True

    def new_series(self, key):
        """A new series id for an instrument's series of canonical ``key`` (its attribute keys interned first)."""
        self._intern_key(key)
        lock = self._lock
        lock.acquire()
        try:
            gid = self.series_count
            self.series_count = gid + 1
        finally:
            lock.release()
        return gid

    def _intern_key(self, key):
        for j in range(0, len(key), 2):
            self.sid(key[j])
            if MICROPYTHON and key[j + 1].__class__ is str:
                self.sid(key[j + 1])  # see attrs()

    # ----------------------------------------------------------------------------------- reading

    def attrs(self, key):
        """A canonical key as the wire's flat attribute list ``[key_sid * 4 + type, value, ...]``.

        A string value is a sid on MicroPython, which interns values (a device has few, and repeats them
        across series), and inline on CPython, which does not (a table entry costs it 56 bytes a series, a
        value most often comes with one series). Never "a sid when the table happens to have it": a refresh
        must re-send every entry exactly as first sent, or the gateway refuses it as a conflicting re-send.
        """
        sids = self._sids
        out = []
        for j in range(0, len(key), 2):
            v = key[j + 1]
            t = v.__class__
            if t is str:
                out.append(sids[key[j]] * 4 + _STRING)
                out.append(sids[v] if MICROPYTHON else v)
            else:
                out.append(sids[key[j]] * 4 + (_BOOL if t is bool else _INT if t is int else _FLOAT))
                out.append(v)
        return out

    def delta(self, rows=False):
        """Entries added since the previous ``delta()`` (the resource the first time), or ``None``.

        Marks them sent: a frame that never reaches the gateway makes it answer ``need_dict`` later, and
        the uploader then sends ``refresh()``. With ``rows`` the instrument and series tables are
        ``codecs.Rows``, made an entry at a time as the frame is encoded (what a device sends).
        """
        out = self._tables(self._sent, not self._resource_sent, rows)
        if out is None:
            return None
        self._sent = (out[0] + len(out[1]), out[2] + len(out[3]), out[4] + len(out[5]), out[6] + len(out[7]))
        self._resource_sent = True
        return out

    def mark(self):
        """What the deltas so far covered; ``rewind(mark)`` returns there when the frame carrying the deltas
        since was lost on the device (``Device.collect`` raised): the next delta carries those entries again."""
        return self._sent, self._resource_sent

    def rewind(self, mark):
        """Back to what ``mark()`` returned: the entries sent since go in the next delta again."""
        self._sent, self._resource_sent = mark

    def refresh(self, rows=False):
        """The whole dictionary: every base 0, resource included (``rows`` as for ``delta``)."""
        return self._tables((0, 0, 0, 0), True, rows)

    def _tables(self, bases, with_resource, rows):
        str_base, scope_base, inst_base, series_base = bases
        # Read the tables newest-first (series, instruments, scopes, strings): an entry's strings, scope
        # and instrument are always added before it, so every entry sent refers to entries also sent.
        n_series = self.series_count
        series = self._series_entries(series_base, n_series, rows)
        insts = self.instruments[inst_base:]
        scopes = self.scopes[scope_base:]
        resource = self.attrs(self._resource) if with_resource else None
        strings = self.strings[str_base:]
        if not (strings or scopes or insts or series or with_resource):
            return None
        return [
            str_base, strings,
            scope_base, [list(s) for s in scopes],
            inst_base, _table(self._instrument_entry, insts, rows),
            series_base, series,
            resource,
        ]  # fmt: skip

    def _instrument_entry(self, inst):
        bounds = inst.boundaries
        return [
            inst.scope_id,
            self._sids[inst.name],
            inst.kind,
            self._sids[inst.unit],
            self._sids[inst.description],
            None if bounds is None else [float(b) for b in bounds],
        ]

    def _series_entries(self, first, end, rows):
        if first >= end:
            return []
        # Series ids are dense: slot j holds series first + j, its instrument's id and its key (the
        # instrument's own tuple), filled instrument by instrument. No (id, instrument, key) tuple a series.
        inst_ids = array("I", [0] * (end - first))
        keys = [None] * (end - first)
        for inst in self.instruments[:]:
            for gid, key in inst._series_since(first):
                if gid < end:
                    inst_ids[gid - first] = inst.id
                    keys[gid - first] = key
        missing = keys.count(None)  # a key is a tuple, () without attributes: None only where none was found
        if missing:
            raise InstrumentError("dictionary: series %d..%d incomplete (%d found)"
                                  % (first, end, len(keys) - missing))

        def entry(j):
            return [inst_ids[j], self.attrs(keys[j])]

        return _table(entry, range(end - first), rows)


def _table(make, items, rows):
    # [make(x) for x in items], or made as it is encoded (codecs.Rows)
    if rows:
        from litetel.codecs import Rows

        return Rows(make, items)
    return [make(x) for x in items]
