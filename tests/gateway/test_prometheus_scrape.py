"""A real Prometheus (Debian's `prometheus`) scrapes the gateway's /metrics; PromQL returns the devices' totals.

Two devices post signed frames over the wire protocol (wire-format §4) to a gateway subprocess; Prometheus
scrapes it every second; the totals it answers must equal what the devices recorded, and a replayed request
must not count twice.
"""

import json
import random
import time
import urllib.request

import pytest

from litetel import codecs, signing

frame = pytest.importorskip("litetel.frame", reason="LOUD: litetel/frame.py has not landed; scrape test NOT run")

MSGPACK, NO_COMPRESSION = 0, 0
COUNTER, HISTOGRAM = 0, 3
STRING = 0
BOUNDS = [0.1, 0.5, 1.0]
KEYS = {"sat-7": bytes(range(32)), "sat-8": bytes(range(100, 132))}

# The dictionary a device sends with its first frame (wire-format §2.1): string table, one scope,
# a counter and a histogram, three series; then the resource attributes.
STRINGS = ["", "scrape.test", "test.requests", "{request}", "route", "/a", "/b", "test.latency", "s",
           "service.name", "scrape-fleet"]
SID = {s: i for i, s in enumerate(STRINGS)}
DICT_DELTA = [
    0, STRINGS,
    0, [[SID["scrape.test"], SID[""]]],
    0, [
        [0, SID["test.requests"], COUNTER, SID["{request}"], SID[""], None],
        [0, SID["test.latency"], HISTOGRAM, SID["s"], SID[""], BOUNDS],
    ],
    0, [
        [0, [SID["route"] * 4 + STRING, SID["/a"]]],   # series 0: test.requests{route="/a"}
        [0, [SID["route"] * 4 + STRING, SID["/b"]]],   # series 1: test.requests{route="/b"}
        [1, []],                                         # series 2: test.latency
    ],
    [SID["service.name"] * 4 + STRING, SID["scrape-fleet"]],
]  # fmt: skip


def histogram_value(values):
    """The §2.2 histogram point for `values`: [count, sum, min, max, first, dense bucket counts...]."""
    counts = [0] * (len(BOUNDS) + 1)
    for v in values:
        counts[next((i for i, b in enumerate(BOUNDS) if v <= b), len(BOUNDS))] += 1
    first = next(i for i, c in enumerate(counts) if c)
    last = max(i for i, c in enumerate(counts) if c)
    return [len(values), sum(values), min(values), max(values), first] + counts[first:last + 1]


class WireDevice:
    """The device half of the upload protocol, by hand: frames, nonce, signature, POST."""

    def __init__(self, device_id, gateway_url):
        self.device_id = device_id
        self.key = KEYS[device_id]
        self.url = gateway_url + "/v1/frames"
        self.epoch = random.getrandbits(32)
        self.counter = 0
        self.seq = 0
        self.end_us = int(time.time() * 1e6) - 60_000_000

    def frame(self, points, with_dictionary):
        self.seq += 1
        start, self.end_us = self.end_us, self.end_us + 10_000_000
        payload = codecs.encode(MSGPACK, [DICT_DELTA if with_dictionary else None, points])
        return frame.pack_frame(0, MSGPACK, NO_COMPRESSION, frame.device_hash(self.device_id), self.epoch,
                                self.seq, start, self.end_us, payload)

    def post(self, frames):
        self.counter += 1
        body = b"".join(frames)
        nonce = "%d.%d" % (self.epoch, self.counter)
        time_ms, ticks_us = int(time.time() * 1000), time.monotonic_ns() // 1000
        headers = {
            "Content-Type": "application/vnd.litetel.frames",
            "X-Litetel-Device": self.device_id,
            "X-Litetel-Nonce": nonce,
            "X-Litetel-Time": str(time_ms),
            "X-Litetel-Ticks": str(ticks_us),
            "X-Litetel-Signature": signing.sign_request(self.key, self.device_id, nonce, time_ms, ticks_us, body),
        }
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            return json.loads(response.read())["results"]


def test_prometheus_reads_the_devices_totals_from_the_gateway(make_gateway, make_prometheus):
    gateway = make_gateway(keys={d: k.hex() for d, k in KEYS.items()})
    prometheus = make_prometheus(["127.0.0.1:%d" % gateway.port], scrape_interval="1s")

    latencies = {"sat-7": [0.05, 0.3, 0.3, 2.0], "sat-8": [0.7]}
    expected_requests = {}
    for n, device_id in enumerate(sorted(KEYS)):
        device = WireDevice(device_id, gateway.url)
        a1, b1, a2 = 5 + n, 11 * (n + 1), 3
        first = device.frame([0, a1, 1, b1, 2, histogram_value(latencies[device_id])], with_dictionary=True)
        second = device.frame([0, a2], with_dictionary=False)
        assert device.post([first, second]) == ["ok", "ok"]
        assert device.post([first, second]) == ["dup", "dup"]  # a resend (new nonce) is acknowledged, not counted
        expected_requests[(device_id, "/a")] = a1 + a2
        expected_requests[(device_id, "/b")] = b1

    query = "sum by (device_id, route) (test_requests_total)"
    result = prometheus.wait_for_query(query, lambda r: len(r) == len(expected_requests), timeout_s=30)
    got = {(r["metric"]["device_id"], r["metric"]["route"]): float(r["value"][1]) for r in result}
    assert got == expected_requests

    for device_id, values in latencies.items():
        selector = '{device_id="%s"}' % device_id
        assert prometheus.query_value("test_latency_count" + selector) == len(values)
        assert prometheus.query_value("test_latency_sum" + selector) == pytest.approx(sum(values))
        le_half = prometheus.query_value('test_latency_bucket{device_id="%s",le="0.5"}' % device_id)
        assert le_half == sum(1 for v in values if v <= 0.5)
        assert prometheus.query_value('test_latency_bucket{device_id="%s",le="+Inf"}' % device_id) == len(values)

    # The gateway's own metrics come through the same scrape: two replayed frames per device.
    assert prometheus.query_value("litetel_gateway_duplicate_frames_total") == 2 * len(KEYS)
    (target,) = prometheus.targets()
    assert target["health"] == "up", target

