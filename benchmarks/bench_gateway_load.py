"""Gateway under load: N simulated devices each posting one signed frame a second, on loopback.

Issue 5: "1,000 simulated devices posting once a second on loopback: no loss, p99 ingest latency reported".
Every device is a real litetel `Device` (one counter); its requests are prepared beforehand (frame, nonce,
signature) so the client's CPU goes to sending. Device i posts at offset i/N within each second, never
before its previous reply (as the uploader does). Latency is from send to the reply (the frame is
committed to SQLite before the reply, wire format §4.1). Client and gateway share the machine's cores,
which this figure includes.
"""

import asyncio
import time

from benchmarks.gateway_process import running_gateway
from benchmarks.libraries import load_side

DEVICES = 1000
SECONDS = 5
CONTENT_TYPE = "application/vnd.litetel.frames"


def prepared_requests(n_devices, seconds):
    """({device: key}, [[(device, headers, body) per device] per second])."""
    from litetel.clock import ticks_us
    from litetel.signing import sign_request

    side = load_side("litetel")
    keys, devices = {}, []
    for i in range(n_devices):
        device_id = "load-%04d" % i
        keys[device_id] = (b"%032d" % i)[:32]
        dev = side.Device(device_id, resource={"service.name": "load"})
        devices.append((device_id, dev, dev.meter("load").counter("load.requests").bind({"route": "/api"})))
    seconds_of_requests = []
    for second in range(seconds):
        batch = []
        for device_id, dev, counter in devices:
            counter.add(1 + second)
            body = dev.collect()
            nonce = "%d.%d" % (dev.epoch, second + 1)
            time_ms, ticks = int(time.time() * 1000), ticks_us()
            headers = {
                "Content-Type": CONTENT_TYPE,
                "X-Litetel-Device": device_id,
                "X-Litetel-Nonce": nonce,
                "X-Litetel-Time": str(time_ms),
                "X-Litetel-Ticks": str(ticks),
                "X-Litetel-Signature": sign_request(keys[device_id], device_id, nonce, time_ms, ticks, body),
            }
            batch.append((device_id, headers, body))
        seconds_of_requests.append(batch)
    return keys, seconds_of_requests


async def drive(url, seconds_of_requests):
    """Each device posts its request of second k at k + i/N s, or when its previous reply arrives if that is
    later (a device's uploader waits for the reply, wire format §4). Returns (latencies s, outcomes, s)."""
    import aiohttp

    latencies, outcomes = [], []
    per_device = list(zip(*seconds_of_requests))  # [(request of second 0, of second 1, ...) per device]

    async def device(session, start, offset, requests):
        for second, (_, headers, body) in enumerate(requests):
            delay = start + second + offset - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            t0 = time.perf_counter()
            try:
                async with session.post(url + "/v1/frames", data=body, headers=headers) as reply:
                    payload = await reply.json(content_type=None)
                    results = payload.get("results") or [payload.get("error")]
                    outcome = "%d %s" % (reply.status, ",".join(results))
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                outcome = "error " + type(e).__name__
            latencies.append(time.perf_counter() - t0)
            outcomes.append(outcome)

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        start = time.perf_counter() + 0.1
        n = len(per_device)
        await asyncio.gather(*(device(session, start, i / n, reqs) for i, reqs in enumerate(per_device)))
        return latencies, outcomes, time.perf_counter() - start


def test_gateway_load(tmp_path, measurements, quick):
    n_devices, seconds = (50, 1) if quick else (DEVICES, SECONDS)
    keys, seconds_of_requests = prepared_requests(n_devices, seconds)
    with running_gateway(tmp_path, keys) as gateway:
        latencies, outcomes, elapsed = asyncio.run(drive(gateway.url, seconds_of_requests))
        rss = gateway.rss()
    sent = n_devices * seconds
    ok = outcomes.count("200 ok")
    measurements.record(
        "gateway.load.latency_ms",
        [x * 1000 for x in latencies],
        unit="ms",
        devices=n_devices,
        seconds=seconds,
    )
    latencies.sort()
    measurements.record("gateway.load.p99_ms", latencies[int(0.99 * (len(latencies) - 1))] * 1000, unit="ms")
    measurements.record("gateway.load.lost", sent - ok, unit="frames", sent=sent,
                        other_outcomes=sorted(set(outcomes) - {"200 ok"})[:10])  # fmt: skip
    measurements.record("gateway.load.requests_per_s", sent / elapsed, unit="req/s")
    measurements.record("gateway.load.rss", rss / (1 << 20), unit="MiB")
    assert len(outcomes) == sent
