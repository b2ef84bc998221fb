"""The bounded buffer of one interval's finished spans (or log records), and their attribute encoding.

Each ``Device`` has at most one buffer per signal, made when its first tracer/logger is. ``add`` keeps at
most ``max_items`` per interval: past that an item is dropped and counted, so a burst never grows memory.
``collect`` (from ``Device.collect``) encodes and empties it (wire format §2.4/§2.5).

    buf = SignalBuffer(64, dropped_handle, encode_span)     # encode_span(item, dictionary, end_ticks)
    buf = SignalBuffer(64, dropped_handle, encode_span, on_first_drop=fn)  # fn(dropped_handle) at the first drop
    buf.add(span)
    entries = buf.collect(dev.dictionary, end_ticks)        # [] when nothing was added
"""

from litetel.accel import MICROPYTHON, new_lock
from litetel.dictionary import MAX_KEY, MAX_TEXT
from litetel.errors import InstrumentError

_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
MAX_ATTRIBUTES = 32  # per span / event / log record; further ones are not sent


class SignalBuffer:
    """Finished items of the current interval, at most ``max_items``; ``dropped`` counts the rest."""

    _first_drop = None  # on_first_drop, until it was called

    def __init__(self, max_items, dropped, encode, on_first_drop=None):
        if max_items.__class__ is not int or max_items < 0:
            raise ValueError("max_items must be an int >= 0, got %r" % (max_items,))
        self.max_items = max_items
        self.dropped = dropped  # a bound counter handle (litetel.device.spans.dropped / logs.dropped)
        self._encode = encode
        if on_first_drop is not None:
            self._first_drop = on_first_drop  # called with ``dropped`` when it first counts
        self._items = []
        self._lock = new_lock()

    def __len__(self):
        return len(self._items)

    def add(self, item):
        """Keep ``item`` for the next frame, or count it dropped when the interval's buffer is full."""
        lock = self._lock
        lock.acquire()
        items = self._items
        if len(items) < self.max_items:
            items.append(item)
            lock.release()
            return True
        lock.release()
        self.count_dropped(1)
        return False

    def count_dropped(self, n):
        """Count ``n`` items dropped (the interval's buffer was full, their frame too large, or their text
        past the epoch's string limit)."""
        first = self._first_drop
        if first is not None:
            self._first_drop = None
            first(self.dropped)
        self.dropped.add(n)

    def collect(self, dictionary, end_ticks):
        """The wire entries of every item added since the last call (which empties the buffer)."""
        lock = self._lock
        lock.acquire()
        items = self._items
        self._items = []
        lock.release()
        encode = self._encode
        out = []
        for item in items:
            try:
                out.append(encode(item, dictionary, end_ticks))
            except InstrumentError:  # a new attribute key past the epoch's strings (wire_attrs): dropped, counted
                self.count_dropped(1)
        return out


def wire_text(s, limit=MAX_TEXT):
    """``s`` as a frame can carry it: itself, cut to ``limit`` characters, and (CPython) with what UTF-8 cannot
    encode, a lone surrogate, replaced by U+FFFD. A span or log record never raises for its text, nor costs
    its frame for it."""
    if len(s) > limit:
        s = s[:limit]
    if MICROPYTHON:  # its str is UTF-8, but for a surrogate it may hold (encoded ED A0..BF ..)
        from litetel.msgpack_encoder import has_surrogate

        if not has_surrogate(s.encode()):
            return s
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
        return s
    except UnicodeError:  # UTF-16 keeps a surrogate pair whole and turns a lone one into U+FFFD
        return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def wire_name(s, dictionary):
    """A span or event name as the wire carries it (§2.4): its sid, or the text itself (``wire_text``)
    inline when it is new and the epoch's string table has no room (``Dictionary.signal_sid``)."""
    s = wire_text(s)
    i = dictionary.signal_sid(s)
    return s if i is None else i


def wire_attrs(attrs, dictionary):
    """An attribute dict as the wire's flat ``[key_sid * 4 + type, value, ...]`` (wire format §2.4):
    keys through the string table, string values inline (a str, not a sid: values of spans and logs are
    too varied to intern for the whole epoch). ``None`` values and non-str keys are skipped; other types
    are sent as their ``str()``; text goes through ``wire_text``. ``InstrumentError`` when a key is new
    and the epoch's string table has no room: its record is dropped and counted (``SignalBuffer.collect``).
    """
    out = []
    if not attrs:
        return out
    sid = dictionary.signal_sid
    n = 0
    mended = False  # a key was cut or mended: from then on a key may repeat another one's wire text
    for k, v in attrs.items():
        if k.__class__ is not str or not k or v is None:
            continue
        n += 1
        if n > MAX_ATTRIBUTES:
            break
        cut = wire_text(k, MAX_KEY)
        tk = sid(cut)
        if tk is None:
            raise InstrumentError("attribute key %r is new and the epoch's string table is full" % cut)
        tk *= 4
        if cut is not k:
            mended = True
        if mended and _has_key(out, tk):  # two keys alike on the wire: the first one stays
            n -= 1
            continue
        t = v.__class__
        if t is str:
            v = wire_text(v)
        elif t is bool:
            tk += 3
        elif t is int and _INT64_MIN <= v <= _INT64_MAX:
            tk += 1
        elif t is float:
            tk += 2
        elif isinstance(v, int) and not isinstance(v, bool):
            v = float(v) if not _INT64_MIN <= v <= _INT64_MAX else int(v)
            tk += 2 if v.__class__ is float else 1
        else:
            v = wire_text(str(v))
        out.append(tk)
        out.append(v)
    return out


def _has_key(flat, tk):
    # Whether the flat [tk, value, ...] list has the key of tk (any type).
    for i in range(0, len(flat), 2):
        if flat[i] >> 2 == tk >> 2:
            return True
    return False
