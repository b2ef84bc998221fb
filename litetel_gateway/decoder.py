"""Frames → validated payloads: envelope split, header check, bounded decompress, decode with limits,
strict schema validation, and the per-(device, epoch) series dictionary (wire format §1–§3).

Nothing here touches SQLite or the network; failures are exceptions naming the reply::

    for start, end in split_frames(body):
        header, payload = parse_header(body, start)          # Reject("crc"), Reject("version"), ...
        dict_delta, points = decode_payload(header, payload, limits)
        dictionary.apply_delta(dict_delta, limits)           # NeedDict, Reject("limit_series"), ...
        n = validate_points(points, dictionary)
"""

import binascii
import struct

import cbor2
import msgpack

from litetel import compression, decoding
from litetel import frame as wire
from litetel.dictionary import MAX_BOUNDARIES, MAX_KEY, MAX_SERIES_ATTRIBUTES, MAX_TEXT
from litetel.epoch_limits import MAX_EPOCH_SCOPES, MAX_EPOCH_SERIES, MAX_EPOCH_STRINGS
from litetel.errors import CodecError, FrameError
from litetel_gateway.payload_schema import (  # noqa: F401 (re-exported: the decoder's public names)
    ATTR_BOOL,
    ATTR_FLOAT,
    ATTR_INT,
    ATTR_STRING,
    COUNTER,
    GAUGE,
    HISTOGRAM,
    INT64_MAX,
    INT64_MIN,
    UP_DOWN_COUNTER,
    NeedDict,
    Reject,
    _is_int,
    _is_number,
    validate_exemplars,
    validate_logs,
    validate_points,
    validate_spans,
)

HEADER_SIZE = 48
_PAYLOAD_LEN = struct.Struct(">I")


class EnvelopeError(Exception):
    """The request body is not a whole number of frames. ``frames``: the ``(start, end)`` of the whole frames
    before the fault (the receiver stores those and leaves the rest unanswered; HTTP 400 when there are none)."""

    def __init__(self, message, frames=()):
        Exception.__init__(self, message)
        self.frames = list(frames)


class Limits:
    """Per-device bounds against hostile or broken input."""

    def __init__(
        self,
        max_frame_bytes=1 << 20,
        max_series=MAX_EPOCH_SERIES,  # the defaults are the wire's limits, which devices stay within
        max_strings=MAX_EPOCH_STRINGS,
        max_value_len=MAX_TEXT,
        max_key_len=MAX_KEY,
        max_attrs=MAX_SERIES_ATTRIBUTES,
        max_buckets=MAX_BOUNDARIES,
        max_scopes=MAX_EPOCH_SCOPES,
    ):
        self.max_frame_bytes = max_frame_bytes
        self.max_series = max_series
        self.max_strings = max_strings
        self.max_value_len = max_value_len
        self.max_key_len = max_key_len
        self.max_attrs = max_attrs
        self.max_buckets = max_buckets
        self.max_scopes = max_scopes


def split_frames(body):
    """``[(start, end), ...]`` of each frame in a concatenation, from the headers' payload_len only.

    Raises EnvelopeError (carrying the frames before it) when a frame is truncated or does not start with the
    magic: past that point frame boundaries are unknown.
    """
    spans, offset, size = [], 0, len(body)
    while offset < size:
        if size - offset < HEADER_SIZE:
            raise EnvelopeError("truncated frame header at byte %d" % offset, spans)
        if body[offset : offset + 2] != wire.MAGIC:
            raise EnvelopeError("no frame magic at byte %d" % offset, spans)
        end = offset + HEADER_SIZE + _PAYLOAD_LEN.unpack_from(body, offset + 40)[0]
        if end > size:
            raise EnvelopeError("frame at byte %d runs past the end of the body" % offset, spans)
        spans.append((offset, end))
        offset = end
    return spans


