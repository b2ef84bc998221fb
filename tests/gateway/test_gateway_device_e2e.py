"""A real ``litetel.device.Device`` (encoder, dictionary, ring buffer, uploader, HTTP transport) → the
gateway process → real rotel: every instrument kind arrives with the recorded values, and a gateway that
lost its state answers ``need_dict`` and is healed by the device's dictionary refresh."""

import pytest
from support.gateway import TEST_DEVICE_ID, make_test_device
from support.ports import wait_for

from litetel import frame

RESOURCE = {"service.name": "e2e", "host.arch": "xtensa"}


@pytest.mark.parametrize(
    "codec, compression", [("msgpack", "zstd"), ("cbor", "deflate"), ("msgpack", "none")]
)
def test_every_instrument_kind_arrives_in_rotel(make_gateway, rotel, codec, compression):
    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint)
    dev = make_test_device(gateway.url, RESOURCE, codec, compression)
    meter = dev.meter("e2e.meter", "2.0")
    requests = meter.counter("e2e.requests", unit="{request}")
    depth = meter.updown_counter("e2e.queue.depth")
    temperature = meter.gauge("e2e.temperature", unit="Cel")
    latency = meter.histogram("e2e.latency", unit="ms", boundaries=(10, 100))
    values = [5, 50, 500, 7]
    for v in values:
        requests.add(2, {"route": "/a"})
        latency.record(v, {"route": "/a"})
    depth.add(3)
    depth.add(-1)
    temperature.set(41.5)
    dev.collect()
    requests.add(1, {"route": "/b"})
    dev.collect()
    assert dev.flush() == 2

    rotel.wait_for_total("e2e.requests", 9, timeout_s=15)
    assert rotel.total("e2e.requests", route="/a") == 8 and rotel.total("e2e.requests", route="/b") == 1
    rotel.wait_for_total("e2e.latency", 4, timeout_s=15)
    (h,) = rotel.points("e2e.latency")
    assert (h.count, h.sum, h.min, h.max) == (4, 562, 5, 500)
    assert h.bounds == [10, 100] and h.bucket_counts == [2, 1, 1]
    (d,) = rotel.points("e2e.queue.depth")
    assert d.value == 2 and d.monotonic is False
    (t,) = rotel.points("e2e.temperature")
    assert t.value == 41.5 and t.type == "gauge"
    p = rotel.points("e2e.requests")[0]
    assert p.scope == "e2e.meter" and p.scope_version == "2.0" and p.unit == "{request}"
    assert p.resource == {"service.name": "e2e", "host.arch": "xtensa", "device.id": TEST_DEVICE_ID}
    assert p.start_ns <= p.time_ns


def test_a_gateway_that_lost_its_state_is_healed_by_a_dictionary_refresh(make_gateway, tmp_path, rotel):
    first = make_gateway(data_dir=tmp_path / "first")
    dev = make_test_device(first.url, RESOURCE)
    requests = dev.meter("e2e").counter("e2e.requests")
    requests.add(4, {"route": "/a"})
    dev.collect()
    assert dev.flush() == 1
    first.stop()
    # a new gateway with an empty database on the same address: the device's next frame has no dictionary
    second = make_gateway(data_dir=tmp_path / "second", otlp_endpoint=rotel.http_endpoint, start=False)
    second.port = first.port
    second.start()
    requests.add(6, {"route": "/a"})
    dev.collect()
    flushed = dev.flush()
    flushed += dev.flush()
    assert flushed == 1 and dev.buffer.pending == 0
    rotel.wait_for_total("e2e.requests", 6, timeout_s=15)
    status, body = second.get("/metrics")
    assert 'litetel_gateway_frames_in_total{result="need_dict"} 1' in body.decode()


def frames_in(gateway):
    """The gateway's ``frames_in_total`` lines, from its /metrics."""
    status, body = gateway.get("/metrics")
    return [line for line in body.decode().splitlines() if line.startswith("litetel_gateway_frames_in_total")]


def test_what_a_device_accepts_at_the_wire_limits_the_gateway_accepts(make_gateway):
    # The device refuses a series past the wire's limits and cuts a span's text to them: what it sends at
    # the limits is what a gateway with default limits takes, so no frame is rejected and nothing else lost.
    from litetel.dictionary import MAX_BOUNDARIES, MAX_KEY, MAX_SERIES_ATTRIBUTES, MAX_TEXT

    gateway = make_gateway()
    dev = make_test_device(gateway.url, {"k%d" % i: "r" * MAX_TEXT for i in range(MAX_SERIES_ATTRIBUTES)})
    meter = dev.meter("m" * MAX_TEXT, version="v" * MAX_TEXT)
    meter.counter("c", description="d" * MAX_TEXT).add(1, {"k%d" % i: i for i in range(MAX_SERIES_ATTRIBUTES)})
    meter.counter("c").add(1, {"k" * MAX_KEY: "v" * MAX_TEXT})
    meter.histogram("h", boundaries=range(MAX_BOUNDARIES)).record(3)
    with dev.tracer("t").span("s" * 9000, {"k" * 9000: "v" * 9000}):
        pass
    dev.collect()
    assert dev.flush() == 1
    assert frames_in(gateway) == ['litetel_gateway_frames_in_total{result="ok"} 1']


