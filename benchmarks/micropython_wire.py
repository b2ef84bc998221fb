# Run by the real MicroPython interpreter (benchmarks/bench_wire.py starts it), not by pytest: the reference
# workload recorded and collected on MicroPython, so the uncompressed wire figure is what a MicroPython device
# sends (its client interns string attribute values; see docs/wire-format.md §2.1).
# stdin: one JSON header line {"resource", "scope", "counter", "histogram", "boundaries", "series"}, then per
# interval one JSON list of latencies per series and a line "collect". stdout: each frame, hex, one per line.
import json
import sys
from binascii import hexlify

import litetel

setup = json.loads(sys.stdin.readline())
dev = litetel.Device(
    "bench-device",
    resource=setup["resource"],
    buffer=litetel.RingBuffer(capacity=65536),
    codec="msgpack",
    compression="none",
    max_series=64,
)
meter = dev.meter(setup["scope"])
counter = meter.counter(setup["counter"], unit="{request}", description="HTTP requests")
histogram = meter.histogram(
    setup["histogram"], unit="s", description="HTTP request duration", boundaries=setup["boundaries"]
)
handles = [(counter.bind(attrs), histogram.bind(attrs)) for attrs in setup["series"]]
setup = None
i = 0
while True:
    line = sys.stdin.readline()
    if not line:
        break
    if line.strip() == "collect":
        print(hexlify(dev.collect()).decode())
        i = 0
        continue
    latencies = json.loads(line)
    count, latency = handles[i]
    count.add(len(latencies))
    for v in latencies:
        latency.record(v)
    i += 1
