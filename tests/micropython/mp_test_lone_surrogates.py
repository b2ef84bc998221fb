# MicroPython's str may hold a lone surrogate: "\ud800", chr(0xD800), or bytes decoded from the outside world
# (b"\xed\xa0\x80".decode() succeeds here; CPython refuses it). Its "UTF-8" is then ED A0 80, which is not
# UTF-8: the gateway's decoders (msgpack, cbor2, strict UTF-8) reject the whole frame, and every dictionary
# refresh carrying that string. So, as on CPython, the encoders refuse such a str (CodecError), the device
# refuses it where it enters (InstrumentError, api.md) and replaces it with U+FFFD in span/log text; MicroPython
# used to let it through.
from mpcheck import check, done, raises

import litetel
from litetel import cbor_encoder, msgpack_encoder
from litetel.errors import CodecError, InstrumentError

lone = b"\xed\xa0\x80".decode()  # what a sensor, a file or a socket may hand the application

raises(CodecError, msgpack_encoder.packb, lone)
raises(CodecError, cbor_encoder.dumps, ["ok", lone])

dev = litetel.Device("mp-surrogate", buffer=litetel.RingBuffer(capacity=4096))
counter = dev.meter("m").counter("c")
raises(InstrumentError, counter.bind, {"k": lone})

# a span's text never raises: it travels as U+FFFD, as on CPython
tracer = dev.tracer("t")
tracer.start_span("op " + lone, attrs={"v": lone}).end()
frame = dev.collect()
check(frame is not None and b"\xed\xa0\x80" not in bytes(frame), "a frame carries a lone surrogate (not UTF-8)")
done()
