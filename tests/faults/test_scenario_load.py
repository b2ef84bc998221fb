"""Scenario 7, load (issue 8): 1,000 simulated devices each posting one frame a second to one gateway on loopback
(``make test``: 10 s; ``make reliability``: 60 s).

The frames are real (each device is a ``litetel.Device`` whose intervals are collected up front); requests are
signed as they go out and sent by one asyncio loop with aiohttp, each device on its own schedule, spread over
the second. No loss: rotel's totals equal what the devices recorded. Figures: ingest latency p50/p99 as the
clients see it, the gateway's CPU (from /proc) and RSS, requests per second.
"""

import asyncio
import random
import resource
import time

import aiohttp

from faults.scenario_support import (
    Figures,
    RssSampler,
    TruthDevice,
    cpu_seconds,
    gateway_metrics,
    key_of,
    metric,
    scaled,
    wait_until,
)
from litetel.signing import sign_request
from litetel.uploader import CONTENT_TYPE

DEVICES = 1000


def _build(seconds):
    """Each device's frames, one per second of the run (a real Device's collect per interval)."""
    rng = random.Random(9)
    devices = []
    for i in range(DEVICES):
        dev = TruthDevice("load-%04d" % i, compression="none" if i % 2 else "zstd")
        dev.sent_frames = []
        for _ in range(seconds):
            dev.record(rng, n=2)
            dev.sent_frames.append(dev.collect())
        devices.append(dev)
    return devices


async def _device_loop(session, url, dev, t0, offset_s, latencies, failures):
    key = key_of(dev.device_id)
    counter = 0
    for k, body in enumerate(dev.sent_frames):
        delay = t0 + k + offset_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        while True:  # a failed request is resent under a new nonce, as the uploader does
            counter += 1
            nonce = "%d.%d" % (dev.device.epoch, counter)
            ms = int(time.time() * 1000)
            headers = {
                "Content-Type": CONTENT_TYPE,
                "X-Litetel-Device": dev.device_id,
                "X-Litetel-Nonce": nonce,
                "X-Litetel-Time": str(ms),
                "X-Litetel-Ticks": "0",
                "X-Litetel-Signature": sign_request(key, dev.device_id, nonce, ms, 0, body),
            }
            started = time.monotonic()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    reply = await response.json()
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failures.append(repr(exc))
                await asyncio.sleep(0.5)
                continue
            latencies.append(time.monotonic() - started)
            if status == 200 and reply["results"][0] in ("ok", "dup"):
                break
            failures.append("%s %s" % (status, reply))
            await asyncio.sleep(0.5)


async def _run(url, devices):
    latencies, failures = [], []
    connector = aiohttp.TCPConnector(limit=0)  # one keep-alive connection per device, as real devices would
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        t0 = time.monotonic() + 1.0
        await asyncio.gather(*[
            _device_loop(session, url, dev, t0, i / len(devices), latencies, failures)
            for i, dev in enumerate(devices)
        ])  # fmt: skip
    return latencies, failures


def _histogram_quantile(values, name, q):
    """Upper bound (s) of the bucket holding quantile ``q`` of a Prometheus histogram in ``gateway_metrics``."""
    buckets = sorted(
        (float(dict(labels)["le"]), count) for (n, labels), count in values.items() if n == name + "_bucket"
    )
    total = buckets[-1][1]
    return next(le for le, count in buckets if count >= q * total)


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _allow_open_files(n):
    """1,000 connections need more than the common soft limit of 1,024 descriptors (the gateway inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (n if hard == resource.RLIM_INFINITY else min(n, hard), hard)
        )


def test_thousand_devices_once_a_second(rotel, make_gateway):
    _allow_open_files(4 * DEVICES)
    seconds = scaled(10, 60)
    devices = _build(seconds)
    gateway = make_gateway(keys={d.device_id: key_of(d.device_id).hex() for d in devices},
                           otlp_endpoint=rotel.http_endpoint)  # fmt: skip
    cpu_before = cpu_seconds(gateway.pid)
    started = time.monotonic()
    with RssSampler(gateway.pid, interval_s=0.5) as rss:
        latencies, failures = asyncio.run(_run(gateway.url + "/v1/frames", devices))
    wall_s = time.monotonic() - started
    cpu_s = cpu_seconds(gateway.pid) - cpu_before
    frames = DEVICES * seconds

    want = [sum(d.truth()[i] for d in devices) for i in range(2)]
    ids = {d.device_id for d in devices}

    def arrived_all():
        got = [0, 0]
        for p in rotel.points():
            if p.resource.get("device.id") in ids:
                if p.metric == "work.items":
                    got[0] += p.value
                elif p.metric == "work.duration":
                    got[1] += p.count
        return got

    wait_until(lambda: arrived_all() == want, 180, "rotel totals %r (have %r)" % (want, arrived_all()))
    values = gateway_metrics(gateway)
    figures = Figures("load")
    figures.update(
        devices=DEVICES,
        seconds=seconds,
        frames=frames,
        requests=len(latencies),
        failed_requests=len(failures),
        wall_seconds=round(wall_s, 1),
        requests_per_second=round(len(latencies) / wall_s, 1),
        latency_p50_ms=round(1000 * _percentile(latencies, 0.5), 1),
        latency_p99_ms=round(1000 * _percentile(latencies, 0.99), 1),
        latency_max_ms=round(1000 * max(latencies), 1),
        # The gateway's own view (handler entry to reply, durable commit included), as bucket upper bounds:
        # the client figures above also hold the load generator's queueing on the same two cores.
        gateway_ingest_p50_ms_at_most=1000
        * _histogram_quantile(values, "litetel_gateway_ingest_seconds", 0.5),
        gateway_ingest_p99_ms_at_most=1000
        * _histogram_quantile(values, "litetel_gateway_ingest_seconds", 0.99),
        gateway_cpu_seconds=round(cpu_s, 1),
        gateway_cpu_percent_of_one_core=round(100 * cpu_s / wall_s, 1),
        gateway_rss_max_kb=rss.max_kb,
        gateway_frames_ok=metric(values, "litetel_gateway_frames_in_total", result="ok"),
        counter_total=want[0],
        histogram_count=want[1],
    )
    figures.save()
    assert figures["gateway_frames_ok"] == frames
    # No loss is the totals above; transient failures (retried under a new nonce) must stay rare.
    assert len(failures) < frames // 100, failures[:5]
