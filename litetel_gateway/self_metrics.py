"""The gateway's own metrics, rendered in the Prometheus text format (0.0.4) next to the device series.

A deliberately tiny registry (counters, gauges, one histogram kind) so the gateway needs no
prometheus_client at run time::

    metrics = GatewayMetrics()
    metrics.rejects.labels("crc").inc()
    metrics.for_signal("traces").points_out.inc(12)   # litetel_gateway_signal_items_out_total{signal="traces"}
    out = []
    metrics.render(out)
"""

import bisect
import math
import threading


def escape_label_value(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_float(value):
    """Prometheus float text: integers without a trailing .0, +Inf/-Inf/NaN spelled out."""
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def format_labels(pairs):
    if not pairs:
        return ""
    return "{" + ",".join('%s="%s"' % (k, escape_label_value(str(v))) for k, v in pairs) + "}"


class _Value:
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0.0

    def inc(self, amount=1):
        self.value += amount

    def set(self, value):
        self.value = value


class _Family:
    """A metric family with an optional single label dimension set."""

    type = "untyped"

    def __init__(self, name, help_text, label_names=()):
        self.name = name
        self.help = help_text
        self.label_names = tuple(label_names)
        self._children = {}
        self._lock = threading.Lock()
        if not label_names:
            self._children[()] = self._new_child()

    def _new_child(self):
        return _Value()

    def labels(self, *values):
        values = tuple(str(v) for v in values)
        child = self._children.get(values)
        if child is None:
            with self._lock:
                child = self._children.setdefault(values, self._new_child())
        return child

    def inc(self, amount=1):
        self._children[()].inc(amount)

    def set(self, value):
        self._children[()].set(value)

    def value(self, *label_values):
        child = self._children.get(tuple(str(v) for v in label_values))
        return 0.0 if child is None else child.value

    def render(self, out):
        out.append("# HELP %s %s\n# TYPE %s %s\n" % (self.name, self.help, self.name, self.type))
        for values, child in sorted(self._children.items()):
            self._render_child(out, list(zip(self.label_names, values)), child)

    def _render_child(self, out, pairs, child):
        out.append("%s%s %s\n" % (self.name, format_labels(pairs), format_float(child.value)))


class Counter(_Family):
    type = "counter"


class Gauge(_Family):
    type = "gauge"


class _HistogramValue:
    def __init__(self, bounds):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value):
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1


class Histogram(_Family):
    type = "histogram"

    def __init__(self, name, help_text, bounds, label_names=()):
        self.bounds = tuple(bounds)
        super().__init__(name, help_text, label_names)

    def _new_child(self):
        return _HistogramValue(self.bounds)

    def observe(self, value):
        self._children[()].observe(value)

    def _render_child(self, out, pairs, child):
        running = 0
        for bound, count in zip(self.bounds + (float("inf"),), child.counts):
            running += count
            labels = format_labels(pairs + [("le", format_float(bound) if bound != float("inf") else "+Inf")])
            out.append("%s_bucket%s %d\n" % (self.name, labels, running))
        out.append("%s_sum%s %s\n" % (self.name, format_labels(pairs), format_float(child.sum)))
        out.append("%s_count%s %d\n" % (self.name, format_labels(pairs), child.count))


class _Children:
    """Several children updated as one (a per-signal child and its unlabelled metrics-only twin)."""

    __slots__ = ("children",)

    def __init__(self, children):
        self.children = children

    def inc(self, amount=1):
        for child in self.children:
            child.inc(amount)

    def set(self, value):
        for child in self.children:
            child.set(value)

    def observe(self, value):
        for child in self.children:
            child.observe(value)


class SignalSlice:
    """One signal's part of a family labelled ``signal`` first; for the metrics signal it also updates
    ``twin``, the unlabelled family of the same meaning kept from before traces and logs were exported."""

    def __init__(self, family, signal, twin=None):
        self.family, self.signal, self.twin = family, signal, twin

    def labels(self, *values):
        children = [self.family.labels(self.signal, *values)]
        if self.twin is not None:
            children.append(self.twin.labels(*values))
        return _Children(children)

    def inc(self, amount=1):
        self.labels().inc(amount)

    def set(self, value):
        self.labels().set(value)

    def observe(self, value):
        self.labels().observe(value)

    def value(self, *label_values):
        return self.family.value(self.signal, *label_values)


class SignalMetrics:
    """The export metrics of one signal under the names the drain loop uses (``points_out`` counts data
    points, spans or log records)."""

    def __init__(self, metrics, signal):
        self.signal = signal
        m = metrics
        self.export_requests = self._slice(m.signal_export_requests, m.export_requests)
        self.points_out = self._slice(m.signal_items_out, m.points_out)
        self.points_rejected_by_receiver = self._slice(m.signal_items_rejected, m.points_rejected_by_receiver)
        self.dead_letter_points = self._slice(m.signal_dead_letter_items, m.dead_letter_points)
        self.export_latency = self._slice(m.signal_export_latency, m.export_latency)

    def _slice(self, family, metrics_only_family):
        return SignalSlice(family, self.signal, metrics_only_family if self.signal == "metrics" else None)


