"""Scenario 3, gateway crashes (issue 8): SIGKILL at random moments while devices post and export runs, then a
restart on the same port and data directory.

Devices keep every frame the gateway did not acknowledge and resend it; the gateway's dedup marks and queue are
in SQLite. Nothing acknowledged may be lost and nothing counted twice: rotel's totals equal what the devices
recorded. The export link runs through a proxy that delays each chunk, so kills also land while an export is
in flight (sent, not yet acknowledged by rotel or not yet deleted from the queue).

OTLP has no idempotency key, so a kill after rotel accepted a batch and before the gateway deleted it from its
queue re-sends that batch at the next start. With ``--temporality cumulative`` a re-sent point restates a
running total and changes nothing: totals are exact. With delta temporality (the default) such points arrive
twice; the test pins that they are exact copies (same series, start, end, value — a receiver can drop them)
and that nothing else differs.
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


def _crash_loop(rotel, make_gateway, make_fault_proxy, temporality):
    """Devices post and the gateway exports while it is SIGKILLed and restarted; -> (devices, points, figures)."""
    ids = ["crash-%s-%d" % (temporality, i) for i in range(4)]
    export_link = make_fault_proxy(rotel.http_port, seed=3).set_faults(delay_ms=30)
    gateway = make_gateway(
        keys={d: key_of(d).hex() for d in ids},
        otlp_endpoint=export_link.url,
        extra_args=["--batch-points", "200", "--temporality", temporality],  # many small exports
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
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(0.3, 1.5))
            gateway.kill()
            t0 = time.time()
            gateway.start()
            restart_s.append(time.time() - t0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert gateway.starts == kills + 1
    assert drain([d.device for d in devices], timeout_s=60)
    wait_until(lambda: metric(gateway_metrics(gateway), "litetel_gateway_queue_frames") == 0, 120,
               "the gateway's queue to empty")  # fmt: skip

    def all_arrived():
        points = rotel.points()
        return all(arrived(points, d.device_id) >= d.truth() for d in devices)

    wait_until(all_arrived, 60, "rotel totals to reach what the devices recorded")
    points = [p for p in rotel.points() if p.resource.get("device.id") in ids]
    figures = Figures("gateway_crash_" + temporality)
    figures.update(
        temporality=temporality,
        kills=kills,
        seconds=round(time.time() - started, 1),
        frames=sum(d.frames for d in devices),
        counter_total=sum(d.truth()[0] for d in devices),
        histogram_count=sum(d.truth()[1] for d in devices),
        restart_seconds_max=round(max(restart_s), 2),
        restart_seconds_mean=round(sum(restart_s) / len(restart_s), 2),
        device_frames_dropped=sum(d.device.buffer.dropped for d in devices),
    )
    assert figures["device_frames_dropped"] == 0
    return devices, points, figures


def test_gateway_sigkill_cumulative_totals_exact(rotel, make_gateway, make_fault_proxy):
    devices, points, figures = _crash_loop(rotel, make_gateway, make_fault_proxy, "cumulative")
    figures["points_received_twice"] = len(repeated_points(points))
    figures.save()
    for dev in devices:
        assert arrived(points, dev.device_id) == dev.truth(), dev.device_id


def test_gateway_sigkill_delta_nothing_lost_repeats_are_exact_copies(rotel, make_gateway, make_fault_proxy):
    devices, points, figures = _crash_loop(rotel, make_gateway, make_fault_proxy, "delta")
    twice = repeated_points(points)
    repeats = set(map(id, twice))
    first_copies = [p for p in points if id(p) not in repeats]
    figures.update(
        points_received_twice=len(twice),
        excess_counter=sum(arrived(points, d.device_id)[0] - d.truth()[0] for d in devices),
    )
    figures.save()
    # Without the re-sent copies: exactly what was recorded, nothing lost, nothing else twice.
    for dev in devices:
        assert arrived(first_copies, dev.device_id) == dev.truth(), dev.device_id
