"""ASGI middleware recording OpenTelemetry HTTP server metrics and a server span per request (CPython only).

    from litetel.asgi import LitetelMiddleware
    app = LitetelMiddleware(app, device)          # or FastAPI: app.add_middleware(LitetelMiddleware, device=device)

Records, with the semantic-convention attributes ``http.request.method``, ``http.route`` (the route template,
never the raw path: raw paths would explode cardinality), ``http.response.status_code`` and ``url.scheme``:

- ``http.server.request.duration`` (histogram, seconds, the semantic-convention boundaries)
- ``http.server.request.count`` (counter)

Bound series handles are cached per (method, route, status, scheme), so a request costs two bound records and
one dict lookup. The core never imports this module.

Each request also runs inside a ``SERVER`` span named ``"{method} {route}"`` (tracer ``litetel.asgi``) with
the same attributes; an incoming W3C ``traceparent`` header makes it a child of the caller's span, and the
application's own spans and log records become its children. ``tracing=False`` turns spans off.
"""

import time

from litetel.tracing import SERVER

# Boundaries advised by the OTel HTTP semantic conventions for http.server.request.duration.
HTTP_DURATION_BOUNDARIES = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))


def _path_of(route):
    path = getattr(route, "path", None) or getattr(route, "path_format", None)
    return path if isinstance(path, str) else None


def _route_of(scope):
    """The matched route template (Starlette/FastAPI put the route in the scope), else None. Under a
    ``Mount`` (which a router names as the route before the route inside it), the mounts' paths lead."""
    route = scope.get("route")
    path = _path_of(route)
    if path is None:
        return None
    prefix = ""
    for outer in getattr(scope, "routes", ())[:-1]:
        if outer is not route and getattr(outer, "routes", None) is not None:  # a Mount
            prefix += _path_of(outer) or ""
    return prefix + path


class _Scope(dict):
    """The request's scope, remembering each route a router set in it (``scope["route"] = ...``)."""

    __slots__ = ("routes",)

    def __setitem__(self, key, value):
        if key == "route":
            self.routes.append(value)
        dict.__setitem__(self, key, value)


class LitetelMiddleware:
    """Pure ASGI middleware: wraps ``app`` and records duration and count of every HTTP request."""

    def __init__(self, app, device, meter_name="litetel.asgi", max_series=None, tracing=True):
        self.app = app
        self._tracer = device.tracer(meter_name) if tracing else None
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
        method = scope.get("method", "_OTHER")
        if method not in _METHODS:
            method = "_OTHER"  # semantic conventions: unknown methods collapse to one value
        scheme = scope.get("scheme", "http")
        span = None
        if self._tracer is not None:
            span = self._tracer.start_span(method, {"http.request.method": method, "url.scheme": scheme},
                                           parent=_traceparent(scope), kind=SERVER)
            span.__enter__()  # current for the application: its spans and logs are children

        async def send_with_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        outer, scope = scope, _Scope(scope)
        scope.routes = []
        error = None
        try:
            await self.app(scope, receive, send_with_status)
        except BaseException as exc:
            error = exc
            raise
        finally:
            outer.update(scope)  # what the application set in the scope, for middleware outside this one
            route = _route_of(scope)
            duration, count = self._series(method, route, status[0], scheme)
            # Recorded while the span is current: a histogram exemplar links the latency to this trace.
            duration.record(time.perf_counter() - started)
            count.add(1)
            if span is not None:
                _finish_span(span, route, status[0], error)


def _traceparent(scope):
    """The request's ``traceparent`` header value, or None (a new trace; also when there are several, as the
    W3C Trace Context test suite expects)."""
    found = None
    for name, value in scope.get("headers") or ():
        if name == b"traceparent":
            if found is not None:
                return None
            found = value.decode("latin-1")
    return found


def _finish_span(span, route, status, error):
    if route is not None:
        span.name = "%s %s" % (span.name, route)  # semantic conventions: "{method} {route}"
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if error is not None:
        span.__exit__(type(error), error, None)  # records the exception, status error
        return
    if status >= 500:
        span.set_status_error()  # server errors only: a 4xx is the client's, the span is not in error
    span.__exit__(None, None, None)
