"""litetel's benchmark suite: litetel, the OpenTelemetry SDK and prometheus_client side by side.

Run everything and regenerate docs/benchmarks.md + docs/benchmarks.png:

    python -m benchmarks.report
"""
