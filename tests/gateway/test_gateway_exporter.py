"""OtlpHttpExporter against a local aiohttp receiver (status mapping, gzip, partial_success, Retry-After)
and the DrainLoop's ordering, retry and dead-letter rules."""

import asyncio
import email.utils
import time

from aiohttp import web
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from litetel_gateway.exporter import (
    MAX_RETRY_AFTER_S,
    DrainLoop,
    ExportResult,
    backoff_delay,
    parse_retry_after,
)
from litetel_gateway.exporter_http import OtlpHttpExporter
from litetel_gateway.self_metrics import GatewayMetrics


def sample_request(name="m"):
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name=name)
    metric.gauge.data_points.add(as_int=1)
    return request


async def with_receiver(replies, body):
    """Start a receiver answering ``replies`` in turn; run ``body(url, seen)``; return its result."""
    seen = []

    async def handle(request):
        raw = await request.read()  # aiohttp has already undone Content-Encoding: gzip
        seen.append((dict(request.headers), metrics_service_pb2.ExportMetricsServiceRequest.FromString(raw)))
        status, headers, payload = replies[min(len(seen), len(replies)) - 1]
        return web.Response(status=status, headers=headers, body=payload)

    app = web.Application()
    app.router.add_post("/v1/metrics", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        return await body("http://127.0.0.1:%d/v1/metrics" % port, seen)
    finally:
        await runner.cleanup()


def test_http_exporter_maps_statuses():
    partial = metrics_service_pb2.ExportMetricsServiceResponse()
    partial.partial_success.rejected_data_points = 3
    partial.partial_success.error_message = "bad points"
    replies = [
        (200, {}, partial.SerializeToString()),
        (429, {"Retry-After": "7"}, b""),
        (503, {}, b"down"),
        (400, {}, b"bad request"),
        (500, {}, b"boom"),
        (204, {}, b""),  # some receivers answer an accepted export so
        (302, {"Location": "/v1/metrics"}, b""),  # followed, aiohttp would GET it: a 405 here, a "200" elsewhere
    ]

    async def body(url, seen):
        exporter = OtlpHttpExporter(url, headers={"x-tenant": "t1"})
        results = [await exporter.export_metrics(sample_request()) for _ in replies]
        await exporter.close()
        return results, seen

    results, seen = asyncio.run(with_receiver(replies, body))
    ok, throttled, unavailable, bad, boom, no_content, moved = results
    assert no_content.ok and no_content.rejected_points == 0
    assert not moved.ok and moved.retryable and "redirect to /v1/metrics" in moved.message
    assert len(seen) == len(replies)  # one POST each: the redirect was not followed
    assert ok.ok and ok.rejected_points == 3 and ok.message == "bad points"
    assert not throttled.ok and throttled.retryable and throttled.retry_after_s == 7.0
    assert unavailable.retryable and unavailable.retry_after_s is None
    assert not bad.ok and not bad.retryable and "400" in bad.message
    assert not boom.retryable
    headers, request = seen[0]
    assert headers["Content-Type"] == "application/x-protobuf" and headers["x-tenant"] == "t1"
    assert headers["Content-Encoding"] == "gzip"
    assert request == sample_request()


def test_http_exporter_without_compression_and_with_refused_connection():
    async def body(url, seen):
        exporter = OtlpHttpExporter(url, compression="none")
        result = await exporter.export_metrics(sample_request())
        await exporter.close()
        return result, seen

    result, seen = asyncio.run(with_receiver([(200, {}, b"")], body))
    assert result.ok and "Content-Encoding" not in seen[0][0]

    async def refused():
        from support.ports import free_port

        exporter = OtlpHttpExporter("http://127.0.0.1:%d/v1/metrics" % free_port(), timeout_s=2)
        result = await exporter.export_metrics(sample_request())
        await exporter.close()
        return result

    result = asyncio.run(refused())
    assert not result.ok and result.retryable


def test_retry_after_forms():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= parse_retry_after(date, now=now) <= 31
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    # a receiver's wild value: unreadable when not finite, else at most an hour (a drain loop never parks)
    assert parse_retry_after("inf") is None and parse_retry_after("nan") is None
    assert parse_retry_after("1e12") == MAX_RETRY_AFTER_S == 3600
    assert parse_retry_after(email.utils.formatdate(now + 10**8, usegmt=True), now=now) == MAX_RETRY_AFTER_S


def test_backoff_grows_is_capped_and_honours_retry_after():
    assert backoff_delay(1, 0.5, 30, rng=lambda: 1.0) == 0.5
    assert backoff_delay(4, 0.5, 30, rng=lambda: 1.0) == 4.0
    assert backoff_delay(50, 0.5, 30, rng=lambda: 1.0) == 30.0
    assert 0.25 <= backoff_delay(1, 0.5, 30, rng=lambda: 0.0) < 0.5
    assert backoff_delay(1, 0.5, 30, retry_after_s=12, rng=lambda: 1.0) == 12


class FakeSource:
    """An in-memory queue with the drain loop's source interface."""

    class Batch:
        def __init__(self, rows):
            self.rows = rows
            self.row_ids = [r for r in rows]
            self.n_points = len(rows)
            self.request = sample_request(",".join(str(r) for r in rows))

    def __init__(self, rows):
        self.rows = list(rows)
        self.acked, self.dead = [], []

    async def read_batch(self, max_points):
        return self.Batch(self.rows[:max_points]) if self.rows else None

    async def ack(self, batch):
        self.acked += batch.rows
        del self.rows[: len(batch.rows)]

    async def dead_letter(self, batch, reason):
        self.dead += batch.rows
        del self.rows[: len(batch.rows)]

    async def wait_for_data(self, timeout_s):
        await asyncio.sleep(0.01)


class ScriptedExporter:
    def __init__(self, results):
        self.results = list(results)
        self.sent = []

    async def export_metrics(self, request):
        self.sent.append(request.resource_metrics[0].scope_metrics[0].metrics[0].name)
        return self.results.pop(0) if self.results else ExportResult.success()


def test_drain_loop_retries_the_same_batch_in_order_then_dead_letters_permanent_failures():
    source = FakeSource(range(7))
    exporter = ScriptedExporter(
        [
            ExportResult.retry("down"),
            ExportResult.retry("down", retry_after_s=0.05),  # batch 0-2 twice
            ExportResult.success(),  # batch 0-2
            ExportResult.permanent("schema"),  # batch 3-5 → dead
        ]
    )
    metrics = GatewayMetrics()
    loop = DrainLoop(source, exporter, metrics, batch_points=3, base_backoff_s=0.01, max_backoff_s=0.02)

    async def run():
        while True:
            settled = await loop.export_one()
            if settled is None:
                return

    started = time.monotonic()
    asyncio.run(run())
    assert time.monotonic() - started >= 0.05  # Retry-After was honoured
    assert exporter.sent == ["0,1,2", "0,1,2", "0,1,2", "3,4,5", "6"]
    assert source.acked == [0, 1, 2, 6] and source.dead == [3, 4, 5]
    assert metrics.points_out.value() == 4 and metrics.dead_letter_points.value() == 3
    assert metrics.export_requests.value("retry") == 2


def test_flush_stops_at_the_first_failure_and_keeps_the_queue():
    source = FakeSource(range(4))
    exporter = ScriptedExporter([ExportResult.success(), ExportResult.retry("down")])
    loop = DrainLoop(source, exporter, GatewayMetrics(), batch_points=2)
    emptied = asyncio.run(loop.flush(time.monotonic() + 5))
    assert not emptied and source.acked == [0, 1] and source.rows == [2, 3]
    emptied = asyncio.run(
        DrainLoop(source, ScriptedExporter([]), GatewayMetrics(), 2).flush(time.monotonic() + 5)
    )
    assert emptied and source.rows == []


def test_rows_that_cannot_be_built_are_dead_lettered_not_retried_forever():
    """Found by the hostile-input campaign: a batch the source could not encode was retried forever,
    stalling every device's export behind it. Now the source hands it over unbuilt and it is dead-lettered."""
    from litetel_gateway.server import QueueSource

    class BrokenRows(FakeSource):
        async def read_batch(self, max_points):
            batch = await super().read_batch(max_points)
            if batch is not None and 0 in batch.rows:
                batch.request, batch.error = None, "struct.error: argument out of range"
            return batch

    source = BrokenRows(range(4))
    exporter = ScriptedExporter([ExportResult.success()])
    loop = DrainLoop(source, exporter, GatewayMetrics(), batch_points=2)

    async def run():
        return [await loop.export_one(sleep=False) for _ in range(3)]

    assert asyncio.run(run()) == [True, True, None]
    assert source.dead == [0, 1] and source.acked == [2, 3] and len(exporter.sent) == 1

    class Store:  # the real QueueSource turns a build failure into such a batch
        reader_dictionary = None

        def read_queue(self, max_points, signal):
            return [type("Row", (), {"id": 7, "n_points": 3})()]

    src = QueueSource(Store(), None, GatewayMetrics())
    src._build_request = lambda rows, dictionary, settings: 1 / 0
    batch = src._build(10)
    assert batch.request is None and batch.row_ids == [7] and "ZeroDivisionError" in batch.error
