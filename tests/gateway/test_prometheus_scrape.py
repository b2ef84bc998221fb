"""A real Prometheus (Debian's `prometheus`) scrapes the gateway's /metrics; PromQL gives the devices' totals.

Two devices post signed frames (wire format §4) to a gateway subprocess; Prometheus scrapes it every second;
the totals its HTTP API answers must equal what the devices recorded, and a resent request must not count
twice. Without the prometheus binary the `make_prometheus` fixture skips with a capitalised reason.
"""

import time

from devicesim import COUNTER, HISTOGRAM, SimDevice

SECOND = 1_000_000
BOUNDS = [0.1, 0.5, 1.0]
KEYS = {"sat-7": bytes(range(32)), "sat-8": bytes(range(100, 132))}


def histogram_point(values):
    """The §2.2 histogram value for `values`: [count, sum, min, max, first, dense bucket counts...]."""
    counts = [0] * (len(BOUNDS) + 1)
    for v in values:
        counts[next((i for i, b in enumerate(BOUNDS) if v <= b), len(BOUNDS))] += 1
    first = next(i for i, c in enumerate(counts) if c)
    last = max(i for i, c in enumerate(counts) if c)
    return [len(values), sum(values), min(values), max(values), first] + counts[first : last + 1]


def post_device(gateway_url, device_id, requests_a, requests_b, latencies):
    """Two intervals of one device: /a gets `requests_a` over both, /b and the histogram in the first."""
    dev = SimDevice(device_id, key=KEYS[device_id], resource={"service.name": "scrape-fleet"})
    requests = dev.instrument("test.requests", COUNTER, "{request}")
    route_a, route_b = dev.series(requests, {"route": "/a"}), dev.series(requests, {"route": "/b"})
    latency = dev.series(dev.instrument("test.latency", HISTOGRAM, "s", bounds=BOUNDS))
    t = int(time.time()) * SECOND - 60 * SECOND
    first = dev.frame(
        [route_a, requests_a - 3, route_b, requests_b, latency, histogram_point(latencies)],
        t,
        t + 10 * SECOND,
    )
    second = dev.frame([route_a, 3], t + 10 * SECOND, t + 20 * SECOND)
    status, reply = dev.post(gateway_url, [first, second])
    assert (status, reply["results"]) == (200, ["ok", "ok"])
    # A resend with a fresh nonce (the device lost the reply): acknowledged as duplicates, not counted again.
    status, reply = dev.post(gateway_url, [first, second])
    assert (status, reply["results"]) == (200, ["dup", "dup"])


def test_prometheus_reads_the_devices_totals_from_the_gateway(make_gateway, make_prometheus):
    gateway = make_gateway(keys={d: k.hex() for d, k in KEYS.items()})
    prometheus = make_prometheus(["127.0.0.1:%d" % gateway.port], scrape_interval="1s")

    latencies = {"sat-7": [0.05, 0.3, 0.3, 2.0], "sat-8": [0.7]}
    expected = {("sat-7", "/a"): 8, ("sat-7", "/b"): 11, ("sat-8", "/a"): 40, ("sat-8", "/b"): 2}
    for device_id in KEYS:
        post_device(
            gateway.url,
            device_id,
            expected[(device_id, "/a")],
            expected[(device_id, "/b")],
            latencies[device_id],
        )

    query = "sum by (device_id, route) (test_requests_total)"
    result = prometheus.wait_for_query(query, lambda r: len(r) == len(expected), timeout_s=30)
    got = {(r["metric"]["device_id"], r["metric"]["route"]): float(r["value"][1]) for r in result}
    assert got == expected

    for device_id, values in latencies.items():
        selector = 'device_id="%s"' % device_id
        assert prometheus.query_value("test_latency_count{%s}" % selector) == len(values)
        assert abs(prometheus.query_value("test_latency_sum{%s}" % selector) - sum(values)) < 1e-9
        le_half = prometheus.query_value('test_latency_bucket{%s,le="0.5"}' % selector)
        assert le_half == sum(1 for v in values if v <= 0.5)
        assert prometheus.query_value('test_latency_bucket{%s,le="+Inf"}' % selector) == len(values)

    # The gateway's own metrics come through the same scrape: two resent frames per device.
    assert prometheus.query_value("litetel_gateway_duplicate_frames_total") == 2 * len(KEYS)
    (target,) = prometheus.targets()
    assert target["health"] == "up", target
