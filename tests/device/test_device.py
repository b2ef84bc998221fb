"""Device: collect() into frames and the buffer, intervals and clocks, self-telemetry, upload wiring."""

import json
import subprocess
import sys
import time

import pytest
from device_replica import Replica

from litetel import clock
from litetel import compression as comp
from litetel import device as device_module
from litetel import frame as frames
from litetel.device import Device
from litetel.errors import InstrumentError
from litetel.ring_buffer import RingBuffer

DROPPED = "litetel.device.frames.dropped"


class FakeGateway:
    """A transport answering "ok" to every frame, remembering the frames it got."""

    def __init__(self):
        self.requests = []

    def __call__(self, url, headers, body, timeout_s):
        got = list(frames.iter_frames(body))
        self.requests.append((url, headers, got))
        return 200, {}, json.dumps({"results": ["ok"] * len(got), "time": 0}).encode()


def test_collect_returns_the_frame_it_appended_to_the_buffer():
    dev = Device("sat-7", resource={"service.name": "model-server"})
    assert isinstance(dev.buffer, RingBuffer) and dev.buffer.capacity == 16384
    assert dev.collect() is None and dev.buffer.pending == 0
    dev.meter("m").counter("c").add(3)
    data = dev.collect()
    assert dev.buffer.read() == [(1, data)]
    header, payload, _ = frames.parse_frame(data)
    assert (header.seq, header.epoch, header.device_hash) == (1, dev.epoch, frames.device_hash("sat-7"))
    assert header.codec == 0 and header.compression == comp.best_available()
    assert Replica().apply(data) == {("c", ()): 3}
    dev.meter("m").counter("c").add(1)
    assert frames.parse_frame(dev.collect())[0].seq == 2


def test_intervals_chain_and_an_empty_collect_does_not_advance_start():
    before = clock.wall_us()
    dev = Device("d1")
    c = dev.meter("m").counter("c")
    c.add(1)
    h1 = frames.parse_frame(dev.collect())[0]
    assert h1.flags == 0 and before <= h1.start <= h1.end <= clock.wall_us()
    time.sleep(0.002)
    assert dev.collect() is None
    c.add(1)
    h2 = frames.parse_frame(dev.collect())[0]
    assert h2.start == h1.end and h2.end - h2.start >= 2000


def test_ticks_stamp_the_frames_while_the_wall_clock_is_unset(monkeypatch):
    monkeypatch.setattr(device_module, "wall_us", lambda: None)
    dev = Device("d2")
    assert not dev.uses_wall_clock()
    c = dev.meter("m").counter("c")
    c.add(1)
    h1 = frames.parse_frame(dev.collect())[0]
    assert h1.flags == frames.FLAG_CLOCK_TICKS and h1.start <= h1.end <= clock.ticks_us()
    monkeypatch.setattr(device_module, "wall_us", clock.wall_us)  # NTP synchronised meanwhile
    c.add(1)
    h2 = frames.parse_frame(dev.collect())[0]
    assert h2.flags == frames.FLAG_CLOCK_TICKS and h2.start == h1.end  # this interval began on ticks
    c.add(1)
    h3 = frames.parse_frame(dev.collect())[0]
    assert h3.flags == 0 and h3.start <= h3.end and h3.start > 1577836800 * 10**6


@pytest.mark.parametrize("codec", ["msgpack", "cbor"])
@pytest.mark.parametrize("compression", ["none", "deflate", "zstd", "auto"])
def test_codecs_and_compressions_round_trip(codec, compression):
    if compression == "zstd" and comp.ZSTD not in comp.available():
        pytest.skip("zstandard not installed")
    dev = Device("d3", codec=codec, compression=compression)
    dev.meter("m").histogram("h", boundaries=(1, 2)).record(1.5, {"k": "v"})
    data = dev.collect()
    header = frames.parse_frame(data)[0]
    assert header.codec == {"msgpack": 0, "cbor": 1}[codec]
    assert Replica().apply(data) == {("h", (("k", "v"),)): [1, 1.5, 1.5, 1.5, 1, 1]}
    assert Replica().apply(dev.dictionary_refresh_frame()) == {}


