"""Parser of rotel's ``--debug-log-verbosity detailed`` output into structured metric points, spans and logs.

rotel prints every OTLP batch it receives in the OpenTelemetry Collector debug exporter's layout::

    ResourceMetrics #0
    Resource attributes:
         -> service.name: Str(sat-7)
    ScopeMetrics #0
    InstrumentationScope litetel.test 1.0
    Metric #0
    Descriptor:
         -> Name: requests.total
         -> Unit: {request}
         -> DataType: Sum
         -> IsMonotonic: true
         -> AggregationTemporality: AGGREGATION_TEMPORALITY_DELTA
    NumberDataPoints #0
    Data point attributes:
         -> route: Str(/a)
    StartTimestamp: 1795579025416957627
    Timestamp: 1795579026416957627
    Value: 42

(the layout was read off rotel 0.0.1-alpha10 fed hand-made requests; see tests/test_support_rotel.py).
Integral doubles print without a decimal point, so ``Value: 1`` may have been ``as_double = 1.0``.
Lines the parser does not know (rotel's own INFO lines, exemplars, span events) are skipped.

    >>> p = DebugLogParser(); p.feed(["ResourceMetrics #0", "Metric #0", "NumberDataPoints #0", "Value: 3"])
    >>> p.points()[0].value
    3
"""

import re
from dataclasses import dataclass, field

_TEMPORALITY = {"AGGREGATION_TEMPORALITY_DELTA": "delta", "AGGREGATION_TEMPORALITY_CUMULATIVE": "cumulative"}
_POINT_TYPES = {
    "NumberDataPoints": None,  # sum or gauge: taken from the descriptor
    "HistogramDataPoints": "histogram",
    "ExponentialHistogramDataPoints": "exponential_histogram",
    "SummaryDataPoints": "summary",
}
_DATA_TYPES = {
    "Sum": "sum",
    "Gauge": "gauge",
    "Histogram": "histogram",
    "ExponentialHistogram": "exponential_histogram",
    "Summary": "summary",
}
_POINT_SCALARS = frozenset(("Value", "Timestamp", "StartTimestamp", "Count", "Sum", "Min", "Max"))
_INT = re.compile(r"^-?\d+$")
_HEADER = re.compile(r"^([A-Za-z]+) #(\d+)$")
_BUCKET = re.compile(r"^Buckets #\d+, Count: (\d+)$")
_EXP_BUCKET = re.compile(r"^Bucket ([\[(])(\S+), (\S+)([\])]), Count: (\d+)$")
_QUANTILE = re.compile(r"^QuantileValue #\d+: Quantile (\S+), Value (\S+)$")
_ROTEL_OWN_LINE = re.compile(r"^\d{4}-\d\d-\d\dT")  # rotel's INFO/WARN lines start with a timestamp


def parse_number(text):
    """``"42"`` → 42, ``"1.5"`` / ``"NaN"`` / ``"inf"`` → float."""
    text = text.strip()
    return int(text) if _INT.match(text) else float(text)


@dataclass(slots=True)  # many thousands in a load test: keep them small
class MetricPoint:
    """One data point, with its resource, scope and metric descriptor flattened in."""

    resource: dict
    scope: str
    scope_version: str
    metric: str
    description: str
    unit: str
    type: str  # sum | gauge | histogram | exponential_histogram | summary
    temporality: str = None  # delta | cumulative | None (gauge, summary)
    monotonic: bool = None  # sums only
    start_ns: int = 0
    time_ns: int = 0
    attributes: dict = field(default_factory=dict)
    value: object = None  # int or float, for sum and gauge
    count: int = None
    sum: float = None
    min: float = None
    max: float = None
    bounds: list = field(default_factory=list)
    bucket_counts: list = field(default_factory=list)
    exp_buckets: list = field(default_factory=list)  # [(low, high, count)] for exponential histograms
    quantiles: list = field(default_factory=list)  # [(quantile, value)] for summaries


@dataclass(slots=True)
class Span:
    resource: dict
    scope: str
    scope_version: str
    name: str = ""
    trace_id: str = ""
    span_id: str = ""
    parent_id: str = ""
    kind: str = ""
    start_ns: int = 0
    end_ns: int = 0
    status_code: str = ""
    status_message: str = ""
    attributes: dict = field(default_factory=dict)


@dataclass(slots=True)
class LogRecord:
    resource: dict
    scope: str
    scope_version: str
    time_ns: int = 0
    observed_ns: int = 0
    severity_text: str = ""
    severity_number: int = 0
    body: object = None
    attributes: dict = field(default_factory=dict)
    trace_id: str = ""
    span_id: str = ""
    flags: int = 0


