"""ASGI middleware recording OpenTelemetry HTTP server metrics through litetel (CPython only).

    from litetel.asgi import LitetelMiddleware
    app = LitetelMiddleware(app, device)          # or FastAPI: app.add_middleware(LitetelMiddleware, device=device)

Records, with the semantic-convention attributes ``http.request.method``, ``http.route`` (the route template,
never the raw path: raw paths would explode cardinality), ``http.response.status_code`` and ``url.scheme``:

- ``http.server.request.duration`` (histogram, seconds, the semantic-convention boundaries)
- ``http.server.request.count`` (counter)

Bound series handles are cached per (method, route, status, scheme), so a request costs two bound records and
one dict lookup. The core never imports this module.
"""

import time

# Boundaries advised by the OTel HTTP semantic conventions for http.server.request.duration.
HTTP_DURATION_BOUNDARIES = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))


def _route_of(scope):
    """The matched route template (Starlette/FastAPI put the route in the scope), else None."""
    route = scope.get("route")
    path = getattr(route, "path", None) or getattr(route, "path_format", None)
    return path if isinstance(path, str) else None


class LitetelMiddleware:
    """Pure ASGI middleware: wraps ``app`` and records duration and count of every HTTP request."""

    def __init__(self, app, device, meter_name="litetel.asgi", max_series=None):
        self.app = app
        meter = device.meter(meter_name)
        self._duration = meter.histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            boundaries=HTTP_DURATION_BOUNDARIES,
            max_series=max_series,
        )
        self._count = meter.counter(
            "http.server.request.count",
            unit="{request}",
            description="Number of HTTP server requests.",
            max_series=max_series,
        )
        self._handles = {}

    def _series(self, method, route, status, scheme):
        key = (method, route, status, scheme)
        handles = self._handles.get(key)
        if handles is None:
            attrs = {
                "http.request.method": method,
                "http.response.status_code": status,
                "url.scheme": scheme,
            }
            if route is not None:
                attrs["http.route"] = route
            handles = (self._duration.bind(attrs), self._count.bind(attrs))
            self._handles[key] = handles
        return handles

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_with_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            method = scope.get("method", "_OTHER")
            if method not in _METHODS:
                method = "_OTHER"  # semantic conventions: unknown methods collapse to one value
            duration, count = self._series(method, _route_of(scope), status[0], scope.get("scheme", "http"))
            duration.record(time.perf_counter() - started)
            count.add(1)
