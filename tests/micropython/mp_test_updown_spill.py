# heapsize: 128K
# An up-down counter's add of an int below the array('l') range (32-bit boards: below -2**31) spills
# exactly into a Python int, as a positive one does; it used to recurse forever (_Sum._add / _add_other).
from mpcheck import check_eq, done

from litetel.device import Device
from litetel.instruments import _LMIN

dev = Device("mp-updown-spill")
u = dev.meter("test").updown_counter("delta")
h = u.bind()
h.add(_LMIN - 2)
h.add(3)
body = dev._build_payload()
check_eq(body[1][1], _LMIN + 1, "the interval sum, exact")
done()
