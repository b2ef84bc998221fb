"""Scenario 3, gateway crashes (issue 8): SIGKILL at random moments while devices post and export runs, then a
restart on the same port and data directory.

Devices keep every frame the gateway did not acknowledge and resend it; the gateway's dedup marks and queue are
in SQLite. Nothing acknowledged may be lost and nothing counted twice: rotel's totals equal what the devices
recorded. The export link runs through a proxy that delays each chunk, so kills also land while an export is
in flight (sent, not yet acknowledged by rotel or not yet deleted from the queue).
"""

import random
import threading
import time

from faults.scenario_support import (
    Figures,
    TruthDevice,
    arrived,
    drain,
    gateway_metrics,
    key_of,
    metric,
    repeated_points,
    scaled,
    wait_until,
)


def test_gateway_sigkill_loses_nothing_counts_nothing_twice(rotel, make_gateway, make_fault_proxy):
    ids = ["crash-%d" % i for i in range(4)]
    export_link = make_fault_proxy(rotel.http_port, seed=3).set_faults(delay_ms=30)
    gateway = make_gateway(
        keys={d: key_of(d).hex() for d in ids},
        otlp_endpoint=export_link.url,
        extra_args=["--batch-points", "200"],  # many small exports: more kills land inside one
    )
    devices = [TruthDevice(d, endpoint=gateway.url) for d in ids]
    for dev in devices:
        dev.device.uploader.backoff_max_s = 0.5
    stop = threading.Event()

    def run(dev, rng):
        while not stop.is_set():
            dev.record(rng, n=6)
            dev.collect()
            dev.device.tick(timeout_s=2)
            time.sleep(0.01)

    threads = [threading.Thread(target=run, args=(d, random.Random(i))) for i, d in enumerate(devices)]
    for t in threads:
        t.start()
    rng = random.Random(17)
    kills = scaled(6, 40)
    started = time.time()
    restart_s = []
    exported_at_kill = []
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(0.3, 1.5))
            exported_at_kill.append(metric(gateway_metrics(gateway), "litetel_gateway_points_out_total"))
            time.sleep(rng.uniform(0, 0.2))  # the kill lands at a random moment after that scrape
            gateway.kill()
            t0 = time.time()
            gateway.start()
            restart_s.append(time.time() - t0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert drain([d.device for d in devices], timeout_s=60)
    wait_until(lambda: metric(gateway_metrics(gateway), "litetel_gateway_queue_frames") == 0, 120,
               "the gateway's queue to empty")  # fmt: skip
    for dev in devices:
        want = dev.truth()
        wait_until(lambda: arrived(rotel.points(), dev.device_id) == want, 60,
                   "rotel totals of %s to equal %r (have %r)" % (dev.device_id, want,
                                                                  arrived(rotel.points(), dev.device_id)))  # fmt: skip
    twice = repeated_points(rotel.points(), set(ids))
    values = gateway_metrics(gateway)
    figures = Figures("gateway_crash")
    figures.update(
        kills=kills,
        seconds=round(time.time() - started, 1),
        frames=sum(d.frames for d in devices),
        counter_total=sum(d.truth()[0] for d in devices),
        histogram_count=sum(d.truth()[1] for d in devices),
        restart_seconds_max=round(max(restart_s), 2),
        restart_seconds_mean=round(sum(restart_s) / len(restart_s), 2),
        dup_frames_since_last_start=metric(values, "litetel_gateway_duplicate_frames_total"),
        points_delivered_twice=len(twice),
        device_frames_dropped=sum(d.device.buffer.dropped for d in devices),
    )
    figures.save()
    assert twice == []
    assert figures["device_frames_dropped"] == 0
    assert gateway.starts == kills + 1
