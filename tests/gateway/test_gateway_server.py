"""server.py in-process: shutdown refuses new uploads with 503 + Retry-After, finishes in-flight ones,
/readyz follows the state, and the OTEL_* exporter choice."""

import asyncio
import os
import time

import aiohttp
from devicesim import COUNTER, TEST_KEY, SimDevice

from litetel_gateway.config import load_config
from litetel_gateway.exporter_http import OtlpHttpExporter
from litetel_gateway.server import Gateway, make_exporter


def config_for(tmp_path, *extra):
    keys = tmp_path / "keys.toml"
    keys.write_text('[devices]\n"sat-7" = "%s"\n' % TEST_KEY.hex())
    os.chmod(keys, 0o600)
    return load_config(
        ["--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), "--keys", str(keys), *extra],
        environ={},
    )


async def post(session, url, dev, frames):
    body = b"".join(frames)
    async with session.post(url + "/v1/frames", data=body, headers=dev.headers(body)) as response:
        return response.status, dict(response.headers), await response.json()


def test_shutdown_finishes_in_flight_requests_and_refuses_new_ones(tmp_path):
    async def scenario():
        gateway = Gateway(config_for(tmp_path))
        await gateway.start()
        url = "http://127.0.0.1:%d" % gateway.port
        dev = SimDevice()
        sid = dev.series(dev.instrument("c", COUNTER))
        run_group = gateway.handler.group.fn

        def slow_group(requests):  # the writer thread takes its time: the request is in flight
            time.sleep(0.5)
            return run_group(requests)

        gateway.handler.group.fn = slow_group
        async with aiohttp.ClientSession() as session:
            assert (await session.get(url + "/readyz")).status == 200
            in_flight = asyncio.ensure_future(post(session, url, dev, [dev.frame([sid, 1], 10, 20)]))
            await asyncio.sleep(0.2)
            gateway.request_stop()
            status, headers, body = await post(session, url, dev, [dev.frame([sid, 2], 20, 30)])
            assert status == 503 and headers["Retry-After"] == "5" and body["error"] == "shutting_down"
            assert (await session.get(url + "/readyz")).status == 503
            assert (await session.get(url + "/healthz")).status == 200
            stopping = asyncio.ensure_future(gateway.stop())
            status, _, body = await in_flight
            assert status == 200 and body["results"] == ["ok"]
            await stopping
        assert gateway.store.closed

    asyncio.run(scenario())


def test_exporter_choice_follows_the_protocol(tmp_path):
    assert make_exporter(config_for(tmp_path)) is None
    exporter = make_exporter(config_for(tmp_path, "--otlp-endpoint", "http://127.0.0.1:4318"))
    assert isinstance(exporter, OtlpHttpExporter) and exporter.endpoint == "http://127.0.0.1:4318/v1/metrics"
    grpc = make_exporter(
        config_for(tmp_path, "--otlp-endpoint", "http://127.0.0.1:4317", "--otlp-protocol", "grpc")
    )
    assert type(grpc).__name__ == "OtlpGrpcExporter"


def test_a_chunked_body_over_the_limit_is_refused_while_reading(tmp_path):
    async def scenario():
        gateway = Gateway(config_for(tmp_path, "--max-request-bytes", "5000"))
        await gateway.start()
        url = "http://127.0.0.1:%d/v1/frames" % gateway.port
        dev = SimDevice()
        sid = dev.series(dev.instrument("c", COUNTER))
        frame = dev.frame([sid, 1], 10, 20)

        async def chunks():  # no Content-Length: the size is only known while reading
            for _ in range(1000):
                yield frame

        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(url, data=chunks(), headers=dev.headers(b"")) as response:
                    assert response.status == 413
                    assert (await response.json())["error"] == "too_large"
            assert gateway.metrics.rejects.value("too_large") == 1
        finally:
            await gateway.stop()

    asyncio.run(scenario())
