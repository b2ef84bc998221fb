"""The Prometheus fixture: a real server scrapes a prometheus_client endpoint and answers PromQL."""

import pytest
from support.ports import free_port

prometheus_client = pytest.importorskip("prometheus_client")

pytestmark = pytest.mark.prometheus


@pytest.fixture
def exporter():
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter("litetel_test_frames", "frames", ["device"], registry=registry)
    port = free_port()
    server, _ = prometheus_client.start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port, counter
    server.shutdown()
    server.server_close()


def test_prometheus_scrapes_and_answers_queries(make_prometheus, exporter):
    port, counter = exporter
    counter.labels(device="sat-7").inc(5)
    counter.labels(device="sat-8").inc(2)
    prometheus = make_prometheus(["127.0.0.1:%d" % port], scrape_interval="1s")

    prometheus.wait_for_query("sum(litetel_test_frames_total)", lambda r: r and r[0]["value"][1] == "7")
    assert prometheus.query_value('litetel_test_frames_total{device="sat-7"}') == 5.0
    assert prometheus.query_value("litetel_test_frames_total{device='nobody'}") is None
    (target,) = prometheus.targets()
    assert target["health"] == "up" and target["scrapeUrl"].endswith(":%d/metrics" % port)

    counter.labels(device="sat-7").inc(3)
    prometheus.wait_for_query("sum(litetel_test_frames_total)", lambda r: r and r[0]["value"][1] == "10")
    with pytest.raises(RuntimeError, match="failed"):
        prometheus.query("sum(")
