"""The exporter interface shared by OTLP/HTTP and OTLP/gRPC, and the drain loop that retries.

An exporter makes ONE attempt per call and says what happened in an :class:`ExportResult`; the
:class:`DrainLoop` owns ordering, retries, backoff and dead letters, so every protocol behaves the same::

    class MyExporter(Exporter):
        async def export_metrics(self, request):
            ...
            return ExportResult.success()

    result = await exporter.export_metrics(request)
    if not result.ok and result.retryable:
        await asyncio.sleep(result.retry_after_s or 1.0)
"""

import asyncio
import datetime
import email.utils
import logging
import math
import random
import time
from dataclasses import dataclass

log = logging.getLogger("litetel_gateway.exporter")

MAX_RETRY_AFTER_S = 3600.0  # the longest wait a receiver's Retry-After (or RetryInfo) can impose


@dataclass
class ExportResult:
    """What one export attempt achieved.

    ``ok``: the receiver accepted the request (possibly partially: ``rejected_points`` > 0).
    ``retryable``: when not ok, sending the same request again later may succeed.
    ``retry_after_s``: the receiver's requested wait (Retry-After / RetryInfo), else None.
    """

    ok: bool
    retryable: bool = False
    retry_after_s: "float | None" = None
    message: str = ""
    rejected_points: int = 0

    @classmethod
    def success(cls, rejected_points=0, message=""):
        return cls(True, False, None, message, rejected_points)

    @classmethod
    def retry(cls, message, retry_after_s=None):
        return cls(False, True, retry_after_s, message, 0)

    @classmethod
    def permanent(cls, message):
        return cls(False, False, None, message, 0)


class Exporter:
    """Base class: one attempt per call, never raises for transport problems (returns a result)."""

    async def export_metrics(self, request) -> ExportResult:
        raise NotImplementedError

    async def export_traces(self, request) -> ExportResult:
        return ExportResult.permanent("traces are not supported by this exporter")

    async def export_logs(self, request) -> ExportResult:
        return ExportResult.permanent("logs are not supported by this exporter")

    async def close(self):
        pass


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header value (delta seconds or HTTP date), or None; at most
    ``MAX_RETRY_AFTER_S``, so a receiver's wild value never parks a drain loop for good.

    >>> parse_retry_after("7")
    7.0
    >>> parse_retry_after("inf") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return min(max(0.0, seconds), MAX_RETRY_AFTER_S) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # asctime (and "-0000") dates carry no zone: HTTP dates are GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = time.time() if now is None else now
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER_S)


def backoff_delay(attempt, base_s=0.5, cap_s=30.0, retry_after_s=None, rng=random.random):
    """Exponential backoff with full jitter, capped, never shorter than the receiver's Retry-After.

    ``attempt`` counts failures of the same batch from 1.
    """
    ceiling = min(cap_s, base_s * (2 ** min(attempt - 1, 30)))
    delay = ceiling * (0.5 + 0.5 * rng())  # jitter, but at least half the ceiling so backoff still grows
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay


class DrainLoop:
    """Exports the durable queue in order: oldest batch first, the same batch again until it is settled.

    ``source`` provides (all async): ``read_batch(max_points) -> batch or None`` where a batch has
    ``request``, ``row_ids`` and ``n_points``; ``ack(batch)``; ``dead_letter(batch, reason)``; and
    ``wait_for_data(timeout_s)``. ``metrics`` is the gateway's
    :class:`~litetel_gateway.self_metrics.GatewayMetrics`.
    Memory stays flat while the receiver is down: only one batch is held. One loop per ``signal``, each on
    its own queue, so traces failing never hold back metrics.
    """

    def __init__(self, source, exporter, metrics, batch_points=5000, base_backoff_s=0.5, max_backoff_s=30.0,
                 signal="metrics"):
        self.source = source
        self.exporter = exporter
        self.signal = signal  # "metrics", "traces" or "logs": which export_* method the batches go to
        self._export = getattr(exporter, "export_" + signal)
        self.metrics = metrics
        self.batch_points = batch_points
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self._stop = asyncio.Event()
        self._task = None
        self.failures = 0  # consecutive failures of the current batch

    def start(self):
        self._task = asyncio.get_running_loop().create_task(self.run())
        return self._task

    async def stop(self, grace_s=10.0):
        """Stop once the batch in flight has settled. Cancelling an export the receiver may already have
        taken would leave its rows queued, and the final flush would send them again: a duplicate at the
        receiver. Only an export still running after ``grace_s`` is cancelled."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_s)
            except asyncio.TimeoutError:
                self._task.cancel()
                try:
                    await self._task
                except asyncio.CancelledError:
                    pass
            self._task = None

    async def run(self):
        while not self._stop.is_set():
            try:
                settled = await self.export_one()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not kill the loop: log, back off, go on
                log.exception("drain loop error")
                settled = False
                self.failures += 1
                await self._sleep(backoff_delay(self.failures, self.base_backoff_s, self.max_backoff_s))
            if settled is None:
                await self.source.wait_for_data(1.0)

    async def export_one(self, sleep=True):
        """Export the oldest batch once. None: queue empty; True: settled (acked or dead-lettered);
        False: to be retried (after the backoff, which this call has already slept when ``sleep``)."""
        batch = await self.source.read_batch(self.batch_points)
        if batch is None:
            return None
        if batch.request is None:  # unbuildable rows: retrying cannot help, and they would block the queue
            await self.source.dead_letter(batch, "unbuildable: %s" % batch.error)
            self.metrics.export_requests.labels("permanent_error").inc()
            self.metrics.dead_letter_points.inc(batch.n_points)
            return True
        started = time.perf_counter()
        result = await self._export(batch.request)
        self.metrics.export_latency.observe(time.perf_counter() - started)
        if result.ok:
            await self.source.ack(batch)
            self.failures = 0
            self.metrics.points_out.inc(batch.n_points - result.rejected_points)
            self.metrics.export_requests.labels("ok").inc()
            if result.rejected_points:
                self.metrics.points_rejected_by_receiver.inc(result.rejected_points)
                log.warning("receiver rejected %d points: %s", result.rejected_points, result.message)
            return True
        if not result.retryable:
            await self.source.dead_letter(batch, result.message)
            self.failures = 0
            self.metrics.export_requests.labels("permanent_error").inc()
            self.metrics.dead_letter_points.inc(batch.n_points)
            log.error(
                "export refused permanently, %d points moved to dead_letter: %s",
                batch.n_points,
                result.message,
            )
            return True
        self.failures += 1
        self.metrics.export_requests.labels("retry").inc()
        delay = backoff_delay(self.failures, self.base_backoff_s, self.max_backoff_s, result.retry_after_s)
        log.warning("export failed (attempt %d, retry in %.1fs): %s", self.failures, delay, result.message)
        if sleep:
            await self._sleep(delay)
        return False

    async def flush(self, deadline_s):
        """Export until the queue is empty, an attempt fails, or ``deadline_s`` (time.monotonic) passes;
        used at shutdown, after :meth:`stop`. Returns True when the queue was emptied."""
        while True:
            remaining = deadline_s - time.monotonic()
            if remaining <= 0:
                return False
            try:
                settled = await asyncio.wait_for(self.export_one(sleep=False), remaining)
            except asyncio.TimeoutError:
                return False
            if settled is None:
                return True
            if settled is False:
                return False  # the receiver is failing: do not hold shutdown for it, the queue is on disk

    async def _sleep(self, seconds):
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass
