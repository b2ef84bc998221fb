"""One signed request of many tiny compressed frames, each inflating to --max-frame-bytes, made the gateway's
single writer thread decompress and decode (max_request_bytes / ~100 B) MiB for ONE request: with the
defaults a 4 MiB upload is ~41,000 frames, ~40 GiB of zstd output, minutes of writer time during which no
other device's upload commits (a frame rejected after decoding does not advance the dedup mark, so one frame
may be repeated). A request now has a budget of decompressed bytes (receiver.INFLATE_PER_BODY_BYTE x its
body, at least one frame); the frames past it are "skipped", sent again by the device."""

import asyncio
import struct
import time

import aiohttp
from devicesim import SimDevice
from test_gateway_server import config_for

from litetel import compression
from litetel import frame as wire
from litetel_gateway import decoder
from litetel_gateway.server import Gateway

MAX_REQUEST = 64 * 1024
MAX_FRAME = 1 << 20


def _bomb(dev):
    # a msgpack array of ~1 MiB of zeros: decodes fully, then reject:schema (points is not a list)
    n = MAX_FRAME - 16
    raw = b"\xdd" + struct.pack(">I", n - 5) + b"\x00" * (n - 5)
    payload = compression.compress(compression.ZSTD, raw)
    return wire.pack_frame(0, 0, compression.ZSTD, wire.device_hash(dev.device_id), dev.epoch, 1, 10, 20, payload)


def test_one_request_cannot_make_the_writer_inflate_unbounded_data(tmp_path, monkeypatch):
    inflated = [0]
    real = decoder.decoding.decompress

    def counting(comp, data, max_size):
        out = real(comp, data, max_size)
        inflated[0] += len(out)
        return out

    monkeypatch.setattr(decoder.decoding, "decompress", counting)
    dev = SimDevice()
    frame = _bomb(dev)
    body = frame * (MAX_REQUEST // len(frame))  # under --max-request-bytes

    async def scenario():
        config = config_for(
            tmp_path, "--max-request-bytes", str(MAX_REQUEST), "--max-frame-bytes", str(MAX_FRAME)
        )
        gateway = Gateway(config)
        await gateway.start()
        try:
            async with aiohttp.ClientSession() as session:
                started = time.monotonic()
                url = "http://127.0.0.1:%d/v1/frames" % gateway.port
                async with session.post(url, data=body, headers=dev.headers(body)) as r:
                    await r.read()
                    return r.status, time.monotonic() - started
        finally:
            await gateway.stop()

    status, elapsed = asyncio.run(scenario())
    print("%d-byte request, %d frames: status %d, %.1f MiB inflated, writer busy %.1f s"
          % (len(body), len(body) // len(frame), status, inflated[0] / 2**20, elapsed))
    # a request may cost the writer a bounded multiple of what it sent (here: 64 x 64 KiB = 4 MiB)
    assert inflated[0] <= 64 * MAX_REQUEST, (inflated[0], elapsed)
