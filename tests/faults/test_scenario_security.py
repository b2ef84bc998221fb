"""Scenario 6, security (issue 8): who may write, and what the gateway gives away.

Against a running gateway (log level DEBUG): an unknown device, a wrong key, a missing signature, a valid request
replayed later, device A's signed request re-addressed to device B, A's frames signed with B's key, and a key file
others may read. Each is rejected with its reason, nothing is recorded (rotel and /metrics hold only the one
legitimate upload), and each is counted in ``litetel_gateway_rejects_total{reason}``. Signatures are compared with
``hmac.compare_digest``, and no key appears in the gateway's log, not even when a broken key file is reloaded.
"""

import base64
import json
import os
import random
import signal
import urllib.error
import urllib.request

import pytest
from support.gateway import write_keys

from faults.scenario_support import (
    Figures,
    TruthDevice,
    arrived,
    gateway_metrics,
    key_of,
    metric,
    wait_until,
)
from litetel.signing import sign_request
from litetel.uploader import CONTENT_TYPE

A, B = "sec-a", "sec-b"


def _signed(device_id, key, body, counter, epoch=1):
    nonce = "%d.%d" % (epoch, counter)
    return {
        "Content-Type": CONTENT_TYPE,
        "X-Litetel-Device": device_id,
        "X-Litetel-Nonce": nonce,
        "X-Litetel-Time": "0",
        "X-Litetel-Ticks": "0",
        "X-Litetel-Signature": sign_request(key, device_id, nonce, 0, 0, body),
    }


