"""Span.__exit__ ends and detaches the span even when recording the escaping exception fails (an exception
whose __str__ fails; a MemoryError on a board). It used not to: the span stayed the current span for good,
every later span of the thread its child, every log record linked to it."""

import pytest

from litetel.device import Device
from litetel.trace_context import current_span


class BadStr(Exception):
    def __str__(self):
        raise ValueError("no str")


def test_current_span_restored_when_recording_the_exception_fails():
    dev = Device("exit-leak")
    tracer = dev.tracer("app")
    with pytest.raises(Exception):
        with tracer.span("a") as a:
            raise BadStr()
    assert current_span() is None, "span %r leaked as current" % (current_span(),)
    assert a.end_us is not None
    with tracer.span("b") as b:
        pass
    assert b.parent_id is None


def test_original_exception_propagates():
    dev = Device("exit-leak2")
    with pytest.raises(BadStr):
        with dev.tracer("app").span("a"):
            raise BadStr()
