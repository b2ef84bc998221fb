"""HMAC-SHA256: the pure twin against CPython's hmac and the RFC 4231 vectors; the request signature of §4."""

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litetel import signing
from litetel.signing import hmac_sha256, pure_hmac_sha256, sign_request
from tests.micropython.rfc4231_vectors import VECTORS as RFC4231


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
