# heapsize: 64K
# HMAC-SHA256 on the real MicroPython: the pure path (no hmac there) against RFC 4231 and CPython's values.
import binascii

from mpcheck import check, check_eq, done

from litetel import accel, signing
from litetel.signing import hmac_sha256, pure_hmac_sha256, sign_request

check(not accel.ENABLED and signing._hmac is None, "MicroPython signs with the pure HMAC")


def hexof(b):
    return binascii.hexlify(b).decode()


from rfc4231_vectors import VECTORS  # noqa: E402

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
