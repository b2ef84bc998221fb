"""The device side of tracing and logging: span lifecycle, parentage across threads and asyncio tasks,
traceparent, samplers, bounded buffers, and what the frame's payload carries (wire format §2.4/§2.5)."""

import asyncio
import threading

import pytest

from litetel import frame, sampling
from litetel.device import Device
from litetel.dictionary import MAX_KEY, MAX_TEXT
from litetel.logs import ERROR, FATAL, INFO, WARN
from litetel.ring_buffer import RingBuffer
from litetel.trace_context import current_span, format_traceparent, parse_traceparent
from litetel.tracing import SERVER, STATUS_ERROR, STATUS_OK

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def payload_of(dev):
    header, payload, _ = frame.parse_frame(dev.collect())
    return frame.decode_payload(header, payload)


@pytest.mark.parametrize("header", [
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",      # short
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",     # uppercase
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",     # zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",     # zero span id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     # version ff
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",  # version 00 with more fields
    "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
    None, 42, b"\xff" * 55,
])  # fmt: skip
def test_invalid_traceparent_is_none(header):
    assert parse_traceparent(header) is None


def test_traceparent_round_trip_and_future_versions():
    trace_id, span_id, flags = parse_traceparent(" " + TP + " ")
    assert (trace_id.hex(), span_id.hex(), flags) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        1,
    )
    assert format_traceparent((trace_id, span_id, flags)) == TP
    assert parse_traceparent("01" + TP[2:] + "-whatever") == (trace_id, span_id, 1)
    assert parse_traceparent(TP.encode()) == (trace_id, span_id, 1)


def test_spans_nest_and_end_once():
    dev = Device("t-nest")
    tracer = dev.tracer("app")
    assert dev.tracer("app") is tracer and dev.tracer("app", "2") is not tracer
    with tracer.span("a", {"k": 1}) as a:
        assert current_span() is a
        with tracer.span("b") as b:
            assert current_span() is b
        assert current_span() is a
        c = tracer.start_span("c")  # not made current
        assert current_span() is a
        c.end()
    assert current_span() is None
    assert b.parent_id == a.span_id == c.parent_id and a.parent_id is None
    assert len(a.trace_id) == 16 and len(a.span_id) == 8 and a.trace_id == b.trace_id
    assert a.start_us <= b.start_us <= b.end_us <= a.end_us
    end = a.end_us
    a.end()
    a.set_attribute("late", 1)
    assert a.end_us == end and "late" not in a.attributes
    assert len(dev._signals["spans"]) == 3  # ended once each


def test_attributes_are_copied_and_status_rules():
    dev = Device("t-attrs")
    attrs = {"x": 1}
    with dev.tracer("app").span("s", attrs) as span:
        attrs["x"] = 2
        span.set_status_ok()
        span.set_status_error("ignored after ok")
    assert span.attributes == {"x": 1} and span.status == STATUS_OK and span.status_message is None
    with pytest.raises(KeyError), dev.tracer("app").span("boom") as failed:
        raise KeyError("k")
    assert failed.status == STATUS_ERROR and failed.status_message == "KeyError: 'k'"
    assert failed.events[0][0] == "exception" and failed.events[0][2]["exception.type"] == "KeyError"


def test_current_span_is_per_thread_and_per_task():
    dev = Device("t-ctx")
    tracer = dev.tracer("app")
    seen = {}

    def worker(name):
        with tracer.span(name) as span:
            barrier.wait()
            seen[name] = current_span() is span

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=worker, args=(n,)) for n in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"t1": True, "t2": True}

    async def task(name, gate):
        with tracer.span(name) as span:
            await gate.wait()
            with tracer.span(name + ".child") as child:
                return child.parent_id == span.span_id

    async def main():
        gate = asyncio.Event()
        jobs = [asyncio.ensure_future(task(n, gate)) for n in ("x", "y")]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*jobs)

    assert asyncio.run(main()) == [True, True]


