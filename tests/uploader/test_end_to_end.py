"""Device -> real gateway on loopback: signed uploads acknowledged, a lost reply resent and deduplicated,
and the totals in the gateway's /metrics view equal what the device recorded."""

import re
import time

import pytest
from support.gateway import TEST_DEVICE_ID, TEST_DEVICE_KEY

from litetel.device import Device
from litetel.ring_buffer import RingBuffer
from litetel.transport import http_transport, socket_transport


def prom_value(text, name, **labels):
    for line in text.splitlines():
        if line.startswith(name + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.parametrize("transport", [http_transport, socket_transport])
def test_device_to_real_gateway_exactly_once(make_gateway, transport):
    gw = make_gateway()
    lose_next_reply = []

    def flaky(url, headers, body, timeout_s):
        reply = transport(url, headers, body, timeout_s)
        if lose_next_reply:  # the gateway committed, the device never hears: it must resend
            lose_next_reply.pop()
            raise OSError(104, "connection reset by peer")
        return reply

    dev = Device(
        TEST_DEVICE_ID,
        endpoint=gw.url,
        key=bytes.fromhex(TEST_DEVICE_KEY),
        transport=flaky,
        buffer=RingBuffer(capacity=65536),
        resource={"service.name": "e2e"},
    )
    requests = dev.meter("e2e").counter("e2e.requests", unit="{request}").bind({"route": "/a"})
    recorded = 0
    for i in range(5):
        for _ in range(i + 1):
            requests.add(3)
            recorded += 3
        dev.collect()
    assert dev.buffer.pending == 5

    lose_next_reply.append(1)
    assert dev.flush() == 0 and dev.buffer.pending == 5
    assert not dev.uploader.ready()
    assert dev.flush() == 5  # resent with a new nonce; the gateway answers dup for what it already has
    assert dev.buffer.pending == 0 and dev.uploader.failures == 0

    status, body = gw.get("/metrics")
    assert status == 200
    text = body.decode()
    assert prom_value(text, "e2e_requests_total", route="/a", device_id=TEST_DEVICE_ID) == recorded
    # The uploader's own counters travel in later frames like any series (wire format §2.3).
    dev.collect()
    assert dev.flush() == 1
    text = gw.get("/metrics")[1].decode()
    assert prom_value(text, "litetel_uploader_frames_acked_total", device_id=TEST_DEVICE_ID) == 5
    assert prom_value(text, "litetel_uploader_retries_total", device_id=TEST_DEVICE_ID) == 1


def test_wrong_key_keeps_frames_and_backs_off(make_gateway):
    gw = make_gateway()
    dev = Device(TEST_DEVICE_ID, endpoint=gw.url, key=b"not the key", buffer=RingBuffer(capacity=16384))
    dev.meter("e2e").counter("e2e.requests").bind({}).add(1)
    dev.collect()
    assert dev.flush() == 0
    assert dev.buffer.pending == 1 and not dev.uploader.ready()
    assert re.match(r"auth 40[13]", dev.uploader.last_error)


def test_background_thread_with_real_device_and_gateway(make_gateway):
    gw = make_gateway()
    dev = Device(
        TEST_DEVICE_ID, endpoint=gw.url, key=bytes.fromhex(TEST_DEVICE_KEY), buffer=RingBuffer(capacity=65536)
    )
    hits = dev.meter("e2e").counter("e2e.hits").bind({"k": "v"})
    dev.start(interval_s=0.05)
    for _ in range(40):
        hits.add(1)
        time.sleep(0.005)
    dev.stop()  # collects the rest and flushes it
    assert dev.buffer.pending == 0
    text = gw.get("/metrics")[1].decode()
    assert prom_value(text, "e2e_hits_total", k="v", device_id=TEST_DEVICE_ID) == 40
