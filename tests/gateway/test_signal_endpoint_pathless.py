"""Traces/logs following a metrics-only endpoint that has no path (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT
is used as-is, so ``http://collector:4318`` is legal) must stay on the same host."""

from litetel_gateway.config import load_config, signal_endpoint


def test_signal_endpoint_of_a_pathless_metrics_url():
    assert signal_endpoint("http://collector:4318", "traces") == "http://collector:4318/v1/traces"
    assert signal_endpoint("http://collector:4318/", "logs") == "http://collector:4318/v1/logs"


def test_traces_follow_a_pathless_metrics_variable():
    config = load_config([], environ={"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://collector:4318"})
    assert config.exports["metrics"].endpoint == "http://collector:4318"
    assert config.exports["traces"].endpoint == "http://collector:4318/v1/traces"  # was http://v1/traces