def test_remote_parent_and_samplers():
    dev = Device("t-sampling")
    tracer = dev.tracer("app")
    span = tracer.start_span("in", parent=TP, kind=SERVER)
    assert span.trace_id.hex() == TP[3:35] and span.parent_id.hex() == TP[36:52] and span.sampled
    assert span.flags == 0x301  # sampled, parent is remote (OTLP Span.flags)
    unsampled_parent = tracer.start_span("in", parent=TP[:-2] + "00")
    assert not unsampled_parent.sampled
    fresh = tracer.start_span("bad header", parent="nonsense")
    assert fresh.parent_id is None and fresh.sampled
    assert tracer.start_span("root", parent=None).parent_id is None

    ratio = sampling.ratio(0.25)
    ids = [bytes(8) + (i * 2**64 // 1000).to_bytes(8, "big") for i in range(1000)]
    assert sum(ratio(t, None) for t in ids) == 250  # the trace id decides, deterministically
    assert sampling.parent_based(sampling.always_off)(ids[0], True) is True
    assert sampling.parent_based(sampling.always_on)(ids[0], False) is False
    with pytest.raises(ValueError):
        sampling.ratio(1.5)
    off = dev.tracer("off", sampler=sampling.always_off)
    with off.span("x", {"a": 1}) as x:
        x.set_attribute("b", 2)
        x.add_event("e")
    assert x.attributes is None and x.events is None and len(dev._signals["spans"]) == 0


def test_payload_carries_spans_and_logs_with_dictionary_strings():
    dev = Device("t-payload")
    tracer, log = dev.tracer("app", "1.0"), dev.logger("app")
    with tracer.span("work", {"route": "/a", "n": 3, "ok": True, "r": 0.5, "none": None, 7: "bad"}) as span:
        span.add_event("step", {"i": 1})
        log.error("failed", {"code": 500})
    log.critical(object.__new__(type("Odd", (), {"__str__": lambda self: "odd body"})))
    _delta, points, spans, logs = payload_of(dev)
    strings = dev.dictionary.strings
    (entry,) = spans
    scope, trace_id, span_id, parent, name, kind, ago, duration, attrs, events, status, msg, flags = entry
    assert dev.dictionary.scopes[scope] == (strings.index("app"), strings.index("1.0"))
    assert (trace_id, span_id, parent, strings[name], kind) == (span.trace_id, span.span_id, None, "work", 1)
    assert ago >= duration >= 0 and flags == 0x101 and status == 0 and msg is None
    decoded = {strings[attrs[i] >> 2]: (attrs[i] & 3, attrs[i + 1]) for i in range(0, len(attrs), 2)}
    assert decoded == {"route": (0, "/a"), "n": (1, 3), "ok": (3, True), "r": (2, 0.5)}
    ((ev_name, offset, ev_attrs),) = events
    assert strings[ev_name] == "step" and 0 <= offset <= duration and ev_attrs[1] == 1
    err, crit = logs
    assert err[2:5] == [ERROR, "failed", [strings.index("code") * 4 + 1, 500]]
    assert (err[5], err[6], err[7]) == (span.trace_id, span.span_id, 1)
    assert crit[2:4] == [FATAL, "odd body"] and crit[5] is None and crit[6] is None
    assert points == []  # only signals: the frame still goes out
    assert dev.collect() is None  # nothing since


def test_text_utf8_cannot_encode_costs_neither_the_record_nor_its_frame():
    # A lone surrogate (CPython) in a span's name, attributes, event or status, or a log's body or attributes:
    # the API never raises for it, and the frame goes out with U+FFFD in its place (a surrogate pair is kept).
    lone = "\ud800"
    dev = Device("t-utf8")
    tracer, log = dev.tracer("app"), dev.logger("app")
    dev.meter("m").counter("c").add(1)
    with tracer.span("s" + lone, {"a" + lone: "x" + lone, "pair": "\ud83d\ude00"}) as span:
        span.add_event("e" + lone)
        span.set_status_error("oops " + lone)
    log.warning("bad " + lone, {"k": lone})
    _delta, points, spans, logs = payload_of(dev)
    strings = dev.dictionary.strings
    ((_, _, _, _, name, _, _, _, attrs, events, _, msg, _),) = spans
    assert (strings[name], strings[events[0][0]], msg) == ("s\ufffd", "e\ufffd", "oops \ufffd")
    assert {strings[attrs[i] >> 2]: attrs[i + 1] for i in range(0, len(attrs), 2)} == {
        "a\ufffd": "x\ufffd", "pair": "\U0001f600"}
    ((_, _, _, body, log_attrs, _, _, _),) = logs
    assert (body, log_attrs[1]) == ("bad \ufffd", "\ufffd")
    assert len(points) == 2


def test_text_past_the_wire_limits_is_cut_not_refused():
    # A span's or log record's text longer than a frame may carry (a gateway would reject the whole frame,
    # metrics included) is cut to the limit: 256 characters for an attribute key, 4096 for the rest.
    dev = Device("t-long")
    tracer, log = dev.tracer("app"), dev.logger("app")
    with tracer.span("s" * 5000, {"k" * 300: "v" * 5000}) as span:
        span.add_event("e" * 5000)
        span.set_status_error("m" * 5000)
    log.warning("b" * 5000, {"k": "x" * 5000})
    _delta, _points, spans, logs = payload_of(dev)
    strings = dev.dictionary.strings
    ((_, _, _, _, name, _, _, _, attrs, events, _, msg, _),) = spans
    assert (strings[name], strings[events[0][0]], msg) == ("s" * MAX_TEXT, "e" * MAX_TEXT, "m" * MAX_TEXT)
    assert (strings[attrs[0] >> 2], attrs[1]) == ("k" * MAX_KEY, "v" * MAX_TEXT)
    ((_, _, _, body, log_attrs, _, _, _),) = logs
    assert (body, log_attrs[1]) == ("b" * MAX_TEXT, "x" * MAX_TEXT)


def test_records_too_large_for_the_buffer_cost_only_themselves():
    # A frame too large for the ring buffer because of its spans or log records goes without them: the
    # interval's metrics are kept, the records are counted dropped (in the next frame).
    dev = Device("t-big", compression="none", buffer=RingBuffer(capacity=8192))
    c = dev.meter("m").counter("c")
    tracer, log = dev.tracer("app"), dev.logger("app")
    c.add(1)
    log.warning("x" * 20000)
    with tracer.span("big", {"v": "y" * 20000}):
        pass
    log.info("small")
    _delta, points, spans, logs = payload_of(dev)
    assert (points[1], spans, logs) == (1, [], [])
    c.add(2)
    _delta, points, _, _ = payload_of(dev)
    strings, series = dev.dictionary.strings, {}
    for inst in dev.dictionary.instruments:
        for gid, key in inst._series_since(0):
            series[gid] = inst.name
    assert {series[points[i]]: points[i + 1] for i in range(0, len(points), 2)} == {
        "c": 2, "litetel.device.spans.dropped": 1, "litetel.device.logs.dropped": 2}
    too_large = dev.meter("litetel").counter("litetel.device.frames.dropped", unit="{frame}")
    assert too_large.series_count == 0 and "too_large" not in strings


def test_span_drops_reported_by_frames_lost_in_turn_are_counted_again():
    # No upload: each interval drops 2 of its 3 spans (max_spans=1), and the small buffer drops old frames,
    # among them frames that reported span drops. Those reports are counted again: all 60 arrive.
    dev = Device("t-sd", max_spans=1, compression="none", buffer=RingBuffer(capacity=1200))
    tracer = dev.tracer("app")
    for _ in range(30):
        for _ in range(3):
            with tracer.span("s"):
                pass
        dev.collect()
    assert dev.buffer.dropped > 5
    held = [data for _, data in dev.buffer.read(max_bytes=1 << 20, max_frames=1000)]
    dev.buffer.ack(dev.buffer.next_seq - 1)
    held.append(dev.collect())
    names = {}
    for inst in dev.dictionary.instruments:
        for gid, _key in inst._series_since(0):
            names[gid] = inst.name
    reported = 0
    for data in held:
        header, payload, _ = frame.parse_frame(data)
        points = frame.decode_payload(header, payload)[1]
        reported += sum(points[i + 1] for i in range(0, len(points), 2)
                        if names[points[i]] == "litetel.device.spans.dropped")
    assert reported == 60


def test_logger_level_and_severities():
    dev = Device("t-level")
    log = dev.logger("app")
    log.level = WARN
    log.debug("no")
    log.info("no")
    log.warning("yes")
    assert [r[2] for r in dev._signals["logs"]._items] == [WARN]
    assert INFO < WARN < ERROR < FATAL


def test_buffers_are_bounded_and_drops_counted():
    dev = Device("t-bounded", max_spans=2, max_logs=1)
    tracer, log = dev.tracer("app"), dev.logger("app")
    for _ in range(5):
        with tracer.span("s"):
            log.info("x")
    _delta, points, spans, logs = payload_of(dev)
    assert len(spans) == 2 and len(logs) == 1
    names = {}
    for inst in dev.dictionary.instruments:
        for gid, _ in inst._series_since(0):
            names[gid] = inst.name
    counted = {names[points[i]]: points[i + 1] for i in range(0, len(points), 2)}
    assert counted == {"litetel.device.spans.dropped": 3, "litetel.device.logs.dropped": 4}


def test_metrics_only_device_keeps_the_v1_payload_and_loads_no_tracing():
    import subprocess
    import sys

    code = (
        "import sys; from litetel.device import Device; d = Device('m'); d.meter('a').counter('c').add(1);"
        "d.collect(); print(sorted(m for m in sys.modules if m.startswith('litetel.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for module in ("litetel.tracing", "litetel.logs", "litetel.signal_buffer", "litetel.sampling"):
        assert module not in out
    dev = Device("t-v1")
    dev.meter("a").counter("c").add(1)
    assert len(payload_of(dev)) == 2


def test_histogram_exemplars_link_measurements_to_their_span():
    dev = Device("t-exemplars")
    latency = dev.meter("app").histogram("lat", boundaries=(10, 100))
    other = dev.meter("app").histogram("other", boundaries=(10,))
    tracer = dev.tracer("app")
    latency.record(5)  # no current span: no exemplar
    with tracer.span("a") as a:
        latency.record(50)
        latency.record(60)  # same bucket: the most recent is kept
        latency.record(500.5)
    with dev.tracer("off", sampler=sampling.always_off).span("unsampled"):
        latency.record(7)
    with tracer.span("b") as b:
        other.record(1)
    _delta, points, _spans, _logs, exemplars = payload_of(dev)
    kept = {exemplars[i]: exemplars[i + 1] for i in range(0, len(exemplars), 2)}
    assert len(kept) == 2 and set(kept) <= set(points[0::2])  # series with a point in this frame
    values = sorted((e[0], e[2], e[3]) for entries in kept.values() for e in entries)
    assert values == sorted(
        [(60, a.trace_id, a.span_id), (500.5, a.trace_id, a.span_id), (1, b.trace_id, b.span_id)]
    )
    assert all(e[1] >= 0 for entries in kept.values() for e in entries)
    latency.record(5)
    assert len(payload_of(dev)) == 4  # exemplars are per interval
