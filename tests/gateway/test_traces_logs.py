"""Spans, log records and exemplars: a real Device → the gateway process → real rotel, over OTLP/HTTP and
OTLP/gRPC, with ids, parentage, timestamps and attributes checked against what the device recorded."""

import re
import time
from pathlib import Path

import pytest
from support.gateway import TEST_DEVICE_ID, make_test_device
from support.ports import wait_for

from litetel.trace_context import format_traceparent

SECOND_NS = 1_000_000_000
CLOCK_SLACK_NS = 1_000_000  # 80x the drift seen; a time on the tick clock (since boot) is off by far more


RESOURCE = {"service.name": "tracing-e2e"}


def wait_for_spans(rotel, n, timeout_s=15):
    wait_for(lambda: len(rotel.spans()) >= n, timeout_s, message="%d spans in rotel" % n)
    return {s.name: s for s in rotel.spans()}


def wait_for_logs(rotel, n, timeout_s=15):
    wait_for(lambda: len(rotel.logs()) >= n, timeout_s, message="%d log records in rotel" % n)
    return rotel.logs()


@pytest.mark.parametrize("codec, compression, protocol", [
    ("msgpack", "zstd", "http"), ("cbor", "deflate", "http"), ("msgpack", "none", "grpc"),
])  # fmt: skip
def test_spans_and_logs_arrive_with_ids_parentage_times_and_attributes(
    make_gateway, rotel, codec, compression, protocol
):
    if protocol == "grpc":
        gateway = make_gateway(
            otlp_endpoint="http://" + rotel.grpc_endpoint, extra_args=["--otlp-protocol", "grpc"]
        )
    else:
        gateway = make_gateway(otlp_endpoint=rotel.http_endpoint)
    dev = make_test_device(gateway.url, RESOURCE, codec, compression)
    tracer = dev.tracer("model_server", "1.2")
    log = dev.logger("model_server")
    before_ns = time.time_ns()
    with tracer.span("inference", {"deployment.id": "d-42", "batch": 3, "ratio": 0.5, "warm": True}) as root:
        root.set_attribute("model.name", "resnet")
        root.add_event("cache_miss", {"key": "m-1"})
        time.sleep(0.01)
        with tracer.span("load_weights") as child:
            log.warning("battery low", {"battery.percent": 9})
            time.sleep(0.005)
        try:
            with tracer.span("postprocess"):
                raise TimeoutError("gpu stalled")
        except TimeoutError:
            pass
    log.info("done")  # outside every span: no trace context
    after_ns = time.time_ns()
    dev.collect()
    assert dev.flush() == 1

    spans = wait_for_spans(rotel, 3)
    inference, load, post = spans["inference"], spans["load_weights"], spans["postprocess"]
    assert inference.trace_id == root.trace_id.hex() == load.trace_id == post.trace_id
    assert inference.span_id == root.span_id.hex() and load.span_id == child.span_id.hex()
    assert inference.parent_id == "" and load.parent_id == post.parent_id == inference.span_id
    assert inference.attributes == {
        "deployment.id": "d-42", "batch": 3, "ratio": 0.5, "warm": True, "model.name": "resnet"
    }  # fmt: skip
    assert inference.scope == "model_server" and inference.scope_version == "1.2"
    assert inference.resource == {"service.name": "tracing-e2e", "device.id": TEST_DEVICE_ID}
    assert inference.kind == "SPAN_KIND_INTERNAL"
    # timestamps: on the wall clock, nested, and the durations the device measured. A span's time is the
    # device's wall anchor plus monotonic ticks, in µs: it may differ from time.time_ns() by the µs rounding and
    # by what NTP slewed the wall clock since the anchor (up to 500 ppm: 12 µs was seen). Against the test's
    # own clock, then, within CLOCK_SLACK_NS; against each other, exactly.
    assert before_ns - CLOCK_SLACK_NS <= inference.start_ns <= load.start_ns <= load.end_ns <= post.start_ns
    assert post.end_ns <= inference.end_ns <= after_ns + CLOCK_SLACK_NS
    assert inference.end_ns - inference.start_ns >= 15_000_000
    assert load.end_ns - load.start_ns >= 5_000_000
    assert post.status_code == "STATUS_CODE_ERROR" and post.status_message == "TimeoutError: gpu stalled"
    assert inference.status_code == "STATUS_CODE_UNSET"

    records = wait_for_logs(rotel, 2)
    warning = next(r for r in records if r.body == "battery low")
    done = next(r for r in records if r.body == "done")
    assert (warning.severity_number, warning.severity_text) == (13, "WARN")
    assert warning.attributes == {"battery.percent": 9}
    assert warning.trace_id == inference.trace_id and warning.span_id == load.span_id
    assert load.start_ns <= warning.time_ns <= load.end_ns
    assert (done.severity_number, done.trace_id, done.span_id) == (9, "", "")
    assert warning.resource["device.id"] == TEST_DEVICE_ID and warning.scope == "model_server"


