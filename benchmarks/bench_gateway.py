"""Gateway: frames → OTLP protobuf bytes, data points per second on one core, vs the OTel SDK's encoder.

litetel: the reference workload's 10 frames (msgpack + zstd, 1,000 points) through the gateway's own
decode / validate / expand / serialize functions (benchmarks/gateway_pipeline.py), steady state.
OTel SDK: `encode_metrics` + `SerializeToString` of the same 10 intervals' MetricsData (already collected).
Idle RSS: the gateway process (`python -m litetel_gateway`, no OTLP endpoint) after /readyz, idle 1 s.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request

from benchmarks import reference_workload as wl
from benchmarks.libraries import load_side

TOTAL_POINTS = wl.POINTS_PER_INTERVAL * wl.N_INTERVALS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def idle_gateway_rss(tmp_path):
    """VmRSS (bytes) of `python -m litetel_gateway` once /readyz answers and it has idled for a second."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    keys = tmp_path / "keys.toml"
    keys.write_text('[devices]\n"bench-device" = "%s"\n' % ("11" * 32))
    os.chmod(keys, 0o600)
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "litetel_gateway",
        "--listen",
        "127.0.0.1:%d" % port,
        "--data-dir",
        str(tmp_path / "data"),
        "--keys",
        str(keys),
        "--log-level",
        "WARNING",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gateway not ready after 30 s"
            time.sleep(0.2)
        time.sleep(1.0)
        with open("/proc/%d/status" % proc.pid) as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_gateway_idle_rss(tmp_path, measurements, quick):
    samples = [idle_gateway_rss(tmp_path / str(i)) / (1 << 20) for i in range(1 if quick else 3)]
    measurements.record("gateway.idle_rss", samples, unit="MiB")
