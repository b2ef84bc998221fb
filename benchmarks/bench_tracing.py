"""Issue 9's goals, side by side with the OpenTelemetry SDK in the same run: a span with 3 attributes from
start to end (goal: <= 0.2x the SDK), and a log record against the SDK's Logs API with a *batch* processor
(goal: <= 0.2x). bench_traces_logs.py compares the SDK's Simple processors; this module the batch ones,
the SDK's recommended production setup, so the goal is judged on its best path.

- span: `tracer.start_span(name, attrs).end()` vs the SDK's `tracer.start_span(name, attributes=attrs).end()`
  with a BatchSpanProcessor into an exporter that drops everything (its queue sized for the round);
- log: `logger.warning(body, attrs)` vs `logger.emit(...)` with a BatchLogRecordProcessor, same exporter.
Buffers are emptied between rounds, outside the timing.
"""

import pytest

from benchmarks import reference_workload as wl
from benchmarks.libraries import load_side

LOOP = 1000
ROUNDS = 20
SPAN_NAME = "GET /api"
LOG_BODY = "request served"
ATTRS = {"http.request.method": "GET", "http.route": "/api", "http.response.status_code": 200}


class Litetel:
    def __init__(self):
        side = load_side("litetel")
        self.device = side.Device("bench-tracing", resource=dict(wl.RESOURCE), max_spans=LOOP, max_logs=LOOP)
        self.tracer = self.device.tracer(wl.SCOPE_NAME)
        self.logger = self.device.logger(wl.SCOPE_NAME)

    def span(self, attrs):
        self.tracer.start_span(SPAN_NAME, attrs).end()

    def log(self, attrs):
        self.logger.warning(LOG_BODY, attrs)

    def reset(self):
        self.device._build_payload()  # empties the span and log buffers (no frame: nothing else measured)

    def close(self):
        pass


class OtelBatch:
    def __init__(self):
        load_side("otel")
        from opentelemetry._logs import SeverityNumber
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogExporter, LogExportResult
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        class DropSpans(SpanExporter):
            def export(self, spans):
                return SpanExportResult.SUCCESS

        class DropLogs(LogExporter):
            def export(self, batch):
                return LogExportResult.SUCCESS

            def shutdown(self):
                pass

            def force_flush(self, timeout_millis=30000):
                return True

        resource = Resource.create(wl.RESOURCE)
        queue = 4 * LOOP  # never full within a round: nothing is dropped instead of processed
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(BatchSpanProcessor(DropSpans(), max_queue_size=queue))
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(DropLogs(), max_queue_size=queue)
        )
        self.tracer = self.tracer_provider.get_tracer(wl.SCOPE_NAME)
        self.logger = self.logger_provider.get_logger(wl.SCOPE_NAME)
        self.warn = SeverityNumber.WARN

    def span(self, attrs):
        self.tracer.start_span(SPAN_NAME, attributes=attrs).end()

    def log(self, attrs):
        self.logger.emit(severity_number=self.warn, severity_text="WARN", body=LOG_BODY, attributes=attrs)

    def reset(self):
        self.tracer_provider.force_flush()
        self.logger_provider.force_flush()

    def close(self):
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


SIDES = {"litetel": Litetel, "otel": OtelBatch}


@pytest.mark.parametrize("op", ("span", "log"))
@pytest.mark.parametrize("lib", ("litetel", "otel"))
def test_tracing_goal(benchmark, lib, op):
    side = SIDES[lib]()
    call, attrs = getattr(side, op), dict(ATTRS)

    def run():
        for _ in range(LOOP):
            call(attrs)

    benchmark.group = "tracing goal (batch processors): " + op
    benchmark.extra_info.update(kind="tracing_goal", lib=lib, op=op, ops_per_call=LOOP)
    try:
        benchmark.pedantic(run, setup=side.reset, rounds=ROUNDS, warmup_rounds=1)
    finally:
        side.close()
