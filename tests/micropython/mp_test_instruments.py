# heapsize: 120K
# (passes at 112K with the precompiled core; 116K before the RAM work of issue 2)
# Instruments on the real MicroPython: delta semantics, validation, cardinality cap, and a bound integer
# add/set/record that allocates nothing (gc.mem_alloc() over 10,000 calls) and runs with the heap locked
# (micropython.heap_lock(): the conditions of a hard interrupt handler).
import gc

import micropython
from mpcheck import check, check_eq, done, raises

from litetel.accel import new_lock
from litetel.device import Device
from litetel.errors import InstrumentError

dev = Device("mp-instruments")
meter = dev.meter("test")


def points():
    """{(instrument name, attrs tuple): value} of the next payload (no frame: that is mp_test_device)."""
    body = dev._build_payload()
    if body is None:
        return None
    d = dev.dictionary
    out = {}
    pts = body[1]
    for j in range(0, len(pts), 2):
        gid = pts[j]
        for inst in d.instruments:
            for g, key in inst._series_since(gid):
                if g == gid:
                    out[(inst.name, key)] = pts[j + 1]
    return out


# --- counters and up-down counters: deltas per interval
c = meter.counter("requests", unit="{request}")
c.add(1, {"route": "/a", "method": "GET"})
c.add(2, {"method": "GET", "route": "/a"})  # another order, same series (dicts are unordered here)
c.bind({"route": "/a", "method": "GET"}).add(3)
KEY = ("method", "GET", "route", "/a")
check_eq(points(), {("requests", KEY): 6}, "counter delta, order-independent attributes")
check(points() is None, "nothing recorded: no payload")
c.add(4, {"route": "/a", "method": "GET"})
check_eq(points(), {("requests", KEY): 4}, "the next interval starts from zero")

u = meter.updown_counter("active")
u.add(2)
u.add(-5)
check_eq(points(), {("active", ()): -3}, "up-down counter")

f = meter.counter("bytes").bind()
f.add(1)
f.add(0.5)
check_eq(points(), {("bytes", ()): 1.5}, "float increments")

# --- bad values change nothing
h = c.bind({"route": "/a", "method": "GET"})
h.add(1)
for bad in (-1, float("nan"), float("inf"), True, "1", None):
    raises(InstrumentError, h.add, bad)
raises(InstrumentError, c.add, 1, {1: "x"})
raises(InstrumentError, c.add, 1, {"k": [1]})
raises(InstrumentError, c.add, 1, {"k": float("nan")})
raises(InstrumentError, meter.counter, "9lives")
raises(InstrumentError, meter.gauge, "requests", unit="{request}")
raises(InstrumentError, meter.histogram, "h2", boundaries=(2, 1))
check(meter.counter("requests", unit="{request}") is c, "same name: same instrument")
check_eq(points(), {("requests", KEY): 1}, "refused values left the series unchanged")
refused_first = meter.counter("refused.first", max_series=1)
for i, bad in enumerate((-1, float("nan"), True)):  # new attributes each time: the value is checked first
    raises(InstrumentError, refused_first.add, bad, {"attempt": i})
check_eq(refused_first.series_count, 0, "a refused value with new attributes makes no series")
refused_first.add(1, {"attempt": 0})
check_eq(points(), {("refused.first", ("attempt", 0)): 1}, "the refused calls took no cardinality slot")

# --- gauge: last value
g = meter.gauge("temp", unit="Cel")
g.set(40, {"sensor": "cpu"})
g.set(41.5, {"sensor": "cpu"})
raises(InstrumentError, g.set, float("nan"), {"sensor": "cpu"})
check_eq(points(), {("temp", ("sensor", "cpu")): 41.5}, "gauge sends the last value")

# --- histogram: buckets at boundary values, count/sum/min/max
hist = meter.histogram("lat", boundaries=(0, 5, 10))
hb = hist.bind()
for v in (-1, 0, 5, 5.0, 6, 10, 11, 10.5):
    hb.record(v)
check_eq(points(), {("lat", ()): [8, 46.5, -1, 11, 0, 2, 2, 2, 2]}, "histogram buckets v <= boundary")
frac = meter.histogram("frac", boundaries=(2.5, 7.5)).bind()
for v in (2, 3, 7, 8):
    frac.record(v)
check_eq(points(), {("frac", ()): [4, 20, 2, 8, 0, 1, 2, 1]}, "ints against fractional boundaries")

# --- cardinality cap
capped = meter.counter("capped", max_series=2)
for i in range(6):
    capped.add(1, {"i": i})
got = points()
check_eq(got[("capped", ("otel.metric.overflow", True))], 4, "overflow series takes the rest")
check_eq(got[("capped", ("i", 0))] + got[("capped", ("i", 1))], 2, "the first series keep theirs")
check_eq(capped.series_count, 3, "two series and the overflow, no more")

# --- a bound integer add/set/record allocates nothing
ch = c.bind({"route": "/a", "method": "GET"})
uh = u.bind()
gh = g.bind({"sensor": "cpu"})
hh = meter.histogram("alloc", boundaries=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)).bind()
ch.add(1)
uh.add(1)
gh.set(1)
hh.record(1)


def loop_add(handle, n):
    for i in range(10000):
        handle.add(n)


def loop_set(handle):
    for i in range(10000):
        handle.set(i)


def loop_record(handle):
    for i in range(10000):
        handle.record(i)


def loop_with_lock(lock):
    for i in range(10000):
        with lock:
            pass


for name, fn, args in (("with new_lock()", loop_with_lock, (new_lock(),)), ("counter add", loop_add, (ch, 1)), ("updown add", loop_add, (uh, -1)),
                       ("gauge set", loop_set, (gh,)), ("histogram record", loop_record, (hh,))):
    gc.collect()
    before = gc.mem_alloc()
    fn(*args)
    after = gc.mem_alloc()
    print("%s: %d bytes over 10,000 calls" % (name, after - before))
    check_eq(after - before, 0, name + " allocates nothing")


def heap_locked(fn):
    # As in a hard interrupt handler: with the heap locked, any allocation raises MemoryError. (fn takes no
    # arguments: a call with *args would itself allocate.)
    micropython.heap_lock()
    try:
        fn()
    finally:
        micropython.heap_unlock()


heap_locked(lambda: None)  # the wrapper itself allocates nothing...
raises(MemoryError, heap_locked, lambda: bytearray(64))  # ...and the lock is real
for name, fn in (("counter add", lambda: loop_add(ch, 1)), ("updown add", lambda: loop_add(uh, -1)),
                 ("gauge set", lambda: loop_set(gh)), ("histogram record", lambda: loop_record(hh))):
    heap_locked(fn)  # a MemoryError here fails the script
    check(True, name + " runs with the heap locked (an interrupt handler's conditions)")

got = points()
check_eq(got[("requests", KEY)], 20001, "counter total")
check_eq(got[("active", ())], -19999, "updown total")
check_eq(got[("temp", ("sensor", "cpu"))], 9999, "gauge last")
check_eq(got[("alloc", ())][:4], [20001, 99990001, 0, 9999], "histogram count/sum/min/max")
done()
