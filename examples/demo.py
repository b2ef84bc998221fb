"""`make demo`: the whole litetel chain on this machine, over a link that is bad on purpose.

    devices (5 satellites + a FastAPI model server)  →  fault-injecting proxy  →  litetel gateway
        →  OTLP/HTTP  →  rotel (a real OpenTelemetry receiver, the Collector's stand-in)

Phases: a flaky link (connections dropped, reset, replies lost after the gateway committed), a stretch fully
offline, a 503 storm with Retry-After, then a healthy link. Devices keep recording throughout; their ring
buffers hold what cannot be sent. At the end the demo compares, per device and metric, what the devices
recorded with what arrived in OTLP, and the bytes litetel sent with what the OpenTelemetry SDK would have sent
for the same measurements (encoded by the SDK's own OTLP encoder). Exit status 1 if any total differs.

    python examples/demo.py [--seconds 24] [--keep]
"""

import argparse
import gzip
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples" / "fastapi_model_server")]

import litetel  # noqa: E402
from tests.faults.proxy import FaultProxy  # noqa: E402
from tests.support.gateway import GatewayProcess  # noqa: E402
from tests.support.rotel import RotelProcess  # noqa: E402

SATELLITES = ["sat-%d" % i for i in range(1, 6)]
MODEL_SERVER = "model-server-1"
DEPLOYMENTS = ("d-17", "d-42")
INTERVAL_S = 1.0
STEP_S = 0.05


def key_of(device_id):
    return ("%s-demo-key" % device_id).encode().ljust(32, b".")


class ShadowOtel:
    """The same measurements recorded through the OpenTelemetry SDK, to size what it would have sent."""

    def __init__(self, device_id):
        from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
        from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
        from opentelemetry.sdk.resources import Resource

        delta = AggregationTemporality.DELTA
        self.reader = InMemoryMetricReader(
            preferred_temporality={Counter: delta, Histogram: delta, UpDownCounter: delta}
        )
        provider = MeterProvider(
            metric_readers=[self.reader],
            resource=Resource.create({"service.name": "satellite", "device.id": device_id}),
        )
        meter = provider.get_meter("satellite")
        self.inferences = meter.create_counter("model.inferences.total")
        self.duration = meter.create_histogram("model.inference.duration", unit="s")
        self.temperature = meter.create_gauge("device.temperature", unit="Cel")
        self.raw_bytes = self.gzip_bytes = 0

    def collect(self):
        from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

        data = self.reader.get_metrics_data()
        if data is None or not data.resource_metrics:
            return
        body = encode_metrics(data).SerializeToString()
        self.raw_bytes += len(body)
        self.gzip_bytes += len(gzip.compress(body))


class Satellite:
    """A simulated satellite model server: inferences (counter + histogram) and a temperature gauge."""

    def __init__(self, device_id, endpoint, rng):
        self.id = device_id
        self.rng = rng
        self.device = litetel.Device(
            device_id,
            resource={"service.name": "satellite", "satellite.orbit": "LEO"},
            endpoint=endpoint,
            key=key_of(device_id),
            buffer=litetel.RingBuffer(capacity=256 * 1024),
            interval_s=3600,  # the demo closes intervals itself, in step with the OTel shadow
        )
        meter = self.device.meter("satellite")
        self.inferences = meter.counter("model.inferences.total", unit="{inference}")
        self.duration = meter.histogram(
            "model.inference.duration", unit="s", boundaries=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
        )
        self.temperature = meter.gauge("device.temperature", unit="Cel")
        self.shadow = ShadowOtel(device_id)
        self.truth = {"model.inferences.total": 0, "model.inference.duration": 0}
        self.frame_bytes = 0
        self.frames = 0

    def step(self):
        for _ in range(self.rng.randint(0, 4)):
            deployment = self.rng.choice(DEPLOYMENTS)
            status = "success" if self.rng.random() > 0.05 else "error"
            seconds = self.rng.lognormvariate(-3.0, 0.8)
            attrs = {"deployment_id": deployment, "status": status}
            self.inferences.add(1, attrs)
            self.duration.record(seconds, {"deployment_id": deployment, "model_name": "resnet"})
            self.shadow.inferences.add(1, attrs)
            self.shadow.duration.record(seconds, {"deployment_id": deployment, "model_name": "resnet"})
            self.truth["model.inferences.total"] += 1
            self.truth["model.inference.duration"] += 1
        celsius = round(35 + 10 * self.rng.random(), 1)
        self.temperature.set(celsius, {"sensor": "cpu"})
        self.shadow.temperature.set(celsius, {"sensor": "cpu"})

    def collect(self):
        frame = self.device.collect()
        if frame is not None:
            self.frames += 1
            self.frame_bytes += len(frame)
        self.shadow.collect()


