# heapsize: 64K
# (issue 3's goal heap: the precompiled .mpy modules fit; compiled from source they needed about 80K)
# Frames on the real MicroPython: pack/parse, CRC failure detection, range checks (struct truncates silently
# here), iteration over an upload body, and a frame produced by CPython (msgpack + zlib) decoded.
from mpcheck import check, check_eq, done, raises

from litetel import codecs, compression, frame
from litetel.errors import CodecError, FrameError

DEV = frame.device_hash("sat-7")
OBJ = [None, [0, 5, 1, -7, 2, 1.5, 3, [4, 10.5, 0.5, 7.0, 1, 2, 0, 2]]]

# pack_frame(FLAG_CLOCK_TICKS, MSGPACK, DEFLATE, device_hash("sat-7"), 7, 3, 1000, 61000000, payload) on CPython,
# payload = msgpack of [None, [0, 5, 1, -7, 2, 1.5]] through zlib.compressobj(6, DEFLATED, 9): a 512-byte window,
# which a small heap can inflate (CPython's default 32 KB window cannot be, under 64K)
CPYTHON_FRAME = ("4c54010100020000faf1ff0beec0cacb000000070000000300000000000003e80000000003a2c9400000001640a6d7fa"
                 "18959b74601a032be34fa6d3f63f18c00000398404ec")

check_eq(DEV, bytes.fromhex("faf1ff0beec0cacb"), "device hash is sha256(id)[:8]")

# a CPython frame parses and decodes here
header, payload, end = frame.parse_frame(bytes.fromhex(CPYTHON_FRAME))
check_eq((header.flags, header.codec, header.compression), (frame.FLAG_CLOCK_TICKS, 0, 2), "cpython header")
check_eq((header.epoch, header.seq, header.start, header.end), (7, 3, 1000, 61000000), "cpython header ints")
check_eq(frame.decode_payload(header, payload, 4096), [None, [0, 5, 1, -7, 2, 1.5]], "cpython payload")

# round trip with every codec and the compressions this firmware can produce
for codec_id in (codecs.MSGPACK, codecs.CBOR):
    for comp in compression.available():
        data = frame.encode_frame(OBJ, codec_id, comp, DEV, 0xFFFFFFFF, 2 ** 32 - 1, 2 ** 63, 2 ** 64 - 1)
        header, payload, end = frame.parse_frame(data)
        check_eq(end, len(data), "next offset")
        check_eq((header.epoch, header.seq, header.start, header.end),
                 (0xFFFFFFFF, 2 ** 32 - 1, 2 ** 63, 2 ** 64 - 1), "64-bit header fields survive")
        check_eq(frame.decode_payload(header, payload), OBJ, "payload round trip")

# an upload body: several frames back to back
body = b"".join(frame.encode_frame(OBJ, 0, 0, DEV, 1, seq, seq * 10, seq * 10 + 5) for seq in range(1, 6))
check_eq([h.seq for h, p in frame.iter_frames(body)], [1, 2, 3, 4, 5], "iter_frames")

# CRC: a flipped bit anywhere after magic/version/payload_len is a crc mismatch; every flip is a FrameError
data = frame.encode_frame(OBJ, 0, 0, DEV, 1, 1, 0, 0)
for bit in range(0, len(data) * 8, 3):
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    e = raises(FrameError, frame.parse_frame, bytes(flipped))
    byte = bit // 8
    if byte >= 3 and not 40 <= byte < 44:
        check(str(e).startswith("crc mismatch"), "flip in byte %d: %s" % (byte, e))
for cut in range(0, len(data), 5):
    e = raises(FrameError, frame.parse_frame, data[:cut])
    check(str(e).startswith("truncated"), "cut at %d" % cut)

# range checks: MicroPython's struct would truncate these silently
raises(FrameError, frame.pack_frame, 0, 0, 0, DEV, 2 ** 32, 1, 0, 0, b"")
raises(FrameError, frame.pack_frame, 0, 0, 0, DEV, 1, -1, 0, 0, b"")
raises(FrameError, frame.pack_frame, 0, 0, 0, DEV, 1, 1, 0, 2 ** 64, b"")
raises(FrameError, frame.pack_frame, 0, 0, 0, DEV, 1, 1, 5, 4, b"")
raises(FrameError, frame.pack_frame, 4, 0, 0, DEV, 1, 1, 0, 0, b"")
raises(FrameError, frame.pack_frame, 0, 2, 0, DEV, 1, 1, 0, 0, b"")
raises(FrameError, frame.pack_frame, 0, 0, 3, DEV, 1, 1, 0, 0, b"")
raises(FrameError, frame.pack_frame, 0, 0, 0, b"short", 1, 1, 0, 0, b"")
raises(CodecError, frame.encode_frame, [2 ** 64], 0, 0, DEV, 1, 1, 0, 0)
done()
