# heapsize: 128K
# How litetel keeps a small MicroPython heap in one piece (accel.py): the heap is first-fit and never moves an
# object, so what lasts is made right after a garbage collection, and code is loaded with a collection every
# 4 KB. Checked here: a new instrument or series collects first, a lookup of an existing one never does;
# `litetel.Device` loads the device modules that way and restores the application's GC threshold; a Device
# loads its encoder when made, not at its first collect. On a heap above accel.SMALL_HEAP (a PSRAM board's,
# where a collection could pause for tens of ms) nothing collects: test_micropython.py runs this at 2M too.
import gc
import sys

import litetel
from mpcheck import check, check_eq, done

GARBAGE = 16384
SMALL = gc.mem_alloc() + gc.mem_free() <= 512 * 1024  # accel.SMALL_HEAP, read before importing accel
print("heap: %s" % ("small" if SMALL else "large"))

gc.threshold(49152)
Device = litetel.Device
check_eq(gc.threshold(), 49152, "litetel.Device restored the application's GC threshold")
gc.threshold(-1)

dev = Device("mp-heap", buffer=litetel.RingBuffer(capacity=4096))
check("litetel.msgpack_encoder" in sys.modules, "Device() loaded the encoder collect() uses")
meter = dev.meter("layout")


def garbage_left(make):
    # Heap in use after make(), less before it, with GARBAGE bytes of garbage made just before: about
    # GARBAGE when make() did not collect, about what make() kept when it did.
    gc.collect()
    before = gc.mem_alloc()
    junk = bytearray(GARBAGE)
    junk = None  # noqa: F841
    make()
    return gc.mem_alloc() - before


counter = [None]


def new_counter():
    counter[0] = meter.counter("layout.requests")


if SMALL:
    check(garbage_left(new_counter) < GARBAGE // 2, "a new instrument collected garbage first")
else:
    check(garbage_left(new_counter) >= GARBAGE, "a large heap: a new instrument did not collect")
check(garbage_left(new_counter) >= GARBAGE, "the same instrument again: no collection")


def bind_new():
    counter[0].bind({"route": "/a"})


if SMALL:
    check(garbage_left(bind_new) < GARBAGE // 2, "a new series collected garbage first")
else:
    check(garbage_left(bind_new) >= GARBAGE, "a large heap: a new series did not collect")
check(garbage_left(bind_new) >= GARBAGE, "an existing series: no collection")
handle = counter[0].bind({"route": "/a"})
check(garbage_left(lambda: handle.add(1)) >= GARBAGE, "a bound add: no collection")
counter[0].add(1, {"route": "/a"})
check(garbage_left(lambda: counter[0].add(1, {"route": "/a"})) >= GARBAGE, "an unbound add: no collection")
done()
