"""Queued frames → one OTLP ``ExportMetricsServiceRequest``.

A Resource per (device, epoch), a ScopeMetrics per device scope, a Metric per instrument, one data point
per queued point. Attribute KeyValue lists are built once per series and cached on the dictionary, so
the per-point work is a few field sets (upb)::

    request, n_points = build_request(rows, store.reader_dictionary, ResourceSettings(service_name="x"))

Queued points are ``msgpack([points, starts])``: ``points`` is the frame's flat ``[series, value, ...]``
(for ``--temporality cumulative`` the values are already running totals, histograms dense from bucket 0),
``starts`` is None (every point starts at the frame start: delta) or each point's start (µs).
"""

import msgpack
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from litetel_gateway.decoder import ATTR_BOOL, ATTR_FLOAT, ATTR_INT, COUNTER, GAUGE, HISTOGRAM

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


def _series_kvs(dictionary, sid):
    cache = dictionary.caches.setdefault("otlp_attrs", {})
    kvs = cache.get(sid)
    if kvs is None:
        kvs = cache[sid] = key_values(dictionary.attribute_values(dictionary.series[sid][1]))
    return kvs


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
        rm.resource.attributes.extend(key_values(resource_attributes(dictionary, device_id, corrected,
                                                                     settings).items()))
        self.scopes = {}
        self.metrics = {}  # instrument id -> repeated data_points container

    def data_points(self, instrument_id):
        container = self.metrics.get(instrument_id)
        if container is not None:
            return container
        d = self.dictionary
        scope_id, name_sid, kind, unit_sid, description_sid, _ = d.instruments[instrument_id]
        scope = self.scopes.get(scope_id)
        if scope is None:
            scope = self.scopes[scope_id] = self.rm.scope_metrics.add()
            name_id, version_id = d.scopes[scope_id]
            scope.scope.name = d.strings[name_id]
            scope.scope.version = d.strings[version_id]
        metric = scope.metrics.add(name=d.strings[name_sid], unit=d.strings[unit_sid],
                                   description=d.strings[description_sid])
        if kind == GAUGE:
            container = metric.gauge.data_points
        elif kind == HISTOGRAM:
            metric.histogram.aggregation_temporality = self.settings.temporality
            container = metric.histogram.data_points
        else:
            metric.sum.aggregation_temporality = self.settings.temporality
            metric.sum.is_monotonic = kind == COUNTER
            container = metric.sum.data_points
        self.metrics[instrument_id] = container
        return container


def build_request(rows, get_dictionary, settings):
    """``(ExportMetricsServiceRequest, n_points)`` of queue rows, in row order within each resource."""
    request = ExportMetricsServiceRequest()
    groups = {}
    n_points = 0
    for row in rows:
        key = (row.device, row.epoch, row.corrected)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _ResourceGroup(request, get_dictionary(row.device, row.epoch), row.device,
                                                 row.corrected, settings)
        n_points += _add_points(group, row)
    return request, n_points


def _add_points(group, row):
    d = group.dictionary
    series, kinds, instruments = d.series, d.series_kind, d.instruments
    points, starts = msgpack.unpackb(row.points, use_list=False)
    end_ns = row.end_us * 1000
    frame_start_ns = row.start_us * 1000
    data_points = group.data_points
    for i in range(0, len(points), 2):
        sid, value = points[i], points[i + 1]
        instrument_id = series[sid][0]
        start_ns = frame_start_ns if starts is None else starts[i >> 1] * 1000
        kvs = _series_kvs(d, sid)
        if kinds[sid] == HISTOGRAM:
            bounds = instruments[instrument_id][5]
            buckets = [0] * (len(bounds) + 1)
            first = value[4]
            buckets[first:first + len(value) - 5] = value[5:]
            dp = data_points(instrument_id).add(start_time_unix_nano=start_ns, time_unix_nano=end_ns,
                                                attributes=kvs, count=value[0], sum=value[1],
                                                explicit_bounds=bounds, bucket_counts=buckets)
            if value[0]:
                dp.min = value[2]
                dp.max = value[3]
        elif type(value) is int:
            data_points(instrument_id).add(start_time_unix_nano=start_ns, time_unix_nano=end_ns,
                                           attributes=kvs, as_int=value)
        else:
            data_points(instrument_id).add(start_time_unix_nano=start_ns, time_unix_nano=end_ns,
                                           attributes=kvs, as_double=value)
    return len(points) >> 1
