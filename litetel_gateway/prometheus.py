"""``/metrics``: the cumulative view of every device series in the Prometheus text format (0.0.4).

Counters become ``<name>_total`` counters, up-down counters and gauges become gauges, histograms become
``_bucket{le=...}``/``_sum``/``_count``. Names are sanitized (``.`` and other invalid characters → ``_``),
no unit suffix is added. Labels: ``device_id`` plus the series' attributes. The view is updated inside each
ingest transaction and persisted (``prom_series`` table), so a gateway restart does not reset it::

    view = PromView()
    pending = {}
    view.stage(pending, dictionary, "sat-7", points)   # compute new totals (writer thread, uncommitted)
    store.save_prom_series(view.rows(pending))         # same transaction
    view.apply(pending)                                # after the commit
    text = view.render()
"""

import re
import threading

import msgpack

from litetel_gateway.decoder import COUNTER, GAUGE, HISTOGRAM, INT64_MAX, INT64_MIN, UP_DOWN_COUNTER
from litetel_gateway.payload_schema import UINT64_MAX
from litetel_gateway.self_metrics import escape_label_value, format_float

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
TYPE_OF_KIND = {COUNTER: "counter", UP_DOWN_COUNTER: "gauge", GAUGE: "gauge", HISTOGRAM: "histogram"}


def metric_name(name, kind):
    """``http.server.request.count`` (counter) → ``http_server_request_count_total``."""
    name = _INVALID_NAME.sub("_", name)
    if name[:1].isdigit():
        name = "_" + name
    if kind == COUNTER and not name.endswith("_total"):
        name += "_total"
    return name


def label_name(key):
    key = _INVALID_LABEL.sub("_", key)
    return "_" + key if key[:1].isdigit() or not key else key


def _label_value(value):
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


class _SeriesMeta:
    __slots__ = ("name", "type", "help", "labels", "bounds", "kind")

    def __init__(self, name, type_, help_, labels, bounds, kind):
        self.name, self.type, self.help, self.labels, self.bounds, self.kind = (
            name,
            type_,
            help_,
            labels,
            bounds,
            kind,
        )


def series_meta(dictionary, device_id, sid):
    """Prometheus identity of a dictionary series (cached on the dictionary)."""
    cache = dictionary.caches.setdefault("prom", {})
    meta = cache.get(sid)
    if meta is None:
        instrument_id, attrs = dictionary.series[sid]
        _, name_sid, kind, _, description_sid, bounds = dictionary.instruments[instrument_id]
        labels = {}
        # keys that sanitize to the same label name: values joined with ";" in the original keys' order
        for k, v in sorted(dictionary.attribute_values(attrs)):
            name = label_name(k)
            if kind == HISTOGRAM and name == "le":  # "le" is the bucket label of _bucket samples
                name = "exported_le"
            v = _label_value(v)
            labels[name] = labels[name] + ";" + v if name in labels else v
        labels["device_id"] = device_id  # the device id wins over an attribute of the same name
        blob = msgpack.packb(sorted(labels.items()))
        meta = _SeriesMeta(
            metric_name(dictionary.strings[name_sid], kind),
            TYPE_OF_KIND[kind],
            dictionary.strings[description_sid],
            blob,
            bounds,
            kind,
        )
        cache[sid] = meta
    return meta


