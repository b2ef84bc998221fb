"""A sensor loop for MicroPython (also runs on CPython).

    MICROPYPATH=. micropython -X heapsize=256K examples/micropython_sensor.py [ENDPOINT HEXKEY [LOOPS]]

From the .py sources the interpreter compiles litetel in the heap: on the 64-bit unix port this needs about
128K alone and 160K with an ENDPOINT (the uploader), so 64K fails with MemoryError. Precompiled, as a board
deploys it (`make mpy-build`, then MICROPYPATH=build/mpy), 96K and 128K do (docs/api.md, "On MicroPython").

Reads a (simulated) temperature sensor and an ADC, records a counter, a gauge and a histogram into litetel with
bound series handles, keeps frames in an 8 KB in-RAM ring buffer and lets `dev.tick()` collect every interval
and push to the gateway when an endpoint is given. Prints one line per collected frame and a summary.
"""

import gc
import sys

import litetel

INTERVAL_S = 1


def read_temperature(i):
    return 40 + (i * 7) % 5  # stands in for machine.ADC / a sensor driver


def read_latency_ms(i):
    return (i * 37) % 120


def main(endpoint=None, key=None, loops=3000):
    dev = litetel.Device(
        "sensor-1",
        resource={"service.name": "sensor-loop", "host.arch": sys.platform},
        buffer=litetel.RingBuffer(capacity=8192),
        endpoint=endpoint,
        key=key,
        interval_s=INTERVAL_S,
    )
    meter = dev.meter("sensor")
    samples = meter.counter("sensor.samples", unit="{sample}").bind({"sensor": "adc0"})
    errors = meter.counter("sensor.errors", unit="{error}").bind({"sensor": "adc0"})
    temperature = meter.gauge("device.temperature", unit="Cel").bind({"sensor": "cpu"})
    latency = meter.histogram(
        "sensor.read.duration", unit="ms", boundaries=(1, 2, 5, 10, 20, 50, 100, 200)
    ).bind({"sensor": "adc0"})

    frames = 0
    recorded = 0
    for i in range(loops):
        samples.add(1)
        if i % 97 == 0:
            errors.add(1)
        temperature.set(read_temperature(i))
        latency.record(read_latency_ms(i))
        recorded += 1
        if i % 500 == 499:
            frame = dev.collect()  # a short demo interval: collect explicitly every 500 samples
            if frame is not None:
                frames += 1
                print("frame", frames, "bytes", len(frame), "pending", dev.buffer.pending)
        dev.tick(timeout_s=0.2)
    frame = dev.collect()
    if frame is not None:
        frames += 1
    acked = dev.flush() if endpoint else 0
    gc.collect()
    print("samples", recorded, "frames", frames, "pending", dev.buffer.pending, "acked", acked,
          "dropped", dev.buffer.dropped, "heap_used", gc.mem_alloc() if hasattr(gc, "mem_alloc") else -1)
    return dev


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        endpoint=args[0] if args else None,
        key=bytes.fromhex(args[1]) if len(args) > 1 else None,
        loops=int(args[2]) if len(args) > 2 else 3000,
    )