class _ValueReader:
    """Recursive reader of rotel's AnyValue rendering: ``Str(x)``, ``Int(1)``, ``Slice(..)``, ``Map(k:V, ..)``."""

    def __init__(self, text):
        self.text = text
        self.pos = 0

    def value(self):
        text = self.text
        open_at = text.find("(", self.pos)
        if open_at < 0:
            rest = text[self.pos :]
            self.pos = len(text)
            return rest
        kind = text[self.pos : open_at]
        self.pos = open_at + 1
        if kind == "Slice":
            items = self._sequence(self.value)
        elif kind == "Map":
            items = dict(self._sequence(self._map_entry))
        else:
            items = self._scalar(kind, self._atom())
        return items

    def _sequence(self, read_item):
        items = []
        while self.pos < len(self.text) and self.text[self.pos] != ")":
            items.append(read_item())
            if self.text.startswith(", ", self.pos):
                self.pos += 2
        self.pos += 1  # the closing ")"
        return items

    def _map_entry(self):
        colon = self.text.index(":", self.pos)
        key = self.text[self.pos : colon]
        self.pos = colon + 1
        return key, self.value()

    def _atom(self):
        # A nested atom ends at the first ")" followed by ", " or ")" or the end; good enough for tests' data.
        end = self.pos
        while True:
            end = self.text.index(")", end)
            after = self.text[end + 1 : end + 3]
            if after in ("", ", ") or after.startswith(")"):
                break
            end += 1
        atom = self.text[self.pos : end]
        self.pos = end + 1
        return atom

    @staticmethod
    def _scalar(kind, atom):
        if kind == "Str":
            return atom
        if kind == "Int":
            return int(atom)
        if kind == "Double":
            return float(atom)
        if kind == "Bool":
            return atom == "true"
        if kind == "Bytes":
            inner = atom.strip("[]")
            return bytes(int(b) for b in inner.split(",")) if inner.strip() else b""
        return "%s(%s)" % (kind, atom)


def parse_value(text):
    """Parse one rendered AnyValue: ``Str(a)`` → 'a', ``Int(3)`` → 3, ``Slice(Int(1))`` → [1], ..."""
    if text.startswith("Str(") and text.endswith(")"):
        return text[4:-1]  # top level: the whole rest of the line, parentheses inside included
    try:
        return _ValueReader(text).value()
    except (ValueError, IndexError):
        return text