def _post(gateway, headers, body):
    request = urllib.request.Request(gateway.url + "/v1/frames", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _frame(device_id):
    dev = TruthDevice(device_id)
    dev.record(random.Random(1), n=3)
    return dev, dev.collect()


def test_rejections_record_nothing_and_are_counted(rotel, make_gateway):
    gateway = make_gateway(keys={A: key_of(A).hex(), B: key_of(B).hex()}, otlp_endpoint=rotel.http_endpoint,
                           extra_args=["--log-level", "DEBUG"])  # fmt: skip
    dev_a, body_a = _frame(A)
    good = _signed(A, key_of(A), body_a, counter=1, epoch=dev_a.device.epoch)
    outcomes = {}
    outcomes["unknown_device"] = _post(gateway, _signed("sec-x", key_of("sec-x"), body_a, 1), body_a)
    outcomes["wrong_key"] = _post(gateway, _signed(A, key_of(B), body_a, 1, dev_a.device.epoch), body_a)
    unsigned = dict(good)
    del unsigned["X-Litetel-Signature"]
    outcomes["missing_signature"] = _post(gateway, unsigned, body_a)
    readdressed = dict(good, **{"X-Litetel-Device": B})
    outcomes["a_request_as_b"] = _post(gateway, readdressed, body_a)
    outcomes["legitimate"] = _post(gateway, good, body_a)
    wait_until(lambda: arrived(rotel.points(), A) == dev_a.truth(), 30, "the legitimate upload at rotel")
    outcomes["replayed"] = _post(gateway, good, body_a)
    outcomes["a_frames_signed_by_b"] = _post(gateway, _signed(B, key_of(B), body_a, 1), body_a)

    assert outcomes["unknown_device"] == (401, outcomes["unknown_device"][1])
    assert outcomes["unknown_device"][1]["error"] == "unknown_device"
    assert outcomes["missing_signature"][0] == 401
    assert outcomes["missing_signature"][1]["error"] == "missing_signature"
    for case in ("wrong_key", "a_request_as_b"):
        assert outcomes[case][0] == 403 and outcomes[case][1]["error"] == "bad_signature", (
            case,
            outcomes[case],
        )
    assert outcomes["legitimate"][0] == 200 and outcomes["legitimate"][1]["results"] == ["ok"]
    assert outcomes["replayed"][0] == 403 and outcomes["replayed"][1]["error"] == "replay"
    assert outcomes["a_frames_signed_by_b"][0] == 200
    assert outcomes["a_frames_signed_by_b"][1]["results"] == ["reject:device_mismatch"]

    values = gateway_metrics(gateway)
    counted = {r: metric(values, "litetel_gateway_rejects_total", reason=r)
               for r in ("unknown_device", "missing_signature", "bad_signature", "replay", "device_mismatch")}  # fmt: skip
    assert counted == {"unknown_device": 1, "missing_signature": 1, "bad_signature": 2, "replay": 1,
                       "device_mismatch": 1}  # fmt: skip
    # Nothing but the legitimate upload is recorded: rotel saw A's frame once, nothing of B or sec-x.
    assert metric(values, "litetel_gateway_frames_in_total", result="ok") == 1
    assert metric(values, "litetel_gateway_points_in_total") == len(rotel_points_of(rotel, A))
    assert arrived(rotel.points(), A) == dev_a.truth()
    assert rotel_points_of(rotel, B) == [] and rotel_points_of(rotel, "sec-x") == []
    scrape = gateway.get("/metrics")[1].decode()
    assert 'device_id="%s"' % B not in scrape and 'device_id="sec-x"' not in scrape

    # A broken key file on SIGHUP: the error is logged, the key in it is not, the old keys stay in use.
    gateway.keys_path.write_text('[devices]\n"%s" = "hex:zz%s"\n' % (A, key_of(A).hex()))
    gateway.signal(signal.SIGHUP)
    wait_until(lambda: "key reload failed" in gateway.log(), 10, "the failed reload in the log")
    dev_a2, body_a2 = _frame(A)
    assert _post(gateway, _signed(A, key_of(A), body_a2, 1, dev_a2.device.epoch), body_a2)[0] == 200
    log = gateway.log()
    leaked = [k for d in (A, B) for k in _spellings(key_of(d)) if k in log]
    assert leaked == [], "a key appears in the gateway log"

    figures = Figures("security")
    figures.update(cases={case: status for case, (status, _) in outcomes.items()}, rejects_counted=counted,
                   log_bytes_checked=len(log), key_spellings_searched=4 * 2)  # fmt: skip
    figures.save()


def rotel_points_of(rotel, device_id):
    return [p for p in rotel.points() if p.resource.get("device.id") == device_id]


def _spellings(key):
    """How a key could leak: hex (both cases), base64, and the raw bytes as text."""
    return [key.hex(), key.hex().upper(), base64.b64encode(key).decode(), key.decode("latin-1")]


def test_key_file_readable_by_others_refuses_to_start(make_gateway):
    gateway = make_gateway(keys={A: key_of(A).hex()}, start=False)
    os.chmod(gateway.keys_path, 0o644)
    with pytest.raises(RuntimeError, match="exited with 2"):
        gateway.start()
    assert "chmod 600" in gateway.log() or "permission" in gateway.log().lower()
    assert key_of(A).hex() not in gateway.log()
    gateway.extra_args.append("--allow-insecure-keys")  # the documented escape hatch, explicitly
    gateway.start()
    assert gateway.get("/readyz")[0] == 200


def test_signatures_compared_in_constant_time(tmp_path, monkeypatch):
    """The verify path calls ``hmac.compare_digest`` (a ``==`` on the hex would leak timing)."""
    from litetel_gateway import keys as gateway_keys

    calls = []
    real = gateway_keys.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(gateway_keys.hmac, "compare_digest", spy)
    store = gateway_keys.KeyStore(write_keys(tmp_path / "keys.toml", {A: key_of(A).hex()}))
    body = b"frames"
    good = sign_request(key_of(A), A, "1.1", 0, 0, body)
    assert store.verify(A, "1.1", "0", "0", body, good) is True
    assert store.verify(A, "1.1", "0", "0", body, "0" * 64) is False
    assert len(calls) == 2
