"""What a valid payload is (wire format §2.2–§2.6): the checks every point, span, log record and exemplar
of a frame passes before it is queued, and the two ways a frame fails them.

    n = validate_points(points, dictionary)          # NeedDict: series unknown; Reject: malformed
    n_spans = validate_spans(spans, dictionary, limits)
    n_logs = validate_logs(logs, dictionary, limits)

The dictionary (``decoder.Dictionary``) must already hold the frame's own dictionary delta.
"""

import math
from math import isfinite

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1  # a histogram's count and bucket counts are fixed64 in OTLP

COUNTER, UP_DOWN_COUNTER, GAUGE, HISTOGRAM = 0, 1, 2, 3
ATTR_STRING, ATTR_INT, ATTR_FLOAT, ATTR_BOOL = 0, 1, 2, 3


class Reject(Exception):
    """A frame is permanently refused: the reply is ``reject:<reason>``."""

    def __init__(self, reason, detail=""):
        super().__init__("%s: %s" % (reason, detail) if detail else reason)
        self.reason = reason


class NeedDict(Exception):
    """The frame refers to dictionary entries the gateway does not have (reply ``need_dict``)."""


def _is_int(v):
    return type(v) is int


def _is_number(v):
    return (type(v) is int and INT64_MIN <= v <= INT64_MAX) or (type(v) is float and math.isfinite(v))


def validate_points(points, dictionary):
    """Check a frame's points against its dictionary (wire §2.2); returns the number of points.

    Raises NeedDict for a series id the dictionary does not have yet, Reject for anything malformed.
    Written flat (no helper call per point): it runs for every point the gateway receives.
    """
    if len(points) & 1:
        raise Reject("schema", "points list has odd length")
    sids = points[0::2]
    if not sids:
        return 0
    for sid in sids:
        if type(sid) is not int or sid < 0:
            raise Reject("schema", "series id %r" % (sid,))
    if max(sids) >= len(dictionary.series_kind):
        raise NeedDict()
    if len(set(sids)) != len(sids):
        raise Reject("schema", "a series appears twice in one frame")
    kinds, series, instruments = dictionary.series_kind, dictionary.series, dictionary.instruments
    for sid, value in zip(sids, points[1::2]):
        kind = kinds[sid]
        t = type(value)
        if kind == HISTOGRAM:
            bounds = instruments[series[sid][0]][5]
            # Fast accept of the common shape (count > 0, float sum/min/max, int bucket counts) inline, in as
            # few operations as possible: this runs for every histogram point. Anything else, valid or not,
            # goes to _check_histogram, which names the reason. Each test only touches what the ones before
            # proved to be of the right type; sum() of non-numbers raises TypeError: handed over too.
            if t is list and len(value) > 5:
                count, total, low, high, first, *buckets = value
                try:
                    if (
                        type(count) is int
                        and type(first) is int
                        and type(total) is type(low) is type(high) is float
                        and 0 < count <= UINT64_MAX
                        and 0 <= first <= len(bounds) + 1 - len(buckets)
                        and isfinite(total + low + high)  # an inf or a NaN in any of them makes the sum so
                        and low <= high
                        and type(buckets_sum := sum(buckets)) is int  # a float anywhere makes it a float
                        and buckets_sum == count
                        # min() costs twice as much as sorting this short list of our own
                        and (buckets.sort() or buckets[0] >= 0)
                    ):
                        continue
                except TypeError:
                    pass
            _check_histogram(value, bounds)
        elif t is int:
            if not INT64_MIN <= value <= INT64_MAX or (kind == COUNTER and value < 0):
                raise Reject("value", "series %d value %r" % (sid, value))
        elif t is float:
            # value - value is NaN for inf and NaN: only finite values pass, and a gauge's +-inf (the device
            # accepts them: docs/api.md "Values refused"; OTLP doubles and Prometheus carry them)
            if (value - value != 0.0 and (kind != GAUGE or value != value)) or (kind == COUNTER and value < 0):
                raise Reject("value", "series %d value %r" % (sid, value))
        else:
            raise Reject("value", "series %d value %r" % (sid, value))
    return len(sids)


