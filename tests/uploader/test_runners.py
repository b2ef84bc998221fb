"""The background thread (CPython) and the asyncio helper driving a device and its uploader."""

import asyncio
import time

import pytest
from uploader_fakes import HANG, KEY, FakeDevice, ScriptedGateway

from litetel import aio, background
from litetel.uploader import Uploader


class MaxRng:
    def random(self):
        return 0.999999


def wait_until(predicate, timeout_s=5):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in %.1f s" % timeout_s
        time.sleep(0.01)


@pytest.fixture
def gateway():
    with ScriptedGateway() as gw:
        yield gw


def attach(device, endpoint=None, **kw):
    device.uploader = Uploader(device, endpoint=endpoint, key=KEY, rng=MaxRng(), **kw)
    return device.uploader


def test_background_collects_and_flushes_then_stop_flushes_a_last_time(gateway):
    dev = FakeDevice()
    attach(dev, gateway.url)
    runner = background.start(dev, interval_s=0.05)
    wait_until(lambda: len(gateway.delivered) >= 3)
    runner.stop()
    assert not runner.alive and runner.error is None
    assert dev.buffer.pending == 0
    assert len(gateway.delivered) == dev.collects  # the last collected frame was flushed by stop()
    assert gateway.delivered == sorted(gateway.delivered)


def test_background_final_flush_happens_even_before_the_first_interval(gateway):
    dev = FakeDevice()
    attach(dev, gateway.url)
    runner = background.start(dev, interval_s=3600)
    runner.stop()
    assert dev.collects == 1 and len(gateway.delivered) == 1


def test_offline_background_sleeps_through_backoff():
    dev = FakeDevice()
    calls = []

    def offline(url, headers, body, timeout_s):
        calls.append(time.monotonic())
        raise OSError(101, "network is unreachable")

    attach(dev, "http://unused", transport=offline, backoff_base_s=0.4)
    dev.record(3)
    runner = background.start(dev, interval_s=3600)
    time.sleep(1.0)
    during = len(calls)
    runner.stop(timeout_s=1)
    # Backoff 0.4 s then 0.8 s: two or three attempts in a second, not a spinning loop.
    assert 1 <= during <= 3
    assert len(calls) == during + 1  # stop() still tries a last time
    assert dev.buffer.pending == 4  # nothing lost: 3 recorded + 1 final collect


def test_stop_is_bounded_when_the_gateway_hangs(gateway):
    dev = FakeDevice()
    attach(dev, gateway.url, timeout_s=30)
    gateway.script = [HANG]
    runner = background.start(dev, interval_s=3600)
    started = time.monotonic()
    runner.stop(timeout_s=0.5)
    assert time.monotonic() - started < 2.5
    assert dev.buffer.pending == 1  # kept for the next run


def test_a_failing_collect_does_not_end_the_thread(gateway):
    dev = FakeDevice()
    attach(dev, gateway.url)
    real_collect, failures = dev.collect, []

    def flaky_collect():
        if not failures:
            failures.append(1)
            raise RuntimeError("sensor bus glitch")
        real_collect()

    dev.collect = flaky_collect
    runner = background.start(dev, interval_s=0.03)
    wait_until(lambda: len(gateway.delivered) >= 2)
    runner.stop()
    assert isinstance(runner.error, RuntimeError) and failures == [1]


def test_a_failing_tick_does_not_end_the_aio_task(gateway, caplog):
    dev = FakeDevice()
    attach(dev, gateway.url)
    seqs = dev.record(3)
    real_tick, errors = dev.tick, []

    def flaky_tick(timeout_s):
        if len(errors) < 2:
            raise MemoryError("no heap for the frame")
        return real_tick(timeout_s)

    dev.tick = flaky_tick

    async def main(**kw):
        task = asyncio.create_task(aio.run(dev, tick_s=0.02, **kw))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main(on_error=errors.append))
    assert [type(e) for e in errors] == [MemoryError, MemoryError]
    assert gateway.delivered == [(7, s) for s in seqs]  # the ticks after the failures flushed
    errors.clear()
    dev.tick = lambda timeout_s: errors.append(1) or 1 / 0  # the default reporter logs, and goes on too
    asyncio.run(main())
    assert len(errors) >= 2 and "a tick failed" in caplog.text and "ZeroDivisionError" in caplog.text


def test_interval_must_be_positive():
    with pytest.raises(ValueError):
        background.start(FakeDevice(), interval_s=0)


def test_aio_run_ticks_the_device_until_cancelled(gateway):
    dev = FakeDevice()
    attach(dev, gateway.url)
    seqs = dev.record(5)
    ticks = []
    real_tick = dev.tick

    def counting_tick(timeout_s):
        ticks.append(timeout_s)
        return real_tick(timeout_s)

    dev.tick = counting_tick

    async def main():
        task = asyncio.create_task(aio.run(dev, interval_s=30, tick_s=0.05))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert dev.interval_s == 30
    assert gateway.delivered == [(7, s) for s in seqs]
    assert 2 <= len(ticks) <= 10 and set(ticks) == {0.05}  # sleeps between ticks; each bounded by tick_s


_EXITING = """
import sys
sys.path[:0] = [{tests!r}, {root!r}]
from litetel import background
from support.gateway import make_test_device

background.EXIT_FLUSH_S = 1
dev = make_test_device({url!r}, {{"service.name": "exit"}})
dev.meter("m").counter("c").add(5)
dev.start(interval_s=3600)
print("exiting without stop()", flush=True)
"""


def _exit_without_stop(url):
    import os
    import subprocess
    import sys

    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _EXITING.format(tests=tests, root=os.path.dirname(tests), url=url)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)


def test_a_process_exiting_without_stop_still_sends_its_last_interval(make_gateway):
    # The runner's thread is a daemon: at exit it would die with the interval recorded so far. The exit hook
    # stops it as stop() does: the interval is collected and flushed, and the gateway stores it.
    gateway = make_gateway()
    done = _exit_without_stop(gateway.url)
    assert done.returncode == 0 and "exiting" in done.stdout, done.stderr
    assert "not delivered" not in done.stderr, done.stderr
    status, body = gateway.get("/metrics")
    frames = [line for line in body.decode().splitlines() if line.startswith("litetel_gateway_frames_in_total")]
    assert frames == ['litetel_gateway_frames_in_total{result="ok"} 1'], frames


def test_a_process_exiting_with_the_gateway_away_says_what_it_did_not_deliver():
    from support.ports import free_port

    done = _exit_without_stop("http://127.0.0.1:%d" % free_port())  # nothing listens there
    assert done.returncode == 0, done.stderr
    assert "1 frame(s) of device" in done.stderr, done.stderr
    assert "not delivered at exit (lost with the RAM buffer)" in done.stderr
