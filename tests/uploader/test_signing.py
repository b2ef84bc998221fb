"""HMAC-SHA256: the pure twin against CPython's hmac and the RFC 4231 vectors; the request signature of §4."""

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litetel import signing
from litetel.signing import hmac_sha256, pure_hmac_sha256, sign_request

# RFC 4231 §4.2–4.8: (key, data, HMAC-SHA-256; test case 5 is truncated to 128 bits)
RFC4231 = [
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


@pytest.mark.parametrize("fn", [hmac_sha256, pure_hmac_sha256])
@pytest.mark.parametrize("key,data,expected", RFC4231)
def test_rfc4231_vectors(fn, key, data, expected):
    assert fn(key, data).hex()[: len(expected)] == expected


@settings(max_examples=300)
@given(key=st.binary(min_size=0, max_size=200), msg=st.binary(max_size=300))
def test_pure_twin_equals_hmac_module(key, msg):
    expected = hmac.new(key, msg, hashlib.sha256).digest()
    assert pure_hmac_sha256(key, msg) == expected
    assert hmac_sha256(key, msg) == expected


def test_pure_key_cache_follows_the_key():
    assert pure_hmac_sha256(b"k1", b"m") != pure_hmac_sha256(b"k2", b"m")
    assert pure_hmac_sha256(b"k1", b"m") == hmac.new(b"k1", b"m", hashlib.sha256).digest()


@pytest.mark.parametrize("pure", [False, True])
def test_sign_request_covers_every_field_and_the_body(monkeypatch, pure):
    if pure:
        monkeypatch.setattr(signing, "_hmac", None)
    key = b"per-device secret"
    body = bytes(range(256)) * 300  # larger than a block, fed piecewise
    sig = sign_request(key, "sat-7", "42.17", 1700000000123, 987654321, body)
    expected = hmac.new(key, b"litetel-v1\nsat-7\n42.17\n1700000000123\n987654321\n" + body, hashlib.sha256)
    assert sig == expected.hexdigest()
    for changed in [
        sign_request(key, "sat-8", "42.17", 1700000000123, 987654321, body),
        sign_request(key, "sat-7", "42.18", 1700000000123, 987654321, body),
        sign_request(key, "sat-7", "42.17", 1700000000124, 987654321, body),
        sign_request(key, "sat-7", "42.17", 1700000000123, 987654320, body),
        sign_request(key, "sat-7", "42.17", 1700000000123, 987654321, body[:-1]),
        sign_request(b"other", "sat-7", "42.17", 1700000000123, 987654321, body),
    ]:
        assert changed != sig
