"""Gateway test helpers: a real Store + Ingest in a temp dir, fed requests from a SimDevice."""

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devicesim import SimDevice  # noqa: E402

from litetel_gateway import decoder  # noqa: E402
from litetel_gateway.prometheus import PromView  # noqa: E402
from litetel_gateway.receiver import Ingest, UploadRequest  # noqa: E402
from litetel_gateway.store import Store  # noqa: E402


class IngestHarness:
    """Store + Ingest run synchronously (the writer thread's work, on the test thread)."""

    def __init__(self, path, temporality="delta", limits=None, max_clock_skew_s=300.0):
        self.path = path
        self.temporality = temporality
        self.limits = limits or decoder.Limits()
        self.max_clock_skew_s = max_clock_skew_s
        self.open()

    def open(self):
        self.store = Store(str(self.path))
        self.view = PromView()
        self.view.load(self.store.load_prom_series())
        self.ingest = Ingest(self.store, self.view, self.limits, self.temporality, self.max_clock_skew_s)

    def reopen(self):
        """Close and reopen the database: what a gateway restart keeps."""
        self.store.close()
        self.open()

    def send(self, device, frames, counter=None, time_ms=None, ticks=0, receive_us=None, epoch=None):
        """Process one upload of ``frames`` from ``device``; returns the per-frame results."""
        if counter is None:
            device.counter += 1
            counter = device.counter
        body = b"".join(frames)
        receive_us = int(time.time() * 1e6) if receive_us is None else receive_us
        time_ms = receive_us // 1000 if time_ms is None else time_ms
        request = UploadRequest(
            device.device_id,
            device.epoch if epoch is None else epoch,
            counter,
            time_ms,
            ticks,
            receive_us,
            body,
            decoder.split_frames(body),
        )
        results, self.last_stats = self.ingest(request)
        return results

    def queue(self):
        return self.store.read_queue(10**9)

    def close(self):
        self.store.close()


@pytest.fixture
def harness(tmp_path):
    h = IngestHarness(tmp_path / "gateway.sqlite3")
    yield h
    h.close()


@pytest.fixture
def make_harness(tmp_path):
    made = []

    def make(**kwargs):
        h = IngestHarness(tmp_path / ("gateway-%d.sqlite3" % len(made)), **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.fixture
def device():
    return SimDevice()