def test_event_and_exception_details_reach_the_collector(make_gateway, rotel):
    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint)
    dev = make_test_device(gateway.url, RESOURCE)
    tracer = dev.tracer("events")
    try:
        with tracer.span("fails") as span:
            span.add_event("retry", {"attempt": 2})
            raise ValueError("bad input")
    except ValueError:
        pass
    dev.collect()
    dev.flush()
    wait_for_spans(rotel, 1)
    rotel.refresh()
    text = Path(rotel.log_path).read_text(encoding="utf-8", errors="replace")
    # rotel's detailed log lists span events; the parser keeps only span fields, so read them here
    assert re.search(r"Name: retry", text) and re.search(r"-> attempt: Int\(2\)", text)
    assert re.search(r"-> exception.type: Str\(ValueError\)", text)
    assert re.search(r"-> exception.message: Str\(bad input\)", text)


def test_a_remote_parent_is_continued_and_unsampled_spans_are_not_sent(make_gateway, rotel):
    from litetel import sampling

    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint)
    dev = make_test_device(gateway.url, RESOURCE)
    tracer = dev.tracer("edge")
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with tracer.span("handle", parent=incoming, kind=2) as span:
        outgoing = format_traceparent(span)
    with tracer.span("not sampled", parent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"):
        pass
    off = dev.tracer("off", sampler=sampling.always_off)
    # parent-based: the inner span follows its unsampled parent
    with off.span("never"), tracer.span("child of unsampled"):
        pass
    dev.collect()
    dev.flush()
    spans = wait_for_spans(rotel, 1)
    time.sleep(0.5)  # anything else would have arrived in the same batch
    assert list(spans) == ["handle"]
    handle = spans["handle"]
    assert handle.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and handle.parent_id == "00f067aa0ba902b7"
    assert handle.kind == "SPAN_KIND_SERVER"
    assert outgoing == "00-4bf92f3577b34da6a3ce929d0e0e4736-%s-01" % handle.span_id


def test_a_full_span_buffer_drops_and_counts(make_gateway, rotel):
    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint)
    dev = make_test_device(gateway.url, RESOURCE, max_spans=3, max_logs=2)
    tracer, log = dev.tracer("burst"), dev.logger("burst")
    for i in range(5):
        with tracer.span("s%d" % i):
            log.info("l%d" % i)
    dev.collect()
    dev.flush()
    rotel.wait_for_total("litetel.device.spans.dropped", 2, timeout_s=15)
    rotel.wait_for_total("litetel.device.logs.dropped", 3, timeout_s=15)
    assert sorted(wait_for_spans(rotel, 3)) == ["s0", "s1", "s2"]
    assert sorted(r.body for r in wait_for_logs(rotel, 2)) == ["l0", "l1"]


def test_a_histogram_exemplar_links_to_its_span(make_gateway, rotel):
    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint)
    dev = make_test_device(gateway.url, RESOURCE)
    latency = dev.meter("app").histogram("app.latency", unit="ms", boundaries=(10, 100))
    tracer = dev.tracer("app")
    latency.record(5)  # outside a span: no exemplar
    with tracer.span("slow request") as span:
        latency.record(250)
    dev.collect()
    dev.flush()
    rotel.wait_for_total("app.latency", 2, timeout_s=15)
    rotel.refresh()
    text = Path(rotel.log_path).read_text(encoding="utf-8", errors="replace")
    exemplars = re.findall(
        r"Exemplar #\d+\s+-> Trace ID: (\w+)\s+-> Span ID: (\w+)\s+-> Timestamp: (\d+)\s+"
        r"-> Value: (\S+)",
        text,
    )
    assert [e[:2] + e[3:] for e in exemplars] == [(span.trace_id.hex(), span.span_id.hex(), "250")], text[
        -3000:
    ]
    (point,) = rotel.points("app.latency")
    assert point.start_ns <= int(exemplars[0][2]) <= point.time_ns  # on the frame's (corrected) clock
    assert span.start_us <= span.end_us and point.count == 2
