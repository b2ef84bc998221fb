"""The one switch between the pure-Python core and CPython accelerations.

Decided once, at import, like msgpack-python's C-extension/fallback choice:

- ``MICROPYTHON``: running on MicroPython.
- ``ENABLED``: CPython C libraries (msgpack, cbor2, zstandard, hmac) may be used. False on MicroPython, and on
  CPython when the environment variable ``LITETEL_PURE=1`` is set, so tests can run the pure twins.
- ``new_lock()``: a real lock on CPython, where threads record concurrently; a no-op object on MicroPython,
  where the bound hot path must not allocate and runs in a single context (or an interrupt handler).
- ``collect_garbage()``: ``gc.collect()`` on a MicroPython heap of at most ``SMALL_HEAP`` bytes, run before an
  object that lasts is made (a new instrument or series); else a no-op. ``import_packed(name)``: import a
  module; on such a heap with a collection every 4 KB allocated meanwhile (``litetel.Device`` loads the device
  modules so).
- ``ATOMIC_COUNT``: ``next()`` of an ``itertools.count`` is atomic here, so a counter's ``add(1)`` may be
  one such call instead of a locked read-add-write (``lockfree.CountingSumHandle``). True on CPython with
  the GIL (one C call runs whole under the GIL: no other thread's bytecode can interleave with it), unless
  ``LITETEL_PURE=1``. False on MicroPython (no itertools) and on free-threaded builds (no GIL: the count's
  increment could race), where the locked path is used.
"""

import sys

MICROPYTHON = sys.implementation.name == "micropython"


def _pure_forced():
    try:
        import os

        return os.environ.get("LITETEL_PURE", "") == "1"
    except (ImportError, AttributeError):  # MicroPython's os has no environ
        return True


ENABLED = (not MICROPYTHON) and not _pure_forced()


class _NoLock:
    """Stands in for a lock where recording never races (MicroPython)."""

    def acquire(self, *args):
        return True

    def release(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # Three named parameters, not *exc: MicroPython would allocate the tuple on every `with` (64 B).
        return False


_NO_LOCK = _NoLock()

if MICROPYTHON:

    def new_lock():
        return _NO_LOCK

else:
    import _thread

    new_lock = _thread.allocate_lock


def collect_garbage():
    pass  # CPython, or a MicroPython heap large enough not to need it


def import_packed(name):
    __import__(name)
    return sys.modules[name]


SMALL_HEAP = 512 * 1024  # bytes: a microcontroller's heap without external RAM is below it; a PSRAM one above

if MICROPYTHON:
    import gc

    # MicroPython's heap is first-fit and never moves an object. Garbage piles up between collections, so
    # what is made to last lands above it, spread through the heap; freed, the garbage leaves holes too small
    # for a frame or a buffer. Collecting before making what lasts (a new instrument or series: setup time,
    # not the hot path) puts it in the lowest holes. Only on a small heap: there the holes decide what fits
    # and a collection takes a few ms; a PSRAM heap of megabytes has room, and could pause for tens of ms.
    if gc.mem_alloc() + gc.mem_free() <= SMALL_HEAP:
        collect_garbage = gc.collect
        if hasattr(gc, "threshold"):  # a port may be built without it
            _import = import_packed

            def import_packed(name):
                # The same for code: imported with a collection every 4 KB allocated (2-8 KB measure alike),
                # so the loader's garbage never pushes the code it keeps up through the heap.
                before = gc.threshold()
                gc.threshold(4096)
                try:
                    return _import(name)
                finally:
                    gc.threshold(before)


def _gil_enabled():
    is_enabled = getattr(sys, "_is_gil_enabled", None)  # CPython 3.13+; older versions always have the GIL
    return True if is_enabled is None else is_enabled()


ATOMIC_COUNT = ENABLED and _gil_enabled()
del _pure_forced, _gil_enabled  # used once, here: on a MicroPython heap their code would stay loaded for nothing
