"""Trace context: the current span, and the W3C ``traceparent`` header that carries a span across processes.

The current span is what a new span takes as its parent and what a log record is linked to. On CPython it
lives in a ``contextvars.ContextVar`` (each thread and each asyncio task sees its own); on MicroPython, which
has one flow of control (and no contextvars), in a module variable.

    >>> ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    >>> ctx[0].hex(), ctx[1].hex(), ctx[2]
    ('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 1)
    >>> parse_traceparent("garbage") is None
    True
"""

import binascii

try:
    from contextvars import ContextVar
except ImportError:  # MicroPython
    ContextVar = None

FLAG_SAMPLED = 1

# True once any span was ever made current: the histogram's exemplar check reads it first, so a
# metrics-only program pays one global read per record and nothing else.
in_use = False

if ContextVar is not None:
    _CURRENT = ContextVar("litetel_current_span", default=None)
    current_span = _CURRENT.get

    def attach(span):
        """Make ``span`` current; returns the token ``detach`` needs."""
        global in_use
        in_use = True
        return _CURRENT.set(span)

    def detach(token):
        """Restore the current span from before ``attach``."""
        try:
            _CURRENT.reset(token)
        except ValueError:  # ended in another context (another task): that context's value is its own
            pass

else:
    _current = None

    def current_span():
        """The span of the innermost active ``with tracer.span(...)``, or None."""
        return _current

    def attach(span):
        global _current, in_use
        in_use = True
        previous = _current
        _current = span
        return previous

    def detach(token):
        global _current
        _current = token


_HEX = "0123456789abcdef"


def _lower_hex(s):
    for c in s:
        if c not in _HEX:
            return False
    return True


def parse_traceparent(header):
    """``(trace_id: bytes(16), span_id: bytes(8), flags: int)`` of a ``traceparent`` value, or None when it
    is not a valid one (W3C Trace Context level 1: lowercase hex, no all-zero ids, version ``ff`` invalid;
    a later version may append fields after a ``-``).

    >>> parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01") is None
    True
    """
    if header.__class__ is bytes:
        try:
            header = header.decode()
        except UnicodeError:
            return None
    if header.__class__ is not str:
        return None
    header = header.strip()
    if len(header) < 55 or header[2] != "-" or header[35] != "-" or header[52] != "-":
        return None
    version = header[0:2]
    if not _lower_hex(version) or version == "ff":
        return None
    if len(header) > 55 and (version == "00" or header[55] != "-"):
        return None
    trace_hex = header[3:35]
    span_hex = header[36:52]
    flags_hex = header[53:55]
    if not (_lower_hex(trace_hex) and _lower_hex(span_hex) and _lower_hex(flags_hex)):
        return None
    if trace_hex == "0" * 32 or span_hex == "0" * 16:
        return None
    return binascii.unhexlify(trace_hex), binascii.unhexlify(span_hex), int(flags_hex, 16)


def format_traceparent(span):
    """The ``traceparent`` value naming ``span`` (a Span, or a ``(trace_id, span_id, flags)`` tuple) as the
    parent of the receiver's spans: ``00-<trace id>-<span id>-<flags>``.

        headers["traceparent"] = format_traceparent(span)
    """
    if span.__class__ is tuple:
        trace_id, span_id, flags = span
    else:
        trace_id, span_id, flags = span.trace_id, span.span_id, FLAG_SAMPLED if span.sampled else 0
    return "00-%s-%s-%02x" % (
        binascii.hexlify(trace_id).decode(),
        binascii.hexlify(span_id).decode(),
        flags & 0xFF,
    )