@pytest.mark.parametrize("kwargs", [
    {"codec": "json"}, {"compression": "gzip"}, {"interval_s": 0}, {"interval_s": "60"},
])
def test_bad_device_options(kwargs):
    with pytest.raises(ValueError):
        Device("d4", **kwargs)


@pytest.mark.parametrize("device_id", ["", "a b", "x" * 129, "é", None])
def test_bad_device_ids(device_id):
    with pytest.raises(ValueError):
        Device(device_id)


def test_device_ids_epochs_and_meters():
    a, b = Device("A.b_c:d-9"), Device("A.b_c:d-9")
    assert a.device_hash == b.device_hash and a.epoch != b.epoch and 0 <= a.epoch < 1 << 32
    assert a.meter("m") is a.meter("m") and a.meter("m") is not a.meter("m", version="1")
    with pytest.raises(InstrumentError):
        a.meter("")


def test_count_drop_is_an_ordinary_series_of_the_litetel_meter():
    dev = Device("d5")
    dev.count_drop("rejected", 2)
    dev.count_drop("rejected")
    dev.count_drop("dict_lost", 1)
    replica = Replica()
    got = replica.apply(dev.collect())
    assert got == {(DROPPED, (("reason", "rejected"),)): 3, (DROPPED, (("reason", "dict_lost"),)): 1}
    series = replica.series[0]
    assert replica.instrument(series[0])["scope"] == ("litetel", "")
    assert replica.instrument(series[0])["unit"] == "{frame}"


def test_a_full_buffer_counts_the_frames_it_drops():
    dev = Device("d6", buffer=RingBuffer(capacity=700))
    c = dev.meter("m").counter("c")
    replica = Replica()
    reported = 0
    for i in range(15):
        c.add(1, {"i": i % 3})
        dropped_before = dev.buffer.dropped
        got = replica.apply(dev.collect())
        reported += got.get((DROPPED, (("reason", "buffer_full"),)), 0)
        # A frame reports the drops of the appends before it (its own append comes after its payload).
        assert reported == dropped_before
    assert dev.buffer.dropped > 3


@pytest.mark.parametrize("policy", ["drop_oldest", "reject_new"])
def test_the_frames_a_full_buffer_still_holds_report_every_frame_it_dropped(policy):
    # A long outage: nothing is uploaded, and each append drops a frame (the oldest, or the new one). The
    # drops reported by the frames that are left add up to the frames dropped, though most frames that
    # reported drops were dropped in turn (before drop_reports.py: 10 of 18 reported).
    dev = Device("d6k", buffer=RingBuffer(capacity=700, policy=policy), compression="none")
    c = dev.meter("m").counter("c")
    for i in range(30):
        c.add(1, {"i": i % 3})
        dev.collect()
    replica = Replica()
    replica.apply_delta(frames.decode_payload(*frames.parse_frame(dev.dictionary_refresh_frame())[:2])[0])
    held = [data for _, data in dev.buffer.read(max_bytes=1 << 20, max_frames=1000)]
    dev.buffer.ack(dev.buffer.next_seq - 1)  # the link is back: all of them delivered...
    held.append(dev.collect())  # ...and the next frame carries what is still to report
    reported = 0
    for data in held:
        header, payload, _ = frames.parse_frame(data)
        got = replica.resolve(frames.decode_payload(header, payload)[1])
        reported += got.get((DROPPED, (("reason", "buffer_full"),)), 0)
    assert dev.buffer.dropped > 10
    assert reported == dev.buffer.dropped


