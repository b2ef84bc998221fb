"""Queued spans and log records → OTLP ``ExportTraceServiceRequest`` / ``ExportLogsServiceRequest``.

The same Resource as the device's metrics (``expand.resource_attributes``: gateway settings, the device's
resource, ``device.id``), one ScopeSpans / ScopeLogs per device scope. Queue rows hold the frame's wire
entries (wire format §2.4, §2.5); times there count µs back from the frame's end, so a row's ``end_us`` (the
frame end, clock-corrected) turns them into unix time::

    request, n_spans = build_traces_request(rows, store.reader_dictionary, ResourceSettings())
    request, n_logs = build_logs_request(rows, store.reader_dictionary, ResourceSettings())
"""

import msgpack
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from litetel_gateway.expand import any_value, key_values, resource_attributes
from litetel_gateway.payload_schema import ATTR_STRING

# SeverityText per the OpenTelemetry log data model's short names, by the range a severity number is in.
_SEVERITY_TEXT = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


def severity_text(number):
    """``9`` → ``"INFO"``, ``14`` → ``"WARN2"``; empty for 0 (unspecified)."""
    if not 1 <= number <= 24:
        return ""
    base = _SEVERITY_TEXT[(number - 1) // 4]
    step = (number - 1) % 4
    return base if step == 0 else "%s%d" % (base, step + 1)


def signal_attributes(flat, strings):
    """KeyValues of a span / event / log attribute list (string values inline or string ids)."""
    out = []
    for i in range(0, len(flat), 2):
        tk, value = flat[i], flat[i + 1]
        if tk & 3 == ATTR_STRING and type(value) is int:
            value = strings[value]
        elif tk & 3 == 2:
            value = float(value)
        out.append(KeyValue(key=strings[tk >> 2], value=any_value(value)))
    return out


class _Groups:
    """Resource → scope containers of one request, created on first use."""

    def __init__(self, request_field, scope_field, get_dictionary, settings):
        self.request_field = request_field
        self.scope_field = scope_field
        self.get_dictionary = get_dictionary
        self.settings = settings
        self.resources = {}

    def scope(self, row, dictionary, scope_id):
        key = (row.device, row.epoch, row.corrected)
        entry = self.resources.get(key)
        if entry is None:
            resource = self.request_field.add()
            attrs = resource_attributes(dictionary, row.device, row.corrected, self.settings)
            resource.resource.attributes.extend(key_values(attrs.items()))
            entry = self.resources[key] = (resource, {})
        resource, scopes = entry
        scope = scopes.get(scope_id)
        if scope is None:
            scope = scopes[scope_id] = getattr(resource, self.scope_field).add()
            name_sid, version_sid = dictionary.scopes[scope_id]
            scope.scope.name = dictionary.strings[name_sid]
            scope.scope.version = dictionary.strings[version_sid]
        return scope


def _entries(rows, get_dictionary):
    """``(row, dictionary, end_ns, wire entry)`` of every span / log record of the rows, in order."""
    for row in rows:
        d = get_dictionary(row.device, row.epoch)
        end_ns = row.end_us * 1000
        for entry in msgpack.unpackb(row.points, raw=False):
            yield row, d, end_ns, entry


def build_traces_request(rows, get_dictionary, settings):
    """``(ExportTraceServiceRequest, n_spans)`` of queue rows of the traces queue."""
    request = ExportTraceServiceRequest()
    groups = _Groups(request.resource_spans, "scope_spans", get_dictionary, settings)
    n = 0
    for row, d, end_ns, e in _entries(rows, get_dictionary):
        (
            scope_id,
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
            msg,
            flags,
        ) = e
        strings = d.strings
        start_ns = end_ns - ago * 1000
        span = groups.scope(row, d, scope_id).spans.add(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent_id or b"",
            name=name if type(name) is str else strings[name],
            kind=kind,
            flags=flags,
            start_time_unix_nano=start_ns,
            end_time_unix_nano=start_ns + duration * 1000,
        )
        span.attributes.extend(signal_attributes(attrs, strings))
        for ev_name, offset, ev_attrs in events or ():
            if type(ev_name) is not str:  # inline when the device's string table was full (§2.4)
                ev_name = strings[ev_name]
            event = span.events.add(name=ev_name, time_unix_nano=start_ns + offset * 1000)
            event.attributes.extend(signal_attributes(ev_attrs, strings))
        span.status.code = status
        if msg:
            span.status.message = msg
        n += 1
    return request, n


def build_logs_request(rows, get_dictionary, settings):
    """``(ExportLogsServiceRequest, n_records)`` of queue rows of the logs queue."""
    request = ExportLogsServiceRequest()
    groups = _Groups(request.resource_logs, "scope_logs", get_dictionary, settings)
    n = 0
    for row, d, end_ns, (scope_id, ago, severity, body, attrs, trace_id, span_id, flags) in _entries(
        rows, get_dictionary
    ):
        t = end_ns - ago * 1000
        record = groups.scope(row, d, scope_id).log_records.add(
            time_unix_nano=t,
            observed_time_unix_nano=t,
            severity_number=severity,
            severity_text=severity_text(severity),
            flags=flags,
            trace_id=trace_id or b"",
            span_id=span_id or b"",
        )
        if body is not None:
            record.body.CopyFrom(any_value(body))
        record.attributes.extend(signal_attributes(attrs, strings=d.strings))
        n += 1
    return request, n
