# Run by the real MicroPython interpreter (benchmarks/bench_micropython.py starts it), not by pytest:
#   MICROPYPATH=. micropython -X heapsize=64K benchmarks/micropython_scenario.py
# Issue 2's device scenario and nothing else, so the smallest heap that runs it is the scenario's own: import
# litetel, 20 series (10 counters, 5 gauges, 5 histograms of 16 buckets), 10,000 recordings, collect() into an
# 8 KB RAM buffer. Prints one JSON line of heap figures. The timings live in micropython_bench.py: a board
# compiles the whole script before running it, and their code took 1-2 KB of this heap (2026-12-06).
# With $LITETEL_ROMFS set, litetel comes from that ROMFS image, mounted first; rom_heap is what it took.
import gc
import json
import os

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

BOUNDARIES = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0)
dev = Device("mp-bench", buffer=RingBuffer(capacity=8192))
meter = dev.meter("bench")
counters = [meter.counter("bench.counter.%d" % i).bind({"slot": i}) for i in range(10)]
gauges = [meter.gauge("bench.gauge.%d" % i).bind({"sensor": "s%d" % i}) for i in range(5)]
histograms = [meter.histogram("bench.hist.%d" % i, boundaries=BOUNDARIES).bind({"slot": i}) for i in range(5)]
gc.collect()
HEAP_SETUP = gc.mem_alloc()

for i in range(10000):
    counters[i % 10].add(1)
    if i % 4 == 0:
        gauges[i % 5].set(i % 60)
    if i % 2 == 0:
        histograms[i % 5].record(i % 7)
frame = dev.collect()  # the first frame: it carries the whole dictionary too
gc.collect()
print(json.dumps({
    "version": ".".join(str(v) for v in __import__("sys").implementation.version[:3]),
    "rom_heap": ROM_HEAP,
    "heap_import": HEAP_IMPORT - HEAP_START,
    "heap_setup_20_series": HEAP_SETUP - HEAP_IMPORT,
    "heap_total_after_setup": HEAP_SETUP,
    "scenario_frame_bytes": len(frame) if frame else 0,
    "heap_after_scenario": gc.mem_alloc(),
}))
