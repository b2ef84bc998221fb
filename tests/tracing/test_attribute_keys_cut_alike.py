"""Attribute keys are cut to MAX_KEY characters (and lone surrogates replaced) on the wire; of two keys that
become equal only the first is sent. Both were, and the gateway rejected the whole frame (duplicate attribute
key), the interval's metrics with it."""

from litetel import frame
from litetel.device import Device
from litetel.dictionary import MAX_KEY
from litetel_gateway.decoder import Dictionary, Limits
from litetel_gateway.payload_schema import validate_logs, validate_spans


def test_keys_equal_once_cut_do_not_get_the_frame_rejected():
    dev = Device("key-cut")
    tracer, log = dev.tracer("app"), dev.logger("app")
    dev.meter("app").counter("c").add(1)
    with tracer.span("s", {"a" * (MAX_KEY + 10): 1, "a" * (MAX_KEY + 10) + "b": 2}):
        pass
    with tracer.span("t", {"b" * (MAX_KEY + 1): 1, "b" * MAX_KEY: 2}):  # a cut key, then one that is its text
        pass
    log.info("x", dict.fromkeys(("k\ud800", "k\udfff"), 1))  # both become "k\ufffd"
    header, payload, _ = frame.parse_frame(dev.collect())
    body = frame.decode_payload(header, payload)
    d = Dictionary()
    d.apply_delta(body[0], Limits())
    assert validate_spans(body[2], d, Limits()) == 2
    assert [len(span[8]) for span in body[2]] == [2, 2]  # one attribute each: the first of the two alike
    assert validate_logs(body[3], d, Limits()) == 1
