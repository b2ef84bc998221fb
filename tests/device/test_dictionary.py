"""The series dictionary: deltas carried by frames, the full refresh, canonical keys (wire format §2.1, §3)."""

import pytest
from device_replica import Replica

from litetel import frame as frames
from litetel.dictionary import Dictionary, canonical_key
from litetel.errors import InstrumentError
from litetel.instruments import COUNTER, HISTOGRAM


def payload(data):
    header, body, _ = frames.parse_frame(data)
    return header, frames.decode_payload(header, body)


def test_canonical_key_is_sorted_flat_and_validated():
    assert canonical_key({"b": 2, "a": "x", "c": 1.5, "d": True}) == ("a", "x", "b", 2, "c", 1.5, "d", True)
    assert canonical_key(None) == canonical_key({}) == ()
    with pytest.raises(InstrumentError):
        canonical_key({"a": object()})


def test_first_frame_carries_resource_and_every_entry_later_frames_only_new_ones(make_recorder):
    rec = make_recorder(resource={"service.name": "model-server", "host.cores": 4})
    c = rec.meter.counter("requests", unit="{request}", description="HTTP requests")
    c.add(1, {"route": "/a"})
    header, (delta, points) = payload(rec.dev.collect())
    assert delta[0::2][:4] == [0, 0, 0, 0]  # every base 0 in the first frame
    rec.replica.apply_delta(delta)
    assert rec.replica.resource == (("host.cores", 4), ("service.name", "model-server"))
    inst = rec.replica.instrument(rec.replica.series[points[0]][0])
    assert inst == {"scope": ("test", ""), "name": "requests", "kind": COUNTER, "unit": "{request}",
                    "description": "HTTP requests", "boundaries": None}
    sizes = [len(rec.replica.strings), len(rec.replica.scopes), len(rec.replica.instruments),
             len(rec.replica.series)]

    c.add(1, {"route": "/a"})  # nothing new in the dictionary
    _, (delta, _) = payload(rec.dev.collect())
    assert delta is None

    h = rec.dev.meter("other", version="2.0").histogram("lat", unit="s", boundaries=(0.1, 1))
    h.record(0.5, {"route": "/b"})
    c.add(1, {"route": "/a"})
    _, (delta, points) = payload(rec.dev.collect())
    assert delta[0::2][:4] == sizes  # bases = the sizes after the previous delta
    assert delta[8] is None  # the resource went with the first frame
    rec.replica.apply_delta(delta)
    got = rec.replica.resolve(points)
    assert got == {("requests", (("route", "/a"),)): 1, ("lat", (("route", "/b"),)): [1, 0.5, 0.5, 0.5, 1, 1]}
    lat = rec.replica.instrument(len(rec.replica.instruments) - 1)
    assert lat["scope"] == ("other", "2.0") and lat["kind"] == HISTOGRAM and lat["boundaries"] == [0.1, 1.0]
    # "lat" was a new string; "route" was not sent twice; the value "/b" travels inline in its series entry
    assert rec.replica.strings.count("route") == 1 and "lat" in delta[1] and "/b" not in rec.replica.strings
    assert delta[7][-1][1] == [rec.replica.strings.index("route") * 4 + 0, "/b"]


def test_bound_but_unrecorded_series_wait_for_a_frame_with_points(rec):
    c = rec.meter.counter("c")
    c.bind({"k": "idle"})
    assert rec.dev.collect() is None
    c.add(1, {"k": "busy"})
    assert rec.points() == {("c", (("k", "busy"),)): 1}
    assert [rec.replica.series_name(i) for i in range(len(rec.replica.series))] == [
        ("c", (("k", "idle"),)), ("c", (("k", "busy"),))]


def test_series_ids_are_assigned_at_creation_in_order(rec):
    a = rec.meter.counter("a")
    b = rec.meter.gauge("b")
    a.bind({"x": 1})
    b.bind({"x": 1})
    a.bind({"x": 2})
    b.set(1, {"x": 1})
    a.add(1, {"x": 2})
    _, (delta, points) = payload(rec.dev.collect())
    assert sorted(points[0::2]) == [1, 2]
    assert [entry[0] for entry in delta[7]] == [a.id, b.id, a.id]


