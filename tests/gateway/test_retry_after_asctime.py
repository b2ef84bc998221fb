"""Retry-After as an HTTP date in asctime form carries no zone but is GMT (RFC 7231 7.1.1.1); it must
not be read as local time."""

import os
import time

import pytest

from litetel_gateway.exporter import parse_retry_after


@pytest.fixture
def new_york_tz():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_asctime_retry_after_is_gmt(new_york_tz):
    now = 1_790_000_000.0
    asctime = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(now + 60))  # "Sun Sep 21 ... 2026"
    rfc850 = time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(now + 60))
    assert parse_retry_after(rfc850, now=now) == pytest.approx(60)
    assert parse_retry_after(asctime, now=now) == pytest.approx(60)  # got 60 + 4 or 5 hours
