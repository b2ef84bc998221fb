"""Scenario 1, a flaky link (issue 8): devices → fault proxy → gateway → rotel.

30 % of the devices' connections are dropped or reset, then replies are lost after the gateway committed,
then a 503 storm with Retry-After. The totals that reach rotel must equal what the devices recorded: counter
sums, histogram counts and histogram sums, with no point delivered twice.
"""

import random
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

PHASES = (  # (name, proxy faults)
    ("drop+reset 30%", {"drop": 0.15, "reset": 0.15}),
    ("replies lost after commit", {"drop": 0.1, "reset": 0.1, "drop_replies": 0.3}),
    ("503 storm, Retry-After 1", {"http_503": 0.8, "retry_after_s": 1}),
)
DEVICE_ARGS = (  # each device another codec / compression, so every decoder path is on the bad link
    {"codec": "msgpack", "compression": "zstd"},
    {"codec": "cbor", "compression": "deflate"},
    {"codec": "msgpack", "compression": "none"},
)


def test_flaky_link_totals_exact(rotel, make_gateway, make_fault_proxy):
    ids = ["flaky-%d" % i for i in range(len(DEVICE_ARGS))]
    gateway = make_gateway(keys={d: key_of(d).hex() for d in ids}, otlp_endpoint=rotel.http_endpoint)
    proxy = make_fault_proxy(gateway.port, seed=11)
    devices = [TruthDevice(d, endpoint=proxy.url, **args) for d, args in zip(ids, DEVICE_ARGS)]
    for dev in devices:
        dev.device.uploader.backoff_max_s = 1.0  # keep the short form short; the rules are the same
    rng = random.Random(5)
    seconds_per_phase = scaled(3.5, 40.0)
    started = time.time()
    for _, faults in PHASES:
        proxy.pass_through()
        proxy.set_faults(**faults)
        phase_end = time.time() + seconds_per_phase
        while time.time() < phase_end:
            for dev in devices:
                dev.record(rng)
                dev.collect()
                dev.device.tick(timeout_s=1.0)
            time.sleep(0.05)
    proxy.pass_through()
    assert drain([d.device for d in devices], timeout_s=60), "device buffers did not drain on a healthy link"
    for dev in devices:
        want = dev.truth()
        wait_until(lambda dev=dev, want=want: arrived(rotel.points(), dev.device_id) == want, 60,
                   "rotel totals of %s to equal %r (have %r)" % (dev.device_id, want,
                                                                  arrived(rotel.points(), dev.device_id)))  # fmt: skip
    points = rotel.points()
    assert repeated_points(points, set(ids)) == []
    values = gateway_metrics(gateway)
    dropped = sum(dev.device.buffer.dropped for dev in devices)
    c = proxy.counters

    figures = Figures("flaky_link")
    figures.update(
        devices=len(devices),
        seconds=round(time.time() - started, 1),
        frames=sum(d.frames for d in devices),
        counter_total=sum(d.truth()[0] for d in devices),
        histogram_count=sum(d.truth()[1] for d in devices),
        histogram_sum=sum(d.truth()[2] for d in devices),
        connections=c["accepted"],
        dropped_connections=c["dropped"],
        reset_connections=c["reset"],
        replies_lost_after_commit=c["replies_dropped"],
        answered_503=c["http_503"],
        gateway_dup_frames=metric(values, "litetel_gateway_duplicate_frames_total"),
        device_frames_dropped=dropped,
        uploader_retries=sum(rotel.total("litetel.uploader.retries", **{"device.id": d}) for d in ids),
    )
    figures.save()
    # The faults really happened: otherwise the equality above proves nothing.
    assert c["dropped"] and c["reset"] and c["replies_dropped"] and c["http_503"], c
    assert figures["gateway_dup_frames"] > 0, "lost replies must have caused resends answered 'dup'"
    assert dropped == 0
