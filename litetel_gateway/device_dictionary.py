"""The gateway's copy of a device epoch's series dictionary (wire format §2.1): strings, scopes, instruments,
series and resource, append-only; ``apply_delta`` validates a ``dict_delta`` whole before it appends. The store
(``store.py``) persists it as a base blob and appended parts (``to_blob``, ``new_part``, ``from_blob``).

    d = Dictionary()
    d.apply_delta(dict_delta, Limits())      # NeedDict, Reject("limit_series"), ...
    d.strings[sid], d.series[series_id], d.resource
"""

import msgpack

from litetel_gateway.payload_schema import (
    ATTR_BOOL,
    ATTR_FLOAT,
    ATTR_INT,
    ATTR_STRING,
    HISTOGRAM,
    INT64_MAX,
    INT64_MIN,
    NeedDict,
    Reject,
    _is_int,
    _is_number,
)


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
        # A Store's dictionaries (``staging``, shared with the export thread) stage a resource change: the
        # export thread sees ``resource`` (what is committed) until Store.commit() calls publish(); a
        # rollback drops the whole object.
        self.staging = False
        self._staged_resource = None
        self._saved = self._lengths() + (self.resource,)  # what the store holds (see new_part)
        self.stored_bytes = 0  # the store's bookkeeping: bytes of its base and parts, and how many parts
        self.n_parts = 0
        self._wire_forms = {}  # wire_form function of a table -> its held entries in wire form (see _merge)

    # -- persistence -------------------------------------------------------------------------------
    def to_blob(self):
        return msgpack.packb(
            [self.strings, self.scopes, self.instruments, self.series, self._current_resource()],
            use_bin_type=True,
        )

    def _current_resource(self):
        return self.resource if self._staged_resource is None else self._staged_resource

    def publish(self):
        """Make a staged resource change visible (after its transaction committed)."""
        if self._staged_resource is not None:
            self.resource, self._staged_resource = self._staged_resource, None
            self.caches.pop("resource", None)

    @classmethod
    def from_blob(cls, blob, parts=()):
        """A dictionary from its base blob (or None) and the parts appended since (``new_part``)."""
        d = cls(*msgpack.unpackb(blob, raw=False, use_list=True)) if blob is not None else cls()
        for part in parts:
            strings, scopes, instruments, series, resource = msgpack.unpackb(part, raw=False, use_list=True)
            more = cls(strings, scopes, instruments, (), resource)  # normalizes like __init__
            d.strings.extend(more.strings)
            d.scopes.extend(more.scopes)
            d.instruments.extend(more.instruments)
            for entry in series:
                entry = (entry[0], tuple(tuple(a) for a in entry[1]))
                d.series.append(entry)
                d.series_kind.append(d.instruments[entry[0]][2])
            if more.resource is not None:
                d.resource = more.resource
        d._saved = d._lengths() + (d.resource,)
        return d

    def _lengths(self):
        return (len(self.strings), len(self.scopes), len(self.instruments), len(self.series))

    def new_part(self):
        """The entries (and resource) added since the last part or load, packed; marks them saved. Persisting
        parts costs what changed, not the whole dictionary each time (O(n), not O(n^2), per epoch)."""
        s0, s1, s2, s3, saved_resource = self._saved
        resource = self._current_resource()
        part = msgpack.packb(
            [
                self.strings[s0:],
                self.scopes[s1:],
                self.instruments[s2:],
                self.series[s3:],
                resource if resource != saved_resource else None,
            ],
            use_bin_type=True,
        )
        self._saved = self._lengths() + (resource,)
        return part

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
        if resource is not None and resource != self._current_resource():
            if self.staging:
                self._staged_resource = resource
            else:
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
