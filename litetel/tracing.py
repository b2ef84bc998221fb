"""Tracing: ``Tracer`` and ``Span``, as light as the metrics.

A span is one timed operation: trace id (16 random bytes), span id (8), its parent's span id, name, kind,
start and end on the device clock, attributes, events and a status. Finished sampled spans wait in the
device's bounded span buffer and travel in the next frame (payload element 2, wire format §2.4).

    >>> from litetel.device import Device
    >>> tracer = Device("doc-t").tracer("model_server")
    >>> with tracer.span("inference", {"deployment.id": "d-42"}) as span:
    ...     span.set_attribute("model.name", "resnet")
    ...     with tracer.span("load") as child:      # parent: the current span
    ...         child.add_event("cache_miss")
    >>> child.parent_id == span.span_id and child.trace_id == span.trace_id
    True

``tracer.span()`` starts a span; ``with`` makes it the current span for its body and ends it (recording
an escaping exception as an error). Without ``with``: ``span = tracer.start_span(...)`` ... ``span.end()``.
Continue a trace another process started: ``tracer.span("handle", parent=headers.get("traceparent"))``.
"""

from litetel import histogram, sampling
from litetel.clock import ticks_us
from litetel.signal_buffer import MAX_ATTRIBUTES, wire_attrs, wire_name, wire_text
from litetel.signals import signal_buffer
from litetel.trace_context import FLAG_SAMPLED, attach, current_span, detach, parse_traceparent

try:
    from random import randbytes as _random_bytes  # CPython: fast, reseeded in a forked child
except ImportError:  # MicroPython
    from os import urandom as _random_bytes

# SpanKind, numbered as OTLP's Span.SpanKind.
INTERNAL = 1
SERVER = 2
CLIENT = 3
PRODUCER = 4
CONSUMER = 5

# Status codes, as OTLP's Status.StatusCode.
STATUS_UNSET = 0
STATUS_OK = 1
STATUS_ERROR = 2

MAX_EVENTS = 16  # per span; later events are not kept

# OTLP Span.flags: the W3C trace flags in bits 0-7, then "is-remote is known" (bit 8) and "parent is remote"
# (bit 9).
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

_CURRENT = object()  # "parent: the current span", the default of start_span

# From now on a histogram measurement made inside a sampled span is kept as an exemplar (histogram.py).
histogram.current_span = current_span


