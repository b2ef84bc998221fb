# Run by the real MicroPython interpreter (benchmarks/bench_micropython.py starts it), not by pytest:
#   MICROPYPATH=. micropython -X heapsize=64K benchmarks/micropython_bench.py
# Issue 2's device scenario: import litetel, 20 series (10 counters, 5 gauges, 5 histograms of 16 buckets),
# 10,000 recordings, collect() into an 8 KB RAM buffer; plus µs per bound add/record (time.ticks_us) and heap
# bytes allocated per 10,000 bound integer adds/records (gc.mem_alloc, goal 0). Prints one JSON line.
# With $LITETEL_ROMFS set, litetel comes from that ROMFS image, mounted first; rom_heap is what it took.
import gc
import json
import os
import time

gc.collect()
HEAP_START = gc.mem_alloc()
if os.getenv("LITETEL_ROMFS"):  # litetel in a ROMFS image (bench_micropython.deployed_env): mount it first
    import rom_partition

    _image = rom_partition.mount()
    gc.collect()
    HEAP_START, ROM_HEAP = gc.mem_alloc(), gc.mem_alloc() - HEAP_START  # the image, its module, its mount
else:
    ROM_HEAP = 0

import litetel

Device = litetel.Device  # the public API; its lazy export imports the device modules here
RingBuffer = litetel.RingBuffer

gc.collect()
HEAP_IMPORT = gc.mem_alloc()

N = 10000
BOUNDARIES = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0)

dev = Device("mp-bench", buffer=RingBuffer(capacity=8192))
meter = dev.meter("bench")
counters = [meter.counter("bench.counter.%d" % i).bind({"slot": i}) for i in range(10)]
gauges = [meter.gauge("bench.gauge.%d" % i).bind({"sensor": "s%d" % i}) for i in range(5)]
histograms = [meter.histogram("bench.hist.%d" % i, boundaries=BOUNDARIES).bind({"slot": i}) for i in range(5)]
gc.collect()
HEAP_SETUP = gc.mem_alloc()


def per_call_us(fn, value):
    loop = range(N)
    t0 = time.ticks_us()
    for _ in loop:
        fn(value)
    return time.ticks_diff(time.ticks_us(), t0) / N


def loop_us():
    loop = range(N)
    t0 = time.ticks_us()
    for _ in loop:
        pass
    return time.ticks_diff(time.ticks_us(), t0) / N


def allocated(fn, value):
    loop = range(N)
    gc.collect()
    before = gc.mem_alloc()
    for _ in loop:
        fn(value)
    return gc.mem_alloc() - before


counter_add = counters[0].add
histogram_record = histograms[0].record
gauge_set = gauges[0].set
result = {
    "version": ".".join(str(v) for v in __import__("sys").implementation.version[:3]),
    "rom_heap": ROM_HEAP,
    "heap_import": HEAP_IMPORT - HEAP_START,
    "heap_setup_20_series": HEAP_SETUP - HEAP_IMPORT,
    "heap_total_after_setup": HEAP_SETUP,
    "loop_us": loop_us(),
    "counter_add_us": per_call_us(counter_add, 1),
    "histogram_record_int_us": per_call_us(histogram_record, 3),
    "histogram_record_float_us": per_call_us(histogram_record, 0.042),
    "gauge_set_int_us": per_call_us(gauge_set, 40),
    "alloc_counter_add_int": allocated(counter_add, 1),
    "alloc_histogram_record_int": allocated(histogram_record, 3),
    "alloc_gauge_set_int": allocated(gauge_set, 40),
    "alloc_histogram_record_float": allocated(histogram_record, 0.042),
}
dev.collect()  # the timing loops above recorded; start the scenario's interval clean

# The scenario: 10,000 recordings spread over the 20 series, then one collect into the 8 KB buffer.
for i in range(N):
    counters[i % 10].add(1)
    if i % 4 == 0:
        gauges[i % 5].set(i % 60)
    if i % 2 == 0:
        histograms[i % 5].record(i % 7)
frame = dev.collect()
gc.collect()
result["scenario_frame_bytes"] = len(frame) if frame else 0
result["heap_after_scenario"] = gc.mem_alloc()
print(json.dumps(result))