SIGNALS = ("metrics", "traces", "logs")
LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    """Every metric the gateway reports about itself (names start with ``litetel_gateway_``)."""

    def __init__(self):
        p = "litetel_gateway_"
        self.requests = Counter(p + "requests_total", "Upload requests by HTTP status.", ["code"])
        self.frames_in = Counter(p + "frames_in_total", "Frames received, by result.", ["result"])
        self.points_in = Counter(p + "points_in_total", "Data points accepted into the queue.")
        self.rejects = Counter(
            p + "rejects_total", "Refused requests (4xx) and frames (reject:*), by reason.", ["reason"]
        )
        self.dups = Counter(
            p + "duplicate_frames_total", "Frames already received (same device, epoch, seq)."
        )
        self.clock_corrected = Counter(
            p + "clock_corrected_requests_total",
            "Requests whose device wall clock was off by more than the allowed skew.",
        )
        self.points_out = Counter(p + "points_out_total", "Data points exported and acknowledged.")
        self.points_rejected_by_receiver = Counter(
            p + "points_rejected_by_receiver_total", "Points the OTLP receiver refused (partial_success)."
        )
        self.export_requests = Counter(
            p + "export_requests_total", "Export attempts of the metrics signal by outcome.", ["outcome"]
        )
        self.dead_letter_points = Counter(
            p + "dead_letter_points_total",
            "Points moved to the dead_letter table after a permanent export error.",
        )
        self.queue_rows = Gauge(p + "queue_frames", "Frames waiting in the durable metrics queue.")
        self.queue_points = Gauge(p + "queue_points", "Data points waiting in the durable metrics queue.")
        self.devices = Gauge(p + "device_series", "Device series in the cumulative /metrics view.")
        self.ingest_latency = Histogram(
            p + "ingest_seconds", "Upload handling time (durable commit included).", LATENCY_BOUNDS
        )
        self.export_latency = Histogram(
            p + "export_seconds", "Time of one export attempt (metrics signal).", LATENCY_BOUNDS
        )
        # Every signal, labelled: the unlabelled export families above are the metrics signal's alone.
        s = p + "signal_"
        self.signal_export_requests = Counter(
            s + "export_requests_total", "Export attempts by signal and outcome.", ["signal", "outcome"]
        )
        self.signal_items_out = Counter(
            s + "items_out_total",
            "Items exported and acknowledged: data points (metrics), spans (traces), log records (logs).",
            ["signal"],
        )
        self.signal_items_rejected = Counter(
            s + "items_rejected_by_receiver_total",
            "Items the OTLP receiver refused (partial_success), by signal.",
            ["signal"],
        )
        self.signal_dead_letter_items = Counter(
            s + "dead_letter_items_total",
            "Items moved to the dead letters after a permanent export error, by signal.",
            ["signal"],
        )
        self.signal_queue_frames = Gauge(
            s + "queue_frames", "Frames waiting in each signal's queue.", ["signal"]
        )
        self.signal_queue_items = Gauge(
            s + "queue_items", "Items waiting in each signal's queue.", ["signal"]
        )
        self.signal_export_latency = Histogram(
            s + "export_seconds", "Time of one export attempt, by signal.", LATENCY_BOUNDS, ["signal"]
        )
        for signal in SIGNALS:  # every signal shows on /metrics from the start, zero until it exports
            for outcome in ("ok", "retry", "permanent_error"):
                self.signal_export_requests.labels(signal, outcome)
            for family in (
                self.signal_items_out,
                self.signal_dead_letter_items,
                self.signal_queue_frames,
                self.signal_queue_items,
            ):
                family.labels(signal)
        self.families = [
            self.requests,
            self.frames_in,
            self.points_in,
            self.rejects,
            self.dups,
            self.clock_corrected,
            self.points_out,
            self.points_rejected_by_receiver,
            self.export_requests,
            self.dead_letter_points,
            self.queue_rows,
            self.queue_points,
            self.devices,
            self.ingest_latency,
            self.export_latency,
            self.signal_export_requests,
            self.signal_items_out,
            self.signal_items_rejected,
            self.signal_dead_letter_items,
            self.signal_queue_frames,
            self.signal_queue_items,
            self.signal_export_latency,
        ]
        self._signals = {}

    def for_signal(self, signal):
        """The :class:`SignalMetrics` a drain loop of ``signal`` counts into."""
        if signal not in self._signals:
            self._signals[signal] = SignalMetrics(self, signal)
        return self._signals[signal]

    def reject(self, reason):
        self.rejects.labels(reason).inc()

    def render(self, out):
        for family in self.families:
            family.render(out)
