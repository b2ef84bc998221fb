"""Run a device from an asyncio event loop (MicroPython ``asyncio`` and CPython ``asyncio``).

``run()`` calls ``device.tick()`` every ``tick_s`` seconds: it collects when the interval is due and flushes
when frames are pending and the uploader is not backing off; a tick that raises is reported, not fatal. The
upload itself is a blocking socket call; it is bounded by ``tick_s`` (passed as ``tick``'s timeout), so other
tasks are held up at most that long.

    import asyncio, litetel, litetel.aio

    async def main():
        dev = litetel.Device("sat-7", endpoint="http://gw:8080", key=b"secret")
        asyncio.create_task(litetel.aio.run(dev, interval_s=60, tick_s=0.5))
        ...  # the application's own tasks

    asyncio.run(main())
"""

try:
    import asyncio
except ImportError:  # older MicroPython ports
    import uasyncio as asyncio


async def run(device, interval_s=None, tick_s=1.0, on_error=None):
    """Tick ``device`` until the task is cancelled; ``interval_s`` overrides its collection interval.

    A tick that raises (a ``MemoryError`` on a small heap, a sensor callback's bug) never ends the task, which
    would stop the device's telemetry without a word: the exception goes to ``on_error(exc)`` (by default
    printed, or logged on CPython) and the next tick carries on. A collect it broke is counted in the next
    frame (``litetel.device.frames.dropped{reason=collect_failed}``).
    """
    if interval_s is not None:
        device.interval_s = interval_s
    while True:
        try:
            device.tick(timeout_s=tick_s)
        except Exception as exc:  # noqa: BLE001 -- whatever it was, the next tick must come
            (on_error or _report)(exc)
        await asyncio.sleep(tick_s)


def _report(exc):
    import sys

    if hasattr(sys, "print_exception"):  # MicroPython: no logging module
        sys.print_exception(exc)
    else:
        import logging

        logging.getLogger("litetel").error("litetel.aio: a tick failed", exc_info=exc)
