"""The gateway as a process (``python -m litetel_gateway``) against real rotel: what devices post arrives
in rotel with the same values, once and in order, across Collector outages, SIGTERM and SIGKILL; HTTP
error paths are counted by reason on /metrics."""

import re
import sqlite3
import time
import urllib.request

import pytest
from devicesim import COUNTER, GAUGE, HISTOGRAM, SimDevice
from support.gateway import TEST_DEVICE_KEY
from support.ports import wait_for

SECOND = 1_000_000


def metric_value(text, name, **labels):
    """The value of one sample in Prometheus text (labels must match exactly those given, in any order)."""
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(match.group(4))
    return None


def scrape(gateway):
    status, body = gateway.get("/metrics")
    assert status == 200
    return body.decode()


def demo_device():
    dev = SimDevice(resource={"service.name": "model-server"})
    counter = dev.series(
        dev.instrument("http.server.request.count", COUNTER, "{request}"), {"http.route": "/api"}
    )
    histogram = dev.series(
        dev.instrument("http.server.duration", HISTOGRAM, "ms", bounds=[10, 50, 100]), {"http.route": "/api"}
    )
    gauge = dev.series(dev.instrument("device.temperature", GAUGE, "Cel"))
    return dev, counter, histogram, gauge


def post_intervals(gateway, dev, counter, histogram, gauge, n, start_us, per_request=1):
    frames = []
    for i in range(n):
        t = start_us + i * SECOND
        frames.append(
            dev.frame(
                [counter, i + 1, histogram, [2, 60.0 + i, 20.0, 40.0 + i, 1, 1, 1], gauge, 20.0 + i],
                t,
                t + SECOND,
            )
        )
    for k in range(0, n, per_request):
        status, reply = dev.post(gateway.url, frames[k : k + per_request])
        assert status == 200 and reply["results"] == ["ok"] * len(frames[k : k + per_request])
    return sum(range(1, n + 1))


def test_posted_values_arrive_in_rotel_and_on_metrics(make_gateway, rotel):
    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint)
    dev, counter, histogram, gauge = demo_device()
    now = int(time.time()) * SECOND
    total = post_intervals(gateway, dev, counter, histogram, gauge, 3, now - 10 * SECOND, per_request=3)
    rotel.wait_for_total("http.server.request.count", total, timeout_s=15)
    rotel.wait_for_total("http.server.duration", 6, timeout_s=15)
    points = rotel.points("http.server.request.count")
    assert [p.value for p in points] == [1, 2, 3]
    p = points[0]
    assert p.resource["device.id"] == "sat-7" and p.resource["service.name"] == "model-server"
    assert p.attributes == {"http.route": "/api"} and p.unit == "{request}"
    assert p.temporality == "delta" and p.monotonic is True
    assert p.start_ns == (now - 10 * SECOND) * 1000 and p.time_ns == (now - 9 * SECOND) * 1000
    for prev, cur in zip(points, points[1:]):
        assert cur.start_ns == prev.time_ns
    h = rotel.points("http.server.duration")[0]
    assert (h.count, h.sum, h.min, h.max, h.bounds, h.bucket_counts) == (
        2,
        60,
        20,
        40,
        [10, 50, 100],
        [0, 1, 1, 0],
    )
    assert [g.value for g in rotel.points("device.temperature")] == [20, 21, 22]

    text = scrape(gateway)
    assert metric_value(text, "http_server_request_count_total", device_id="sat-7", http_route="/api") == 6
    assert (
        metric_value(text, "http_server_duration_bucket", device_id="sat-7", http_route="/api", le="50") == 3
    )
    assert metric_value(text, "http_server_duration_count", device_id="sat-7", http_route="/api") == 6
    assert metric_value(text, "device_temperature", device_id="sat-7") == 22
    assert metric_value(text, "litetel_gateway_frames_in_total", result="ok") == 3
    wait_for(lambda: metric_value(scrape(gateway), "litetel_gateway_points_out_total") == 9, 10)
    assert metric_value(scrape(gateway), "litetel_gateway_queue_frames") == 0


