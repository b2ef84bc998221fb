# Pure msgpack / CBOR twins and bounded deflate on the real MicroPython: round trips, bytes produced by the
# C libraries on CPython (embedded below), and decoders that fail only with CodecError.
from mpcheck import check, check_eq, done, raises

from litetel import cbor_pure, codecs, compression, decoding, msgpack_pure
from litetel.errors import CodecError

VALUES = [None, True, False, 0, 127, 128, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31),
          -(2 ** 31) - 1, 2 ** 32, 2 ** 63, 2 ** 64 - 1, -(2 ** 63), 1.5, 0.1, -2.5e300, float("inf"),
          "h\u00e9llo", "x" * 40, b"\x00\xff", {"a": [1, {"b": None}], "n": -7}, list(range(20))]

# msgpack.packb(VALUES, use_bin_type=True).hex() and cbor2.dumps(VALUES).hex(), generated on CPython
MSGPACK_C = ("dc001cc0c3c2007fcc80ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffcf000000010000"
             "0000cf8000000000000000cfffffffffffffffffd38000000000000000cb3ff8000000000000cb3fb999999999999acb"
             "fe4ddd4baa009303cb7ff0000000000000a668c3a96c6c6fd92878787878787878787878787878787878787878787878"
             "787878787878787878787878787878787878c40200ff82a161920181a162c0a16ef9dc0014000102030405060708090a"
             "0b0c0d0e0f10111213")
CBOR_C = ("981cf6f5f400187f188020381f3820387f3880397fff3980003a7fffffff3a800000001b00000001000000001b800000"
          "00000000001bffffffffffffffff3b7ffffffffffffffffb3ff8000000000000fb3fb999999999999afbfe4ddd4baa00"
          "9303f97c006668c3a96c6c6f782878787878787878787878787878787878787878787878787878787878787878787878"
          "7878787878784200ffa261618201a16162f6616e2694000102030405060708090a0b0c0d0e0f10111213")
# zlib.compress(b"litetel " * 200).hex()
ZLIB_C = "789ccbc92c492d49cd51c819a547e9517a941ea54769126800e30566f7"


def same_values(got, expected, msg):
    check_eq(len(got), len(expected), msg + ": length")
    for i in range(len(expected)):
        check_eq(got[i], expected[i], msg + ": item %d" % i)
        check_eq(type(got[i]), type(expected[i]), msg + ": type of item %d" % i)


# the C libraries' bytes decode to the same values
same_values(msgpack_pure.unpackb(bytes.fromhex(MSGPACK_C)), VALUES, "msgpack from C")
same_values(cbor_pure.loads(bytes.fromhex(CBOR_C)), VALUES, "cbor from C")

# round trips, depth and range limits, truncation
for name, encode, decode in (("msgpack", msgpack_pure.packb, msgpack_pure.unpackb),
                             ("cbor", cbor_pure.dumps, cbor_pure.loads)):
    same_values(decode(encode(VALUES)), VALUES, name + " round trip")
    nan = decode(encode(float("nan")))
    check(nan != nan, name + " NaN")  # noqa: PLR0124
    deep = []
    for _ in range(msgpack_pure.MAX_DEPTH - 1):
        deep = [deep]
    check_eq(decode(encode(deep)), deep, name + " deepest allowed nesting")
    raises(CodecError, encode, [deep])
    raises(CodecError, encode, 2 ** 64)
    raises(CodecError, encode, -(2 ** 63) - 1)
    raises(CodecError, encode, {1, 2})
    good = encode(VALUES)
    for cut in range(0, len(good), 7):
        raises(CodecError, decode, good[:cut])
    raises(CodecError, decode, good + b"\x00")
    raises(CodecError, decode, "not bytes")
ints_only = [v for v in VALUES if not isinstance(v, float)]
check_eq(msgpack_pure.packb(-(2 ** 63)), bytes.fromhex("d38000000000000000"), "int64 min bytes")
check_eq(msgpack_pure.packb(2 ** 64 - 1), bytes.fromhex("cfffffffffffffffff"), "uint64 max bytes")
check_eq(cbor_pure.dumps(1.5), b"\xf9\x3e\x00", "cbor float16")
check_eq(msgpack_pure.packb(1.5), b"\xca\x3f\xc0\x00\x00", "msgpack float32 when exact")

# hostile inputs: lengths larger than the input, garbage type bytes, tags, bad UTF-8
for data in (b"\xdd\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xc1", b"\xd6\xff\x00\x00\x00\x01",
             b"\xa2\xff\xfe", b"\x81\x91\x01\x02", b"\x91" * 3000 + b"\xc0"):
    raises(CodecError, msgpack_pure.unpackb, data)
for data in (b"\x9b\x00\x00\x00\xff\xff\xff\xff\xff", b"\xc1\x01", b"\x9f\x01\xff", b"\xf7", b"\x62\xff\xfe",
             b"\x81" * 3000 + b"\xf6"):
    raises(CodecError, cbor_pure.loads, data)
# a small deterministic fuzz: bytes from a LCG, every result a value or CodecError
seed = 12345
for _ in range(300):
    buf = bytearray()
    for _ in range(seed % 24):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        buf.append(seed >> 16 & 0xFF)
    seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
    for decode in (msgpack_pure.unpackb, cbor_pure.loads):
        try:
            decode(bytes(buf))
        except CodecError:
            pass

# litetel.codecs picks the pure twins here
check_eq(codecs.IMPLEMENTATION["msgpack"], "pure", "msgpack implementation")
check_eq(codecs.IMPLEMENTATION["cbor"], "pure", "cbor implementation")
check_eq(decoding.decode(codecs.MSGPACK, codecs.encode(codecs.MSGPACK, ints_only)), ints_only, "codecs msgpack")
check_eq(decoding.decode(codecs.CBOR, codecs.encode(codecs.CBOR, ints_only)), ints_only, "codecs cbor")
raises(CodecError, codecs.encode, 9, 1)

# compression: deflate inflates with a bound; it deflates only when the firmware can
text = b"litetel " * 200
check_eq(decoding.decompress(compression.DEFLATE, bytes.fromhex(ZLIB_C), len(text)), text, "inflate")
e = raises(CodecError, decoding.decompress, compression.DEFLATE, bytes.fromhex(ZLIB_C), len(text) - 1)
check("exceeds" in str(e), "inflate over the bound says exceeds")
raises(CodecError, decoding.decompress, compression.DEFLATE, bytes.fromhex(ZLIB_C)[:-9], 4096)
raises(CodecError, decoding.decompress, compression.DEFLATE, b"garbage!", 4096)
check(compression.ZSTD not in compression.available(), "no zstd on MicroPython")
if compression.DEFLATE in compression.available():
    blob = compression.compress(compression.DEFLATE, text)
    check_eq(decoding.decompress(compression.DEFLATE, blob, len(text)), text, "deflate round trip")
    check_eq(compression.best_available(), compression.DEFLATE, "best is deflate")
else:
    raises(CodecError, compression.compress, compression.DEFLATE, text)
    check_eq(compression.best_available(), compression.NONE, "best is none without deflate compression")
check_eq(decoding.decompress(compression.NONE, b"abc", 3), b"abc", "none")
raises(CodecError, decoding.decompress, compression.NONE, b"abcd", 3)
done()