def test_the_drop_reports_of_a_frame_the_gateway_rejects_or_a_too_large_one_are_counted_again():
    # The gateway rejects the frame that reported 2 drops (reject:...): rejected 1 is counted, and the 2 again.
    results = []

    def gateway(url, headers, body, timeout_s):
        got = list(frames.iter_frames(body))
        return 200, {}, json.dumps({"results": [results.pop(0) for _ in got], "time": 0}).encode()

    dev = Device("d6r", transport=gateway, endpoint="http://gw.invalid", key=b"k", compression="none",
                 buffer=RingBuffer(capacity=4096))
    c = dev.meter("m").counter("c")
    dev.count_drop("rejected", 2)  # (any earlier loss)
    c.add(1)
    dev.collect()
    results[:] = ["reject:schema"]
    assert dev.flush(timeout_s=1) == 0 and dev.buffer.pending == 0
    assert drops_in(dev, dev.collect()) == {"rejected": 3}
    # A frame too large for the buffer, carrying 4 drops: too_large 1 is counted, and the 4 again.
    dev.buffer.ack(dev.buffer.next_seq - 1)
    dev.count_drop("rejected", 4)
    g = dev.meter("m").gauge("g", max_series=300)
    for i in range(300):
        g.set(i, {"name": "series-%d" % i})
    assert dev.collect() is None
    assert drops_in(dev, dev.collect()) == {"rejected": 4, "too_large": 1}


def drops_in(dev, data):
    """{reason: n} of the frames.dropped points of frame ``data`` (resolved through a dictionary refresh)."""
    replica = Replica()
    replica.apply_delta(frames.decode_payload(*frames.parse_frame(dev.dictionary_refresh_frame())[:2])[0])
    got = replica.resolve(frames.decode_payload(*frames.parse_frame(data)[:2])[1])
    return {attrs[0][1]: n for (name, attrs), n in got.items() if name == DROPPED}


def test_frames_a_file_buffer_lost_before_opening_are_counted_corrupt(tmp_path):
    path = str(tmp_path / "dev.rb")
    dev = Device("d6c", buffer=RingBuffer(capacity=4096, path=path))
    c = dev.meter("m").counter("c")
    offsets = []
    for _ in range(3):
        c.add(1)
        offsets.append(dev.buffer._tail)  # where the next frame goes (no wrap in 4 KB)
        dev.collect()
    dev.buffer.close()
    with open(path, "r+b") as f:  # the middle frame damaged (a flipped byte in its payload) while off
        f.seek(offsets[1] + frames.HEADER_SIZE)
        byte = f.read(1)
        f.seek(offsets[1] + frames.HEADER_SIZE)
        f.write(bytes([byte[0] ^ 0xFF]))
    reopened = Device("d6c", buffer=RingBuffer(capacity=4096, path=path))
    assert reopened.buffer.corrupt == 1
    got = Replica().apply(reopened.collect())
    assert got == {(DROPPED, (("reason", "corrupt"),)): 1}


@pytest.mark.parametrize("error", [MemoryError, KeyboardInterrupt])
def test_a_collect_that_raises_after_taking_its_interval_is_counted_by_the_next(monkeypatch, error):
    # On a small heap encoding can run out of memory once the points are taken out of the instruments: that
    # interval is lost with its frame, and counted (collect_failed) in the next frame, not when it failed.
    dev = Device("d6f", compression="none")
    c = dev.meter("m").counter("c")
    replica = Replica()
    c.add(1)
    assert replica.apply(dev.collect()) == {("c", ()): 1}
    real = frames.encode_frame

    def fails(*args, **kwargs):
        raise error("no heap for the frame")

    monkeypatch.setattr(frames, "encode_frame", fails)
    c.add(5)
    with pytest.raises(error):
        dev.collect()
    with pytest.raises(error):  # and again: two intervals lost
        c.add(7)
        dev.collect()
    monkeypatch.setattr(frames, "encode_frame", real)
    c.add(2)
    assert replica.apply(dev.collect()) == {("c", ()): 2, (DROPPED, (("reason", "collect_failed"),)): 2}
    assert dev.collect() is None  # counted once


