"""Ingest + Store (real SQLite): replay, dedup across restarts, dictionary base rules per request,
DICT_REFRESH, clock mapping, cumulative totals and the persisted /metrics view."""

import msgpack
import pytest
from devicesim import COUNTER, GAUGE, HISTOGRAM, SimDevice

from litetel import frame as wire
from litetel_gateway.decoder import Limits
from litetel_gateway.receiver import Replay

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND  # a plausible unix time in µs


def counter_device(**kwargs):
    dev = SimDevice(**kwargs)
    sid = dev.series(dev.instrument("requests", COUNTER, "{request}"), {"route": "/a"})
    return dev, sid


def queued_points(harness):
    return [(row.seq, msgpack.unpackb(row.points)[0]) for row in harness.queue()]


def test_frames_are_queued_in_order_with_their_points(harness):
    dev, sid = counter_device()
    f1 = dev.frame([sid, 5], T0, T0 + SECOND)
    f2 = dev.frame([sid, 7], T0 + SECOND, T0 + 2 * SECOND)
    assert harness.send(dev, [f1, f2], receive_us=T0 + 2 * SECOND) == ["ok", "ok"]
    assert queued_points(harness) == [(1, [sid, 5]), (2, [sid, 7])]
    rows = harness.queue()
    assert (rows[0].start_us, rows[0].end_us, rows[1].start_us) == (T0, T0 + SECOND, T0 + SECOND)
    assert harness.last_stats.points == 2


def test_replayed_nonce_is_refused_and_records_nothing(harness):
    dev, sid = counter_device()
    harness.send(dev, [dev.frame([sid, 1], T0, T0 + 1)], counter=5)
    with pytest.raises(Replay):
        harness.send(dev, [dev.frame([sid, 1], T0 + 1, T0 + 2)], counter=5)
    with pytest.raises(Replay):
        harness.send(dev, [dev.frame([sid, 1], T0 + 1, T0 + 2)], counter=4)
    assert len(harness.queue()) == 1
    # a new epoch starts a new counter
    dev.reboot(epoch=8)
    sid = dev.series(0, {"route": "/a"})
    assert harness.send(dev, [dev.frame([sid, 1], T0 + 3, T0 + 4)], counter=1) == ["ok"]


def test_duplicates_are_recognised_across_a_restart(harness):
    dev, sid = counter_device()
    f1 = dev.frame([sid, 5], T0, T0 + SECOND)
    f2 = dev.frame([sid, 7], T0 + SECOND, T0 + 2 * SECOND)
    assert harness.send(dev, [f1]) == ["ok"]
    harness.reopen()
    assert harness.send(dev, [f1, f2]) == ["dup", "ok"]
    assert harness.send(dev, [f2]) == ["dup"]
    assert [seq for seq, _ in queued_points(harness)] == [1, 2]


def test_the_dictionary_survives_a_restart(harness):
    dev, sid = counter_device()
    harness.send(dev, [dev.frame([sid, 1], T0, T0 + 1)])
    harness.reopen()
    # no delta this time: the gateway must still know series `sid`
    assert harness.send(dev, [dev.frame([sid, 2], T0 + 1, T0 + 2)]) == ["ok"]


def test_need_dict_stops_the_request_and_refresh_recovers(harness):
    dev, sid = counter_device()
    lost = dev.frame([sid, 1], T0, T0 + 1)  # carries the delta, never arrives
    later = dev.frame([sid, 2], T0 + 1, T0 + 2)
    after = dev.frame([sid, 3], T0 + 2, T0 + 3)
    assert harness.send(dev, [later, after]) == ["need_dict", "skipped"]
    assert harness.queue() == []
    assert harness.send(dev, [dev.refresh_frame(), later, after]) == ["ok", "ok", "ok"]
    assert [p for _, p in queued_points(harness)] == [[sid, 2], [sid, 3]]
    del lost


def test_a_rejected_frame_does_not_stop_the_others(harness):
    dev, sid = counter_device()
    good = dev.frame([sid, 1], T0, T0 + 1)
    bad = bytearray(dev.frame([sid, 2], T0 + 1, T0 + 2))
    bad[-1] ^= 0xFF  # payload bit flip → CRC
    also_bad = dev.frame([sid, -4], T0 + 2, T0 + 3)  # negative counter delta
    last = dev.frame([sid, 4], T0 + 3, T0 + 4)
    assert harness.send(dev, [good, bytes(bad), also_bad, last]) == ["ok", "reject:crc", "reject:value", "ok"]


def test_frame_of_another_device_is_refused(harness):
    dev, sid = counter_device()
    other = SimDevice("sat-8")
    other.series(other.instrument("x", COUNTER))
    assert harness.send(dev, [other.frame([0, 1], T0, T0 + 1)]) == ["reject:device_mismatch"]


