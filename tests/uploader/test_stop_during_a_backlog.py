"""stop() while the runner drains a backlog through a slow (but answering) gateway: it collects the interval
recorded so far from the calling thread, within its timeout. It used to wait for the runner, whose flush has
no time limit, and return with the interval uncollected (lost at exit, even with a file buffer)."""

import json
import threading
import time

from uploader_fakes import KEY, FakeDevice, split_frames

from litetel import background
from litetel.uploader import Uploader


def slow_ok_transport(delay_s, started):
    def transport(url, headers, body, timeout_s):
        started.set()
        time.sleep(min(delay_s, timeout_s))
        n = len(split_frames(body))
        return 200, {}, json.dumps({"results": ["ok"] * n}).encode()

    return transport


def test_stop_collects_the_last_interval_within_its_timeout_during_a_backlog_flush():
    dev = FakeDevice()
    started = threading.Event()
    dev.uploader = Uploader(dev, endpoint="http://unused", key=KEY, max_frames=1,
                            transport=slow_ok_transport(0.2, started))
    dev.record(100)  # a backlog: 100 requests of 0.2 s = 20 s to drain
    runner = background.start(dev, interval_s=3600)
    assert started.wait(2)
    t0 = time.monotonic()
    runner.stop(timeout_s=1)
    took = time.monotonic() - t0
    collects_at_return = dev.collects
    assert took < 2.0  # stop() itself is bounded (join timeout)
    try:
        # ...but the interval recorded so far must have been collected (the point of stop()/the atexit hook:
        # with a file buffer it is then kept for the next start instead of dying with the daemon thread).
        assert collects_at_return == 1, "stop() returned after %.1f s; runner still draining (alive=%s), " \
            "final collect not done" % (took, runner.alive)
    finally:
        runner._thread.join(30)
