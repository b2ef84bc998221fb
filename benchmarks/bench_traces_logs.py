"""Spans and log records: litetel vs the OpenTelemetry SDK (prometheus_client has neither).

Hot path (per operation, LOOP per round, buffers emptied before each round outside the timing):
- span: `with tracer.span(name, attrs): pass` vs the SDK's `start_as_current_span` with a
  SimpleSpanProcessor into an in-memory exporter (the SDK's cheapest complete path);
- log record: `logger.warning(body, attrs)` vs the SDK Logs API `emit(...)` with a SimpleLogRecordProcessor.
Wire: bytes per span / per log record over 10 intervals of 50 (3 HTTP attributes each): litetel frames
(dictionary amortized) vs OTLP from the SDK's own `encode_spans` / `encode_logs`, raw and zstd-3.
"""

import pytest

from benchmarks import reference_workload as wl
from benchmarks.compressors import COMPRESSORS
from benchmarks.libraries import load_side

LOOP = 1000
PER_INTERVAL = 50
LIBS = ("litetel", "otel")
SPAN_NAME = "GET /api"
LOG_BODY = "request served"


class LitetelSignals:
    def __init__(self, capacity=LOOP, compression="auto"):
        side = load_side("litetel")
        self.device = side.Device(
            "bench-signals", resource=dict(wl.RESOURCE), buffer=side.RingBuffer(capacity=side.BIG_BUFFER),
            compression=compression, max_spans=capacity, max_logs=capacity,
        )  # fmt: skip
        self.tracer = self.device.tracer(wl.SCOPE_NAME)
        self.logger = self.device.logger(wl.SCOPE_NAME)

    def span(self, attrs):
        with self.tracer.span(SPAN_NAME, attrs):
            pass

    def log(self, attrs):
        self.logger.warning(LOG_BODY, attrs)

    def flush(self):
        """Empty the span and log buffers; returns the frame that carried them."""
        return self.device.collect()


class OtelSignals:
    def __init__(self):
        load_side("otel")
        from opentelemetry._logs import SeverityNumber
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        resource = Resource.create(wl.RESOURCE)
        self.spans, self.logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.tracer = tracer_provider.get_tracer(wl.SCOPE_NAME)
        self.logger = logger_provider.get_logger(wl.SCOPE_NAME)
        self.warn = SeverityNumber.WARN
        self.providers = (tracer_provider, logger_provider)

    def span(self, attrs):
        with self.tracer.start_as_current_span(SPAN_NAME, attributes=attrs):
            pass

    def log(self, attrs):
        self.logger.emit(severity_number=self.warn, severity_text="WARN", body=LOG_BODY, attributes=attrs)

    def flush(self):
        """Empty both exporters; returns the OTLP bytes of what they held: (spans, logs)."""
        from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        spans, logs = self.spans.get_finished_spans(), self.logs.get_finished_logs()
        self.spans.clear()
        self.logs.clear()
        return (
            encode_spans(spans).SerializeToString() if spans else b"",
            encode_logs(logs).SerializeToString() if logs else b"",
        )


SIGNALS = {"litetel": LitetelSignals, "otel": OtelSignals}


@pytest.mark.parametrize("op", ("span", "log"))
@pytest.mark.parametrize("lib", LIBS)
def test_signal_hot_path(benchmark, lib, op):
    signals = SIGNALS[lib]()
    call, attrs = getattr(signals, op), dict(wl.SERIES[0])

    def run():
        for _ in range(LOOP):
            call(attrs)

    benchmark.group = "signals: " + op
    benchmark.extra_info.update(kind="signals", lib=lib, op=op, ops_per_call=LOOP)

    def empty_buffers():  # pedantic() would take a setup's return value as the arguments of run()
        signals.flush()

    benchmark.pedantic(run, setup=empty_buffers, rounds=20, warmup_rounds=1)


def _intervals_of(signals, op):
    """Record 10 intervals of PER_INTERVAL spans or log records; returns what each flush() gave."""
    call = getattr(signals, op)
    flushed = []
    for _ in range(wl.N_INTERVALS):
        for i in range(PER_INTERVAL):
            call(wl.SERIES[i % wl.N_SERIES])
        flushed.append(signals.flush())
    return flushed


@pytest.mark.parametrize("op", ("span", "log"))
def test_signal_wire(op, measurements):
    total = wl.N_INTERVALS * PER_INTERVAL
    for compression in ("none", "zstd"):
        frames = _intervals_of(LitetelSignals(PER_INTERVAL, compression), op)
        assert all(frames)
        measurements.record(
            "wire.%s.litetel.%s" % (op, compression),
            sum(map(len, frames)) / total,
            unit="B/" + op,
            lib="litetel",
        )
    payloads = [pair[0 if op == "span" else 1] for pair in _intervals_of(OtelSignals(), op)]
    assert all(payloads)
    for name in ("raw", "zstd3"):
        size = sum(len(COMPRESSORS[name](p)) for p in payloads)
        measurements.record("wire.%s.otel.%s" % (op, name), size / total, unit="B/" + op, lib="otel")
