"""The FastAPI example: HTTP server metrics and the seed's custom metrics reach OTLP with semconv attributes."""

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))


@pytest.fixture
def model_server(monkeypatch, make_gateway, rotel):
    gateway = make_gateway(keys={"model-server-test": KEY.hex()}, otlp_endpoint=rotel.http_endpoint)
    monkeypatch.setenv("LITETEL_ENDPOINT", gateway.url)
    monkeypatch.setenv("LITETEL_KEY", KEY.hex())
    monkeypatch.setenv("LITETEL_DEVICE_ID", "model-server-test")
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "fastapi_model_server"))
    sys.modules.pop("app", None)
    module = importlib.import_module("app")
    yield module
    sys.modules.pop("app", None)


def test_requests_arrive_as_semconv_metrics(model_server, rotel):
    from fastapi.testclient import TestClient

    with TestClient(model_server.app) as client:  # lifespan: device.start() ... device.stop()
        for i in range(7):
            reply = client.post("/deployments/d-%d/compute" % (i % 2), json={"values": [1, 2, i]})
            assert reply.status_code == 200
        assert client.get("/no-such-route").status_code == 404

    route = "/deployments/{deployment_id}/compute"
    rotel.wait_for_total("http.server.request.count", 7, timeout_s=15, **{"http.route": route})
    points = rotel.points("http.server.request.duration")
    ok = [p for p in points if p.attributes.get("http.route") == route]
    assert sum(p.count for p in ok) == 7
    attrs = ok[0].attributes
    assert attrs["http.request.method"] == "POST"
    assert attrs["http.response.status_code"] == 200
    assert ok[0].unit == "s" and ok[0].resource["service.name"] == "model-server"
    assert ok[0].resource["device.id"] == "model-server-test"
    # the 404 has no matched route: no http.route attribute, never the raw path
    missing = [p for p in rotel.points("http.server.request.count") if p.attributes.get("http.response.status_code") == 404]
    assert sum(p.value for p in missing) == 1 and "http.route" not in missing[0].attributes
    assert rotel.total("model.inferences.total", deployment_id="d-0") == 4
    assert rotel.total("model.inference.duration", deployment_id="d-1", model_name="my_model") == 3
