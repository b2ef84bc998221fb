"""sampling.ratio(p) decides as OTel's TraceIdRatioBased (the trace id's lower 8 bytes below p * 2**64), so a
device and an OTel-SDK service at the same ratio keep the same traces."""

import pytest

from litetel import sampling

otel_sampling = pytest.importorskip("opentelemetry.sdk.trace.sampling")


@pytest.mark.parametrize("p", [0.5, 0.25, 0.1])
def test_ratio_agrees_with_otel_trace_id_ratio_based(p):
    ours = sampling.ratio(p)
    theirs = otel_sampling.TraceIdRatioBased(p)
    # byte 8 decides for OTel (lower 8 bytes), byte 9 onwards for litetel (lower 7 bytes)
    for tid in (bytes(8) + b"\xff" + bytes(7), bytes(8) + b"\x00" + b"\xff" * 7, bytes(range(16))):
        otel = theirs.should_sample(None, int.from_bytes(tid, "big"), "s").decision.is_sampled()
        assert ours(tid, None) == otel, (tid.hex(), p)
