"""Request signing: HMAC-SHA256 (wire format §4), with a pure-Python twin of CPython's ``hmac``.

MicroPython has ``hashlib.sha256`` but no ``hmac``, so the pure path is RFC 2104 over ``hashlib.sha256``; on
CPython with ``litetel.accel.ENABLED`` the ``hmac`` module is used. Both are tested against each other and
against the RFC 4231 vectors. The key is only ever fed to the hash: it never travels and is never logged.

    >>> from litetel.signing import hmac_sha256, sign_request
    >>> hmac_sha256(b"key", b"message").hex()[:16]
    '6e9ef29b75fffc5b'
    >>> len(sign_request(b"key", "sat-7", "17.1", 0, 123456, b"frames"))
    64
"""

import binascii
import hashlib

from litetel import accel

if accel.ENABLED:
    import hmac as _hmac
else:
    _hmac = None

_BLOCK = 64  # SHA-256 block size, bytes
_PREFIX = b"litetel-v1\n"

# (key, ipad key, opad key) of the last key used: a device signs every request with the same key, so the two
# padded keys are computed once instead of per request.
_pads = [None, None, None]


def _padded_keys(key):
    if _pads[0] != key:
        k = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
        k = k + bytes(_BLOCK - len(k))
        _pads[1] = bytes(b ^ 0x36 for b in k)
        _pads[2] = bytes(b ^ 0x5C for b in k)
        _pads[0] = key
    return _pads[1], _pads[2]


def _pure_hmac_parts(key, parts):
    ipad, opad = _padded_keys(key)
    inner = hashlib.sha256(ipad)
    for part in parts:
        inner.update(part)
    outer = hashlib.sha256(opad)
    outer.update(inner.digest())
    return outer.digest()


def _hmac_parts(key, parts):
    """HMAC-SHA256 of the concatenation of ``parts`` (fed piecewise: a 64 KiB body is never copied)."""
    if _hmac is None:
        return _pure_hmac_parts(key, parts)
    mac = _hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def hmac_sha256(key, msg):
    """HMAC-SHA256 of ``msg`` under ``key`` (both bytes), 32 raw bytes.

    >>> hmac_sha256(b"k", b"m") == hmac_sha256(b"k", memoryview(b"m"))
    True
    """
    return _hmac_parts(key, (msg,))


def pure_hmac_sha256(key, msg):
    """The pure-Python HMAC-SHA256 whatever ``accel`` says (the MicroPython path; tested against ``hmac``)."""
    return _pure_hmac_parts(key, (msg,))


def signed_text(device_id, nonce, time_ms, ticks_us):
    """The signed fields before the body: ``device\\nnonce\\ntime\\nticks\\n`` (wire format §4), as bytes."""
    return ("%s\n%s\n%d\n%d\n" % (device_id, nonce, time_ms, ticks_us)).encode()


def sign_request(key, device_id, nonce, time_ms, ticks_us, body):
    """Lowercase hex signature of one upload request (the ``X-Litetel-Signature`` header).

    Covers ``b"litetel-v1\\n" + device + "\\n" + nonce + "\\n" + time + "\\n" + ticks + "\\n" + body``.

        >>> sign_request(b"secret", "sat-7", "42.1", 1700000000000, 5000000, b"...")[:8]
        '63efd2a3'
    """
    mac = _hmac_parts(key, (_PREFIX, signed_text(device_id, nonce, time_ms, ticks_us), body))
    return binascii.hexlify(mac).decode()