def test_a_frame_too_large_for_the_buffer_is_counted():
    dev = Device("d7", buffer=RingBuffer(capacity=200), compression="none")
    g = dev.meter("m").gauge("g", max_series=100)
    for i in range(60):
        g.set(i, {"name": "series-%d" % i})
    assert dev.collect() is None and dev.buffer.pending == 0
    got = Replica().apply(dev.dictionary_refresh_frame())
    assert got == {}
    assert dev.meter("litetel").counter("litetel.device.frames.dropped", unit="{frame}").series_count == 1


def test_no_uploader_without_endpoint_or_transport():
    dev = Device("d8")
    dev.meter("m").counter("c").add(1)
    assert dev.uploader is None and dev.flush() == 0 and dev.tick() == 0
    code = "import litetel.device, sys; d = litetel.device.Device('x'); d.tick(); d.flush(); " \
           "print('litetel.uploader' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_flush_sends_the_buffered_frames_through_the_uploader():
    gw = FakeGateway()
    dev = Device("d9", transport=gw, endpoint="http://gw.invalid", key=b"k")
    dev.meter("m").counter("c").add(5)
    dev.collect()
    assert dev.flush(timeout_s=5) == 1
    assert dev.buffer.pending == 0 and dev.uploader is dev.uploader
    (url, headers, got), = gw.requests
    assert url == "http://gw.invalid/v1/frames" and headers["X-Litetel-Device"] == "d9"
    assert [h.seq for h, _ in got] == [1]


def ticking_device(monkeypatch):
    """A device collecting every 10 s of ``now[0]`` (its ticks_us), its fake gateway and a counter."""
    gw = FakeGateway()
    now = [clock.ticks_us()]
    monkeypatch.setattr(device_module, "ticks_us", lambda: now[0])
    dev = Device("d10", transport=gw, endpoint="http://gw.invalid", key=b"k", interval_s=10)
    return dev, gw, now, dev.meter("m").counter("c")


def test_tick_collects_once_the_interval_has_passed(monkeypatch):
    dev, gw, now, c = ticking_device(monkeypatch)
    c.add(1)
    dev.tick(timeout_s=1)
    assert dev.buffer.next_seq == 1 and gw.requests == []
    now[0] += 10_000_000
    assert dev.tick(timeout_s=1) == 1
    assert dev.buffer.next_seq == 2 and dev.buffer.pending == 0 and len(gw.requests) == 1
    c.add(1)
    now[0] += 9_000_000
    dev.tick()
    assert dev.buffer.next_seq == 2


def test_a_tick_whose_collect_fails_still_sends_the_buffered_frames(monkeypatch):
    dev, gw, now, c = ticking_device(monkeypatch)
    c.add(1)
    dev.collect()  # buffered; the link was down
    real = frames.encode_frame
    monkeypatch.setattr(frames, "encode_frame", lambda *a, **k: 1 / 0)
    c.add(1)
    now[0] += 10_000_000
    with pytest.raises(ZeroDivisionError):
        dev.tick(timeout_s=1)
    assert dev.buffer.pending == 0 and [h.seq for h, _ in gw.requests[0][2]] == [1]  # sent before the raise
    monkeypatch.setattr(frames, "encode_frame", real)
    now[0] += 1_000_000
    assert dev.tick(timeout_s=1) == 0 and dev.buffer.next_seq == 2  # retried an interval later, not at once


def test_start_and_stop_run_a_background_collector():
    gw = FakeGateway()
    dev = Device("d11", transport=gw, endpoint="http://gw.invalid", key=b"k")
    c = dev.meter("m").counter("c")
    runner = dev.start(interval_s=0.05)
    assert dev.start() is runner and dev.interval_s == 0.05
    for _ in range(5):
        c.add(2)
        time.sleep(0.03)
    dev.stop()
    assert not runner.alive and runner.error is None
    replica = Replica()
    total = 0
    for _, _, got in gw.requests:
        for header, payload in got:
            body = frames.decode_payload(header, payload)
            if body[0] is not None:
                replica.apply_delta(body[0])
            total += sum(v for k, v in replica.resolve(body[1]).items() if k[0] == "c")
    assert total == 10 and dev.buffer.pending == 0
