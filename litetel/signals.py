"""The traces and logs side of a ``Device``: its tracers and loggers, their bounded buffers, and the payload
elements they add (spans, log records, exemplars; wire format §2). Loaded by ``Device.tracer()`` or
``Device.logger()``: a metrics-only device never loads it (on MicroPython every function loaded costs heap).

    >>> from litetel.device import Device
    >>> dev = Device("doc-s")
    >>> emitter(dev, "tracer", "app", None) is dev.tracer("app")
    True
"""

from litetel.accel import collect_garbage, import_packed
from litetel.clock import ticks_us
from litetel.device import SELF_SCOPE
from litetel.signal_buffer import SignalBuffer


def emitter(dev, kind, name, version, sampler=None):
    """The ``Tracer`` (``kind`` "tracer") or ``Logger`` ("logger") of scope ``name`` (``version``) of ``dev``,
    the same object for the same triple."""
    key = (kind, name, version)
    found = dev._emitters.get(key)
    if found is None:
        if kind == "tracer":
            cls = import_packed("litetel.tracing").Tracer
            collect_garbage()  # what lasts goes to the lowest holes (accel.py)
            found = cls(dev, name, version, sampler)
        else:
            cls = import_packed("litetel.logs").Logger
            collect_garbage()
            found = cls(dev, name, version)
        found = dev._emitters.setdefault(key, found)
    return found


def signal_buffer(dev, signal):
    """The bounded buffer of ``"spans"`` or ``"logs"`` of ``dev`` (created on first use, with its drop counter)."""
    buf = dev._signals.get(signal)
    if buf is None:
        if signal == "spans":
            from litetel.tracing import encode_span as encode

            limit, unit = dev.max_spans, "{span}"
        else:
            from litetel.logs import encode_log as encode

            limit, unit = dev.max_logs, "{log_record}"
        dropped = dev.meter(SELF_SCOPE).counter(
            "litetel.device.%s.dropped" % signal, unit=unit,
            description="Finished %s the device dropped: its per-interval buffer was full" % signal)
        buf = dev._signals.setdefault(signal, SignalBuffer(limit, dropped.bind(), encode, dev._loss_series))
    return buf


def payload(dev, points, end_ticks=None):
    """``[dict_delta, points, spans, logs]`` (+ ``exemplars`` when any) of ``dev``'s interval, or None when
    it holds nothing; ``points`` are the metric points already taken."""
    if end_ticks is None:
        end_ticks = ticks_us()
    # Encoded before delta(): they intern their names into the dictionary this frame must carry.
    spans = _take(dev, "spans", end_ticks)
    logs = _take(dev, "logs", end_ticks)
    if not (points or spans or logs):
        return None
    out = [dev.dictionary.delta(rows=True), points, spans, logs]
    exemplars = []
    in_frame = set(points[0::2])
    for inst in dev.dictionary.instruments[:]:
        if getattr(inst, "_exemplars", None):  # histograms that kept exemplars (a span was current)
            inst._take_exemplars(exemplars, end_ticks, in_frame)
    if exemplars:
        out.append(exemplars)
    return out


def drop_signals(dev, payload):
    """Empty the spans and log records of ``payload`` (a frame too large with them), counting them dropped
    (``litetel.device.spans.dropped`` / ``logs.dropped``, in the next frame) -> whether there were any."""
    dropped = False
    for i, signal in ((2, "spans"), (3, "logs")):
        if payload[i]:
            dev._signals[signal].count_dropped(len(payload[i]))
            payload[i] = []
            dropped = True
    return dropped


def _take(dev, signal, end_ticks):
    buf = dev._signals.get(signal)
    return [] if buf is None else buf.collect(dev.dictionary, end_ticks)
