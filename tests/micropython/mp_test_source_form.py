# heapsize: 256K
# form: source
# litetel imported from its .py sources (compiled at import, as on a board without precompiled .mpy files): the
# other scripts use the precompiled build/mpy form devices deploy; this one keeps the source form working.
import sys

from mpcheck import check, check_eq, done

from litetel.device import Device
from litetel.frame import decode_payload, parse_frame
from litetel.ring_buffer import RingBuffer

check(sys.modules["litetel.device"].__file__.endswith(".py"), "imported from source")
dev = Device("mp-source", buffer=RingBuffer(capacity=4096))
hits = dev.meter("src").counter("hits").bind({"board": "a"})
for _ in range(100):
    hits.add(1)
dev.meter("src").histogram("lat", boundaries=(1, 10)).record(5)
data = dev.collect()
for name in ("litetel.msgpack_pure", "litetel.cbor_encoder", "litetel.ring_buffer_file", "litetel.deflate_compression"):
    check(name not in sys.modules, "a RAM-buffer msgpack device does not load " + name)
header, payload, _ = parse_frame(data)
dict_delta, points = decode_payload(header, payload)
check_eq(len(points), 4, "two points")
check_eq(points[1], 100, "the counter's delta")
check_eq(points[3][:4], [1, 5, 5, 5], "the histogram's count, sum, min, max")
done()
