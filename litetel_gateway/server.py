"""Wiring and lifecycle: the aiohttp app, the drain loop, /healthz, /readyz, /metrics, SIGTERM and SIGHUP.

    gateway = Gateway(config)
    await gateway.start()        # opens the store, binds the port, starts exporting
    await gateway.wait_stopped() # until SIGTERM (or gateway.request_stop())

SIGTERM: new uploads get 503 + Retry-After, in-flight uploads finish, one final export is tried within
``--shutdown-timeout``, SQLite is closed, the process exits 0. The queue stays on disk for the next start.
"""

import asyncio
import logging
import os
import ssl
import time
from signal import SIGHUP, SIGINT, SIGTERM

from aiohttp import web

from litetel_gateway import prometheus
from litetel_gateway.decoder import Limits
from litetel_gateway.expand import ResourceSettings, build_request
from litetel_gateway.expand_signals import build_logs_request, build_traces_request
from litetel_gateway.exporter import DrainLoop
from litetel_gateway.keys import KeyStore
from litetel_gateway.receiver import FramesHandler, Ingest
from litetel_gateway.self_metrics import SIGNALS, GatewayMetrics
from litetel_gateway.store import Store

log = logging.getLogger("litetel_gateway")
HEAD_TIMEOUT_S = 15.0  # seconds a connection may stay idle or take to send a request head

DATABASE_NAME = "gateway.sqlite3"


class Batch:
    """Queued rows and the export request built from them; ``request`` is None and ``error`` says why when
    the rows cannot be turned into OTLP (the drain loop dead-letters them instead of retrying forever)."""

    __slots__ = ("request", "row_ids", "n_points", "error")

    def __init__(self, request, row_ids, n_points, error=None):
        self.request, self.row_ids, self.n_points, self.error = request, row_ids, n_points, error


_BUILDERS = {"metrics": build_request, "traces": build_traces_request, "logs": build_logs_request}


class QueueSource:
    """The drain loop's view of the store: oldest rows of one signal's queue → one OTLP request; ack /
    dead-letter by row id."""

    def __init__(self, store, settings, metrics, signal="metrics"):
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.signal = signal
        self._build_request = _BUILDERS[signal]
        self.data_event = asyncio.Event()

    def _build(self, max_points):
        rows = self.store.read_queue(max_points, self.signal)
        if not rows:
            return None
        try:
            request, n_points = self._build_request(rows, self.store.reader_dictionary, self.settings)
        except Exception as exc:  # a row that validated at ingest but cannot be encoded: a bug, not weather
            log.exception("cannot build an export request from queued rows %d..%d", rows[0].id, rows[-1].id)
            n_points = sum(r.n_points for r in rows)  # counted as dead letters, taken off the queue gauges
            return Batch(None, [r.id for r in rows], n_points, "%s: %s" % (type(exc).__name__, exc))
        return Batch(request, [r.id for r in rows], n_points)

    async def read_batch(self, max_points):
        return await self.store.read(self._build, max_points)

    async def ack(self, batch):
        await self.store.write(self.store.ack, batch.row_ids, self.signal)
        self._dequeued(batch)

    async def dead_letter(self, batch, reason):
        now_us = time.time_ns() // 1000
        await self.store.write(self.store.dead_letter, batch.row_ids, reason, now_us, self.signal)
        self._dequeued(batch)

    def _dequeued(self, batch):
        # The metrics queue gauges are kept incrementally (the receiver adds); the traces and logs queues
        # are counted when /metrics is scraped.
        if self.signal == "metrics":
            self.metrics.queue_rows.inc(-len(batch.row_ids))
            self.metrics.queue_points.inc(-batch.n_points)

    async def wait_for_data(self, timeout_s):
        try:
            await asyncio.wait_for(self.data_event.wait(), timeout_s)
        except asyncio.TimeoutError:
            pass
        self.data_event.clear()