def _why_bad_header(buf, offset):
    """Name the header fault parse_frame refused, for the reply reason (most specific first)."""
    _, version, flags, codec, comp, reserved = struct.unpack_from(">2sBBBBH", buf, offset)
    if version != wire.VERSION:
        return "version"
    if flags & ~(wire.FLAG_CLOCK_TICKS | wire.FLAG_DICT_REFRESH) or reserved:
        return "reserved"
    payload_len = _PAYLOAD_LEN.unpack_from(buf, offset + 40)[0]
    crc = binascii.crc32(
        buf[offset + HEADER_SIZE : offset + HEADER_SIZE + payload_len],
        binascii.crc32(buf[offset : offset + 44]),
    )
    if crc != _PAYLOAD_LEN.unpack_from(buf, offset + 44)[0]:
        return "crc"
    if codec not in (0, 1):
        return "codec"
    if comp not in (0, 1, 2):
        return "compression"
    return "header"


def parse_header(body, offset):
    """``(header, payload)`` of the frame at ``offset`` (litetel.frame.parse_frame), or Reject."""
    try:
        header, payload, _ = wire.parse_frame(body, offset)
    except FrameError as exc:
        raise Reject(_why_bad_header(body, offset), str(exc)) from None
    return header, payload


def decode_payload(header, payload, limits):
    """``(dict_delta, points)`` of a frame payload (see ``decode_elements``)."""
    value = decode_elements(header, payload, limits)
    return value[0], value[1]


def decode_elements(header, payload, limits):
    """``[dict_delta, points, spans, logs, exemplars]`` of a frame payload (None for the elements a frame
    does not have): bounded decompression, then the C decoders with limits."""
    if header.compression == compression.NONE:
        if len(payload) > limits.max_frame_bytes:
            raise Reject("too_large", "payload of %d bytes" % len(payload))
        data = payload
    else:
        try:
            data = decoding.decompress(header.compression, payload, limits.max_frame_bytes)
        except CodecError as exc:
            raise Reject("too_large" if "exceed" in str(exc) else "decompress", str(exc)) from None
    n = len(data)
    try:
        if header.codec == 0:
            # Declared lengths are capped by the data size, so no huge preallocation from a forged header.
            value = msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=False,
                use_list=True,
                max_str_len=n,
                max_bin_len=n,
                max_array_len=n,
                max_map_len=n // 2,
                max_ext_len=0,
            )
        else:
            value = cbor2.loads(data)
    except Exception as exc:  # each library has its own error types (and RecursionError, MemoryError)
        raise Reject("decode", "%s: %s" % (type(exc).__name__, exc)) from None
    if not isinstance(value, list) or len(value) < 2:
        raise Reject("schema", "payload is not [dict_delta, points, ...]")
    if not isinstance(value[1], list):
        raise Reject("schema", "points is not a list")
    return (value + [None, None, None])[:5]


