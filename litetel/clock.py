"""The device's two clocks, in microseconds.

- ``wall_us()``: unix time in µs, or ``None`` while the wall clock looks unset (before 2020), as on a board
  that has not synchronised over NTP yet. Frames then carry ``ticks_us()`` and the ``CLOCK_TICKS`` flag.
- ``ticks_us()``: a monotonic 64-bit µs counter. CPython: ``time.monotonic_ns() // 1000``. MicroPython: built
  from ``time.ticks_us()``/``ticks_diff()``, which wrap (every ~18 min on 32-bit ports); it stays correct as
  long as it is read at least once per half wrap period, which every ``collect()``/``tick()`` does.

    >>> from litetel import clock
    >>> clock.ticks_us() <= clock.ticks_us()
    True
"""

import time

# Unix µs of 2020-01-01: a wall clock before that has not been set.
_WALL_VALID_FROM_US = 1577836800 * 1000000

try:
    _monotonic_ns = time.monotonic_ns
except AttributeError:  # MicroPython
    _monotonic_ns = None

if _monotonic_ns is not None:

    def ticks_us():
        """Monotonic microseconds (CPython: ``time.monotonic_ns() // 1000``)."""
        return _monotonic_ns() // 1000

else:
    _raw_ticks = time.ticks_us
    _ticks_diff = time.ticks_diff
    _last_raw = _raw_ticks()
    _total = 0

    def ticks_us():
        """Monotonic microseconds since import, extended past ``time.ticks_us()``'s wrap."""
        global _last_raw, _total
        now = _raw_ticks()
        _total += _ticks_diff(now, _last_raw)
        _last_raw = now
        return _total


def _unix_offset_s():
    # Bare-metal MicroPython ports count from 2000-01-01; the unix port and CPython from 1970.
    try:
        if time.gmtime(0)[0] == 2000:
            return 946684800
    except (AttributeError, OverflowError, OSError):
        pass
    return 0


_OFFSET_US = _unix_offset_s() * 1000000
del _unix_offset_s  # used once, here: on a MicroPython heap its code would stay loaded for nothing


def _wall_now_us():
    try:
        return time.time_ns() // 1000 + _OFFSET_US
    except AttributeError:  # ports without time_ns: whole seconds are the best there is
        return int(time.time()) * 1000000 + _OFFSET_US


def wall_us():
    """Unix microseconds, or ``None`` when the wall clock looks unset (before 2020)."""
    now = _wall_now_us()
    if now < _WALL_VALID_FROM_US:
        return None
    return now
