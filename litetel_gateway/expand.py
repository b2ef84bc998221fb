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


# Data points are encoded by hand (protobuf wire format, fixed64 fields) and merged into the upb messages
# once per metric: about twice as fast as setting fields point by point. Field numbers from
# opentelemetry/proto/metrics/v1/metrics.proto.
_NUMBER_INT = struct.Struct("<BQBQBq").pack  # start_time_unix_nano=2, time_unix_nano=3, as_int=6
_NUMBER_DOUBLE = struct.Struct("<BQBQBd").pack  # ..., as_double=4
_HISTOGRAM_HEAD = struct.Struct("<BQBQBQBd").pack  # start=2, time=3, count=4, sum=5
_MIN_MAX = struct.Struct("<BdBd").pack  # min=11, max=12
_ZERO_COUNT = bytes(8)
_EXEMPLAR_DOUBLE = struct.Struct("<BQBd").pack  # Exemplar.time_unix_nano=2, as_double=3
_EXEMPLAR_INT = struct.Struct("<BQBq").pack  # time_unix_nano=2, as_int=6
_EXEMPLARS_TAG = 0x42  # HistogramDataPoint.exemplars, field 8
_NUMBER_ATTRIBUTES_TAG, _HISTOGRAM_ATTRIBUTES_TAG = 0x3A, 0x4A  # field 7 / field 9, length-delimited
# Sum/Gauge/Histogram.data_points is field 1 (tag 0x0A);
# HistogramDataPoint.bucket_counts is field 6, explicit_bounds 7.


def _series_encoding(dictionary, sid):
    """``(instrument_id, is_histogram, encoded attributes)`` of a series (cached on the dictionary): the
    attributes as the repeated KeyValue field of its data point kind."""
    cache = dictionary.caches.setdefault("otlp_series", {})
    entry = cache.get(sid)
    if entry is None:
        instrument_id, attrs = dictionary.series[sid]
        is_histogram = dictionary.series_kind[sid] == HISTOGRAM
        tag = _HISTOGRAM_ATTRIBUTES_TAG if is_histogram else _NUMBER_ATTRIBUTES_TAG
        encoded = b"".join(
            _field(tag, kv.SerializeToString()) for kv in key_values(dictionary.attribute_values(attrs))
        )
        entry = cache[sid] = (instrument_id, is_histogram, encoded)
    return entry


def _histogram_encoding(dictionary, instrument_id):
    """``(n_buckets, bucket_counts field prefix, explicit_bounds field)`` (cached)."""
    cache = dictionary.caches.setdefault("otlp_histograms", {})
    entry = cache.get(instrument_id)
    if entry is None:
        bounds = dictionary.instruments[instrument_id][5]
        n = len(bounds) + 1
        bounds_field = _field(0x3A, struct.pack("<%dd" % len(bounds), *bounds)) if bounds else b""
        entry = cache[instrument_id] = (n, bytes((0x32,)) + _varint(8 * n), bounds_field)
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
    d = group.dictionary
    queued = msgpack.unpackb(row.points, use_list=False)
    points, starts = queued[0], queued[1]
    exemplars = _exemplar_fields(queued[2]) if len(queued) > 2 else None
    end_ns = row.end_us * 1000
    start_ns = row.start_us * 1000
    metrics, new_metric = group.metrics, group.data_points
    series_cache = d.caches.get("otlp_series") or {}
    histograms = d.caches.get("otlp_histograms") or {}
    for i in range(0, len(points), 2):
        sid, value = points[i], points[i + 1]
        if starts is not None:
            start_ns = starts[i >> 1] * 1000
        entry = series_cache.get(sid)
        if entry is None:
            entry = _series_encoding(d, sid)
            series_cache = d.caches["otlp_series"]
        instrument_id, is_histogram, attributes = entry
        if is_histogram:
            encoding = histograms.get(instrument_id)
            if encoding is None:
                encoding = _histogram_encoding(d, instrument_id)
                histograms = d.caches["otlp_histograms"]
            n, buckets_prefix, bounds_field = encoding
            counts = value[5:]
            first = value[4]
            k = len(counts)
            body = b"".join(
                (
                    _HISTOGRAM_HEAD(0x11, start_ns, 0x19, end_ns, 0x21, value[0], 0x29, value[1]),
                    # dense bucket_counts: zeros before the first non-empty bucket and after the last
                    buckets_prefix,
                    _ZERO_COUNT * first,
                    struct.pack("<%dQ" % k, *counts),
                    _ZERO_COUNT * (n - first - k),
                    bounds_field,
                    attributes,
                    _MIN_MAX(0x59, value[2], 0x61, value[3]) if value[0] else b"",
                    exemplars.get(sid, b"") if exemplars else b"",
                )
            )
        elif type(value) is int:
            body = _NUMBER_INT(0x11, start_ns, 0x19, end_ns, 0x31, value) + attributes
        else:
            body = _NUMBER_DOUBLE(0x11, start_ns, 0x19, end_ns, 0x21, value) + attributes
        chunks = metrics.get(instrument_id)
        if chunks is None:
            chunks = new_metric(instrument_id)
        n = len(body)
        if n < 0x80:
            chunks.append(bytes((0x0A, n)) + body)
        elif n < 0x4000:
            chunks.append(bytes((0x0A, (n & 0x7F) | 0x80, n >> 7)) + body)
        else:
            chunks.append(b"\x0a" + _varint(n) + body)
    return len(points) >> 1
