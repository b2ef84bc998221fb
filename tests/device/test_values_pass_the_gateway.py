"""Values the device accepts and sends pass the gateway's point validation (one rejected point rejects the
whole frame, every other instrument's points with it): a gauge's ±inf, float sums that overflow."""

import math

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


def device():
    return Device("gateway-roundtrip", buffer=RingBuffer(capacity=1 << 20))


def test_gauge_set_to_infinity_is_accepted_by_the_gateway():
    # docs/api.md: "NaN for gauges (a gauge may be set to ±inf)"; the device accepts and sends it.
    dev = device()
    m = dev.meter("m")
    m.counter("requests").add(5)
    m.gauge("temp").set(math.inf)
    assert gateway_accepts(dev.collect()) == 2


def test_counter_float_sum_overflowing_to_infinity_does_not_cost_the_frame():
    # Each increment is finite (accepted), but the interval's float sum overflows to inf, which the gateway
    # rejects with the whole frame. Refusing the increment that overflows (InstrumentError) is fine too.
    dev = device()
    m = dev.meter("m")
    m.counter("requests").add(5)
    c = m.counter("bytes")
    c.add(1e308)
    try:
        c.add(1e308)
    except InstrumentError:
        pass
    assert gateway_accepts(dev.collect()) == 2


def test_histogram_float_sum_overflowing_to_infinity_is_accepted_by_the_gateway():
    dev = device()
    m = dev.meter("m")
    m.counter("requests").add(5)
    h = m.histogram("size")
    h.record(1e308)
    h.record(1e308)
    assert gateway_accepts(dev.collect()) == 2
