"""Logs: ``Logger`` and the OpenTelemetry severity numbers.

A log record is a time, a severity, a body and attributes, linked to the current span (its trace and span
id) when there is one. Records wait in the device's bounded log buffer and travel in the next frame
(payload element 3, wire format §2.5).

    >>> from litetel.device import Device
    >>> log = Device("doc-l").logger("model_server")
    >>> log.warning("battery low", {"battery.percent": 9})
    >>> log.level = WARN                   # drop debug and info records from now on
    >>> log.info("not kept")
"""

from litetel.clock import ticks_us
from litetel.signal_buffer import wire_attrs, wire_text
from litetel.signals import signal_buffer
from litetel.trace_context import current_span

# OpenTelemetry SeverityNumber of each level (the first number of its range).
TRACE = 1
DEBUG = 5
INFO = 9
WARN = 13
ERROR = 17
FATAL = 21


class Logger:
    """Emits log records of instrumentation scope ``name``; from ``Device.logger(name, version)``.

    ``level``: records below this severity number are discarded at the call (default: keep all).
    """

    def __init__(self, device, name, version=None, level=TRACE):
        if name.__class__ is not str or not name:
            raise ValueError("logger name must be a non-empty str, got %r" % (name,))
        self.name = name
        self.version = version
        self.level = level
        self.scope_id = device.dictionary.add_scope(name, version or "")
        self._buffer = signal_buffer(device, "logs")

    def __repr__(self):
        return "<Logger %s>" % self.name

    def emit(self, severity, body, attrs=None):
        """Keep one record (``severity`` a number 1-24); the current span's ids are attached."""
        if severity < self.level:
            return
        span = current_span()
        self._buffer.add(
            (
                self.scope_id,
                ticks_us(),
                severity,
                body,
                dict(attrs) if attrs else None,
                None if span is None else span,
            )
        )

    def debug(self, body, attrs=None):
        self.emit(DEBUG, body, attrs)

    def info(self, body, attrs=None):
        self.emit(INFO, body, attrs)

    def warning(self, body, attrs=None):
        """``log.warning("battery low", {"battery.percent": 9})``"""
        self.emit(WARN, body, attrs)

    def error(self, body, attrs=None):
        self.emit(ERROR, body, attrs)

    def critical(self, body, attrs=None):
        self.emit(FATAL, body, attrs)


def encode_log(record, dictionary, end_ticks):
    """A record as its wire entry (wire format §2.5): time relative to the frame's end."""
    scope_id, t, severity, body, attrs, span = record
    if body is not None and body.__class__ not in (str, int, float, bool):
        body = str(body)
    if body.__class__ is str:
        body = wire_text(body)
    if span is None:
        trace_id = span_id = None
        flags = 0
    else:
        trace_id, span_id, flags = span.trace_id, span.span_id, 1 if span.sampled else 0
    ago = end_ticks - t  # >= 0 (§2.5): a record another thread made while collect() ran is at the frame's end
    if ago < 0:
        ago = 0
    return [scope_id, ago, severity, body, wire_attrs(attrs, dictionary), trace_id, span_id, flags]