class PromView:
    """Cumulative totals per (metric name, labels); thread-safe render while the writer thread updates."""

    def __init__(self, max_series_per_device=None):
        self._lock = threading.Lock()
        self._families = {}  # name -> [type, help, {labels_blob: state}]
        self._label_text = {}
        # A device's epochs are its own to choose, so a per-(device, epoch) dictionary limit does not bound
        # the series a device adds here: new series of a device past this many are left out of /metrics
        # (they still go to OTLP).
        self.max_series_per_device = max_series_per_device
        self._device_series = {}  # device_id -> series in the view

    def __len__(self):
        return sum(len(f[2]) for f in self._families.values())

    def load(self, rows):
        """Restore from ``Store.load_prom_series()``."""
        pending = {
            (name, labels): (t, h, s, dict(msgpack.unpackb(labels)).get("device_id"))
            for name, labels, t, h, s in rows
        }
        self.apply(pending)

    def value(self, name, labels):
        """Current state of a series (``labels`` a dict), None when absent: for tests and tools."""
        family = self._families.get(name)
        if family is None:
            return None
        return family[2].get(msgpack.packb(sorted(labels.items())))

    def stage(self, pending, dictionary, device_id, points, base=None):
        """Add a frame's points to ``pending`` ({(name, labels): (type, help, state)}), on top of ``base``
        (what earlier requests of the same transaction staged); the view itself changes only in
        :meth:`apply`, after the commit."""
        families = self._families
        base = base or {}
        new_types = None  # name -> type of the families first staged in this transaction (made on demand)
        room = None  # series the device may still add to the view (made on demand)
        for i in range(0, len(points), 2):
            meta = series_meta(dictionary, device_id, points[i])
            value = points[i + 1]
            key = (meta.name, meta.labels)
            family = families.get(meta.name)
            if family is not None:
                family_type = family[0]
            else:
                if new_types is None:
                    new_types = {}
                    for staged_map in (base, pending):
                        for (name, _), (type_, *_) in staged_map.items():
                            new_types.setdefault(name, type_)
                family_type = new_types.setdefault(meta.name, meta.type)
            if family_type != meta.type:
                continue  # another instrument defined this name with another type: first type wins
            staged = pending.get(key) or base.get(key)
            if staged is not None:
                old = staged[2]
            else:
                old = None if family is None else family[2].get(meta.labels)
                if old is None and self.max_series_per_device is not None:  # a series new to the view
                    if room is None:
                        room = self.max_series_per_device - self._device_series.get(device_id, 0)
                        for staged_map in (base, pending):
                            for (name, labels), entry in staged_map.items():
                                if entry[3] == device_id and not self._has(name, labels):
                                    room -= 1
                    if room <= 0:
                        continue
                    room -= 1
            if meta.kind == GAUGE:
                new = value
            elif meta.kind == HISTOGRAM:
                new = _add_histogram(old, meta.bounds, value)
            else:
                new = value if old is None else _fit(old + value, INT64_MIN, INT64_MAX)
            pending[key] = (meta.type, meta.help, new, device_id)

    def _has(self, name, labels):
        family = self._families.get(name)
        return family is not None and labels in family[2]

    @staticmethod
    def rows(pending):
        return [(name, labels, t, h, state) for (name, labels), (t, h, state, _) in pending.items()]

    def apply(self, pending):
        with self._lock:
            for (name, labels), (type_, help_, state, device_id) in pending.items():
                family = self._families.get(name)
                if family is None:
                    family = self._families[name] = [type_, help_, {}]
                elif family[0] != type_:
                    continue  # first type wins (also for rows persisted before this rule held)
                if labels not in family[2]:
                    self._device_series[device_id] = self._device_series.get(device_id, 0) + 1
                family[2][labels] = state

    def render(self, out):
        """Append the exposition text of every device series to the list ``out``."""
        with self._lock:
            for name in sorted(self._families):
                type_, help_, series = self._families[name]
                out.append("# HELP %s %s\n# TYPE %s %s\n" % (name, _escape_help(help_), name, type_))
                for labels, state in series.items():
                    text = self._labels(labels)
                    if type_ == "histogram":
                        _render_histogram(out, name, text, state)
                    else:
                        out.append("%s{%s} %s\n" % (name, text, format_float(state)))

    def _labels(self, blob):
        text = self._label_text.get(blob)
        if text is None:
            text = ",".join('%s="%s"' % (k, escape_label_value(v)) for k, v in msgpack.unpackb(blob))
            self._label_text[blob] = text
        return text


def _escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _add_histogram(old, bounds, value):
    """Cumulative histogram state ``[bounds, counts, sum, count]`` plus one sparse interval value."""
    if old is None or list(old[0]) != list(bounds):
        counts, total, count = [0] * (len(bounds) + 1), 0.0, 0  # new series, or its boundaries changed
    else:
        counts, total, count = list(old[1]), old[2], old[3]
    first = value[4]
    for i, c in enumerate(value[5:]):
        counts[first + i] = _fit(counts[first + i] + c, 0, UINT64_MAX)
    return [list(bounds), counts, total + value[1], _fit(count + value[0], 0, UINT64_MAX)]


def _fit(total, low, high):
    """A running total as persisted (msgpack: 64-bit ints): past ``[low, high]`` it goes on as a double."""
    if type(total) is int and not low <= total <= high:
        return float(total)
    return total


def _render_histogram(out, name, labels, state):
    bounds, counts, total, count = state
    sep = "," if labels else ""
    running = 0
    for bound, c in zip(bounds, counts):
        running += c
        out.append('%s_bucket{%s%sle="%s"} %d\n' % (name, labels, sep, format_float(bound), running))
    out.append('%s_bucket{%s%sle="+Inf"} %d\n' % (name, labels, sep, count))
    out.append("%s_sum{%s} %s\n%s_count{%s} %d\n" % (name, labels, format_float(total), name, labels, count))
