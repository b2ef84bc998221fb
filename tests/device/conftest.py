import pytest
from device_replica import Replica

from litetel.device import Device
from litetel.ring_buffer import RingBuffer


class Recorder:
    """A Device and the replica reading its frames: ``rec.points()`` collects and resolves."""

    def __init__(self, **kwargs):
        kwargs.setdefault("buffer", RingBuffer(capacity=1 << 20))
        self.dev = Device("test-dev", **kwargs)
        self.meter = self.dev.meter("test")
        self.replica = Replica()

    def points(self):
        """Collect; {(name, attrs): value} of the frame, or None when collect() returned None."""
        data = self.dev.collect()
        return None if data is None else self.replica.apply(data)


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def make_recorder():
    return Recorder