def start_model_server(endpoint):
    """Import the FastAPI example with its device pointed at the proxy; returns (module, client)."""
    os.environ.update(
        LITETEL_ENDPOINT=endpoint,
        LITETEL_KEY=key_of(MODEL_SERVER).hex(),
        LITETEL_DEVICE_ID=MODEL_SERVER,
        LITETEL_INTERVAL_S=str(INTERVAL_S),
    )
    import app as model_server  # examples/fastapi_model_server/app.py

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's notice about its httpx dependency, not ours
        from fastapi.testclient import TestClient

    client = TestClient(model_server.app)
    client.__enter__()  # runs the lifespan: device.start() — litetel's background thread
    return model_server, client


def phase_at(elapsed, seconds):
    """The link's condition at ``elapsed`` seconds into a run of ``seconds``."""
    share = elapsed / seconds
    if share < 0.3:
        return "flaky"
    if share < 0.55:
        return "offline"
    if share < 0.7:
        return "503 storm"
    return "healthy"


def apply_phase(proxy, phase):
    proxy.pass_through()
    if phase == "flaky":
        proxy.set_faults(drop=0.15, reset=0.1, drop_replies=0.15)
    elif phase == "offline":
        proxy.set_offline(True)
    elif phase == "503 storm":
        proxy.set_faults(http_503=0.6, retry_after_s=1)