def test_collector_down_then_up_delivers_everything_once_in_order(make_gateway, rotel):
    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint)
    dev, counter, histogram, gauge = demo_device()
    rotel.stop()
    now = int(time.time()) * SECOND
    total = post_intervals(gateway, dev, counter, histogram, gauge, 12, now - 20 * SECOND)
    time.sleep(1.0)  # the drain loop fails and backs off meanwhile
    assert metric_value(scrape(gateway), "litetel_gateway_queue_frames") > 0
    rotel.start()
    rotel.wait_for_total("http.server.request.count", total, timeout_s=40)
    points = rotel.points("http.server.request.count")
    assert [p.value for p in points] == list(range(1, 13))  # once each, in order
    starts = [p.start_ns for p in points]
    assert starts == sorted(starts)
    assert metric_value(scrape(gateway), "litetel_gateway_export_requests_total", outcome="retry") >= 1


def test_sigterm_flushes_and_a_restart_resumes_the_queue(make_gateway, rotel):
    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint, extra_args=["--shutdown-timeout", "3"])
    dev, counter, histogram, gauge = demo_device()
    now = int(time.time()) * SECOND
    total = post_intervals(gateway, dev, counter, histogram, gauge, 4, now - 10 * SECOND, per_request=4)
    assert gateway.stop() == 0
    rotel.wait_for_total("http.server.request.count", total, timeout_s=10)  # the final export happened

    rotel.stop()  # now the Collector is away while frames are queued and the gateway stops
    gateway.start()
    more = post_intervals(gateway, dev, counter, histogram, gauge, 3, now - 5 * SECOND)
    started = time.monotonic()
    assert gateway.stop() == 0
    assert time.monotonic() - started < 10  # bounded by --shutdown-timeout, not by the outage
    rotel.start()
    gateway.start()  # the queue is still on disk
    rotel.wait_for_total("http.server.request.count", total + more, timeout_s=30)
    assert len(rotel.points("http.server.request.count")) == 7


def test_acknowledged_frames_survive_sigkill(make_gateway, rotel):
    rotel.stop()
    gateway = make_gateway(otlp_endpoint=rotel.http_endpoint)
    dev, counter, histogram, gauge = demo_device()
    total = post_intervals(
        gateway, dev, counter, histogram, gauge, 5, int(time.time()) * SECOND - 10 * SECOND
    )
    gateway.kill()
    rotel.start()
    gateway.start()
    rotel.wait_for_total("http.server.request.count", total, timeout_s=30)
    assert len(rotel.points("http.server.request.count")) == 5
    # the dedup marks survived too: the same frames again are duplicates
    dev.seq = 0
    frame = dev.frame([counter, 1], 1, 2)
    status, reply = dev.post(gateway.url, [frame])
    assert (status, reply["results"]) == (200, ["dup"])


def test_no_endpoint_keeps_the_queue_and_says_so(make_gateway):
    gateway = make_gateway()
    dev, counter, histogram, gauge = demo_device()
    post_intervals(gateway, dev, counter, histogram, gauge, 2, int(time.time()) * SECOND - 5 * SECOND)
    assert "no OTLP endpoint configured" in gateway.log()
    text = scrape(gateway)
    assert metric_value(text, "litetel_gateway_queue_frames") == 2
    assert metric_value(text, "litetel_gateway_queue_points") == 6
    assert gateway.get("/healthz")[0] == 200 and gateway.get("/readyz")[0] == 200


