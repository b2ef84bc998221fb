"""litetel's benchmark suite: litetel, the OpenTelemetry SDK and prometheus_client side by side (issue 7).

Run everything and regenerate docs/benchmarks.md + docs/benchmarks.png (what `make bench` does):

    python -m benchmarks.report                  # full run, a few minutes
    python -m benchmarks.report --render-only    # re-render from benchmarks/results/*.json
    pytest benchmarks/ --benchmark-disable       # quick: every body once (tests/test_benchmarks_quick.py)

Layout:
- `bench_*.py`: the measurements (pytest-benchmark timings; other figures through the `measurements`
  fixture of conftest.py into a side JSON): hot path, memory + import, wire, export CPU, gateway, gateway
  load, MicroPython (`micropython_bench.py` runs on the real interpreter).
- `reference_workload.py`: the seeded 50-series HTTP workload; `litetel_side.py`, `otel_side.py`,
  `prometheus_side.py`: the same operations and payloads in each library.
- `gateway_pipeline.py` (frames -> OTLP in memory), `gateway_process.py` (a real gateway process).
- `results.py` reads a run back; `goals.py` judges every goal of issues 2, 3, 5, 7; `headline.py`,
  `sections.py` (with `micropython_report.py` for its MicroPython section), `formatting.py` write the
  markdown; `chart.py` draws the PNG; `report.py` runs it all.
- `bench_traces_logs.py`: spans and log records vs the OTel SDK (Simple processors, bytes on the wire);
  `bench_tracing.py` (the tracing engineer's): issue 9's goals against the SDK's batch processors.
"""
