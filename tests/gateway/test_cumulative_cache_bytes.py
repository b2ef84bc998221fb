"""The cumulative state cache is bounded in bytes as well as in (device, epoch) count, like the dictionary
cache beside it: one authenticated device opening epoch after epoch of large histogram series made the writer
keep every epoch's state in memory."""

import time

import msgpack
from devicesim import SimDevice

from litetel_gateway.decoder import HISTOGRAM

SECOND = 1_000_000
T0 = (int(time.time()) - 3600) * SECOND


def test_cumulative_cache_is_bounded_in_bytes_like_the_dictionary_cache(make_harness):
    harness = make_harness(temporality="cumulative")
    store = harness.store
    store._dictionary_cache_bytes = 64 << 10  # the byte bound the dictionary cache keeps (64 MiB scaled down)
    bounds = list(range(1, 64))
    dev = SimDevice()
    for epoch in range(1, 41):
        dev.reboot(epoch=epoch)
        dev.strings, dev.scopes, dev.instruments, dev.series_table, dev._sid = [], [], [], [], {}
        inst = dev.instrument("h", HISTOGRAM, bounds=bounds)
        points = []
        for i in range(100):
            sid = dev.series(inst, {"k": "v%d" % i})
            points += [sid, [1, 1.0, 1.0, 1.0, i % 64, 1]]
        dev.seq = 0
        assert harness.send(dev, [dev.frame(points, T0, T0 + SECOND)]) == ["ok"]
    cached = sum(len(msgpack.packb(state)) for states in store._cumulative.values() for state in states.values())
    print("dictionary cache: %d entries %d B; cumulative cache: %d entries ~%d B packed"
          % (len(store._dictionaries), store._dictionary_bytes, len(store._cumulative), cached))
    assert cached <= store._dictionary_cache_bytes
