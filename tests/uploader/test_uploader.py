"""The uploader against a scripted gateway over real HTTP: batching, acks, resends, error rules, backoff."""

import logging
import random
import time
from email.utils import formatdate

import pytest
from uploader_fakes import (
    COMMIT_THEN_RESET,
    HANG,
    KEY,
    RESET,
    FakeDevice,
    Reply,
    ScriptedGateway,
    split_frames,
)

from litetel.transport import http_transport, socket_transport
from litetel.uploader import Uploader


class MaxRng:
    """random() just below 1: the jittered wait equals its cap, so the backoff sequence is exact."""

    def random(self):
        return 0.999999


@pytest.fixture
def gateway():
    with ScriptedGateway() as gw:
        yield gw


@pytest.fixture
def device():
    return FakeDevice()


def make_uploader(device, gateway, **kw):
    kw.setdefault("key", KEY)
    kw.setdefault("timeout_s", 2)
    kw.setdefault("rng", MaxRng())
    up = Uploader(device, endpoint=gateway.url, **kw)
    device.uploader = up
    return up


# --- the happy path -----------------------------------------------------------------------------------------


def test_flush_batches_up_to_byte_budget_and_acks_free_frames(gateway, device):
    seqs = device.record(10, payload_bytes=952)  # 1000-byte frames
    up = make_uploader(device, gateway, max_request_bytes=3500)
    assert up.flush() == 10
    assert [gateway.seqs(i) for i in range(len(gateway.requests))] == [
        seqs[0:3],
        seqs[3:6],
        seqs[6:9],
        seqs[9:],
    ]
    assert all(len(r["body"]) <= 3500 for r in gateway.requests)
    assert device.buffer.pending == 0
    assert gateway.delivered == [(7, s) for s in seqs]
    assert device.counter("frames.sent") == 10 and device.counter("frames.acked") == 10
    assert device.counter("bytes.sent") == 10000 and device.counter("retries") == 0


def test_max_frames_caps_a_request(gateway, device):
    device.record(5, payload_bytes=10)
    up = make_uploader(device, gateway, max_frames=2)
    assert up.flush() == 5
    assert [len(r["frames"]) for r in gateway.requests] == [2, 2, 1]


def test_requests_are_signed_with_increasing_nonces(gateway, device):
    device.record(3)
    up = make_uploader(device, gateway, max_frames=1)
    up.flush()
    assert all(r["signature_ok"] for r in gateway.requests)
    assert gateway.nonces() == ["7.1", "7.2", "7.3"]
    h = gateway.requests[0]["headers"]
    assert h["Content-Type"] == "application/vnd.litetel.frames" and h["X-Litetel-Device"] == "sat-7"
    assert abs(int(h["X-Litetel-Time"]) - time.time() * 1000) < 60000
    assert int(h["X-Litetel-Ticks"]) > 0
    assert KEY.decode() not in repr(gateway.requests[0]["headers"])


def test_device_without_wall_clock_sends_time_zero(gateway):
    device = FakeDevice(wall_clock=False)
    device.record(1)
    make_uploader(device, gateway).flush()
    assert gateway.requests[0]["headers"]["X-Litetel-Time"] == "0"
    assert gateway.requests[0]["signature_ok"]


def test_a_wrong_key_fails_the_gateways_check(gateway, device):
    device.record(1)
    make_uploader(device, gateway, key=b"another key").flush()
    assert gateway.requests[0]["signature_ok"] is False


def test_nothing_pending_sends_nothing(gateway, device):
    up = make_uploader(device, gateway)
    assert up.flush() == 0 and up.tick(0.5) == 0
    assert gateway.requests == []


def test_no_endpoint_keeps_frames(device):
    device.record(2)
    up = Uploader(device)
    assert up.flush() == 0 and up.tick(1) == 0
    assert device.buffer.pending == 2


# --- lost replies and link failures -------------------------------------------------------------------------


