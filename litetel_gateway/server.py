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
import signal
import time

from aiohttp import web

from litetel_gateway import prometheus
from litetel_gateway.decoder import Limits
from litetel_gateway.expand import ResourceSettings, build_request
from litetel_gateway.expand_signals import build_logs_request, build_traces_request
from litetel_gateway.exporter import DrainLoop
from litetel_gateway.keys import KeyStore
from litetel_gateway.receiver import FramesHandler, Ingest
from litetel_gateway.self_metrics import GatewayMetrics
from litetel_gateway.store import Store

log = logging.getLogger("litetel_gateway")

DATABASE_NAME = "gateway.sqlite3"


class Batch:
    __slots__ = ("request", "row_ids", "n_points")

    def __init__(self, request, row_ids, n_points):
        self.request, self.row_ids, self.n_points = request, row_ids, n_points


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
        request, n_points = self._build_request(rows, self.store.reader_dictionary, self.settings)
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
        self.metrics.queue_rows.inc(-len(batch.row_ids))
        self.metrics.queue_points.inc(-batch.n_points)

    async def wait_for_data(self, timeout_s):
        try:
            await asyncio.wait_for(self.data_event.wait(), timeout_s)
        except asyncio.TimeoutError:
            pass
        self.data_event.clear()


def make_exporter(config):
    """The exporter the configuration asks for, or None when no endpoint is configured."""
    if not config.otlp_endpoint:
        return None
    if config.otlp_protocol == "grpc":
        from litetel_gateway.exporter_grpc import OtlpGrpcExporter  # grpcio only when asked for

        return OtlpGrpcExporter(
            config.otlp_endpoint,
            headers=config.otlp_headers,
            compression=config.otlp_compression,
            timeout_s=config.otlp_timeout_s,
        )
    from litetel_gateway.exporter_http import OtlpHttpExporter

    return OtlpHttpExporter(
        config.otlp_endpoint,
        headers=config.otlp_headers,
        compression=config.otlp_compression,
        timeout_s=config.otlp_timeout_s,
    )


class Gateway:
    """One running gateway: store, keys, receiver, /metrics view, exporter and drain loop."""

    def __init__(self, config):
        self.config = config
        self.metrics = GatewayMetrics()
        self.keys = KeyStore(config.keys_path, config.allow_insecure_keys)
        self.store = None
        self.view = prometheus.PromView()
        self.exporter = None
        self.drain = None
        self.signal_drains = []  # the traces and logs drain loops
        self.signal_sources = []
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
        self.source = QueueSource(self.store, settings, self.metrics)
        # Traces and logs drain their own queues; their counts stay off /metrics (GatewayMetrics counts
        # data points) in a private GatewayMetrics each.
        self.signal_sources = [
            QueueSource(self.store, settings, GatewayMetrics(), signal) for signal in ("traces", "logs")
        ]
        self.exporter = make_exporter(c)
        if self.exporter is None:
            log.warning(
                "no OTLP endpoint configured (--otlp-endpoint / OTEL_EXPORTER_OTLP_ENDPOINT): frames are "
                "queued in %s and served on /metrics, nothing is exported",
                c.data_dir,
            )
        else:
            self.drain = DrainLoop(self.source, self.exporter, self.metrics, c.batch_points)
            self.drain.start()
            for source in self.signal_sources:
                drain = DrainLoop(source, self.exporter, source.metrics, c.batch_points, signal=source.signal)
                self.signal_drains.append(drain)
                drain.start()
            log.info(
                "exporting to %s (%s, %s, %s temporality)",
                c.otlp_endpoint,
                c.otlp_protocol,
                c.otlp_compression,
                c.temporality,
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
        self.runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=c.shutdown_timeout_s
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
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.keys.reload)

    # -- handlers ----------------------------------------------------------------------------------
    async def _frames(self, request):
        response = await self.handler.handle(request)
        if response.status == 200:
            self.source.data_event.set()
            for source in self.signal_sources:
                source.data_event.set()
        return response

    async def _metrics(self, request):
        out = []
        self.metrics.devices.set(len(self.view))
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
        for drain in self.signal_drains:
            await drain.stop()
        if self.drain is not None:
            await self.drain.stop()
            emptied = await self.drain.flush(deadline)
            frames = self.metrics.queue_rows.value()
            log.info(
                "final export %s; %d frames stay queued for the next start",
                "emptied the queue" if emptied else "stopped",
                frames,
            )
        for drain in self.signal_drains:
            await drain.flush(deadline)
        if self.exporter is not None:
            await self.exporter.close()
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