class Dictionary:
    """The append-only series dictionary of one (device, epoch): strings, scopes, instruments, series,
    resource.

    Entries are kept as tuples: scope ``(name_sid, version_sid)``; instrument
    ``(scope_id, name_sid, kind, unit_sid, description_sid, bounds_or_None)``; series
    ``(instrument_id, attrs)``
    with attrs a tuple of ``(key_sid, type, value)``; resource likewise or None. ``caches`` belongs to the
    consumers (expand, prometheus) that derive per-series objects lazily.
    """

    def __init__(self, strings=(), scopes=(), instruments=(), series=(), resource=None):
        self.strings = list(strings)
        self.scopes = [tuple(s) for s in scopes]
        self.instruments = [
            (i[0], i[1], i[2], i[3], i[4], None if i[5] is None else tuple(i[5])) for i in instruments
        ]
        self.series = [(s[0], tuple(tuple(a) for a in s[1])) for s in series]
        self.resource = None if resource is None else tuple(tuple(a) for a in resource)
        self.series_kind = [self.instruments[s[0]][2] for s in self.series]
        self.caches = {}
        self._wire_forms = {}  # wire_form function of a table -> its held entries in wire form (see _merge)

    # -- persistence -------------------------------------------------------------------------------
    def to_blob(self):
        return msgpack.packb(
            [self.strings, self.scopes, self.instruments, self.series, self.resource], use_bin_type=True
        )

    @classmethod
    def from_blob(cls, blob):
        return cls(*msgpack.unpackb(blob, raw=False, use_list=True))

    # -- deltas ------------------------------------------------------------------------------------
    def apply_delta(self, delta, limits, refresh=False):
        """Validate a ``dict_delta`` (wire §2.1) entirely, then append its new entries.

        Returns True when something changed. Raises NeedDict (base beyond what is known), or Reject
        (schema, conflicting re-send, limits) leaving the dictionary unchanged.
        """
        if delta is None:
            if refresh:
                raise Reject("schema", "dictionary refresh without a dictionary")
            return False
        if not isinstance(delta, list) or len(delta) < 9:
            raise Reject("schema", "dict_delta is not a 9-element list")
        tables = (self.strings, self.scopes, self.instruments, self.series)
        news = []
        for i, table in enumerate(tables):
            base, entries = delta[2 * i], delta[2 * i + 1]
            if not _is_int(base) or base < 0 or not isinstance(entries, list):
                raise Reject("schema", "dictionary table %d: bad base or entries" % i)
            if refresh and base != 0:
                raise Reject("schema", "dictionary refresh with a non-zero base")
            if base > len(table):
                raise NeedDict()
            news.append((base, entries))
        strings = self._check_strings(news[0], limits)
        n_strings = len(self.strings) + len(strings)
        if n_strings > limits.max_strings:
            raise Reject("limit_strings", "%d strings" % n_strings)
        scopes = self._merge(self.scopes, news[1], lambda e: self._scope(e, n_strings, limits), list)
        n_scopes = len(self.scopes) + len(scopes)
        if n_scopes > limits.max_scopes:
            raise Reject("limit_scopes", "%d scopes" % n_scopes)
        all_strings = self.strings + strings if strings else self.strings
        instruments = self._merge(
            self.instruments,
            news[2],
            lambda e: self._instrument(e, all_strings, n_scopes, limits),
            _wire_instrument,
        )
        n_instruments = len(self.instruments) + len(instruments)
        if n_instruments > limits.max_series:
            raise Reject("limit_instruments", "%d instruments" % n_instruments)
        series = self._merge(
            self.series, news[3], lambda e: self._series(e, all_strings, n_instruments, limits), _wire_series
        )
        if len(self.series) + len(series) > limits.max_series:
            raise Reject("limit_series", "%d series" % (len(self.series) + len(series)))
        resource = None if delta[8] is None else self._attrs(delta[8], all_strings, limits)
        # Everything is valid: apply.
        self.strings.extend(strings)
        self.scopes.extend(scopes)
        self.instruments.extend(instruments)
        for entry in series:
            self.series.append(entry)
            self.series_kind.append(self.instruments[entry[0]][2])
        changed = bool(strings or scopes or instruments or series)
        if resource is not None and resource != self.resource:
            self.resource = resource
            self.caches.pop("resource", None)
            changed = True
        return changed

    def _check_strings(self, new, limits):
        base, entries = new
        for s in entries:
            if type(s) is not str:
                raise Reject("schema", "dictionary string is not a str")
            if len(s) > limits.max_value_len:
                raise Reject("limit_string", "string of %d characters" % len(s))
        return self._merge(self.strings, new, lambda s: s)

    def _merge(self, table, new, normalize, wire_form=None):
        """New entries of a table (normalized); an overlapping re-send must equal what is held.

        Held entries are compared in their wire form (``wire_form``), so a re-send is not validated again.
        Those wire forms are kept (tables only grow): retries and DICT_REFRESH frames re-send the same
        entries again and again, and converting them each time cost ~2% of the frames → OTLP path.
        """
        base, entries = new
        overlap = min(len(table) - base, len(entries))
        if wire_form is None:
            held = table[base : base + overlap]
        else:
            wire = self._wire_forms.setdefault(wire_form, [])
            wire.extend(wire_form(e) for e in table[len(wire) : base + overlap])
            held = wire[base : base + overlap]
        if held != entries[:overlap]:
            raise Reject("dict_conflict", "re-sent dictionary entries differ")
        return [normalize(e) for e in entries[overlap:]]

    @staticmethod
    def _sid(sid, strings_or_count, limits=None, what="key"):
        n = strings_or_count if type(strings_or_count) is int else len(strings_or_count)
        if not _is_int(sid) or not 0 <= sid < n:
            raise Reject("dict_index", "string index %r out of range" % (sid,))
        if limits is not None and len(strings_or_count[sid]) > limits.max_key_len:
            raise Reject("limit_key", "%s of %d characters" % (what, len(strings_or_count[sid])))
        return sid

    def _scope(self, e, n_strings, limits):
        if not isinstance(e, list) or len(e) != 2:
            raise Reject("schema", "scope is not [name_sid, version_sid]")
        return (self._sid(e[0], n_strings), self._sid(e[1], n_strings))

    def _instrument(self, e, strings, n_scopes, limits):
        if not isinstance(e, list) or len(e) != 6:
            raise Reject("schema", "instrument is not a 6-element list")
        scope, name, kind, unit, description, bounds = e
        if not _is_int(scope) or not 0 <= scope < n_scopes:
            raise Reject("dict_index", "scope index %r out of range" % (scope,))
        if not _is_int(kind) or not 0 <= kind <= 3:
            raise Reject("schema", "instrument kind %r" % (kind,))
        self._sid(name, strings, limits, "instrument name")
        if not strings[name]:
            raise Reject("schema", "empty instrument name")
        self._sid(unit, strings, limits, "unit")
        self._sid(description, strings)
        if kind == HISTOGRAM:
            if not isinstance(bounds, list):
                raise Reject("schema", "histogram without boundaries")
            if len(bounds) > limits.max_buckets:
                raise Reject("limit_buckets", "%d boundaries" % len(bounds))
            if not all(_is_number(b) for b in bounds):
                raise Reject("schema", "histogram boundary is not a finite number")
            bounds = tuple(float(b) for b in bounds)
            if any(a >= b for a, b in zip(bounds, bounds[1:])):
                raise Reject("schema", "histogram boundaries do not increase")
        elif bounds is not None:
            raise Reject("schema", "boundaries on a non-histogram instrument")
        return (scope, name, kind, unit, description, bounds)

    def _series(self, e, strings, n_instruments, limits):
        if not isinstance(e, list) or len(e) != 2:
            raise Reject("schema", "series is not [instrument_id, attrs]")
        if not _is_int(e[0]) or not 0 <= e[0] < n_instruments:
            raise Reject("dict_index", "instrument index %r out of range" % (e[0],))
        return (e[0], self._attrs(e[1], strings, limits))

    def _attrs(self, flat, strings, limits):
        if not isinstance(flat, list) or len(flat) % 2:
            raise Reject("schema", "attrs is not a flat [tk, value, ...] list")
        if len(flat) // 2 > limits.max_attrs:
            raise Reject("limit_attrs", "%d attributes" % (len(flat) // 2))
        attrs, keys = [], set()
        for i in range(0, len(flat), 2):
            tk, value = flat[i], flat[i + 1]
            if not _is_int(tk) or tk < 0:
                raise Reject("schema", "attribute type/key %r" % (tk,))
            key, kind = self._sid(tk >> 2, strings, limits, "attribute key"), tk & 3
            if key in keys:
                raise Reject("schema", "duplicate attribute key %r" % strings[key])
            keys.add(key)
            if kind == ATTR_STRING:
                if type(value) is str:  # an inline value (devices since 2026-11-25), else a sid
                    if len(value) > limits.max_value_len:
                        raise Reject("limit_string", "attribute value of %d characters" % len(value))
                else:
                    self._sid(value, strings)
            elif kind == ATTR_INT and not (_is_int(value) and INT64_MIN <= value <= INT64_MAX):
                raise Reject("schema", "int attribute value %r" % (value,))
            elif kind == ATTR_FLOAT:
                if not (type(value) is float or _is_int(value) and INT64_MIN <= value <= INT64_MAX):
                    raise Reject("schema", "float attribute value %r" % (value,))
                value = float(value)
            elif kind == ATTR_BOOL and type(value) is not bool:
                raise Reject("schema", "bool attribute value %r" % (value,))
            attrs.append((key, kind, value))
        return tuple(attrs)

    # -- resolution --------------------------------------------------------------------------------
    def attribute_values(self, attrs):
        """``[(key, python_value), ...]`` of an attrs tuple (a string value is a sid or inline)."""
        s = self.strings
        return [(s[k], s[v] if t == ATTR_STRING and type(v) is int else v) for k, t, v in attrs]


def _wire_instrument(entry):
    return [entry[0], entry[1], entry[2], entry[3], entry[4], None if entry[5] is None else list(entry[5])]


def _wire_attrs(attrs):
    flat = []
    for key, kind, value in attrs:
        flat.append(key * 4 + kind)
        flat.append(value)
    return flat


def _wire_series(entry):
    return [entry[0], _wire_attrs(entry[1])]