class DebugLogParser:
    """Turns rotel debug-log lines into ``MetricPoint``, ``Span`` and ``LogRecord`` objects, incrementally.

    ``feed(lines)`` accepts complete lines in order, across as many calls as the log grows. The item being
    read when the lines stop (the last point of a batch) is *open*: ``points()`` includes it, and later lines
    may still add to it.
    """

    def __init__(self):
        self._points = []
        self._spans = []
        self._logs = []
        self._resource = {}
        self._scope = ("", "")
        self._metric = {}
        self._item = None  # the point / span / log record being read
        self._attrs = None  # where "-> key: value" lines go: a dict, or the metric descriptor

    def points(self):
        return self._points + ([self._item] if isinstance(self._item, MetricPoint) else [])

    def spans(self):
        return self._spans + ([self._item] if isinstance(self._item, Span) else [])

    def logs(self):
        return self._logs + ([self._item] if isinstance(self._item, LogRecord) else [])

    def clear(self):
        """Forget every item read so far (the open one included); later lines are parsed as usual."""
        self._points, self._spans, self._logs = [], [], []
        self._item = None
        self._attrs = None

    def feed(self, lines):
        for line in lines:
            self._line(line.rstrip("\r\n"))

    def _close_item(self):
        item, self._item = self._item, None
        if isinstance(item, MetricPoint):
            self._points.append(item)
        elif isinstance(item, Span):
            self._spans.append(item)
        elif isinstance(item, LogRecord):
            self._logs.append(item)

    def _line(self, line):
        stripped = line.strip()
        if not stripped or (stripped[0].isdigit() and _ROTEL_OWN_LINE.match(line)):
            return
        item = self._item
        if (
            type(item) is MetricPoint and stripped.partition(": ")[0] in _POINT_SCALARS
        ):  # the most common lines
            self._point_field(item, stripped)
            return
        if stripped.startswith("-> "):
            self._attribute(stripped[3:])
            return
        header = _HEADER.match(stripped)
        if header:
            self._header(header.group(1))
            return
        if stripped.startswith("InstrumentationScope "):
            name, _, version = stripped[len("InstrumentationScope ") :].partition(" ")
            self._scope = (name, version.strip())
            return
        if stripped in ("Resource attributes:", "Data point attributes:", "Attributes:"):
            self._attrs = self._resource if stripped.startswith("Resource") else self._item_attributes()
            return
        if stripped == "Descriptor:":
            self._attrs = self._metric
            return
        if stripped in ("Events:", "Links:", "Exemplars:"):
            self._attrs = None  # their attributes are not the item's
            return
        if isinstance(item, MetricPoint):
            self._point_field(item, stripped)
        elif isinstance(item, Span):
            self._span_field(item, stripped)
        elif isinstance(item, LogRecord):
            self._log_field(item, stripped)

    def _item_attributes(self):
        return self._item.attributes if self._item is not None else None

    def _header(self, kind):
        if kind.startswith("Resource"):  # ResourceMetrics / ResourceSpans / ResourceLog(s)
            self._close_item()
            self._resource, self._scope, self._attrs = {}, ("", ""), None
        elif kind.startswith("Scope"):  # ScopeMetrics / ScopeSpans / ScopeLogs
            self._close_item()
            self._scope, self._attrs = ("", ""), None
        elif kind == "Metric":
            self._close_item()
            self._metric, self._attrs = {}, None
        elif kind in _POINT_TYPES:
            self._close_item()
            self._item, self._attrs = self._new_point(_POINT_TYPES[kind]), None
        elif kind == "Span":
            self._close_item()
            self._item, self._attrs = Span(self._resource, *self._scope), None
        elif kind == "LogRecord":
            self._close_item()
            self._item, self._attrs = LogRecord(self._resource, *self._scope), None
        # other "Word #n" headers (SpanEvent, SpanLink, Exemplar) belong to the current item: ignored

    def _new_point(self, point_type):
        meta = self._metric
        monotonic = meta.get("IsMonotonic")
        return MetricPoint(
            resource=self._resource,
            scope=self._scope[0],
            scope_version=self._scope[1],
            metric=meta.get("Name", ""),
            description=meta.get("Description", ""),
            unit=meta.get("Unit", ""),
            type=point_type or _DATA_TYPES.get(meta.get("DataType", ""), meta.get("DataType", "").lower()),
            temporality=_TEMPORALITY.get(meta.get("AggregationTemporality")),
            monotonic=None if monotonic is None else monotonic == "true",
        )

    def _attribute(self, text):
        if ": " in text:
            key, _, rendered = text.partition(": ")
        else:  # an empty value: "-> Description:" once the trailing space is stripped
            key, rendered = text.rstrip(":"), ""
        if self._attrs is self._metric:
            self._metric[key] = rendered
        elif self._attrs is not None:
            self._attrs[key] = parse_value(rendered)

    @staticmethod
    def _point_field(point, line):
        key, _, rest = line.partition(": ")
        if key == "Value":
            point.value = parse_number(rest)
        elif key == "Timestamp":
            point.time_ns = int(rest)
        elif key == "StartTimestamp":
            point.start_ns = int(rest)
        elif key == "Count":
            point.count = int(rest)
        elif key in ("Sum", "Min", "Max"):
            setattr(point, key.lower(), parse_number(rest))
        elif key.startswith("ExplicitBounds #"):
            point.bounds.append(parse_number(rest))
        else:
            bucket = _BUCKET.match(line)
            if bucket:
                point.bucket_counts.append(int(bucket.group(1)))
                return
            exp = _EXP_BUCKET.match(line)
            if exp:
                point.exp_buckets.append(
                    (parse_number(exp.group(2)), parse_number(exp.group(3)), int(exp.group(5)))
                )
                return
            quantile = _QUANTILE.match(line)
            if quantile:
                point.quantiles.append((parse_number(quantile.group(1)), parse_number(quantile.group(2))))

    @staticmethod
    def _span_field(span, line):
        _set_field(span, line, _SPAN_FIELDS)

    @staticmethod
    def _log_field(record, line):
        _set_field(record, line, _LOG_FIELDS)


def _severity(text):
    """``SEVERITY_NUMBER_INFO(9)`` → 9."""
    number = re.search(r"\((-?\d+)\)$", text)
    return int(number.group(1)) if number else 0


_SPAN_FIELDS = {
    "Trace ID": ("trace_id", str),
    "Parent ID": ("parent_id", str),
    "ID": ("span_id", str),
    "Name": ("name", str),
    "Kind": ("kind", str),
    "Status code": ("status_code", str),
    "Status message": ("status_message", str),
    "Start time": ("start_ns", int),
    "End time": ("end_ns", int),
}
_LOG_FIELDS = {
    "Trace ID": ("trace_id", str),
    "Span ID": ("span_id", str),
    "Timestamp": ("time_ns", int),
    "ObservedTimestamp": ("observed_ns", int),
    "SeverityText": ("severity_text", str),
    "SeverityNumber": ("severity_number", _severity),
    "Body": ("body", parse_value),
    "Flags": ("flags", int),
}


def _set_field(item, line, fields):
    """``Key: value`` or ``Key      : value`` (spans pad their keys) → the item's attribute per ``fields``."""
    colon = line.find(": ")
    key, value = (line[:colon].strip(), line[colon + 2 :]) if colon >= 0 else (line.rstrip(":").strip(), "")
    if key in fields:
        name, convert = fields[key]
        setattr(item, name, convert(value) if value else getattr(item, name))


class DebugLogFile:
    """Follows a growing rotel log file and keeps a ``DebugLogParser`` up to date with its complete lines."""

    def __init__(self, path):
        self.path = path
        self.parser = DebugLogParser()
        self._offset = 0
        self._partial = b""

    def refresh(self):
        """Parse what was appended since the last call; returns True if anything new was read."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return False
        if not data:
            return False
        self._offset += len(data)
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        self.parser.feed(data[:cut].decode("utf-8", "replace").splitlines())
        return True

    @property
    def size(self):
        return self._offset