def raw_post(url, body, headers):
    request = urllib.request.Request(url + "/v1/frames", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_refusals_get_their_status_and_are_counted_by_reason(make_gateway):
    gateway = make_gateway(extra_args=["--max-request-bytes", "4096"])
    dev, counter, histogram, gauge = demo_device()
    frame = dev.frame([counter, 1], 10, 20)
    headers = dev.headers(frame)
    assert raw_post(gateway.url, frame, headers) == 200
    assert raw_post(gateway.url, frame, headers) == 403  # the same nonce again: replay

    stranger = SimDevice("sat-99")
    assert stranger.post(gateway.url, [frame])[0] == 401
    no_signature = dict(dev.headers(frame))
    del no_signature["X-Litetel-Signature"]
    assert raw_post(gateway.url, frame, no_signature) == 401
    assert dev.post(gateway.url, [frame], key=b"wrong key")[0] == 403
    missing = dict(dev.headers(frame))
    del missing["X-Litetel-Nonce"]
    assert raw_post(gateway.url, frame, missing) == 400
    assert dev.post(gateway.url, [frame[:-3]])[0] == 400  # not a whole frame
    big = dev.frame([counter, 1], 20, 30, delta=[0, ["x" * 4500], 0, [], 0, [], 0, [], None])
    assert dev.post(gateway.url, [big])[0] == 413

    text = scrape(gateway)
    for reason, count in [
        ("replay", 1),
        ("unknown_device", 1),
        ("missing_signature", 1),
        ("bad_signature", 1),
        ("missing_header", 1),
        ("envelope", 1),
        ("too_large", 1),
    ]:
        assert metric_value(text, "litetel_gateway_rejects_total", reason=reason) == count, reason
    assert metric_value(text, "litetel_gateway_requests_total", code="401") == 2
    # nothing of the refused requests was recorded: one frame accepted in total
    assert metric_value(text, "litetel_gateway_frames_in_total", result="ok") == 1


def test_sighup_reloads_keys(make_gateway):
    gateway = make_gateway()
    newcomer = SimDevice("sat-8", key=bytes(32))
    sid = newcomer.series(newcomer.instrument("c", COUNTER))
    frame = newcomer.frame([sid, 1], 10, 20)
    assert newcomer.post(gateway.url, [frame])[0] == 401
    gateway.set_keys({"sat-7": TEST_DEVICE_KEY, "sat-8": bytes(32).hex()})
    wait_for(lambda: "reloaded 2 device keys" in gateway.log(), 10)
    assert newcomer.post(gateway.url, [frame])[0] == 200


def test_insecure_key_file_refuses_to_start(make_gateway):
    gateway = make_gateway(start=False)
    gateway.keys_path.chmod(0o644)
    with pytest.raises(RuntimeError, match="chmod 600"):
        gateway.start(timeout_s=15)
    assert TEST_DEVICE_KEY not in gateway.log()  # keys are never logged


def test_cumulative_temporality_and_otel_environment(make_gateway, rotel):
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": rotel.http_endpoint,
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=lab,service.name=ignored",
        "OTEL_SERVICE_NAME": "fleet",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
    }
    gateway = make_gateway(env=env, extra_args=["--temporality", "cumulative"])
    dev = SimDevice()  # sets no service.name of its own
    counter = dev.series(dev.instrument("jobs.done", COUNTER), {"queue": "q1"})
    now = int(time.time()) * SECOND
    for i in range(3):
        status, _ = dev.post(gateway.url, [dev.frame([counter, 5], now + i * SECOND, now + (i + 1) * SECOND)])
        assert status == 200
    rotel.wait_for_points(lambda pts: len([p for p in pts if p.metric == "jobs.done"]) == 3, 15)
    points = rotel.points("jobs.done")
    assert [p.value for p in points] == [5, 10, 15]
    assert {p.temporality for p in points} == {"cumulative"}
    assert {p.start_ns for p in points} == {now * 1000}
    assert rotel.total("jobs.done") == 15  # the latest cumulative point
    assert points[0].resource == {
        "deployment.environment": "lab",
        "service.name": "fleet",
        "device.id": "sat-7",
    }


def test_permanent_export_errors_move_batches_to_dead_letter(make_gateway, rotel):
    env = {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": rotel.http_endpoint + "/no/such/path"}
    gateway = make_gateway(env=env)
    dev, counter, histogram, gauge = demo_device()
    post_intervals(gateway, dev, counter, histogram, gauge, 2, int(time.time()) * SECOND - 5 * SECOND)
    wait_for(lambda: metric_value(scrape(gateway), "litetel_gateway_dead_letter_points_total") == 6, 15)
    text = scrape(gateway)
    assert metric_value(text, "litetel_gateway_queue_frames") == 0
    assert metric_value(text, "litetel_gateway_export_requests_total", outcome="permanent_error") >= 1
    assert "moved to dead_letter" in gateway.log()
    gateway.stop()
    db = sqlite3.connect(gateway.data_dir / "gateway.sqlite3")
    assert db.execute("SELECT COUNT(*), SUM(n_points) FROM dead_letter").fetchone() == (2, 6)
    assert "404" in db.execute("SELECT reason FROM dead_letter").fetchone()[0]
    db.close()