def test_lost_reply_resends_same_frames_with_new_nonce(gateway, device):
    seqs = device.record(3)
    gateway.script = [COMMIT_THEN_RESET]
    up = make_uploader(device, gateway)
    assert up.flush() == 0
    assert device.buffer.pending == 3 and not up.ready() and up.failures == 1
    assert up.flush() == 3
    assert gateway.seqs(0) == gateway.seqs(1) == seqs
    assert gateway.nonces() == ["7.1", "7.2"]
    assert [r for r in gateway.requests[1]["frames"]] and gateway.delivered == [(7, s) for s in seqs]
    assert device.buffer.pending == 0 and up.ready() and up.failures == 0
    assert device.counter("retries") == 1 and device.counter("frames.sent") == 6


@pytest.mark.parametrize(
    "step",
    [
        RESET,
        HANG,
        Reply(500),
        Reply(502),
        Reply(200, body=b"not json"),
        Reply(200, results=["skipped", "skipped"]),
    ],
)
def test_retryable_failures_keep_frames_and_back_off(gateway, device, step):
    device.record(2)
    gateway.script = [step]
    up = make_uploader(device, gateway, timeout_s=0.3, backoff_base_s=5)
    assert up.flush() == 0
    assert device.buffer.pending == 2 and device.drops == {}
    assert not up.ready() and 4 < up.retry_in_s() <= 5
    assert device.counter("retries") == 1 and len(gateway.requests) == 1
    assert up.flush() == 2  # the next attempt goes through
    assert device.buffer.pending == 0


def test_connection_refused_is_a_retryable_failure(device):
    with ScriptedGateway() as gw:
        url = gw.url
    device.record(1)
    up = Uploader(device, endpoint=url, key=KEY, rng=MaxRng(), timeout_s=1)
    assert up.flush() == 0
    assert not up.ready() and "link" in up.last_error and device.buffer.pending == 1


def test_tick_never_exceeds_its_timeout(gateway, device):
    device.record(1)
    gateway.script = [HANG]
    up = make_uploader(device, gateway, timeout_s=10)
    started = time.monotonic()
    assert up.tick(0.3) == 0
    assert time.monotonic() - started < 2  # bounded by the tick's 0.3 s, not the 10 s request timeout
    assert not up.ready()


# --- status codes -------------------------------------------------------------------------------------------


def test_400_drops_the_first_frame_and_goes_on(gateway, device):
    seqs = device.record(3)
    gateway.script = [Reply(400)]
    up = make_uploader(device, gateway)
    assert up.flush() == 2
    assert device.drops == {"rejected": 1}
    assert gateway.seqs(1) == seqs[1:] and gateway.delivered == [(7, s) for s in seqs[1:]]
    assert up.ready()


@pytest.mark.parametrize("status", [404, 409, 422])
def test_other_4xx_drop_the_first_frame(gateway, device, status):
    device.record(2)
    gateway.script = [Reply(status)]
    assert make_uploader(device, gateway).flush() == 1
    assert device.drops == {"rejected": 1} and device.buffer.pending == 0


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_keep_frames_back_off_and_log_once(gateway, device, status, caplog):
    device.record(2)
    gateway.script = [Reply(status), Reply(status)]
    up = make_uploader(device, gateway, backoff_base_s=1)
    with caplog.at_level(logging.WARNING, logger="litetel"):
        assert up.flush() == 0
        assert up.flush() == 0
    assert device.buffer.pending == 2 and device.drops == {}
    assert device.counter("retries") == 2 and not up.ready()
    warnings = [r for r in caplog.records if r.name == "litetel"]
    assert len(warnings) == 1 and "sat-7" in warnings[0].getMessage()
    assert KEY.decode() not in caplog.text


def test_413_halves_frames_per_request_then_drops_a_single_frame(gateway, device):
    seqs = device.record(8)
    gateway.script = [Reply(413), Reply(413), Reply(413), Reply(413)]  # 8 -> 4 -> 2 -> 1 -> dropped
    up = make_uploader(device, gateway)
    assert up.flush() == 7
    assert [len(r["frames"]) for r in gateway.requests[:4]] == [8, 4, 2, 1]
    assert device.drops == {"too_large": 1}
    assert gateway.delivered == [(7, s) for s in seqs[1:]]
    assert all(len(r["frames"]) <= 1 for r in gateway.requests[4:])  # the lower limit is kept


