"""The epoch's dictionary stays within a gateway's per-device limits, and in the process that made it
(litetel/epoch_limits.py).

Past them a gateway rejects the frame adding the entry and every later frame of the epoch, so every point
would be lost. The device instead sends a new attribute set to its instrument's overflow series (nothing
dropped, nothing counted twice), refuses a new instrument or scope with ``InstrumentError``, and keeps room
for its own loss counters. The limits are patched small here; the real ones are checked against a real
gateway in tests/gateway/test_gateway_device_e2e.py.
"""

import os

import pytest

from litetel import epoch_limits
from litetel.dictionary import OVERFLOW_KEY
from litetel.epoch_limits import SELF_RESERVE
from litetel.errors import InstrumentError, LitetelError

OVERFLOW = (OVERFLOW_KEY,)
SERIES = 100 + SELF_RESERVE  # a patched MAX_EPOCH_SERIES: 100 series for the application


@pytest.fixture
def small_epoch(monkeypatch):
    monkeypatch.setattr(epoch_limits, "MAX_EPOCH_SERIES", SERIES)
    monkeypatch.setattr(epoch_limits, "MAX_EPOCH_STRINGS", 1000)
    monkeypatch.setattr(epoch_limits, "MAX_EPOCH_SCOPES", 4)


def test_past_the_epochs_series_limit_new_attribute_sets_go_to_overflow(small_epoch, rec):
    a = rec.meter.counter("a", max_series=1000)  # the instruments' own caps far above the epoch's
    b = rec.meter.counter("b", max_series=1000)
    for i in range(150):
        a.add(1, {"i": i})
    for i in range(10):
        b.add(i + 1, {"i": i})
    got = rec.points()
    # 100 series less the overflow series each instrument may still need: a made 98 and its overflow
    assert a.series_count == 99 and rec.dev.dictionary.series_count == 100
    assert got[("a", OVERFLOW)] == 150 - 98
    assert got[("b", OVERFLOW)] == sum(range(1, 11))  # b had no room left but its own overflow series
    assert sum(got.values()) == 150 + sum(range(1, 11))  # never dropped, never counted twice
    assert len(rec.dev.dictionary.strings) < epoch_limits.MAX_EPOCH_STRINGS


def test_series_made_before_the_limit_keep_their_own_points(small_epoch, rec):
    c = rec.meter.counter("c", max_series=1000)
    for i in range(200):
        c.add(1, {"i": i})
    rec.points()
    c.add(5, {"i": 0})
    c.add(7, {"i": 500})
    assert rec.points() == {("c", (("i", 0),)): 5, ("c", OVERFLOW): 7}


def test_a_new_instrument_past_the_limit_is_refused_and_adds_nothing(small_epoch, rec):
    c = rec.meter.counter("c", max_series=1000)
    for i in range(200):
        c.add(1, {"i": i})
    strings = len(rec.dev.dictionary.strings)
    with pytest.raises(InstrumentError, match="dictionary is full"):
        rec.meter.gauge("late")
    assert len(rec.dev.dictionary.strings) == strings and len(rec.dev.dictionary.instruments) == 1
    assert rec.meter.counter("c", max_series=1000) is c  # an existing one is still found


def test_string_limit_sends_new_attribute_sets_to_overflow(monkeypatch, rec):
    monkeypatch.setattr(epoch_limits, "MAX_EPOCH_STRINGS", 40 + SELF_RESERVE)
    c = rec.meter.counter("c", max_series=1000)
    for i in range(100):
        c.add(1, {"key%d" % i: 1})  # a new attribute key each: a new string each
    got = rec.points()
    assert len(rec.dev.dictionary.strings) <= epoch_limits.MAX_EPOCH_STRINGS - SELF_RESERVE
    assert got[("c", OVERFLOW)] > 0 and sum(got.values()) == 100


def test_scopes_past_the_limit_are_refused_but_the_devices_own_is_kept(small_epoch, rec):
    rec.dev.meter("two")
    rec.dev.meter("three")
    with pytest.raises(InstrumentError, match="dictionary is full"):
        rec.dev.meter("four")  # test, two, three, and one kept for the device's own scope
    rec.dev.count_drop("buffer_full", 2)  # makes the "litetel" scope, its counter and series
    got = rec.points()
    assert got[("litetel.device.frames.dropped", (("reason", "buffer_full"),))] == 2


