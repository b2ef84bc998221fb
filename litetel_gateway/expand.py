"""Queued frames → one OTLP ``ExportMetricsServiceRequest``.

A Resource per (device, epoch), a ScopeMetrics per device scope, a Metric per instrument, one data point
per queued point. Attribute KeyValue lists are built once per series and cached on the dictionary, so
the per-point work is a few field sets (upb)::

    request, n_points = build_request(rows, store.reader_dictionary, ResourceSettings(service_name="x"))

Queued points are ``msgpack([points, starts(, exemplars)])``: ``points`` is the frame's flat ``[series, value, ...]``
(for ``--temporality cumulative`` the values are already running totals, histograms dense from bucket 0),
``starts`` is None (every point starts at the frame start: delta) or each point's start (µs); the optional
``exemplars`` is ``[series, [[value, time_us, trace_id, span_id], ...], ...]`` (histogram series only).
"""

import struct
from itertools import repeat

import msgpack
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from litetel_gateway.decoder import COUNTER, GAUGE, HISTOGRAM

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
DEFAULT_SERVICE_NAME = "litetel-device"


class ResourceSettings:
    """What the gateway adds to every device Resource: OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME.

    Precedence (lowest first): OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME, the device's own resource
    attributes (so a device that sets ``service.name`` keeps it), then ``device.id`` (the authenticated id).
    """

    def __init__(self, resource_attributes=None, service_name=None, temporality="delta"):
        self.attributes = dict(resource_attributes or {})
        if service_name:
            self.attributes["service.name"] = service_name
        self.attributes.setdefault("service.name", DEFAULT_SERVICE_NAME)
        self.temporality = CUMULATIVE if temporality == "cumulative" else DELTA


def any_value(value):
    """AnyValue of a Python str/bool/int/float."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def key_values(pairs):
    return [KeyValue(key=k, value=any_value(v)) for k, v in pairs]


def _varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag, payload):
    """A length-delimited protobuf field: tag byte, varint length, payload."""
    n = len(payload)
    if n < 0x80:
        return bytes((tag, n)) + payload
    return bytes((tag,)) + _varint(n) + payload


# Data points are encoded by hand (protobuf wire format) and merged into the upb messages once per metric:
# about twice as fast as setting fields point by point. Field numbers from
# opentelemetry/proto/metrics/v1/metrics.proto. Everything that is fixed per series (the data_points field
# header with its length, the attributes, a histogram's bounds and bucket_counts header) is encoded once into
# a "lead", so a point is ONE struct.pack call: lead, then the point's own fields. Fields may come in any
# order on the wire: upb parses them and SerializeToString writes them in field order, so the request's
# bytes are those of setting the fields one by one.
_DATA_POINTS_TAG = 0x0A  # Sum/Gauge/Histogram.data_points, field 1
_NUMBER_ATTRIBUTES_TAG, _HISTOGRAM_ATTRIBUTES_TAG = 0x3A, 0x4A  # field 7 / field 9, length-delimited
_BUCKET_COUNTS_TAG, _EXPLICIT_BOUNDS_TAG = 0x32, 0x3A  # HistogramDataPoint fields 6 and 7 (packed)
# start_time_unix_nano=2 and time_unix_nano=3, the same for every point of a delta frame: packed once per
# frame (per point for cumulative rows) and passed to a point's pack as one 18-byte string.
_TIMES = struct.Struct("<BQBQ").pack
_TIMES_FIELD = "18s"
# then as_int=6 (0x31) or as_double=4 (0x21)
_NUMBER_FIELDS = _TIMES_FIELD + "Bq", _TIMES_FIELD + "Bd"
_NUMBER_SIZE = 27
# ..., count=4 (0x21), sum=5 (0x29), and when count > 0 min=11 (0x59), max=12 (0x61)
_HISTOGRAM_FIELDS, _MIN_MAX_FIELDS = _TIMES_FIELD + "BQBd", "BdBd"
_HISTOGRAM_SIZE, _MIN_MAX_SIZE = 36, 18
_EXEMPLAR_DOUBLE = struct.Struct("<BQBd").pack  # Exemplar.time_unix_nano=2, as_double=3
_EXEMPLAR_INT = struct.Struct("<BQBq").pack  # time_unix_nano=2, as_int=6
_EXEMPLARS_TAG = 0x42  # HistogramDataPoint.exemplars, field 8

_packers = {}


def _packer(fmt):
    """``struct.Struct(fmt).pack``, shared between series of the same shape. Bounded: lead sizes come
    from device-chosen attributes, so a hostile dictionary must not grow this without limit."""
    pack = _packers.get(fmt)
    if pack is None:
        if len(_packers) >= 4096:
            _packers.clear()
        pack = _packers[fmt] = struct.Struct(fmt).pack
    return pack


def _lead(body_size, fixed):
    """The data_points field header of a point of ``body_size`` bytes, then ``fixed``."""
    return bytes((_DATA_POINTS_TAG,)) + _varint(body_size) + fixed


class _HistogramSeries:
    """Encodes one histogram series' data points (dense bucket_counts, min/max when count > 0)."""

    __slots__ = ("n", "zeros", "fixed_size", "with_min_max", "without_min_max")

    def __init__(self, bounds, attributes):
        n = self.n = len(bounds) + 1
        self.zeros = (0,) * n
        bounds_field = _field(_EXPLICIT_BOUNDS_TAG, struct.pack("<%dd" % len(bounds), *bounds)) if bounds else b""
        # bucket_counts' header ends the lead: the counts are the first values packed after it
        fixed = bounds_field + attributes + bytes((_BUCKET_COUNTS_TAG,)) + _varint(8 * n)
        self.fixed_size = len(fixed)
        head = "<%ds%dQ" + _HISTOGRAM_FIELDS
        size = len(fixed) + 8 * n + _HISTOGRAM_SIZE
        lead = _lead(size + _MIN_MAX_SIZE, fixed)
        self.with_min_max = lead, _packer(head % (len(lead), n) + _MIN_MAX_FIELDS)
        lead = _lead(size, fixed)
        self.without_min_max = lead, _packer(head % (len(lead), n))

    def encode(self, value, times, exemplars=b""):
        """The data_points field of a queued histogram value ``[count, sum, min, max, first, counts...]``
        (``times``: the packed start and end, see _TIMES)."""
        count, first, counts = value[0], value[4], value[5:]
        zeros = self.zeros
        if count:
            lead, pack = self.with_min_max
            field = pack(
                lead, *zeros[:first], *counts, *zeros[first + len(counts) :],
                times, 0x21, count, 0x29, value[1], 0x59, value[2], 0x61, value[3],
            )  # fmt: skip
        else:
            lead, pack = self.without_min_max
            field = pack(
                lead, *zeros[:first], *counts, *zeros[first + len(counts) :],
                times, 0x21, count, 0x29, value[1],
            )  # fmt: skip
        if not exemplars:
            return field
        # rare: re-frame the point with its exemplars appended
        body = field[len(lead) - self.fixed_size :] + exemplars
        return _lead(len(body), body)


