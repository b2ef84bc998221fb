"""Span samplers: which spans are recorded and sent, decided once when a span starts.

A sampler is a plain function ``sampler(trace_id, parent_sampled) -> bool``, ``parent_sampled`` being None
for a root span (no parent), else the parent's sampled flag (a remote parent's from its ``traceparent``).
An unsampled span still has ids (so its trace goes on propagating) but records nothing and is never stored.

    >>> from litetel import sampling
    >>> keep_10pct = sampling.parent_based(sampling.ratio(0.1))
    >>> keep_10pct(bytes(16), True)         # a sampled parent: sampled
    True
"""


def always_on(trace_id, parent_sampled):
    """Every span is sampled."""
    return True


def always_off(trace_id, parent_sampled):
    """No span is sampled."""
    return False


_RATIO_SCALE = 1 << 64


def ratio(p):
    """Sample a fraction ``p`` (0..1) of traces, decided from the trace id as OpenTelemetry's
    ``TraceIdRatioBased`` does (its lower 8 bytes below ``p * 2**64``): every service using the same ratio,
    litetel or an OTel SDK, keeps the same traces."""
    if p.__class__ not in (int, float) or not 0 <= p <= 1:
        raise ValueError("ratio must be a number in [0, 1], got %r" % (p,))
    bound = round(p * _RATIO_SCALE)

    def sampler(trace_id, parent_sampled):
        return int.from_bytes(trace_id[8:16], "big") < bound

    return sampler


def parent_based(root):
    """A child follows its parent's decision; a root span asks ``root``. The default:
    ``parent_based(always_on)``, as in OpenTelemetry."""

    def sampler(trace_id, parent_sampled):
        if parent_sampled is None:
            return root(trace_id, None)
        return parent_sampled

    return sampler


DEFAULT = parent_based(always_on)