def test_the_devices_loss_counters_are_made_after_the_application_filled_the_epoch(small_epoch, rec):
    c = rec.meter.counter("c", max_series=1000)
    for i in range(300):
        c.add(1, {"i": i})
    for reason in ("buffer_full", "rejected", "too_large", "corrupt"):
        rec.dev.count_drop(reason, 1)
    got = rec.points()
    assert [got[("litetel.device.frames.dropped", (("reason", r),))] for r in ("buffer_full", "corrupt")] == [1, 1]
    assert rec.dev.dictionary.series_count <= epoch_limits.MAX_EPOCH_SERIES


def test_past_the_string_limit_span_names_go_inline_and_records_with_new_keys_are_dropped(monkeypatch, make_recorder):
    # A span name with an id in it is a new string each time: past the limit it travels inline (the span is
    # sent, the strings stop growing). A log record with a new attribute key cannot: it goes, counted.
    monkeypatch.setattr(epoch_limits, "MAX_EPOCH_STRINGS", 100 + SELF_RESERVE)
    rec = make_recorder(max_spans=1000, max_logs=1000)  # the interval's buffers drop none of these
    tracer = rec.dev.tracer("app")
    log = rec.dev.logger("app")
    for i in range(150):
        with tracer.span("order %d" % i) as span:
            span.add_event("step %d" % i)
    for i in range(60):
        log.info("x", {"key%d" % i: 1})
    with tracer.span("order 0"):
        pass
    rec.points()
    spans, logs = _signals(rec)
    assert len(rec.dev.dictionary.strings) <= epoch_limits.MAX_EPOCH_STRINGS - SELF_RESERVE
    got = rec.points()  # drops counted while a frame is made are reported in the next one
    assert ("litetel.device.spans.dropped", ()) not in got
    dropped_logs = got[("litetel.device.logs.dropped", ())]
    assert dropped_logs > 0 and len(logs) + dropped_logs == 60  # each one sent or counted
    assert len(spans) == 151
    names = [s[4] if s[4].__class__ is str else rec.replica.strings[s[4]] for s in spans]
    events = [s[9][0][0] if s[9][0][0].__class__ is str else rec.replica.strings[s[9][0][0]] for s in spans[:150]]
    assert names == ["order %d" % i for i in range(150)] + ["order 0"]
    assert events == ["step %d" % i for i in range(150)]
    assert spans[149][4] == "order 149" and spans[-1][4].__class__ is int  # inline past the limit; a known sid


def _signals(rec):
    from litetel import frame

    header, payload, _ = frame.parse_frame(rec.dev.buffer.newest())
    body = frame.decode_payload(header, payload)
    return body[2], body[3]


def test_threads_making_instruments_and_series_at_once_stay_within_the_limit(small_epoch, rec):
    import threading

    made = threading.Barrier(8)

    def work(t):
        counters = [rec.meter.counter(name, max_series=1000) for name in ("a%d" % t, "b%d" % t)]
        made.wait()  # then all make series at once, past the limit
        for i in range(100):
            for c in counters:
                c.add(1, {"i": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = rec.points()
    assert sum(got.values()) == 8 * 2 * 100  # every add arrived once, in its own series or an overflow one
    assert rec.dev.dictionary.series_count <= epoch_limits.MAX_EPOCH_SERIES - SELF_RESERVE + 8  # + a race each
    assert all(("%s%d" % (p, t), OVERFLOW) in got for p in "ab" for t in range(8))  # none short of room


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_device_inherited_across_a_fork_refuses_to_collect_in_the_child(rec):
    # The child would send frames under the parent's epoch and seqs: the gateway would drop one side's as dup.
    c = rec.meter.counter("c")
    c.add(1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what collect() did, and leave without running pytest's teardown
        try:
            rec.dev.collect()
            outcome = b"collected"
        except LitetelError as e:
            outcome = b"refused: " + str(e).encode()
        os.write(write, outcome)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        outcome = f.read().decode()
    os.waitpid(pid, 0)
    assert outcome.startswith("refused: this Device was made in process %d, before a fork" % os.getpid()), outcome
    assert rec.points() == {("c", ()): 1}  # the parent still collects its interval