class Span:
    """One operation. Made by ``Tracer.span``/``start_span``; ``end()`` once (later calls do nothing).

    ``trace_id``/``span_id``/``parent_id`` are bytes; ``sampled`` says whether it is recorded and sent.
    The setters of an unsampled span do nothing.
    """

    __slots__ = (
        "_token",
        "attributes",
        "end_us",
        "events",
        "flags",
        "kind",
        "name",
        "parent_id",
        "sampled",
        "span_id",
        "start_us",
        "status",
        "status_message",
        "trace_id",
        "tracer",
    )

    def __init__(self, tracer, name, trace_id, span_id, parent_id, sampled, kind, attrs, flags):
        self.tracer = tracer
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.sampled = sampled
        self.kind = kind
        self.attributes = dict(attrs) if attrs and sampled else None  # a copy: the caller may reuse its dict
        self.events = None
        self.status = STATUS_UNSET
        self.status_message = None
        self.flags = flags
        self._token = None
        self.end_us = None
        self.start_us = ticks_us()

    def __repr__(self):
        return "<Span %s %s/%s%s>" % (
            self.name,
            self.trace_id.hex(),
            self.span_id.hex(),
            "" if self.sampled else " unsampled",
        )

    def set_attribute(self, key, value):
        """Set one attribute (str, int, float or bool value). ``span.set_attribute("model.name", "resnet")``"""
        if self.sampled and self.end_us is None:
            attrs = self.attributes
            if attrs is None:
                attrs = self.attributes = {}
            if len(attrs) < MAX_ATTRIBUTES or key in attrs:
                attrs[key] = value

    def set_attributes(self, attrs):
        """Set several attributes from a dict."""
        for k, v in attrs.items():
            self.set_attribute(k, v)

    def add_event(self, name, attrs=None):
        """A timestamped event in the span: ``span.add_event("cache_miss", {"key": "m-1"})``."""
        if self.sampled and self.end_us is None:
            events = self.events
            if events is None:
                events = self.events = []
            if len(events) < MAX_EVENTS:
                events.append((name, ticks_us(), dict(attrs) if attrs else None))

    def set_status_ok(self):
        """Mark the operation successful (final: a later error status is ignored, as in OTel)."""
        if self.sampled and self.end_us is None:
            self.status = STATUS_OK
            self.status_message = None

    def set_status_error(self, description=None):
        """Mark the operation failed: ``span.set_status_error("timeout")``."""
        if self.sampled and self.end_us is None and self.status != STATUS_OK:
            self.status = STATUS_ERROR
            self.status_message = None if description is None else str(description)

    def record_exception(self, exc, attrs=None):
        """An ``exception`` event with ``exception.type`` and ``exception.message`` (OTel semantic
        conventions); the status is left alone (``with`` sets it when the exception escapes)."""
        if self.sampled:
            event = {"exception.type": exc.__class__.__name__, "exception.message": _text_of(exc)}
            if attrs:
                event.update(attrs)
            self.add_event("exception", event)

    def end(self):
        """End the span now; a sampled span goes to the device's span buffer (dropped and counted if full)."""
        if self.end_us is not None:
            return
        self.end_us = ticks_us()
        if self.sampled:
            self.tracer._buffer.add(self)

    @property
    def duration_us(self):
        return None if self.end_us is None else self.end_us - self.start_us

    def __enter__(self):
        self._token = attach(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc is not None and self.sampled:
                self.record_exception(exc)
                self.set_status_error("%s: %s" % (exc_type.__name__, _text_of(exc)))
        finally:  # ended and no longer current even when recording the exception fails (MemoryError)
            try:
                self.end()
            finally:
                detach(self._token)
        return False


def _text_of(exc):
    try:
        return str(exc)
    except Exception:  # an exception whose __str__ fails is still recorded
        return "<unprintable %s>" % exc.__class__.__name__


class Tracer:
    """Starts spans of instrumentation scope ``name``; obtained from ``Device.tracer(name, version, sampler)``.

    ``sampler`` (see ``litetel.sampling``) defaults to ``parent_based(always_on)``.
    """

    def __init__(self, device, name, version=None, sampler=None):
        if name.__class__ is not str or not name:
            raise ValueError("tracer name must be a non-empty str, got %r" % (name,))
        self.name = name
        self.version = version
        self.scope_id = device.dictionary.add_scope(name, version or "")
        self.sampler = sampling.DEFAULT if sampler is None else sampler
        self._buffer = signal_buffer(device, "spans")

    def __repr__(self):
        return "<Tracer %s>" % self.name

    def start_span(self, name, attrs=None, parent=_CURRENT, kind=INTERNAL):
        """A started span (not made current; ``with`` does that). ``parent``: the current span by default;
        a ``Span``, a ``traceparent`` header value, a ``(trace_id, span_id, flags)`` tuple, or ``None`` for a
        new trace. An invalid ``traceparent`` starts a new trace, as W3C Trace Context requires."""
        if parent is _CURRENT:
            parent = current_span()
        remote = False
        if parent is None:
            trace_id = _random_bytes(16)
            parent_id = parent_sampled = None
        elif parent.__class__ is Span:
            trace_id = parent.trace_id
            parent_id = parent.span_id
            parent_sampled = parent.sampled
        else:
            if parent.__class__ is not tuple:
                parent = parse_traceparent(parent)
            if parent is None:
                trace_id = _random_bytes(16)
                parent_id = parent_sampled = None
            else:
                trace_id, parent_id, trace_flags = parent
                parent_sampled = bool(trace_flags & FLAG_SAMPLED)
                remote = True
        sampled = self.sampler(trace_id, parent_sampled)
        flags = _HAS_IS_REMOTE | _IS_REMOTE if remote else _HAS_IS_REMOTE
        if sampled:
            flags |= FLAG_SAMPLED
        return Span(self, name, trace_id, _random_bytes(8), parent_id, sampled, kind, attrs, flags)

    span = start_span  # ``with tracer.span(...)``: the same span, made current by ``with``


def encode_span(span, dictionary, end_ticks):
    """A finished span as its wire entry (wire format §2.4); times relative to the frame's end."""
    events = span.events
    if events:
        start = span.start_us
        events = [
            [wire_name(name, dictionary), t - start, wire_attrs(attrs, dictionary)] for name, t, attrs in events
        ]
    message = span.status_message
    # A span started after the frame's end was read (another thread, while collect() ran) is placed at the
    # end: ago_us is >= 0 on the wire (§2.4), a negative one has the gateway reject the whole frame.
    ago = end_ticks - span.start_us
    return [
        span.tracer.scope_id, span.trace_id, span.span_id, span.parent_id, wire_name(span.name, dictionary),
        span.kind, ago if ago > 0 else 0, span.end_us - span.start_us, wire_attrs(span.attributes, dictionary),
        events, span.status, None if message is None else wire_text(message), span.flags,
    ]  # fmt: skip
