# heapsize: 128K
# Ints no float can hold are refused at the call (InstrumentError), as on CPython. MicroPython's float(10**400)
# is inf, with no OverflowError: a counter took it and sent inf (the gateway rejected the frame and every other
# point in it), a gauge sent +inf.
from mpcheck import check_eq, done, raises

from litetel.device import Device
from litetel.errors import InstrumentError

dev = Device("mp-huge-ints")
m = dev.meter("test")
other = m.counter("other").bind()
other.add(3)
raises(InstrumentError, m.counter("c").bind().add, 10**400)
raises(InstrumentError, m.gauge("g").bind().set, 10**400)
raises(InstrumentError, m.gauge("g2").bind().set, -(10**400))
raises(InstrumentError, m.histogram("h").bind().record, 10**400)
s = m.counter("s").bind()
s.add(10**308)  # a float holds it: spilled exactly
raises(InstrumentError, s.add, 10**308)  # the interval's sum would not fit any float
body = dev._build_payload()
check_eq(len(body[1]), 4, "two points: other and s")
check_eq(body[1][1], 3, "other's 3")
check_eq(body[1][3], float(10**308), "s: the one accepted increment, as the nearest float")
done()
