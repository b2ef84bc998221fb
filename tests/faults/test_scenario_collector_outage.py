"""Scenario 2, a collector outage (issue 8): rotel is stopped for a stretch while devices keep posting, then
started again on the same port.

The gateway must keep accepting and queue on disk (its queue gauge grows, its database file grows) while its
RSS stays flat; afterwards everything arrives, each series' points in time order, nothing twice.
"""

import os
import random
import threading
import time

from faults.scenario_support import (
    Figures,
    RssSampler,
    TruthDevice,
    arrived,
    drain,
    gateway_metrics,
    key_of,
    metric,
    repeated_points,
    rss_kb,
    scaled,
    wait_until,
)


def _db_bytes(data_dir):
    return sum(os.path.getsize(os.path.join(data_dir, n)) for n in os.listdir(data_dir))


def _out_of_order(points, device_ids):
    """Series whose points did not arrive in time order (arrival order = rotel's log order)."""
    last, bad = {}, []
    for p in points:
        if p.resource.get("device.id") not in device_ids:
            continue
        key = (p.metric, p.resource.get("device.id"), tuple(sorted(p.attributes.items())))
        if key in last and p.time_ns <= last[key]:
            bad.append(key)
        last[key] = p.time_ns
    return bad


def test_collector_outage_queues_on_disk_then_delivers_in_order(rotel, make_gateway):
    ids = ["outage-%d" % i for i in range(4)]
    gateway = make_gateway(keys={d: key_of(d).hex() for d in ids}, otlp_endpoint=rotel.http_endpoint)
    devices = [TruthDevice(d, endpoint=gateway.url) for d in ids]

    def post_for(seconds):  # one thread per device, as many real devices would
        end = time.time() + seconds

        def run(dev, rng):
            while time.time() < end:
                dev.record(rng, n=12)
                dev.collect()
                dev.device.flush(timeout_s=5)

        threads = [threading.Thread(target=run, args=(d, random.Random(i))) for i, d in enumerate(devices)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    post_for(2.0)  # warm up: the gateway has seen these devices, exported, and reached its working size
    for dev in devices:
        wait_until(
            lambda dev=dev: arrived(rotel.points(), dev.device_id) == dev.truth(), 30, "warm-up delivery"
        )
    baseline_kb = rss_kb(gateway.pid)
    db_before = _db_bytes(gateway.data_dir)

    outage_s = scaled(10.0, 90.0)
    rotel.stop()
    with RssSampler(gateway.pid) as rss:
        post_for(outage_s)
    assert all(d.device.buffer.pending == 0 for d in devices), "the gateway must keep acknowledging"
    values = gateway_metrics(gateway)
    queued_frames = metric(values, "litetel_gateway_queue_frames")
    queued_points = metric(values, "litetel_gateway_queue_points")
    db_growth = _db_bytes(gateway.data_dir) - db_before
    retries = metric(values, "litetel_gateway_export_requests_total", outcome="retry")
    assert queued_frames > 100 and retries >= 1, (queued_frames, retries)

    restarted = time.time()
    rotel.start()
    for dev in devices:
        want = dev.truth()
        wait_until(lambda dev=dev, want=want: arrived(rotel.points(), dev.device_id) == want, 90,
                   "rotel totals of %s to equal %r after the outage" % (dev.device_id, want))  # fmt: skip
    caught_up_s = time.time() - restarted
    assert drain([d.device for d in devices], 5)
    points = rotel.points()
    assert repeated_points(points, set(ids)) == []
    assert _out_of_order(points, set(ids)) == []
    wait_until(
        lambda: metric(gateway_metrics(gateway), "litetel_gateway_queue_frames") == 0, 30, "empty queue"
    )

    growth_kb = rss.max_kb - baseline_kb
    figures = Figures("collector_outage")
    figures.update(
        outage_s=outage_s,
        frames_queued=int(queued_frames),
        points_queued=int(queued_points),
        database_growth_bytes=db_growth,
        rss_before_kb=baseline_kb,
        rss_max_during_outage_kb=rss.max_kb,
        rss_growth_kb=growth_kb,
        rss_samples=len(rss.samples),
        export_retries=int(retries),
        seconds_to_deliver_after_restart=round(caught_up_s, 1),
        counter_total=sum(d.truth()[0] for d in devices),
        histogram_count=sum(d.truth()[1] for d in devices),
    )
    figures.save()
    # Flat: the queue lives in SQLite. Allow SQLite's page cache and allocator noise, far below what the
    # queued data would take in RAM (a point in Python objects is ~1 kB).
    assert growth_kb < 16 * 1024, "gateway RSS grew by %d kB during the outage" % growth_kb