def test_refresh_frame_must_have_zero_seq_and_times(harness):
    dev, _ = counter_device()
    payload = [dev.delta(full=True), []]
    bad = wire.encode_frame(
        payload, 0, 0, wire.device_hash(dev.device_id), dev.epoch, 3, 0, 0, wire.FLAG_DICT_REFRESH
    )
    assert harness.send(dev, [bad]) == ["reject:schema"]


def test_limit_series_is_per_device(make_harness):
    harness = make_harness(limits=Limits(max_series=3))
    dev = SimDevice()
    instrument = dev.instrument("c", COUNTER)
    sids = [dev.series(instrument, {"i": i}) for i in range(4)]
    assert harness.send(dev, [dev.frame([sids[0], 1], T0, T0 + 1)]) == ["reject:limit_series"]
    other, sid = counter_device(device_id="sat-8")
    assert harness.send(other, [other.frame([sid, 1], T0, T0 + 1)]) == ["ok"]


# -- clocks ----------------------------------------------------------------------------------------


def test_tick_frames_map_to_receive_time_with_an_offset_fixed_per_epoch(harness):
    dev, sid = counter_device()
    receive = T0 + 500 * SECOND
    f1 = dev.frame([sid, 1], 1_000 * SECOND, 1_001 * SECOND, flags=wire.FLAG_CLOCK_TICKS)
    harness.send(dev, [f1], time_ms=0, ticks=1_001 * SECOND + 10, receive_us=receive)
    offset = receive - (1_001 * SECOND + 10)
    # the next request arrives "late": the offset stays, so the frames chain exactly
    f2 = dev.frame([sid, 1], 1_001 * SECOND, 1_002 * SECOND, flags=wire.FLAG_CLOCK_TICKS)
    harness.send(dev, [f2], time_ms=0, ticks=1_002 * SECOND, receive_us=receive + 3 * SECOND)
    rows = harness.queue()
    assert rows[0].start_us == 1_000 * SECOND + offset and rows[0].end_us == 1_001 * SECOND + offset
    assert rows[1].start_us == rows[0].end_us
    assert rows[0].corrected == rows[1].corrected == 0
    harness.reopen()  # the offset is durable
    f3 = dev.frame([sid, 1], 1_002 * SECOND, 1_003 * SECOND, flags=wire.FLAG_CLOCK_TICKS)
    harness.send(dev, [f3], time_ms=0, ticks=5, receive_us=receive + 99 * SECOND)
    assert harness.queue()[2].start_us == rows[1].end_us


def test_tick_frames_of_a_past_epoch_without_an_offset_are_refused(harness):
    dev, sid = counter_device()
    old = dev.frame([sid, 1], 10, 20, flags=wire.FLAG_CLOCK_TICKS)
    dev.reboot(epoch=8)
    assert harness.send(dev, [old], time_ms=0, ticks=100) == ["reject:clock"]


