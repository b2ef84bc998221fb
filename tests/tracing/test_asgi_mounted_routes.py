"""Under a Starlette Mount, http.route (and the span name) is the full matched template (semantic conventions):
/api/users/{id} and /admin/users/{id} stay two routes. The inner route's template alone merged them into
"/users/{id}"."""

import asyncio

import pytest

from litetel.asgi import LitetelMiddleware
from litetel.device import Device

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")


def test_mounted_route_keeps_its_prefix():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    async def hello(request):
        return PlainTextResponse("hi")

    dev = Device("asgi-mount")
    app = Starlette(routes=[Mount("/api", routes=[Route("/users/{id}", hello)]),
                            Mount("/admin", routes=[Route("/users/{id}", hello)])],
                    middleware=[Middleware(LitetelMiddleware, device=dev)])

    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/api/users/3")).status_code == 200
            assert (await c.get("/admin/users/3")).status_code == 200

    asyncio.run(main())
    routes = [s.attributes.get("http.route") for s in dev._signals["spans"]._items]
    names = [s.name for s in dev._signals["spans"]._items]
    assert routes == ["/api/users/{id}", "/admin/users/{id}"]
    assert names == ["GET /api/users/{id}", "GET /admin/users/{id}"]
