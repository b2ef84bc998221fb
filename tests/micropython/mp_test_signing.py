# heapsize: 64K
# HMAC-SHA256 on the real MicroPython: the pure path (no hmac there) against RFC 4231 and CPython's values.
import binascii

from mpcheck import check, check_eq, done

from litetel import accel, signing
from litetel.signing import hmac_sha256, pure_hmac_sha256, sign_request

check(not accel.ENABLED and signing._hmac is None, "MicroPython signs with the pure HMAC")


def hexof(b):
    return binascii.hexlify(b).decode()


# RFC 4231 §4.2-4.8 (case 5 is truncated to 128 bits)
VECTORS = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data. The key "
        b"needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]
for i, (key, data, expected) in enumerate(VECTORS):
    check_eq(hexof(hmac_sha256(key, data))[: len(expected)], expected, "RFC 4231 case %d" % (i + 1))
    check_eq(pure_hmac_sha256(key, data), hmac_sha256(key, data), "pure twin, case %d" % (i + 1))

# Values computed on CPython with the hmac module (tests/uploader/test_signing.py checks the same there).
check_eq(
    sign_request(b"secret", "sat-7", "42.1", 1700000000000, 5000000, b"..."),
    "63efd2a381ae11180b8d52fb75afd5c2ec3cf9b687d721f9918f8797a397a8bc",
    "request signature",
)
check_eq(
    sign_request(b"k" * 100, "sat-7", "3.9", 0, 1 << 40, bytes(range(256)) * 10),
    "673d9e6753dd11ece1b0c7d09175e12a5f82cef6cdf6dcaa2f72763133b1a2bd",
    "long key, big ticks, binary body",
)
check(
    sign_request(b"secret", "sat-7", "42.2", 1700000000000, 5000000, b"...")
    != sign_request(b"secret", "sat-7", "42.1", 1700000000000, 5000000, b"..."),
    "the nonce is signed",
)
done()