def test_a_wall_clock_far_off_is_corrected_and_flagged(harness):
    dev, sid = counter_device()
    device_now = T0 - 3600 * SECOND  # an hour behind
    receive = T0
    f1 = dev.frame([sid, 1], device_now - SECOND, device_now)
    harness.send(dev, [f1], time_ms=device_now // 1000, receive_us=receive)
    row = harness.queue()[0]
    assert row.end_us == receive and row.start_us == receive - SECOND and row.corrected == 1
    assert harness.last_stats.corrected


def test_a_wall_clock_within_the_skew_is_trusted(harness):
    dev, sid = counter_device()
    f1 = dev.frame([sid, 1], T0 - SECOND, T0)
    harness.send(dev, [f1], time_ms=(T0 + 10 * SECOND) // 1000, receive_us=T0 + 10 * SECOND)
    row = harness.queue()[0]
    assert (row.start_us, row.end_us, row.corrected) == (T0 - SECOND, T0, 0)


def test_a_frame_ending_far_in_the_future_is_refused_and_nothing_queued(harness):
    """Found by the hostile-input campaign: a year-2600 end time was queued, then could not be encoded as
    OTLP's u64 nanoseconds and stalled every export."""
    dev, sid = counter_device()
    now = T0
    ok = dev.frame([sid, 1], now - SECOND, now)
    future = dev.frame([sid, 2], now, (2**64 - 1) // 1000)
    results = harness.send(dev, [ok, future], time_ms=now // 1000, receive_us=now)
    assert results == ["ok", "reject:clock"]
    assert [row.end_us for row in harness.queue()] == [now]


# -- cumulative state --------------------------------------------------------------------------------


def test_cumulative_temporality_keeps_running_totals_per_epoch(make_harness):
    harness = make_harness(temporality="cumulative")
    dev = SimDevice()
    c = dev.series(dev.instrument("c", COUNTER))
    g = dev.series(dev.instrument("g", GAUGE))
    h = dev.series(dev.instrument("h", HISTOGRAM, bounds=[1, 10]))
    harness.send(dev, [dev.frame([c, 5, g, 3, h, [2, 7.0, 2.0, 5.0, 1, 2]], T0, T0 + SECOND)])
    harness.reopen()  # totals are durable
    harness.send(dev, [dev.frame([c, 2, h, [1, 20.0, 20.0, 20.0, 2, 1]], T0 + SECOND, T0 + 2 * SECOND)])
    rows = harness.queue()
    points, starts = msgpack.unpackb(rows[1].points)
    assert points[:2] == [c, 7] and starts[0] == T0
    assert points[2:] == [h, [3, 27.0, 2.0, 20.0, 0, 0, 2, 1]] and starts[1] == T0
    dev.reboot(epoch=99)  # a new epoch resets: new totals, new start
    c2 = dev.series(0)
    harness.send(dev, [dev.frame([c2, 4], T0 + 5 * SECOND, T0 + 6 * SECOND)])
    points, starts = msgpack.unpackb(harness.queue()[2].points)
    assert points == [c2, 4] and starts == [T0 + 5 * SECOND]


def test_prometheus_view_accumulates_and_survives_a_restart(harness):
    dev = SimDevice()
    c = dev.series(dev.instrument("http.requests", COUNTER), {"route": "/a"})
    h = dev.series(dev.instrument("lat", HISTOGRAM, bounds=[1, 10]))
    harness.send(dev, [dev.frame([c, 5, h, [2, 7.0, 2.0, 5.0, 1, 2]], T0, T0 + 1)])
    harness.reopen()
    harness.send(dev, [dev.frame([c, 2, h, [1, 20.0, 20.0, 20.0, 2, 1]], T0 + 1, T0 + 2)])
    labels = {"device_id": "sat-7", "route": "/a"}
    assert harness.view.value("http_requests_total", labels) == 7
    assert harness.view.value("lat", {"device_id": "sat-7"}) == [[1.0, 10.0], [0, 2, 1], 27.0, 3]
    # a reboot keeps the Prometheus counter growing (same name and labels)
    dev.reboot(epoch=8)
    c2 = dev.series(0, {"route": "/a"})
    harness.send(dev, [dev.frame([c2, 1], T0 + 2, T0 + 3)])
    assert harness.view.value("http_requests_total", labels) == 8


def test_a_failed_transaction_leaves_no_trace(harness, monkeypatch):
    dev, sid = counter_device()
    harness.send(dev, [dev.frame([sid, 1], T0, T0 + 1)])

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(harness.store, "enqueue", broken)
    dev.series(0, {"route": "/new"})
    frame = dev.frame([sid, 2, 1, 3], T0 + 1, T0 + 2)
    with pytest.raises(OSError):
        harness.send(dev, [frame])
    monkeypatch.undo()
    assert len(harness.queue()) == 1
    # same frame again (the device retries with a new nonce): the dictionary delta applies cleanly
    assert harness.send(dev, [frame]) == ["ok"]
    assert harness.view.value("requests_total", {"device_id": "sat-7", "route": "/a"}) == 3


# -- group commit ------------------------------------------------------------------------------------


def upload(harness, device, frames, counter):
    from litetel_gateway import decoder
    from litetel_gateway.receiver import UploadRequest

    body = b"".join(frames)
    return UploadRequest(
        device.device_id, device.epoch, counter, T0 // 1000, 0, T0, body, decoder.split_frames(body)
    )


def test_a_group_commits_together_and_a_failing_request_is_undone_alone(harness):
    a, sa = counter_device()
    b, sb = counter_device(device_id="sat-8")
    requests = [
        upload(harness, a, [a.frame([sa, 1], T0, T0 + 1)], counter=1),
        upload(harness, b, [b.frame([sb, 10], T0, T0 + 1)], counter=1),
        upload(harness, a, [a.frame([sa, 2], T0 + 1, T0 + 2)], counter=1),  # replayed nonce
        upload(harness, a, [a.frame([sa, 4], T0 + 2, T0 + 3)], counter=2),
    ]
    outcomes = harness.ingest.run_group(requests)
    assert [o[0] for o in outcomes if not isinstance(o, Exception)] == [["ok"], ["ok"], ["ok"]]
    assert isinstance(outcomes[2], Replay)
    assert [(row.device, row.seq) for row in harness.queue()] == [("sat-7", 1), ("sat-8", 1), ("sat-7", 3)]
    # the /metrics view chains the requests of one group
    assert harness.view.value("requests_total", {"device_id": "sat-7", "route": "/a"}) == 5
    harness.reopen()
    assert harness.view.value("requests_total", {"device_id": "sat-7", "route": "/a"}) == 5
    # the nonce of the group's last good request of sat-7 is the one stored
    assert harness.store.nonce("sat-7", a.epoch) == 2