def test_429_honours_retry_after_seconds(gateway, device):
    device.record(1)
    gateway.script = [Reply(429, {"Retry-After": "120"})]
    up = make_uploader(device, gateway, backoff_max_s=10)
    assert up.flush() == 0
    assert 119 < up.retry_in_s() <= 120  # at least what the gateway asked, above backoff_max_s
    assert not up.ready() and up.tick(0.5) == 0 and len(gateway.requests) == 1


def test_503_honours_retry_after_http_date_against_the_replys_date(gateway):
    device = FakeDevice(wall_clock=False)  # no wall clock: the reply's Date header is the reference
    device.record(1)
    now = 1700000000
    gateway.script = [
        Reply(503, {"Retry-After": formatdate(now + 90, usegmt=True), "Date": formatdate(now, usegmt=True)})
    ]
    up = make_uploader(device, gateway)
    assert up.flush() == 0
    assert 89 < up.retry_in_s() <= 90


def test_503_without_retry_after_uses_backoff(gateway, device):
    device.record(1)
    gateway.script = [Reply(503)]
    up = make_uploader(device, gateway, backoff_base_s=3)
    up.flush()
    assert 2.9 < up.retry_in_s() <= 3


# --- per-frame results --------------------------------------------------------------------------------------


def test_rejected_frames_are_dropped_counted_and_freed(gateway, device):
    seqs = device.record(3)
    gateway.script = [Reply(200, results=["ok", "reject:crc", "dup"])]
    up = make_uploader(device, gateway)
    assert up.flush() == 2
    assert device.drops == {"rejected": 1} and device.buffer.pending == 0
    assert device.counter("frames.acked") == 2 and len(gateway.requests) == 1
    assert gateway.delivered == [(7, seqs[0])]


def test_skipped_frames_are_resent(gateway, device):
    seqs = device.record(3)
    gateway.script = [Reply(200, results=["ok", "skipped", "skipped"])]
    up = make_uploader(device, gateway)
    assert up.flush() == 3
    assert gateway.seqs(1) == seqs[1:]


def test_need_dict_resends_with_a_refresh_frame_first(gateway, device):
    seqs = device.record(3)
    gateway.script = [Reply(200, results=["ok", "need_dict", "skipped"])]
    up = make_uploader(device, gateway)
    assert up.flush() == 3
    second = gateway.requests[1]["frames"]
    assert second[0][0] & 2 and second[0][2] == 0  # DICT_REFRESH, seq 0
    assert [f[2] for f in second[1:]] == seqs[1:]
    assert device.drops == {}
    assert (
        len(gateway.requests) == 2
        and split_frames(gateway.requests[1]["body"])[0][3] == device.dictionary_refresh_frame()
    )


def test_need_dict_for_an_older_epoch_is_dict_lost(gateway, device):
    old = device.record(1, epoch=6)
    new = device.record(1)
    gateway.script = [Reply(200, results=["need_dict", "skipped"])]
    up = make_uploader(device, gateway)
    assert up.flush() == 1
    assert device.drops == {"dict_lost": 1}
    assert gateway.seqs(1) == new and old[0] not in gateway.seqs(1)
    assert all(not f[0] & 2 for f in gateway.requests[1]["frames"])  # no refresh for an old epoch


def test_need_dict_despite_a_refresh_drops_the_frame_instead_of_looping(gateway, device):
    device.record(2)
    gateway.script = [
        Reply(200, results=["need_dict", "skipped"]),
        Reply(200, results=["ok", "need_dict", "skipped"]),
    ]
    up = make_uploader(device, gateway)
    assert up.flush() == 1
    assert device.drops == {"dict_lost": 1} and device.buffer.pending == 0
    assert len(gateway.requests) == 3


