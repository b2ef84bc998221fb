"""clock.py: monotonic ticks and the wall clock that may be unset."""

import time

from litetel import clock


def test_ticks_are_monotonic_microseconds():
    a = clock.ticks_us()
    time.sleep(0.01)
    b = clock.ticks_us()
    assert isinstance(a, int) and 10_000 <= b - a < 5_000_000


def test_wall_clock_is_unix_microseconds():
    now = clock.wall_us()
    assert isinstance(now, int) and abs(now - time.time() * 1e6) < 1e6


def test_wall_clock_before_2020_reads_as_unset(monkeypatch):
    monkeypatch.setattr(clock, "_wall_now_us", lambda: 1546300800 * 10**6)  # 2019-01-01
    assert clock.wall_us() is None
    monkeypatch.setattr(clock, "_wall_now_us", lambda: 1577836800 * 10**6)  # 2020-01-01
    assert clock.wall_us() == 1577836800 * 10**6
