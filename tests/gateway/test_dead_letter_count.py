"""Rows dead-lettered because they cannot be built into OTLP must be counted in
dead_letter_points_total / signal_dead_letter_items_total (docs: "the batch moves to the dead_letter table
(counted)"); they were moved silently (the batch carried n_points=0), and the
metrics queue_points gauge was never decreased for them."""

import asyncio

from litetel_gateway.exporter import DrainLoop, ExportResult
from litetel_gateway.self_metrics import GatewayMetrics
from litetel_gateway.server import QueueSource


def test_unbuildable_rows_are_counted_as_dead_letters():
    class Row:
        def __init__(self, i, n):
            self.id, self.n_points = i, n

    class Store:
        reader_dictionary = None

        def __init__(self):
            self.rows = [Row(7, 40), Row(8, 2)]
            self.dead = []

        def read_queue(self, max_points, signal):
            return list(self.rows)

        async def read(self, fn, *args):
            return fn(*args)

        async def write(self, fn, *args):
            return fn(*args)

        def dead_letter(self, ids, reason, now_us, signal):
            self.dead += ids
            self.rows = [r for r in self.rows if r.id not in ids]

    class Exporter:
        async def export_metrics(self, request):
            return ExportResult.success()

    metrics = GatewayMetrics()
    metrics.queue_points.set(42)  # what ingest counted for these rows
    store = Store()
    source = QueueSource(store, None, metrics)
    source._build_request = lambda rows, dictionary, settings: 1 / 0
    loop = DrainLoop(source, Exporter(), metrics.for_signal("metrics"), 5000)
    assert asyncio.run(loop.export_one(sleep=False)) is True
    assert store.dead == [7, 8]
    assert metrics.dead_letter_points.value() == 42
    assert metrics.signal_dead_letter_items.value("metrics") == 42
    assert metrics.queue_points.value() == 0  # stayed at 42: the queue gauge drifted up for good
