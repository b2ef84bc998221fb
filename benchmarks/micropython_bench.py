# Run by the real MicroPython interpreter (benchmarks/bench_micropython.py starts it), not by pytest:
#   MICROPYPATH=. micropython -X heapsize=64K benchmarks/micropython_bench.py
# The bound hot path on the device: µs per bound add/record/set (time.ticks_us) and heap bytes allocated by
# 10,000 of them (gc.mem_alloc, goal 0 for integers). Prints one JSON line. The issue-2 scenario and its heap
# figures are micropython_scenario.py's: this script's own code would take heap from it.
import gc
import json
import time

import litetel

N = 10000
dev = litetel.Device("mp-bench", buffer=litetel.RingBuffer(capacity=8192))
meter = dev.meter("bench")
counter_add = meter.counter("bench.counter").bind({"slot": 0}).add
gauge_set = meter.gauge("bench.gauge").bind({"sensor": "s0"}).set
histogram_record = meter.histogram("bench.hist", boundaries=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75,
                                                             1.0, 2.5, 5.0, 7.5, 10.0, 30.0)).bind({"slot": 0}).record


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


print(json.dumps({
    "loop_us": loop_us(),
    "counter_add_us": per_call_us(counter_add, 1),
    "histogram_record_int_us": per_call_us(histogram_record, 3),
    "histogram_record_float_us": per_call_us(histogram_record, 0.042),
    "gauge_set_int_us": per_call_us(gauge_set, 40),
    "alloc_counter_add_int": allocated(counter_add, 1),
    "alloc_histogram_record_int": allocated(histogram_record, 3),
    "alloc_gauge_set_int": allocated(gauge_set, 40),
    "alloc_histogram_record_float": allocated(histogram_record, 0.042),
}))
