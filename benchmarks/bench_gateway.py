"""Gateway: frames → OTLP protobuf bytes, data points per second on one core, vs the OTel SDK's encoder.

litetel: the reference workload's 10 frames (msgpack + zstd, 1,000 points) through the gateway's own
decode / validate / expand / serialize functions (benchmarks/gateway_pipeline.py), steady state.
OTel SDK: `encode_metrics` + `SerializeToString` of the same 10 intervals' MetricsData (already collected).
Idle RSS: the gateway process (`python -m litetel_gateway`, no OTLP endpoint) after /readyz, idle 1 s.
"""

import time

from benchmarks import reference_workload as wl
from benchmarks.gateway_process import running_gateway
from benchmarks.libraries import load_side

TOTAL_POINTS = wl.POINTS_PER_INTERVAL * wl.N_INTERVALS


def test_gateway_frames_to_otlp(benchmark):
    frames = load_side("litetel").reference_frames("msgpack", "zstd")
    from benchmarks.gateway_pipeline import FramesToOtlp

    to_otlp = FramesToOtlp(frames)
    body, n = to_otlp()
    assert n == TOTAL_POINTS
    assert load_side("otel").count_points(body) == TOTAL_POINTS
    benchmark.group = "gateway: data points to OTLP protobuf"
    benchmark.extra_info.update(kind="gateway", lib="litetel", ops_per_call=n)
    benchmark(to_otlp)


def test_otel_sdk_encoder(benchmark):
    otel = load_side("otel")
    collected = otel.reference_metrics_data("delta")

    def encode_all():
        return [otel.encode(data) for data in collected]

    assert sum(otel.count_points(p) for p in encode_all()) == TOTAL_POINTS
    benchmark.group = "gateway: data points to OTLP protobuf"
    benchmark.extra_info.update(kind="gateway", lib="otel", ops_per_call=TOTAL_POINTS)
    benchmark(encode_all)


def test_gateway_idle_rss(tmp_path, measurements, quick):
    samples = []
    for i in range(1 if quick else 3):
        with running_gateway(tmp_path / str(i), {"bench-device": b"\x11" * 32}) as gateway:
            time.sleep(1.0)  # idle
            samples.append(gateway.rss() / (1 << 20))
    measurements.record("gateway.idle_rss", samples, unit="MiB")
