"""X-Litetel-Time, -Ticks and the nonce counter values SQLite cannot store (> int64) pass the headers' regexes:
such an upload is a 400 bad_header, not a 503 store_error (retried forever, as it was)."""

import asyncio

import aiohttp
from devicesim import COUNTER, SimDevice
from test_gateway_server import config_for

from litetel import frame as wire
from litetel_gateway.server import Gateway


def _post(tmp_path, dev, frames, **header_args):
    async def scenario():
        gateway = Gateway(config_for(tmp_path))
        await gateway.start()
        url = "http://127.0.0.1:%d/v1/frames" % gateway.port
        try:
            async with aiohttp.ClientSession() as session:
                body = b"".join(frames)
                async with session.post(url, data=body, headers=dev.headers(body, **header_args)) as r:
                    return r.status, await r.json()
        finally:
            await gateway.stop()

    return asyncio.run(scenario())


def _frame(dev, flags=0):
    sid = dev.series(dev.instrument("c", COUNTER))
    return dev.frame([sid, 1], 10, 20, flags=flags)


def test_time_header_beyond_int64_is_a_400(tmp_path):
    dev = SimDevice()
    status, reply = _post(tmp_path, dev, [_frame(dev)], time_ms="99999999999999999999")
    assert status == 400 and reply["error"] == "bad_header", (status, reply)


def test_ticks_header_beyond_int64_is_a_400(tmp_path):
    dev = SimDevice()
    status, reply = _post(tmp_path, dev, [_frame(dev, wire.FLAG_CLOCK_TICKS)], ticks="99999999999999999999")
    assert status == 400 and reply["error"] == "bad_header", (status, reply)


def test_nonce_counter_beyond_int64_is_a_400(tmp_path):
    dev = SimDevice()
    status, reply = _post(tmp_path, dev, [_frame(dev)], counter=9999999999999999999)
    assert status == 400 and reply["error"] == "bad_header", (status, reply)