def test_a_device_past_the_gateways_series_limit_loses_no_frame(make_gateway):
    # A gateway rejects the frame that takes a device past --max-series-per-device (10,000 by default) and every
    # later frame of the epoch. The device stays within it: the attribute sets past it go to the overflow series,
    # so every frame is accepted and every increment arrives, once.
    from litetel.epoch_limits import MAX_EPOCH_SERIES
    from litetel.errors import InstrumentError

    gateway = make_gateway()
    dev = make_test_device(gateway.url, RESOURCE, "msgpack", "zstd")
    users = dev.meter("m").counter("users", max_series=2 * MAX_EPOCH_SERIES)
    sent = 0
    for chunk in range(MAX_EPOCH_SERIES // 1000 + 1):  # 11,000 attribute sets, a frame a thousand
        for i in range(chunk * 1000, (chunk + 1) * 1000):
            users.add(1, {"user": i})
        dev.collect()
        sent += dev.flush()
    users.add(5, {"user": -1})  # a new attribute set now: the overflow series, in a frame accepted as well
    dev.collect()
    sent += dev.flush()
    with pytest.raises(InstrumentError, match="dictionary is full"):
        dev.meter("m").gauge("after")  # room is kept for overflow series, not for new instruments
    assert sent == MAX_EPOCH_SERIES // 1000 + 2
    assert frames_in(gateway) == ['litetel_gateway_frames_in_total{result="ok"} %d' % sent]
    assert dev.dictionary.series_count <= MAX_EPOCH_SERIES


def test_spans_with_ever_new_names_arrive_and_never_cost_the_device_its_frames(make_gateway, rotel, monkeypatch):
    # A span name with an id in it is a new string each time. The device interns them up to the gateway's
    # string limit (here both set to 1,000), then sends new names inline: every span arrives in the collector
    # with its name, and every frame, metrics included, is accepted. (Before: past the limit the frame and
    # every later one were rejected; then such spans were dropped.)
    from litetel import epoch_limits

    monkeypatch.setattr(epoch_limits, "MAX_EPOCH_STRINGS", 1000)
    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint, extra_args=("--max-strings-per-device", "1000"))
    dev = make_test_device(gateway.url, RESOURCE, "msgpack", "zstd", max_spans=500)
    tracer = dev.tracer("t")
    requests = dev.meter("m").counter("requests")
    sent = inline = 0
    for batch in range(5):  # 2,500 span names
        for i in range(batch * 500, batch * 500 + 500):
            with tracer.span("order %d" % i):
                requests.add(1)
        data = dev.collect()
        spans = frame.decode_payload(*frame.parse_frame(data)[:2])[2]
        inline += sum(1 for s in spans if s[4].__class__ is str)
        sent += dev.flush()
    assert sent == 5 and len(dev.dictionary.strings) < 1000 and inline > 1500
    wait_for(lambda: len(rotel.spans()) >= 2500, 30, message="2,500 spans in rotel")
    assert sorted(s.name for s in rotel.spans()) == sorted("order %d" % i for i in range(2500))
    rotel.wait_for_total("requests", 2500, timeout_s=15)
    assert not rotel.points("litetel.device.spans.dropped")
    assert frames_in(gateway) == ['litetel_gateway_frames_in_total{result="ok"} 5']


def test_a_frame_corrupted_in_the_device_buffer_costs_that_frame_alone(make_gateway):
    # RAM corrupted after the append: frame 2 of 4 claims a longer payload than the request holds, so the
    # gateway cannot find the frames after it. It stores frame 1 and leaves the rest unanswered; the device
    # keeps them and sends frame 2 first next time, whose 400 drops it alone (counted `rejected`). Before,
    # the whole request was a 400, and the device dropped its good first frame, then the next, one by one.
    gateway = make_gateway()
    dev = make_test_device(gateway.url, RESOURCE, "msgpack", "none")
    c = dev.meter("m").counter("c")
    for i in range(4):
        c.add(10**i)
        dev.collect()
    ring = dev.buffer
    _, second = ring.read(max_frames=4)[1]
    off = bytes(ring._mem).find(second)
    ring._mem[off + 40 : off + 44] = (1 << 20).to_bytes(4, "big")  # payload_len: 1 MiB
    assert dev.flush() == 3 and ring.pending == 0
    dev.collect()  # the drop, reported
    assert dev.flush() == 1
    status, body = gateway.get("/metrics")
    text = body.decode()
    assert "\nc_total{device_id=\"%s\"} 1101\n" % TEST_DEVICE_ID in text  # frames 1, 3 and 4: 1 + 100 + 1000
    assert 'litetel_device_frames_dropped_total{device_id="%s",reason="rejected"} 1' % TEST_DEVICE_ID in text
    assert 'litetel_gateway_rejects_total{reason="envelope"} 2' in text  # the first request's, and the 400