def _exporter_for(settings, endpoints):
    """One exporter for the signals in ``endpoints`` ({signal: URL}), which share ``settings``' connection."""
    if settings.protocol == "grpc":
        from litetel_gateway.exporter_grpc import OtlpGrpcExporter  # grpcio only when asked for

        return OtlpGrpcExporter(
            settings.endpoint,
            headers=settings.headers,
            compression=settings.compression,
            timeout_s=settings.timeout_s,
            insecure=settings.insecure,
            root_certificates=_read(settings.certificate) if settings.certificate else None,
        )
    from litetel_gateway.exporter_http import OtlpHttpExporter

    ssl_context = ssl.create_default_context(cafile=settings.certificate) if settings.certificate else None
    return OtlpHttpExporter(
        endpoints.get("metrics") or next(iter(endpoints.values())),
        headers=settings.headers,
        compression=settings.compression,
        timeout_s=settings.timeout_s,
        traces_endpoint=endpoints.get("traces"),
        logs_endpoint=endpoints.get("logs"),
        ssl_context=ssl_context,
    )


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def make_exporters(config):
    """{signal: exporter} for every signal with an endpoint; signals whose settings differ only in their
    HTTP URL share one exporter (one connection pool)."""
    groups = {}  # connection settings -> (settings, {signal: endpoint})
    for signal, settings in config.exports.items():
        if settings.endpoint:
            groups.setdefault(settings.connection(), (settings, {}))[1][signal] = settings.endpoint
    exporters = {}
    for settings, endpoints in groups.values():
        exporter = _exporter_for(settings, endpoints)
        exporters.update(dict.fromkeys(endpoints, exporter))
    return exporters


def make_exporter(config):
    """The metrics exporter the configuration asks for, or None when metrics have no endpoint."""
    return make_exporters(config).get("metrics")


