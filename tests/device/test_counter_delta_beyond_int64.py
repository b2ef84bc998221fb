"""A sum delta outside int64 is sent as the nearest float (docs/api.md), also on the lock-free path once a
series of the instrument spilled; as an int the gateway rejected the whole frame (reject:value)."""

from litetel.instruments import _LMAX


def test_counter_delta_beyond_int64_is_a_float_after_the_instrument_once_spilled(rec):
    c = rec.meter.counter("bytes")
    a = c.bind({"s": "a"})
    b = c.bind({"s": "b"})
    # Interval 1: series a's int column overflows once: the instrument now has a (later empty) spill dict.
    a.add(_LMAX)
    a.add(2)
    assert rec.points()[("bytes", (("s", "a"),))] == float(_LMAX + 2)
    # Interval 2: series b's delta passes int64 without its biased int column ever leaving the array range
    # (lockfree._CountingSum keeps `locked adds - (previous read + 1)` there, and add(1) steps off it).
    b.add(_LMAX)
    b.add(1)
    got = rec.points()[("bytes", (("s", "b"),))]
    assert got == float(_LMAX + 1) and type(got) is float, got


def test_the_frame_with_that_delta_is_accepted_by_the_gateway():
    from litetel.device import Device
    from litetel.ring_buffer import RingBuffer
    from litetel_gateway import decoder
    from litetel_gateway.decoder import Dictionary, Limits

    dev = Device("int64-delta", buffer=RingBuffer(capacity=1 << 20))
    m = dev.meter("m")
    c = m.counter("bytes")
    a = c.bind({"s": "a"})
    b = c.bind({"s": "b"})
    a.add(_LMAX)
    a.add(2)
    gw = Dictionary()

    def send(data):
        header, payload = decoder.parse_header(data, 0)
        delta, points = decoder.decode_payload(header, payload, Limits())
        gw.apply_delta(delta, Limits())
        return decoder.validate_points(points, gw)

    assert send(dev.collect()) == 1
    m.counter("requests").add(5)  # another instrument's point in the same frame
    b.add(_LMAX)
    b.add(1)
    assert send(dev.collect()) == 2  # Reject("value") loses the frame, requests=5 with it
