"""Well-formed, signed uploads whose frames are malformed get a per-frame ``reject:<reason>``
(or a 4xx), never an unhandled exception (HTTP 503 ``store_error``): a 503 is retried forever by the device,
so one bad frame would wedge its whole buffer and the good frames behind it would never be stored."""

import asyncio

import aiohttp
import cbor2
from devicesim import COUNTER, HISTOGRAM, SimDevice
from test_gateway_server import config_for

from litetel import codecs
from litetel import frame as wire
from litetel_gateway.server import Gateway

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND


def _post_all(tmp_path, dev, requests):
    """POST each list of frames in turn to an in-process gateway; [(status, json)]."""

    async def scenario():
        gateway = Gateway(config_for(tmp_path))
        await gateway.start()
        url = "http://127.0.0.1:%d/v1/frames" % gateway.port
        out = []
        try:
            async with aiohttp.ClientSession() as session:
                for frames in requests:
                    body = b"".join(frames)
                    async with session.post(url, data=body, headers=dev.headers(body)) as response:
                        out.append((response.status, await response.json()))
        finally:
            await gateway.stop()
        return out

    return asyncio.run(scenario())


def test_exemplars_with_an_unhashable_series_id_are_rejected_not_a_503(tmp_path):
    dev = SimDevice()
    sid = dev.series(dev.instrument("lat", HISTOGRAM, bounds=[1.0, 2.0]))
    good = dev.frame([sid, [1, 0.5, 0.5, 0.5, 0, 1]], T0, T0 + SECOND)
    # element 4 (exemplars) whose series id is a list: unhashable
    payload = [None, [sid, [1, 0.5, 0.5, 0.5, 0, 1]], None, None, [[sid], []]]
    bad = wire.encode_frame(payload, 0, 0, wire.device_hash(dev.device_id), dev.epoch, 2, T0 + SECOND, T0 + 2 * SECOND)
    after = dev.frame([sid, [1, 0.5, 0.5, 0.5, 0, 1]], T0 + 2 * SECOND, T0 + 3 * SECOND, seq=3)
    (status, reply), = _post_all(tmp_path, dev, [[good, bad, after]])
    assert status == 200, (status, reply)
    assert reply["results"] == ["ok", "reject:schema", "ok"]


def _cbor_frame(dev, payload, seq, start, end):
    return wire.pack_frame(
        0, codecs.CBOR, 0, wire.device_hash(dev.device_id), dev.epoch, seq, start, end, cbor2.dumps(payload)
    )


def test_cbor_log_float_attribute_beyond_64_bits_is_rejected_not_an_exception(harness):
    dev = SimDevice()
    sid = dev.series(dev.instrument("c", COUNTER))
    key = dev.sid("ratio")
    good = _cbor_frame(dev, [dev.delta(), [sid, 1]], 1, T0, T0 + SECOND)
    # CBOR's widest negative int (major type 1, no tag): not representable in msgpack / OTLP
    log = [0, 0, 9, "hello", [key * 4 + 2, -(1 << 64)], None, None, 0]
    bad = _cbor_frame(dev, [None, [], None, [log]], 2, T0 + SECOND, T0 + 2 * SECOND)
    after = _cbor_frame(dev, [None, [sid, 2]], 3, T0 + 2 * SECOND, T0 + 3 * SECOND)
    assert harness.send(dev, [good, bad, after], receive_us=T0 + 3 * SECOND)[::2] == ["ok", "ok"]


def test_cbor_bignum_float_attribute_in_the_dictionary_is_rejected_not_an_exception(harness):
    dev = SimDevice()
    instrument = dev.instrument("c", COUNTER)
    sid = dev.series(instrument)
    key = dev.sid("ratio")
    dev.series_table.append([instrument, [key * 4 + 2, 1 << 1100]])  # a CBOR bignum (tag 2)
    bad = _cbor_frame(dev, [dev.delta(), [sid, 1]], 1, T0, T0 + SECOND)
    results = harness.send(dev, [bad], receive_us=T0 + SECOND)
    assert results[0].startswith("reject:")