def _check_histogram(value, bounds):
    if type(value) is not list or len(value) < 5:
        raise Reject("histogram", "histogram value is not [count, sum, min, max, first, counts...]")
    count, total, low, high, first = value[0], value[1], value[2], value[3], value[4]
    # above UINT64_MAX a count (and so a bucket count: they are >= 0 and sum to it) could not be encoded
    if type(count) is not int or not 0 <= count <= UINT64_MAX:
        raise Reject("histogram", "bad count")
    if not (total - total == 0.0 if type(total) is float else _is_number(total)):
        raise Reject("histogram", "bad sum")
    if type(first) is not int or first < 0:
        raise Reject("histogram", "bucket index out of range")
    buckets = value[5:]
    if buckets:
        if first + len(buckets) > len(bounds) + 1:
            raise Reject("histogram", "bucket index out of range")
        try:
            buckets_sum = sum(buckets)
        except TypeError:
            raise Reject("histogram", "bad bucket count") from None
        # an int sum means int counts (a float anywhere makes it a float); bools count as 0/1
        if type(buckets_sum) is not int or min(buckets) < 0:
            raise Reject("histogram", "bad bucket count")
    else:
        buckets_sum = 0
    if buckets_sum != count:
        raise Reject("histogram", "count is not the sum of the bucket counts")
    if count:
        if not (
            type(low) is float
            and type(high) is float
            and low - low == 0.0
            and high - high == 0.0
            or _is_number(low)
            and _is_number(high)
        ):
            raise Reject("histogram", "bad min or max")
        if low > high:
            raise Reject("histogram", "min > max")
    elif not ((low is None or _is_number(low)) and (high is None or _is_number(high))):
        raise Reject("histogram", "bad min or max")


# -- spans, log records, exemplars (wire §2.4–§2.6) -----------------------------------------------------

SPAN_FIELDS = 13
LOG_FIELDS = 8
MAX_EVENTS = 128
_U32_MAX = (1 << 32) - 1


def _items(items, what):
    if items is None:
        return []
    if type(items) is not list:
        raise Reject("schema", "%s is not a list" % what)
    return items


def _index(i, n, what):
    """An index into a dictionary table of ``n`` entries: NeedDict past its end (entries the gateway lacks)."""
    if type(i) is not int or i < 0:
        raise Reject("schema", "%s index %r" % (what, i))
    if i >= n:
        raise NeedDict()


def _duration(v, what):
    if type(v) is not int or not 0 <= v <= INT64_MAX:
        raise Reject("schema", "%s %r is not a non-negative int64" % (what, v))


def _id(v, size, what, optional=False):
    if v is None and optional:
        return
    if type(v) is not bytes or len(v) != size or not any(v):
        raise Reject("schema", "%s is not %d bytes, not all zero" % (what, size))


def _text(v, limits, what):
    if type(v) is not str:
        raise Reject("schema", "%s is not a str" % what)
    if len(v) > limits.max_value_len:
        raise Reject("limit_string", "%s of %d characters" % (what, len(v)))


def _name(v, n_strings, limits, what):
    # A span or event name: a string id, or inline (a str) when the device's string table was full.
    if type(v) is str:
        _text(v, limits, what)
    else:
        _index(v, n_strings, what)


