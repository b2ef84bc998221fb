# heapsize: 184K
# (passes from 175K on the 64-bit port: the tracing modules, this script's decoder and its checks' strings;
# the 256 interned names take about 15 KB of it.)
# Span names with ids in them, on the real MicroPython: the epoch interns at most
# dictionary.MAX_SIGNAL_STRINGS strings, and past that a new span or event name travels inline. So the heap
# stops growing while every span is still sent with its name. (Before: one interned string per name, until
# MemoryError.)
import gc

from mpcheck import check, check_eq, done

import litetel

ring = litetel.RingBuffer(capacity=8192)  # first: a contiguous block is easiest to find before the imports

from litetel import frame, frame_parse, msgpack_pure  # noqa: F401 (the test's own decoder, loaded first)
from litetel.dictionary import MAX_SIGNAL_STRINGS

BATCH = 40
dev = litetel.Device("mp-names", max_spans=BATCH, buffer=ring)
tracer = dev.tracer("app")
strings = dev.dictionary.strings  # what the gateway's copy holds once every delta arrived (checked below)
received = [0]  # strings the deltas carried
heaps = []
sent = [0, 0]  # spans, and those whose name travelled inline


def interval(b):
    for i in range(b * BATCH, (b + 1) * BATCH):
        with tracer.span("order %d" % i) as span:
            span.add_event("step %d" % i)
    data = dev.collect()
    dev.buffer.ack(dev.buffer.next_seq - 1)
    header, payload, _ = frame.parse_frame(data)
    body = frame.decode_payload(header, payload)
    if body[0] is not None:
        check_eq(body[0][0], received[0], "strings delta follows on")
        received[0] += len(body[0][1])
    i = b * BATCH
    for s in body[2]:
        name, event = s[4], s[9][0][0]
        inline = isinstance(name, str)
        check_eq(name if inline else strings[name], "order %d" % i, "span name")
        check_eq(event if isinstance(event, str) else strings[event], "step %d" % i, "event name")
        sent[0] += 1
        sent[1] += inline
        i += 1


for b in range(15):  # 600 span names and 600 event names, 1,200 strings without the bound
    interval(b)
    gc.collect()
    heaps.append(gc.mem_alloc())

print("heap after each interval:", heaps)
print("strings interned: %d (bound %d)" % (len(dev.dictionary.strings), MAX_SIGNAL_STRINGS))
check(len(dev.dictionary.strings) <= MAX_SIGNAL_STRINGS, "the string table stops at the bound")
check_eq(received[0], len(strings), "every interned string was sent")
check_eq(sent[0], 15 * BATCH, "every span sent, its names as recorded")
check(0 < sent[1] < sent[0], "the first names interned, the later ones inline")
check(heaps[-1] - heaps[8] <= 512, "the heap stops growing: %d then %d bytes" % (heaps[8], heaps[-1]))
done()
