"""A request with two traceparent headers starts a new trace, as the W3C Trace Context test suite
(test_traceparent_duplicated) expects; it used to continue the first one."""

import asyncio

from litetel.asgi import LitetelMiddleware
from litetel.device import Device


async def _ok(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _run(app, headers):
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/", "headers": headers}
    asyncio.run(app(scope, receive, send))


def test_duplicated_traceparent_starts_a_new_trace():
    dev = Device("tp-dup")
    app = LitetelMiddleware(_ok, dev)
    _run(app, [
        (b"traceparent", b"00-12345678901234567890123456789011-1234567890123456-01"),
        (b"traceparent", b"00-12345678901234567890123456789012-1234567890123456-01"),
    ])
    (span,) = dev._signals["spans"]._items
    assert span.trace_id.hex() not in ("12345678901234567890123456789011", "12345678901234567890123456789012")
    assert span.parent_id is None
