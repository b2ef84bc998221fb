"""The background thread behind ``Device.start()`` (CPython only: imported by ``start()`` alone, which on
MicroPython raises a ``LitetelError`` saying to run ``tick()`` or ``litetel.aio`` instead).

One daemon thread collects every ``interval_s`` and flushes when frames are pending and the uploader is ready.
It sleeps on an ``Event`` until the next collection or the end of the uploader's backoff, whichever comes
first, so an offline device sleeps through its backoff instead of spinning.

A process that exits without ``stop()`` stops the runner at exit (``atexit``, as the OTel SDK's
``shutdown_on_exit``): the interval recorded so far is collected and flushed within ``EXIT_FLUSH_S``, and the
frames still undelivered are logged, not silently lost with the daemon thread.

    runner = litetel.background.start(dev, interval_s=60)
    ...
    runner.stop()   # wakes the thread, collects and flushes one last time, joins
"""

import atexit
import logging
import threading
import time

_log = logging.getLogger("litetel")
EXIT_FLUSH_S = 5  # at interpreter exit, how long the last flush may take: a dead link must not hang the exit


class Runner:
    """A daemon thread running one device's collect/flush cycle. Create it with ``start()``."""

    def __init__(self, device, interval_s):
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0, got %r" % (interval_s,))
        self.device = device
        self.interval_s = interval_s
        self.error = None  # the last exception collect/flush raised (the thread logs it and carries on)
        self._wake = threading.Event()
        self._stop_timeout_s = 10
        self._final_lock = threading.Lock()
        self._final_collected = False
        self._thread = threading.Thread(target=self._run, name="litetel-%s" % device.device_id, daemon=True)

    @property
    def alive(self):
        return self._thread.is_alive()

    def _guarded(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # a failing collect must not silently end telemetry for the process
            self.error = e
            _log.exception("litetel background %s failed", getattr(fn, "__name__", fn))
            return None

    def _uploader(self):
        return getattr(self.device, "uploader", None)

    def _flush_if_due(self):
        up = self._uploader()
        if up is not None and self.device.buffer.pending and up.ready():
            self._guarded(self.device.flush)

    def _sleep_s(self, next_collect):
        wait = next_collect - time.monotonic()
        up = self._uploader()
        # Wake at the end of a backoff only when it is a backoff that holds frames back; a device that is
        # ready with frames still pending (nowhere to send) waits for the next collection instead of spinning.
        if up is not None and self.device.buffer.pending and not up.ready():
            wait = min(wait, up.retry_in_s())
        return max(wait, 0.001)

    def _run(self):
        next_collect = time.monotonic() + self.interval_s
        while not self._wake.is_set():
            now = time.monotonic()
            if now >= next_collect:
                self._guarded(self.device.collect)
                next_collect += self.interval_s
                if next_collect <= now:  # fell behind (a long flush): skip the missed intervals
                    next_collect = now + self.interval_s
            self._flush_if_due()
            self._wake.wait(self._sleep_s(next_collect))
        self._final_collect()
        self._guarded(self.device.flush, timeout_s=self._stop_timeout_s)

    def _final_collect(self):
        # Once, by the runner or by stop() (the runner may be busy draining a backlog through a slow link).
        with self._final_lock:
            if self._final_collected:
                return
            self._final_collected = True
        self._guarded(self.device.collect)

    def stop(self, timeout_s=10):
        """Wake the thread; it collects and flushes one last time (within ``timeout_s``); then join it."""
        atexit.unregister(self._at_exit)
        self._stop_timeout_s = timeout_s
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            deadline = time.monotonic() + timeout_s + 0.5  # the final flush is bounded by timeout_s itself
            self._thread.join(min(timeout_s, 0.2))
            if self._thread.is_alive():  # busy (a flush in progress): collect the last interval from here
                self._final_collect()
                self._thread.join(max(0, deadline - time.monotonic()))

    def _at_exit(self):
        # The interpreter is exiting and stop() was never called: the daemon thread would die with the
        # interval recorded so far and the frames not yet sent. Stop it as stop() does, then say what is left.
        self.stop(EXIT_FLUSH_S)
        buffer = self.device.buffer
        if buffer.pending:
            path = getattr(buffer, "path", None)
            _log.warning("litetel: %d frame(s) of device %s not delivered at exit (%s)", buffer.pending,
                         getattr(self.device, "device_id", "?"),
                         "kept in %s for the next start" % path if path else "lost with the RAM buffer")


def start(device, interval_s):
    """Start a background runner for ``device``: collect every ``interval_s`` seconds, flush when due.

    runner = start(dev, interval_s=10)
    runner.stop()
    """
    runner = Runner(device, interval_s)
    runner._thread.start()
    atexit.register(runner._at_exit)  # unregistered by stop()
    return runner