def _series_encoding(dictionary, sid):
    """``(instrument_id, histogram, lead, pack_int, pack_double)`` of a series (cached on the dictionary):
    ``histogram`` a _HistogramSeries or None; ``lead`` and the packers encode a number point."""
    cache = dictionary.caches.setdefault("otlp_series", {})
    entry = cache.get(sid)
    if entry is None:
        instrument_id, attrs = dictionary.series[sid]
        pairs = key_values(dictionary.attribute_values(attrs))
        if dictionary.series_kind[sid] == HISTOGRAM:
            attributes = b"".join(_field(_HISTOGRAM_ATTRIBUTES_TAG, kv.SerializeToString()) for kv in pairs)
            bounds = dictionary.instruments[instrument_id][5]
            entry = (instrument_id, _HistogramSeries(bounds, attributes), None, None, None)
        else:
            attributes = b"".join(_field(_NUMBER_ATTRIBUTES_TAG, kv.SerializeToString()) for kv in pairs)
            lead = _lead(_NUMBER_SIZE + len(attributes), attributes)
            pack_int, pack_double = (_packer("<%ds%s" % (len(lead), f)) for f in _NUMBER_FIELDS)
            entry = (instrument_id, None, lead, pack_int, pack_double)
        cache[sid] = entry
    return entry


def resource_attributes(dictionary, device_id, corrected, settings):
    attrs = dict(settings.attributes)
    if dictionary.resource:
        attrs.update(dictionary.attribute_values(dictionary.resource))
    attrs["device.id"] = device_id
    if corrected:
        attrs["litetel.clock.corrected"] = True
    return attrs