def check_signal_attrs(flat, n_strings, limits):
    """Attributes of a span, event or log record: ``[tk, value, ...]`` as in §2.1, except that a string
    value may be inline (a str) as well as a string id."""
    if type(flat) is not list or len(flat) & 1:
        raise Reject("schema", "attrs is not a flat [tk, value, ...] list")
    if len(flat) // 2 > limits.max_attrs:
        raise Reject("limit_attrs", "%d attributes" % (len(flat) // 2))
    keys = set()
    for i in range(0, len(flat), 2):
        tk, value = flat[i], flat[i + 1]
        _index(tk, n_strings * 4, "attribute key")
        key, kind = tk >> 2, tk & 3
        if key in keys:
            raise Reject("schema", "duplicate attribute key")
        keys.add(key)
        t = type(value)
        if kind == ATTR_STRING:
            if t is str:
                _text(value, limits, "attribute value")
            else:
                _index(value, n_strings, "string value")
        elif kind == ATTR_INT:
            if t is not int or not INT64_MIN <= value <= INT64_MAX:
                raise Reject("schema", "int attribute value %r" % (value,))
        elif kind == ATTR_FLOAT:
            if t is not float and not (t is int and INT64_MIN <= value <= INT64_MAX):
                raise Reject("schema", "float attribute value %r" % (value,))
        elif t is not bool:
            raise Reject("schema", "bool attribute value %r" % (value,))


def validate_spans(spans, dictionary, limits):
    """Check payload element 2 (§2.4); returns the number of spans."""
    spans = _items(spans, "spans")
    n_strings, n_scopes = len(dictionary.strings), len(dictionary.scopes)
    for e in spans:
        if type(e) is not list or len(e) != SPAN_FIELDS:
            raise Reject("schema", "span is not a %d-element list" % SPAN_FIELDS)
        (
            scope,
            trace_id,
            span_id,
            parent_id,
            name,
            kind,
            ago,
            duration,
            attrs,
            events,
            status,
            message,
            flags,
        ) = e
        _index(scope, n_scopes, "scope")
        _id(trace_id, 16, "trace id")
        _id(span_id, 8, "span id")
        _id(parent_id, 8, "parent span id", optional=True)
        _name(name, n_strings, limits, "span name")
        if type(kind) is not int or not 0 <= kind <= 5:
            raise Reject("schema", "span kind %r" % (kind,))
        _duration(ago, "span start")
        _duration(duration, "span duration")
        check_signal_attrs(attrs, n_strings, limits)
        events = _items(events, "span events")
        if len(events) > MAX_EVENTS:
            raise Reject("limit_events", "%d events" % len(events))
        for ev in events:
            if type(ev) is not list or len(ev) != 3:
                raise Reject("schema", "event is not [name, offset_us, attrs]")
            _name(ev[0], n_strings, limits, "event name")
            _duration(ev[1], "event offset")
            check_signal_attrs(ev[2], n_strings, limits)
        if type(status) is not int or not 0 <= status <= 2:
            raise Reject("schema", "span status %r" % (status,))
        if message is not None:
            _text(message, limits, "status message")
        if type(flags) is not int or not 0 <= flags <= _U32_MAX:
            raise Reject("schema", "span flags %r" % (flags,))
    return len(spans)


def validate_logs(logs, dictionary, limits):
    """Check payload element 3 (§2.5); returns the number of log records."""
    logs = _items(logs, "logs")
    n_strings, n_scopes = len(dictionary.strings), len(dictionary.scopes)
    for e in logs:
        if type(e) is not list or len(e) != LOG_FIELDS:
            raise Reject("schema", "log record is not a %d-element list" % LOG_FIELDS)
        scope, ago, severity, body, attrs, trace_id, span_id, flags = e
        _index(scope, n_scopes, "scope")
        _duration(ago, "log time")
        if type(severity) is not int or not 0 <= severity <= 24:
            raise Reject("schema", "severity %r" % (severity,))
        t = type(body)
        if t is str:
            _text(body, limits, "log body")
        elif not (body is None or t is bool or t is float or (t is int and INT64_MIN <= body <= INT64_MAX)):
            raise Reject("schema", "log body %r" % (body,))
        check_signal_attrs(attrs, n_strings, limits)
        _id(trace_id, 16, "trace id", optional=True)
        _id(span_id, 8, "span id", optional=span_id is None and trace_id is None)
        if type(flags) is not int or not 0 <= flags <= 0xFF:
            raise Reject("schema", "log flags %r" % (flags,))
    return len(logs)


def validate_exemplars(exemplars, points, dictionary):
    """Check payload element 4 (§2.6): ``[series_id, [[value, ago_us, trace_id, span_id], ...], ...]`` of
    histogram series that have a point in this frame; returns the number of exemplars."""
    exemplars = _items(exemplars, "exemplars")
    if len(exemplars) & 1:
        raise Reject("schema", "exemplars list has odd length")
    in_frame = set(points[0::2])
    n = 0
    for i in range(0, len(exemplars), 2):
        sid, entries = exemplars[i], exemplars[i + 1]
        if type(sid) is not int or sid not in in_frame or dictionary.series_kind[sid] != HISTOGRAM:
            raise Reject("schema", "exemplars of series %r, not a histogram point of this frame" % (sid,))
        if type(entries) is not list:
            raise Reject("schema", "exemplars of a series are not a list")
        for ex in entries:
            if type(ex) is not list or len(ex) != 4 or not _is_number(ex[0]):
                raise Reject("schema", "exemplar is not [value, ago_us, trace_id, span_id]")
            _duration(ex[1], "exemplar time")
            _id(ex[2], 16, "exemplar trace id")
            _id(ex[3], 8, "exemplar span id")
        n += len(entries)
    return n