def test_refresh_result_comes_first_and_a_missing_result_means_skipped(gateway, device):
    seqs = device.record(2)
    gateway.script = [Reply(200, results=["need_dict", "skipped"]), Reply(200, results=["ok", "ok"])]
    up = make_uploader(device, gateway)
    assert up.flush() == 2
    assert gateway.seqs(2) == seqs[1:]


# --- backoff ------------------------------------------------------------------------------------------------


def failing_transport(calls):
    def transport(url, headers, body, timeout_s):
        calls.append(headers["X-Litetel-Nonce"])
        raise OSError(113, "no route to host")

    return transport


def test_backoff_grows_exponentially_and_is_capped(device):
    device.record(1)
    calls = []
    up = Uploader(
        device,
        endpoint="http://unused",
        transport=failing_transport(calls),
        backoff_base_s=1,
        backoff_max_s=300,
        rng=MaxRng(),
    )
    waits = []
    for _ in range(12):
        up.flush()
        waits.append(round(up.retry_in_s()))
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert device.counter("retries") == 12 and len(calls) == 12


def test_backoff_has_full_jitter_from_the_rng(device):
    device.record(1)
    seed_rng, expect_rng = random.Random(42), random.Random(42)
    up = Uploader(
        device,
        endpoint="http://unused",
        transport=failing_transport([]),
        backoff_base_s=2,
        backoff_max_s=20,
        rng=seed_rng,
    )
    for n in range(8):
        up.flush()
        expected = min(20, 2 * 2**n) * expect_rng.random()
        assert abs(up.retry_in_s() - expected) < 0.05


def test_offline_device_does_not_call_the_transport_until_the_deadline(device):
    device.record(1)
    calls = []
    up = Uploader(
        device, endpoint="http://unused", transport=failing_transport(calls), backoff_base_s=0.3, rng=MaxRng()
    )
    up.tick(1)
    assert len(calls) == 1 and not up.ready()
    for _ in range(1000):
        up.tick(1)
    assert len(calls) == 1  # a main loop ticking fast still sends nothing while backing off
    time.sleep(up.retry_in_s() + 0.02)
    assert up.ready()
    up.tick(1)
    assert len(calls) == 2 and calls == ["7.1", "7.2"]


def test_success_resets_the_backoff(gateway, device):
    device.record(1)
    gateway.script = [Reply(500), Reply(500)]
    up = make_uploader(device, gateway, backoff_base_s=1)
    up.flush()
    up.flush()
    assert up.failures == 2
    assert up.flush() == 1 and up.failures == 0 and up.ready()


# --- transports ---------------------------------------------------------------------------------------------


def test_pluggable_transport_gets_url_headers_body_and_timeout(device):
    seqs = device.record(2)
    seen = []

    def export(url, headers, body, timeout_s):
        seen.append((url, headers, body, timeout_s))
        return 200, {}, ('{"results": %s}' % (["ok"] * len(split_frames(body)))).replace("'", '"').encode()

    up = Uploader(device, endpoint="http://gw:8080/", transport=export, key=KEY, timeout_s=7)
    assert up.flush() == 2
    url, headers, body, timeout_s = seen[0]
    assert url == "http://gw:8080/v1/frames" and timeout_s == 7
    assert [f[2] for f in split_frames(body)] == seqs and headers["X-Litetel-Signature"]


def test_pluggable_transport_works_without_an_endpoint(device):
    device.record(1)
    up = Uploader(device, transport=lambda url, h, b, t: (200, {}, b'{"results": ["ok"]}'))
    assert up.flush() == 1


@pytest.mark.parametrize("transport", [http_transport, socket_transport])
def test_both_http_transports_against_a_real_server(gateway, device, transport):
    seqs = device.record(20, payload_bytes=3000)
    up = make_uploader(device, gateway, transport=transport)
    assert up.flush() == 20
    assert gateway.delivered == [(7, s) for s in seqs] and all(r["signature_ok"] for r in gateway.requests)