def drain(devices, model_server, timeout_s=30.0):
    """Final collect, then flush every device until its buffer is empty."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(d.buffer.pending == 0 for d in devices) and model_server.device.buffer.pending == 0:
            return True
        for device in devices:
            if device.buffer.pending:
                device.flush()
        model_server.device.flush()
        time.sleep(0.1)
    return False


def arrived_total(points, metric, device_id):
    from tests.support.rotel import total

    return total(points, metric, **{"device.id": device_id})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=24.0, help="length of the recording phases")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, gateway data)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="litetel-demo-"))
    rng = random.Random(7)
    keys = {d: key_of(d).hex() for d in SATELLITES + [MODEL_SERVER]}
    started = time.monotonic()
    print("litetel demo — work dir %s" % workdir)
    rotel = RotelProcess(workdir / "rotel").start()
    print("  rotel (OTLP receiver)   %s" % rotel.http_endpoint)
    gateway = GatewayProcess(workdir / "gateway-data", keys, otlp_endpoint=rotel.http_endpoint).start()
    print("  litetel gateway         %s" % gateway.url)
    proxy = FaultProxy("127.0.0.1", gateway.port, seed=7).start()
    print("  fault-injecting proxy   %s  (devices push here)" % proxy.url)
    satellites = [Satellite(d, proxy.url, random.Random(rng.random())) for d in SATELLITES]
    model_server, client = start_model_server(proxy.url)
    requests_made = 0
    failed = True
    try:
        print("\n%6s  %-9s  %8s  %8s  %8s  %s" % ("t (s)", "link", "frames", "acked", "pending", "proxy"))
        phase = None
        t0 = time.monotonic()
        next_collect = next_report = t0
        while True:
            now = time.monotonic()
            elapsed = now - t0
            if elapsed >= args.seconds:
                break
            if phase_at(elapsed, args.seconds) != phase:
                phase = phase_at(elapsed, args.seconds)
                apply_phase(proxy, phase)
            for sat in satellites:
                sat.step()
            for _ in range(rng.randint(1, 3)):
                deployment = rng.choice(DEPLOYMENTS)
                client.post("/deployments/%s/compute" % deployment, json={"values": [1, 2, 3]})
                requests_made += 1
            if now >= next_collect:
                next_collect += INTERVAL_S
                for sat in satellites:
                    sat.collect()
            for sat in satellites:
                sat.device.tick(timeout_s=0.02)
            if now >= next_report:
                next_report += 2.0
                frames = sum(s.frames for s in satellites)
                pending = sum(s.device.buffer.pending for s in satellites)
                acked = sum(s.frames for s in satellites) - pending
                c = proxy.counters
                print("%6.1f  %-9s  %8d  %8d  %8d  dropped %d, reset %d, replies lost %d, 503 %d" % (
                    elapsed, phase, frames, acked, pending, c["dropped"], c["reset"], c["replies_dropped"],
                    c["http_503"]))
            time.sleep(STEP_S)

        print("\nlink healed; final collect and flush")
        proxy.pass_through()
        for sat in satellites:
            sat.collect()
        client.__exit__(None, None, None)  # lifespan shutdown: device.stop() collects and flushes
        if not drain([s.device for s in satellites], model_server):
            print("WARNING: some device buffers did not drain in time")

        expected = {}
        for sat in satellites:
            for metric, value in sat.truth.items():
                expected[(sat.id, metric)] = value
        expected[(MODEL_SERVER, "http.server.request.count")] = requests_made
        expected[(MODEL_SERVER, "http.server.request.duration")] = requests_made
        expected[(MODEL_SERVER, "model.inferences.total")] = requests_made
        expected[(MODEL_SERVER, "model.inference.duration")] = requests_made

        def all_arrived():
            points = rotel.points()
            return all(arrived_total(points, m, d) == v for (d, m), v in expected.items())

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all_arrived():
            time.sleep(0.3)
        points = rotel.points()

        print("\n%-16s %-30s %10s %10s  %s" % ("device", "metric", "recorded", "in OTLP", ""))
        failed = False
        for (device_id, metric), want in sorted(expected.items()):
            got = arrived_total(points, metric, device_id)
            same = got == want
            failed |= not same
            print("%-16s %-30s %10d %10d  %s" % (device_id, metric, want, got, "equal" if same else "DIFFERENT"))
        dropped = sum(arrived_total(points, "litetel.device.frames.dropped", d) for d in keys)
        print("(counts: counter sums and histogram counts; frames dropped by devices, reported: %d)" % dropped)

        lite = sum(s.frame_bytes for s in satellites)
        otel_raw = sum(s.shadow.raw_bytes for s in satellites)
        otel_gz = sum(s.shadow.gzip_bytes for s in satellites)
        print("\nbytes for the satellites' data (%d frames):" % sum(s.frames for s in satellites))
        print("  litetel frames (msgpack + zstd, series dictionary included)  %8d B" % lite)
        print("  OpenTelemetry SDK, OTLP protobuf delta                       %8d B  (%.1fx litetel)" % (
            otel_raw, otel_raw / max(lite, 1)))
        print("  OpenTelemetry SDK, OTLP protobuf delta + gzip                %8d B  (%.1fx litetel)" % (
            otel_gz, otel_gz / max(lite, 1)))
        c = proxy.counters
        print("\nlink faults injected: %d connections dropped, %d reset, %d replies lost after commit, "
              "%d answered 503" % (c["dropped"], c["reset"], c["replies_dropped"], c["http_503"]))
        print("%s in %.0f s" % ("ALL TOTALS EQUAL" if not failed else "TOTALS DIFFER", time.monotonic() - started))
    finally:
        proxy.close()
        gateway.stop()
        rotel.stop()
        if args.keep or failed:
            print("work dir kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
