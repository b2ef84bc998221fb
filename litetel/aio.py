"""Run a device from an asyncio event loop (MicroPython ``asyncio`` and CPython ``asyncio``).

``run()`` calls ``device.tick()`` every ``tick_s`` seconds: it collects when the interval is due and flushes
when frames are pending and the uploader is not backing off. The upload itself is a blocking socket call;
it is bounded by ``tick_s`` (passed as ``tick``'s timeout), so other tasks are held up at most that long.

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


async def run(device, interval_s=None, tick_s=1.0):
    """Tick ``device`` until the task is cancelled; ``interval_s`` overrides its collection interval."""
    if interval_s is not None:
        device.interval_s = interval_s
    while True:
        device.tick(timeout_s=tick_s)
        await asyncio.sleep(tick_s)
