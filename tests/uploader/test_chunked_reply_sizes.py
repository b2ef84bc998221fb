"""A chunked reply whose chunk-size line is not plain hex (a broken or hostile gateway, or anyone in the path of
the MicroPython default https link, which verifies no certificate) fails the request with OSError. ``_dechunk``
took ``int("-6", 16)`` as a size, stepped its cursor back to where it started, and looped forever (appending
b"" to a list: unbounded memory); the reply looked complete, so no socket timeout applied."""

import threading

import pytest

from litetel.transport import _dechunk


def dechunk_within(data, timeout_s=5):
    """``_dechunk(data)``'s result or exception, on a thread: a loop that never ends fails the test."""
    outcome = []

    def run():
        try:
            outcome.append(_dechunk(data))
        except Exception as exc:  # noqa: BLE001 -- the test looks at which
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        pytest.fail("_dechunk(%r) still running after %d s" % (data, timeout_s))
    return outcome[0]


@pytest.mark.parametrize("size", [b"-6", b"+6", b"0x6", b"6_0", b" ", b"g"])
def test_a_chunk_size_that_is_not_hex_fails_the_request(size):
    assert isinstance(dechunk_within(size + b"\r\nhello!\r\n0\r\n\r\n"), OSError)


def test_a_chunk_without_its_crlf_or_cut_short_fails_the_request():
    assert isinstance(dechunk_within(b"6\r\nhello!XX0\r\n\r\n"), OSError)
    assert isinstance(dechunk_within(b"6\r\nhello!"), OSError)


def test_valid_chunks_with_extensions_decode():
    assert dechunk_within(b"6;ext=1\r\nhello!\r\nA\r\n0123456789\r\n0\r\n\r\n") == b"hello!0123456789"