class _ResourceGroup:
    """The ResourceMetrics being filled for one (device, epoch, corrected)."""

    def __init__(self, request, dictionary, device_id, corrected, settings):
        self.dictionary = dictionary
        self.settings = settings
        rm = self.rm = request.resource_metrics.add()
        rm.resource.attributes.extend(
            key_values(resource_attributes(dictionary, device_id, corrected, settings).items())
        )
        self.scopes = {}
        self.metrics = {}  # instrument id -> list of encoded data points
        self.containers = []  # (Sum/Gauge/Histogram message, its encoded data points)
        self.series = {}  # series id -> its encoding with the append of its metric's list first

    def series_entry(self, sid):
        """``(append, histogram, lead, pack_int, pack_double)`` of a series (see _series_encoding)."""
        entry = _series_encoding(self.dictionary, sid)
        entry = self.series[sid] = (self.data_points(entry[0]).append,) + entry[1:]
        return entry

    def data_points(self, instrument_id):
        """The list collecting encoded data points of an instrument's Metric (created on first use)."""
        chunks = self.metrics.get(instrument_id)
        if chunks is not None:
            return chunks
        d = self.dictionary
        scope_id, name_sid, kind, unit_sid, description_sid, _ = d.instruments[instrument_id]
        scope = self.scopes.get(scope_id)
        if scope is None:
            scope = self.scopes[scope_id] = self.rm.scope_metrics.add()
            name_id, version_id = d.scopes[scope_id]
            scope.scope.name = d.strings[name_id]
            scope.scope.version = d.strings[version_id]
        metric = scope.metrics.add(
            name=d.strings[name_sid], unit=d.strings[unit_sid], description=d.strings[description_sid]
        )
        if kind == GAUGE:
            data = metric.gauge
        elif kind == HISTOGRAM:
            data = metric.histogram
            data.aggregation_temporality = self.settings.temporality
        else:
            data = metric.sum
            data.aggregation_temporality = self.settings.temporality
            data.is_monotonic = kind == COUNTER
        chunks = self.metrics[instrument_id] = []
        self.containers.append((data, chunks))
        return chunks

    def finish(self):
        for data, chunks in self.containers:
            data.MergeFromString(b"".join(chunks))


def build_request(rows, get_dictionary, settings):
    """``(ExportMetricsServiceRequest, n_points)`` of queue rows, in row order within each resource."""
    request = ExportMetricsServiceRequest()
    groups = {}
    n_points = 0
    for row in rows:
        key = (row.device, row.epoch, row.corrected)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _ResourceGroup(
                request, get_dictionary(row.device, row.epoch), row.device, row.corrected, settings
            )
        n_points += _add_points(group, row)
    for group in groups.values():
        group.finish()
    return request, n_points


def _exemplar_fields(flat):
    """``{series: encoded HistogramDataPoint.exemplars fields}`` of a queued exemplar list."""
    out = {}
    for i in range(0, len(flat), 2):
        fields = []
        for value, time_us, trace_id, span_id in flat[i + 1]:
            if type(value) is int:
                head = _EXEMPLAR_INT(0x11, time_us * 1000, 0x31, value)
            else:
                head = _EXEMPLAR_DOUBLE(0x11, time_us * 1000, 0x19, value)
            body = head + _field(0x22, span_id) + _field(0x2A, trace_id)
            fields.append(_field(_EXEMPLARS_TAG, body))
        out[flat[i]] = b"".join(fields)
    return out


def _add_points(group, row):
    queued = msgpack.unpackb(row.points, use_list=False)
    points, starts = queued[0], queued[1]
    exemplars = _exemplar_fields(queued[2]) if len(queued) > 2 else None
    end_ns = row.end_us * 1000
    if starts is None:  # delta: every point starts at the frame start
        times_of_points = repeat(_TIMES(0x11, row.start_us * 1000, 0x19, end_ns))
    else:
        times_of_points = [_TIMES(0x11, start * 1000, 0x19, end_ns) for start in starts]
    series, new_series = group.series, group.series_entry
    for sid, value, times in zip(points[0::2], points[1::2], times_of_points):
        entry = series.get(sid)
        if entry is None:
            entry = new_series(sid)
        append, histogram, lead, pack_int, pack_double = entry
        if histogram is not None:
            append(histogram.encode(value, times, exemplars.get(sid) if exemplars else b""))
        elif type(value) is int:
            append(pack_int(lead, times, 0x31, value))
        else:
            append(pack_double(lead, times, 0x21, value))
    return len(points) >> 1