def test_refresh_frame_holds_the_whole_dictionary(make_recorder):
    rec = make_recorder(resource={"service.name": "svc"})
    c = rec.meter.counter("c")
    for i in range(3):
        c.add(1, {"i": i})
        rec.points()
        rec.meter.gauge("g%d" % i).set(i)
    rec.points()
    data = rec.dev.dictionary_refresh_frame()
    header, (delta, points) = payload(data)
    assert header.flags == frames.FLAG_DICT_REFRESH and header.seq == 0 and header.start == header.end == 0
    assert header.epoch == rec.dev.epoch and header.device_hash == rec.dev.device_hash
    assert points == [] and delta[0::2][:4] == [0, 0, 0, 0]
    fresh = Replica()
    fresh.apply_delta(delta)
    r = rec.replica
    assert (fresh.strings, fresh.scopes, fresh.instruments, fresh.series) == (
        r.strings, r.scopes, r.instruments, r.series)
    assert fresh.resource == (("service.name", "svc"),)
    assert rec.dev.buffer.next_seq == 5  # the refresh frame never went into the buffer


def test_a_gateway_that_lost_a_frame_sees_a_base_gap_and_recovers_with_the_refresh(rec):
    c = rec.meter.counter("c")
    c.add(1, {"k": 1})
    rec.points()
    c.add(1, {"k": 2})
    rec.dev.collect()  # lost on the way
    c.add(1, {"k": 3})
    header, (delta, points) = payload(rec.dev.collect())
    with pytest.raises(AssertionError, match="base"):
        rec.replica.apply_delta(delta)
    fresh = Replica()
    fresh.apply_delta(payload(rec.dev.dictionary_refresh_frame())[1][0])
    assert fresh.resolve(points) == {("c", (("k", 3),)): 1}


def test_a_refresh_resends_series_entries_exactly_as_first_sent(rec):
    # The gateway refuses a re-sent entry that differs from what it holds: a string value first sent inline
    # must not become a sid because the same string entered the table later (here as a unit).
    c = rec.meter.counter("c")
    c.add(1, {"unit": "By"})
    first, _ = payload(rec.dev.collect())[1]
    rec.meter.counter("bytes", unit="By").add(1)
    rec.dev.collect()
    refresh = payload(rec.dev.dictionary_refresh_frame())[1][0]
    assert "By" in refresh[1]
    assert refresh[7][0] == first[7][0] == [0, [refresh[1].index("unit") * 4, "By"]]


def test_dictionary_tables_directly():
    d = Dictionary({"zone": "eu"})
    assert d.sid("zone") == 0 and d.sid("eu") == 1 and d.sid("x") == 2 and d.sid("zone") == 0
    assert d.add_scope("s", "") == 0 and d.add_scope("s", "1") == 1 and d.add_scope("s", "") == 0
    first = d.delta()
    # the resource's value "eu" travels inline on CPython, even though sid() put "eu" in the table
    assert first == [0, ["zone", "eu", "x", "s", "", "1"], 0, [[3, 4], [3, 5]], 0, [], 0, [], [0 * 4, "eu"]]
    assert d.delta() is None
    d.sid("y")
    assert d.delta() == [6, ["y"], 2, [], 0, [], 0, [], None]
    key = ("a", "zone", "b", 2, "c", 0.5, "d", False)
    assert d.new_series(key) == 0 and d.new_series(key) == 1 and d.series_count == 2
    assert d.strings[-4:] == ["a", "b", "c", "d"]  # the attribute keys interned, not the values
    # str values travel inline on CPython, even one the table has ("zone"): a refresh must send what a delta did
    assert d.attrs(key) == [
        d.sid("a") * 4, "zone", d.sid("b") * 4 + 1, 2, d.sid("c") * 4 + 2, 0.5, d.sid("d") * 4 + 3, False]
