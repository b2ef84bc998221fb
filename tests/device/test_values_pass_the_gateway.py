"""Values the device accepts and sends pass the gateway's point validation (one rejected point rejects the
whole frame, every other instrument's points with it): a gauge's ±inf, float sums that overflow."""

import math

import pytest

from litetel.device import Device
from litetel.errors import InstrumentError
from litetel.ring_buffer import RingBuffer
from litetel_gateway import decoder
from litetel_gateway.decoder import Dictionary, Limits


def gateway_accepts(data):
    header, payload = decoder.parse_header(data, 0)
    delta, points = decoder.decode_payload(header, payload, Limits())
    d = Dictionary()
    d.apply_delta(delta, Limits())
    return decoder.validate_points(points, d)  # raises Reject for a refused frame


def device_and_meter():
    """A device whose frame holds one good point besides what the test records: a refusal would cost it too."""
    dev = Device("gateway-roundtrip", buffer=RingBuffer(capacity=1 << 20))
    m = dev.meter("m")
    m.counter("requests").add(5)
    return dev, m


def test_gauge_set_to_infinity_is_accepted_by_the_gateway():
    # docs/api.md: "NaN for gauges (a gauge may be set to ±inf)"; the device accepts and sends it.
    dev, m = device_and_meter()
    m.gauge("temp").set(math.inf)
    assert gateway_accepts(dev.collect()) == 2


def test_a_counter_increment_that_would_overflow_the_sum_is_refused():
    # Each increment is finite, but the interval's float sum would be inf, which the gateway rejects with the
    # whole frame: the increment that overflows is refused instead, and the sum so far is sent.
    dev, m = device_and_meter()
    c = m.counter("bytes")
    c.add(1e308)
    with pytest.raises(InstrumentError, match="sum"):
        c.add(1e308)
    assert gateway_accepts(dev.collect()) == 2


def test_histogram_float_sum_overflowing_to_infinity_is_accepted_by_the_gateway():
    dev, m = device_and_meter()
    h = m.histogram("size")
    h.record(1e308)
    h.record(1e308)
    assert gateway_accepts(dev.collect()) == 2
