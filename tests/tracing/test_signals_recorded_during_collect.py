"""A span / log record / exemplar made by another thread while ``collect()`` runs (after the frame's
``end_ticks`` was read, before the signal buffers are swapped) is placed at the frame's end. Its ``ago_us``
used to be negative; wire format §2.4-2.6 say these are ints >= 0 and the gateway's schema rejected the
whole frame for it, the interval's metrics with it."""

import threading
import time

import pytest

from litetel import frame
from litetel.device import Device
from litetel_gateway.decoder import Dictionary, Limits, Reject
from litetel_gateway.payload_schema import validate_exemplars, validate_logs, validate_spans


def _frame_with_work_during_collect():
    dev = Device("race-dev")
    tracer, log = dev.tracer("app"), dev.logger("app")
    meter = dev.meter("app")
    first = meter.counter("first")  # collected first: the other thread works while it is collected
    latency = meter.histogram("lat", boundaries=(1, 10))
    first.add(1)

    def other_thread():
        time.sleep(0.002)  # the frame's end_ticks is already taken
        with tracer.span("short"):
            log.info("during collect")
            latency.record(5)

    real_collect = first._collect

    def collect_while_other_thread_works(points):
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        return real_collect(points)

    first._collect = collect_while_other_thread_works
    header, payload, _ = frame.parse_frame(dev.collect())
    body = frame.decode_payload(header, payload)
    d = Dictionary()
    d.apply_delta(body[0], Limits())
    return body, d


def test_times_are_not_negative():
    body, _ = _frame_with_work_during_collect()
    spans, logs, exemplars = body[2], body[3], body[4]
    assert spans and logs and exemplars
    assert spans[0][6] >= 0, "span ago_us %d" % spans[0][6]
    assert logs[0][1] >= 0, "log ago_us %d" % logs[0][1]
    assert exemplars[1][0][1] >= 0, "exemplar ago_us %d" % exemplars[1][0][1]


def test_gateway_accepts_the_frame():
    body, d = _frame_with_work_during_collect()
    try:
        validate_spans(body[2], d, Limits())
        validate_logs(body[3], d, Limits())
        validate_exemplars(body[4], body[1], d)
    except Reject as exc:
        pytest.fail("gateway rejects the frame: %s %s" % (exc.reason, exc))