class Gateway:
    """One running gateway: store, keys, receiver, /metrics view, exporter and drain loop."""

    def __init__(self, config):
        self.config = config
        self.metrics = GatewayMetrics()
        self.keys = KeyStore(config.keys_path, config.allow_insecure_keys)
        self.store = None
        self.view = prometheus.PromView(config.max_series_per_device)
        self.exporters = {}  # signal -> exporter (signals may share one)
        self.sources = {}  # signal -> QueueSource
        self.drains = {}  # signal -> DrainLoop, for the signals that have an exporter
        self.handler = None
        self.runner = None
        self.port = None
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()

    # -- startup -----------------------------------------------------------------------------------
    async def start(self):
        c = self.config
        os.makedirs(c.data_dir, exist_ok=True)
        self.store = Store(os.path.join(c.data_dir, DATABASE_NAME), c.synchronous)
        self.view.load(await self.store.write(self.store.load_prom_series))
        frames, points = await self.store.write(self.store.queue_stats)
        self.metrics.queue_rows.set(frames)
        self.metrics.queue_points.set(points)
        limits = Limits(
            max_frame_bytes=c.max_frame_bytes,
            max_series=c.max_series_per_device,
            max_strings=c.max_strings_per_device,
        )
        ingest = Ingest(self.store, self.view, limits, c.temporality, c.max_clock_skew_s)
        self.handler = FramesHandler(self.keys, self.store, ingest, self.metrics, c.max_request_bytes)
        settings = ResourceSettings(c.resource_attributes, c.service_name, c.temporality)
        self.sources = {signal: QueueSource(self.store, settings, self.metrics, signal) for signal in SIGNALS}
        self.exporters = make_exporters(c)
        for signal, exporter in self.exporters.items():
            drain = DrainLoop(
                self.sources[signal], exporter, self.metrics.for_signal(signal), c.batch_points, signal=signal
            )
            self.drains[signal] = drain
            drain.start()
            export = c.exports[signal]
            log.info(
                "exporting %s to %s (%s, %s%s)",
                signal,
                export.endpoint,
                export.protocol,
                export.compression,
                ", %s temporality" % c.temporality if signal == "metrics" else "",
            )
        idle = [signal for signal in SIGNALS if signal not in self.exporters]
        if idle:
            log.warning(
                "no OTLP endpoint configured for %s (--otlp-endpoint / OTEL_EXPORTER_OTLP_ENDPOINT): their "
                "frames are queued in %s, nothing of them is exported",
                ", ".join(idle),
                c.data_dir,
            )
        app = web.Application(client_max_size=c.max_request_bytes + 1)
        app.router.add_post("/v1/frames", self._frames)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        from google.protobuf.internal import api_implementation

        if api_implementation.Type() != "upb":  # the python backend is several times slower
            log.warning(
                "protobuf uses the %r backend, not upb: OTLP encoding will be slow", api_implementation.Type()
            )
        # keepalive_timeout also bounds how long a new connection may take to deliver a request head
        # (aiohttp closes it if still idle then): the defence against slow-loris heads.
        self.runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=c.shutdown_timeout_s,
            keepalive_timeout=HEAD_TIMEOUT_S,
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, c.host, c.port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        log.info(
            "litetel gateway listening on http://%s:%d (%d device keys, data in %s, queue %d frames)",
            c.host,
            self.port,
            len(self.keys),
            c.data_dir,
            frames,
        )

    def install_signal_handlers(self):
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(SIGTERM, self.request_stop)
        loop.add_signal_handler(SIGINT, self.request_stop)
        loop.add_signal_handler(SIGHUP, self.keys.reload)

    # -- handlers ----------------------------------------------------------------------------------
    async def _frames(self, request):
        response = await self.handler.handle(request)
        if response.status == 200:
            for source in self.sources.values():
                source.data_event.set()
        return response

    async def _count_queues(self):
        """Set the per-signal queue gauges: the metrics queue from its running count, the traces and logs
        queues from the store (one COUNT each, a row per frame)."""
        m = self.metrics
        m.signal_queue_frames.labels("metrics").set(m.queue_rows.value())
        m.signal_queue_items.labels("metrics").set(m.queue_points.value())
        for signal in ("traces", "logs"):
            if self.store.closed:
                return
            frames, items = await self.store.write(self.store.queue_stats, signal)
            m.signal_queue_frames.labels(signal).set(frames)
            m.signal_queue_items.labels(signal).set(items)

    async def _metrics(self, request):
        out = []
        self.metrics.devices.set(len(self.view))
        await self._count_queues()
        self.view.render(out)
        self.metrics.render(out)
        return web.Response(body="".join(out).encode(), headers={"Content-Type": prometheus.CONTENT_TYPE})

    async def _healthz(self, request):
        return web.json_response({"status": "alive"})

    async def _readyz(self, request):
        if self.store is None or self.store.closed or self.handler.draining:
            return web.json_response({"status": "not ready"}, status=503)
        return web.json_response({"status": "ready"})

    # -- shutdown ----------------------------------------------------------------------------------
    def request_stop(self):
        log.info("stopping: refusing new uploads, finishing in-flight requests")
        if self.handler is not None:
            self.handler.draining = True
        self._stopping.set()

    async def wait_stopped(self):
        await self._stopping.wait()
        await self.stop()

    async def stop(self):
        if self._stopped.is_set():
            return
        deadline = time.monotonic() + self.config.shutdown_timeout_s
        if self.handler is not None:
            self.handler.draining = True
            while self.handler.in_flight and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        for drain in self.drains.values():
            await drain.stop()
        for signal, drain in self.drains.items():
            emptied = await drain.flush(deadline)
            log.info("final export of %s %s", signal, "emptied its queue" if emptied else "stopped")
        log.info("%d metrics frames stay queued for the next start", self.metrics.queue_rows.value())
        for exporter in {id(e): e for e in self.exporters.values()}.values():
            await exporter.close()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.store is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.store.close)
        self._stopped.set()


async def serve(config):
    """Run a gateway until SIGTERM/SIGINT; returns the process exit code."""
    gateway = Gateway(config)
    await gateway.start()
    gateway.install_signal_handlers()
    await gateway.wait_stopped()
    log.info("stopped")
    return 0
