"""Running totals past 64 bits. The /metrics view's total of a counter (an up-down counter, a histogram count)
was an unbounded Python int: past 64 bits ``save_prom_series`` (msgpack) raised inside the ingest transaction,
the request was undone and answered 503, and every later upload with that series failed the same way, the
device wedged for good. Now such a total goes on as a double (cumulative histogram counts, OTLP fixed64,
saturate)."""

from devicesim import COUNTER, UP_DOWN_COUNTER, SimDevice

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND
INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)


def test_counter_total_past_64_bits_does_not_wedge_the_device(harness):
    dev = SimDevice()
    sid = dev.series(dev.instrument("bytes", COUNTER, "By"))
    for i in range(3):  # each delta is a valid int64; the third pushes the /metrics total past 2**64
        frame = dev.frame([sid, INT64_MAX], T0 + i * SECOND, T0 + (i + 1) * SECOND)
        assert harness.send(dev, [frame], receive_us=T0 + 4 * SECOND) == ["ok"]
    small = dev.frame([sid, 1], T0 + 3 * SECOND, T0 + 4 * SECOND)
    assert harness.send(dev, [small], receive_us=T0 + 4 * SECOND) == ["ok"]
    assert len(harness.queue()) == 4


def test_up_down_counter_total_below_int64_min_does_not_wedge_the_device(harness):
    dev = SimDevice()
    sid = dev.series(dev.instrument("level", UP_DOWN_COUNTER))
    for i in range(2):
        frame = dev.frame([sid, INT64_MIN], T0 + i * SECOND, T0 + (i + 1) * SECOND)
        assert harness.send(dev, [frame], receive_us=T0 + 4 * SECOND) == ["ok"]


def test_histogram_count_total_past_64_bits_does_not_wedge_the_device(harness):
    from devicesim import HISTOGRAM

    dev = SimDevice()
    sid = dev.series(dev.instrument("lat", HISTOGRAM, bounds=[1.0]))
    big = (1 << 64) - 1  # a valid OTLP fixed64 count
    for i in range(2):
        frame = dev.frame([sid, [big, 0.5, 0.5, 0.5, 0, big]], T0 + i * SECOND, T0 + (i + 1) * SECOND)
        assert harness.send(dev, [frame], receive_us=T0 + 4 * SECOND) == ["ok"]


def test_cumulative_histogram_count_past_64_bits_does_not_wedge_the_device(make_harness):
    from devicesim import HISTOGRAM

    harness = make_harness(temporality="cumulative")
    dev = SimDevice()
    sid = dev.series(dev.instrument("lat", HISTOGRAM, bounds=[1.0]))
    big = (1 << 64) - 1
    for i in range(2):
        frame = dev.frame([sid, [big, 0.5, 0.5, 0.5, 0, big]], T0 + i * SECOND, T0 + (i + 1) * SECOND)
        assert harness.send(dev, [frame], receive_us=T0 + 4 * SECOND) == ["ok"]
