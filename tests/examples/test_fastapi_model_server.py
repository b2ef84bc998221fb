"""The FastAPI example: HTTP server metrics and the seed's custom metrics reach OTLP with semconv attributes;
its traces, logs and metrics are linked (server span per request, child spans, log records with span ids)."""

import importlib
import sys
from pathlib import Path

import pytest
from support.ports import wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
ROUTE = "/deployments/{deployment_id}/compute"


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


CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


def test_requests_produce_linked_traces_logs_and_metrics(model_server, rotel):
    from fastapi.testclient import TestClient

    with TestClient(model_server.app) as client:
        headers = {"traceparent": "00-%s-%s-01" % (CALLER_TRACE, CALLER_SPAN)}
        assert client.post("/deployments/d-1/compute", json={"values": [1, 2, 3]}, headers=headers).status_code == 200
        assert client.post("/deployments/d-2/compute", json={"values": [4]}).status_code == 200
        assert client.post("/deployments/d-3/compute", json={"values": []}).status_code == 422

    wait_for(lambda: len(rotel.spans()) >= 6, 15, message="6 spans")
    wait_for(lambda: len(rotel.logs()) >= 3, 15, message="3 log records")
    spans = rotel.spans()
    servers = [s for s in spans if s.kind == "SPAN_KIND_SERVER"]
    inferences = [s for s in spans if s.name == "inference"]
    assert len(servers) == 3 and len(inferences) == 3
    by_id = {s.span_id: s for s in spans}
    for server in servers:
        assert server.name == "POST " + ROUTE
        assert server.attributes["http.route"] == ROUTE and server.attributes["http.request.method"] == "POST"
        assert server.resource["device.id"] == "model-server-test"
    for inference in inferences:
        parent = by_id[inference.parent_id]  # each inference is the child of its request's server span
        assert parent.kind == "SPAN_KIND_SERVER" and parent.trace_id == inference.trace_id
        assert parent.start_ns <= inference.start_ns <= inference.end_ns <= parent.end_ns
    # the first request continued the caller's trace
    continued = [s for s in servers if s.trace_id == CALLER_TRACE]
    assert len(continued) == 1 and continued[0].parent_id == CALLER_SPAN
    assert len({s.trace_id for s in servers}) == 3
    failed = next(s for s in inferences if s.attributes["deployment.id"] == "d-3")
    assert failed.status_code == "STATUS_CODE_ERROR" and failed.status_message == "no values to predict from"
    failed_server = by_id[failed.parent_id]
    assert failed_server.attributes["http.response.status_code"] == 422
    assert failed_server.status_code == "STATUS_CODE_UNSET"  # a 4xx is not a server error

    # logs carry the ids of the span they were written in
    records = rotel.logs()
    done = [r for r in records if r.body == "inference done"]
    errors = [r for r in records if r.body == "inference failed"]
    assert len(done) == 2 and len(errors) == 1
    for record in done + errors:
        span = by_id[record.span_id]
        assert span.name == "inference" and record.trace_id == span.trace_id
        assert span.start_ns <= record.time_ns <= span.end_ns
    assert errors[0].severity_text == "ERROR" and errors[0].attributes["deployment.id"] == "d-3"

    # and the metrics of the same requests
    rotel.wait_for_total("http.server.request.count", 3, timeout_s=15, **{"http.route": ROUTE})
    assert rotel.total("model.inferences.total", status="error") == 1
    assert rotel.total("model.inference.duration", model_name="my_model") == 2
