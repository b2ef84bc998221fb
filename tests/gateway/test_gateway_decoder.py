"""decoder.py: envelope split, header faults, bounded decompression, decode limits, schema validation and
the dictionary base rules — each refusal names its reason."""

import zlib

import msgpack
import pytest
from devicesim import COUNTER, GAUGE, HISTOGRAM, SimDevice

from litetel import compression
from litetel import frame as wire
from litetel_gateway import decoder
from litetel_gateway.decoder import Dictionary, EnvelopeError, Limits, NeedDict, Reject

HASH = wire.device_hash("sat-7")


def raw_frame(payload_obj=None, payload=None, comp=0, codec=0, flags=0, seq=1):
    if payload is None:
        payload = msgpack.packb(payload_obj)
        if comp:
            payload = compression.compress(comp, payload)
    return wire.pack_frame(flags, codec, comp, HASH, 7, seq, 10, 20, payload)


def decode(frame_bytes, limits=None):
    header, payload = decoder.parse_header(frame_bytes, 0)
    return decoder.decode_payload(header, payload, limits or Limits())


def reason(fn, *args):
    with pytest.raises(Reject) as info:
        fn(*args)
    return info.value.reason


# -- envelope and header ---------------------------------------------------------------------------


def test_split_frames_finds_each_frame_and_refuses_a_partial_one():
    a, b = raw_frame([None, []]), raw_frame([None, []], seq=2)
    assert decoder.split_frames(a + b) == [(0, len(a)), (len(a), len(a) + len(b))]
    with pytest.raises(EnvelopeError) as info:
        decoder.split_frames(a + b[:-1])
    assert info.value.frames == [(0, len(a))]  # the whole frames before the broken one
    with pytest.raises(EnvelopeError):
        decoder.split_frames(a + b"XX" + b[2:])
    with pytest.raises(EnvelopeError):
        decoder.split_frames(a[:40])


@pytest.mark.parametrize(
    "offset, value, expected",
    [
        (2, 9, "version"),  # version byte
        (3, 0x80, "reserved"),  # unknown flag bit
        (50, 0xFF, "crc"),  # a payload byte
        (4, 7, "codec"),  # codec id (the CRC covers the header, so fix it below)
        (5, 9, "compression"),
    ],
)
def test_header_faults_are_named(offset, value, expected):
    frame = bytearray(raw_frame([None, [0, 1, 0, 2]]))
    frame[offset] = value if offset != 50 else frame[offset] ^ value
    if expected in ("codec", "compression"):  # a consistent CRC, so the field itself is the fault
        import binascii
        import struct

        crc = binascii.crc32(bytes(frame[48:]), binascii.crc32(bytes(frame[:44])))
        struct.pack_into(">I", frame, 44, crc)
    assert reason(decoder.parse_header, bytes(frame), 0) == expected


# -- decompression and decode limits ----------------------------------------------------------------


@pytest.mark.parametrize("comp", [compression.ZSTD, compression.DEFLATE])
def test_decompression_bomb_is_refused_as_too_large(comp):
    bomb = compression.compress(comp, b"\0" * (64 << 20))  # 64 MiB of zeros in a few KB
    assert len(bomb) < 100_000
    assert reason(decode, raw_frame(payload=bomb, comp=comp)) == "too_large"


def test_uncompressed_payload_over_the_limit_is_too_large():
    frame = raw_frame([None, [0, 1] * 1000])
    assert reason(decode, frame, Limits(max_frame_bytes=100)) == "too_large"


def test_corrupt_compressed_data_and_garbage_payloads_are_named():
    assert reason(decode, raw_frame(payload=b"not zlib at all", comp=compression.DEFLATE)) == "decompress"
    assert reason(decode, raw_frame(payload=b"\xc1\xc1\xc1")) == "decode"  # 0xc1 is never valid msgpack
    assert reason(decode, raw_frame(payload=msgpack.packb([None, []]) + b"\x00")) == "decode"  # trailing data
    # a forged array length far beyond the data must not preallocate; it is a decode error
    assert reason(decode, raw_frame(payload=b"\xdd\xff\xff\xff\xff")) == "decode"
    assert reason(decode, raw_frame({"not": "a list"})) == "schema"
    assert reason(decode, raw_frame([None, "points"])) == "schema"


def test_deep_nesting_is_a_decode_error_not_a_crash():
    payload = b"\x91" * 100_000 + b"\xc0"
    assert reason(decode, raw_frame(payload=payload)) in ("decode", "schema")
    cbor = b"\x81" * 100_000 + b"\xf6"
    assert reason(decode, raw_frame(payload=cbor, codec=1)) in ("decode", "schema")


def test_cbor_payload_decodes_like_msgpack():
    import cbor2

    value = [None, [0, 5, 1, 2.5]]
    assert decode(raw_frame(payload=cbor2.dumps(value), codec=1)) == (None, [0, 5, 1, 2.5])


def test_zlib_payload_decodes():
    frame = raw_frame(payload=zlib.compress(msgpack.packb([None, [0, 1]])), comp=compression.DEFLATE)
    assert decode(frame) == (None, [0, 1])


# -- dictionary ------------------------------------------------------------------------------------


def sim_with_counter():
    dev = SimDevice()
    sid = dev.series(dev.instrument("requests", COUNTER, "{request}", "help"), {"route": "/a", "code": 200})
    return dev, sid


def test_delta_appends_and_resolves_names_and_typed_attributes():
    dev, sid = sim_with_counter()
    d = Dictionary()
    assert d.apply_delta(dev.delta(), Limits()) is True
    instrument_id, attrs = d.series[sid]
    assert d.strings[d.instruments[instrument_id][1]] == "requests"
    assert sorted(d.attribute_values(attrs)) == [("code", 200), ("route", "/a")]
    assert d.apply_delta(None, Limits()) is False
    # the blob round trip keeps everything
    assert Dictionary.from_blob(d.to_blob()).series == d.series


def inline_series(dev, instrument_id, attributes):
    """A series whose string values are inline (a str where a sid was), as devices send them since 2026-11."""
    flat = dev.attrs(attributes)
    for j in range(0, len(flat), 2):
        if flat[j] & 3 == 0:
            flat[j + 1] = attributes[dev.strings[flat[j] >> 2]]
    dev.series_table.append([instrument_id, flat])
    return len(dev.series_table) - 1


def test_series_string_values_may_be_inline_or_sids():
    dev, old = sim_with_counter()  # string values as sids: frames of older devices
    new = inline_series(dev, 0, {"route": "/ünï→", "code": 200, "ok": True, "ratio": 0.5})
    assert dev.series_table[new][1][-1] == "/ünï→" and type(dev.series_table[old][1][-1]) is int
    d = Dictionary()
    assert d.apply_delta(dev.delta(), Limits()) is True
    assert sorted(d.attribute_values(d.series[old][1])) == [("code", 200), ("route", "/a")]
    assert sorted(d.attribute_values(d.series[new][1])) == [("code", 200), ("ok", True), ("ratio", 0.5),
                                                             ("route", "/ünï→")]  # fmt: skip
    again = Dictionary.from_blob(d.to_blob())  # the store's round trip keeps both forms
    assert again.series == d.series and again.attribute_values(again.series[new][1]) == d.attribute_values(
        d.series[new][1]
    )
    assert d.apply_delta(dev.delta(full=True), Limits()) is False  # an equal re-send
    conflicting = dev.delta(full=True)
    conflicting[7][new] = [0, list(conflicting[7][new][1])]
    conflicting[7][new][1][-1] = "/other"
    assert reason(d.apply_delta, conflicting, Limits()) == "dict_conflict"


@pytest.mark.parametrize(
    "value, expected",
    [("x" * 5000, "limit_string"), (b"bytes", "dict_index"), (None, "dict_index"), (-1, "dict_index")],
)
def test_an_inline_string_value_is_bounded_and_typed(value, expected):
    dev = SimDevice()
    flat = [dev.sid("route") * 4 + 0, value]
    dev.series_table.append([dev.instrument("c", COUNTER), flat])
    assert reason(Dictionary().apply_delta, dev.delta(), Limits()) == expected


def test_inline_string_values_expand_to_otlp_attributes(harness):
    dev = SimDevice(resource={"host.name": "pi"})
    c = dev.instrument("http.requests", COUNTER, "{request}")
    by_sid = dev.series(c, {"route": "/a", "code": 200})
    inline = inline_series(dev, c, {"route": "/b", "code": 200})
    harness.send(dev, [dev.frame([by_sid, 1, inline, 2], 10**15, 10**15 + 10**6)])
    from litetel_gateway.expand import ResourceSettings, build_request

    request, n = build_request(harness.queue(), harness.store.reader_dictionary, ResourceSettings())
    assert n == 2
    (metric,) = request.resource_metrics[0].scope_metrics[0].metrics
    got = {
        dp.as_int: {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in dp.attributes}
        for dp in metric.sum.data_points
    }
    assert got == {1: {"route": "/a", "code": 200}, 2: {"route": "/b", "code": 200}}


def test_base_beyond_known_size_needs_the_dictionary():
    dev, _ = sim_with_counter()
    dev.delta()  # "sent" but lost
    dev.series(0, {"route": "/b"})
    with pytest.raises(NeedDict):
        Dictionary().apply_delta(dev.delta(), Limits())


def test_overlapping_resend_is_accepted_when_equal_and_refused_when_different():
    dev, _ = sim_with_counter()
    d = Dictionary()
    d.apply_delta(dev.delta(), Limits())
    full = dev.delta(full=True)
    assert d.apply_delta(full, Limits()) is False  # the same entries again: nothing new
    n = len(d.strings)
    dev.sid("new string")
    assert d.apply_delta(dev.delta(full=True), Limits()) is True and len(d.strings) == n + 1
    conflicting = dev.delta(full=True)
    conflicting[1] = list(conflicting[1])
    conflicting[1][0] = "something else"
    assert reason(d.apply_delta, conflicting, Limits()) == "dict_conflict"


def test_a_refused_delta_leaves_the_dictionary_unchanged():
    dev, _ = sim_with_counter()
    d = Dictionary()
    d.apply_delta(dev.delta(), Limits())
    before = (list(d.strings), list(d.series))
    dev.series(0, {"route": "/b"})
    bad = dev.delta()
    bad[7] = [[99, []]]  # instrument index out of range
    assert reason(d.apply_delta, bad, Limits()) == "dict_index"
    assert (d.strings, d.series) == before


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda dl: dl.__setitem__(1, ["x" * 5000]), "limit_string"),
        (lambda dl: dl.__setitem__(5, [[0, 0, 9, 0, 0, None]]), "schema"),  # kind 9
        (lambda dl: dl.__setitem__(5, [[0, 0, 3, 0, 0, [5.0, 1.0]]]), "schema"),  # bounds decrease
        (lambda dl: dl.__setitem__(5, [[0, 0, 3, 0, 0, None]]), "schema"),  # histogram without bounds
        (lambda dl: dl.__setitem__(5, [[0, 0, 0, 0, 0, [1.0]]]), "schema"),  # bounds on a counter
        (lambda dl: dl.__setitem__(5, [[0, 0, 3, 0, 0, list(range(600))]]), "limit_buckets"),
        (lambda dl: dl.__setitem__(7, [[0, [0 * 4 + 1, "not an int"]]]), "schema"),
        (lambda dl: dl.__setitem__(7, [[0, [0 * 4 + 3, 1]]]), "schema"),  # bool attribute not a bool
        (lambda dl: dl.__setitem__(7, [[0, [1, 5, 1, 6]]]), "schema"),  # duplicate key
        (lambda dl: dl.__setitem__(7, [[0, [0 * 4, 999]]]), "dict_index"),  # string value sid out of range
        (lambda dl: dl.__setitem__(7, [[0, [1, 0] * 200]]), "limit_attrs"),
        (lambda dl: dl.__setitem__(3, [[0, 999]]), "dict_index"),
        (lambda dl: dl.__setitem__(0, -1), "schema"),
        (lambda dl: dl.pop(), "schema"),
    ],
)
def test_dictionary_schema_and_limits(mutate, expected):
    dev, _ = sim_with_counter()
    delta = dev.delta()
    mutate(delta)
    assert reason(Dictionary().apply_delta, delta, Limits()) == expected


def test_key_length_limit_applies_to_names_and_attribute_keys():
    dev = SimDevice()
    dev.instrument("n" * 300, COUNTER)
    assert reason(Dictionary().apply_delta, dev.delta(), Limits()) == "limit_key"
    dev = SimDevice()
    dev.series(dev.instrument("ok", COUNTER), {"k" * 300: "v"})
    assert reason(Dictionary().apply_delta, dev.delta(), Limits()) == "limit_key"


def test_series_and_string_limits_per_dictionary():
    dev = SimDevice()
    instrument = dev.instrument("c", COUNTER)
    for i in range(11):
        dev.series(instrument, {"i": i})
    assert reason(Dictionary().apply_delta, dev.delta(), Limits(max_series=10)) == "limit_series"
    dev = SimDevice()
    for i in range(30):
        dev.sid("s%d" % i)
    assert reason(Dictionary().apply_delta, dev.delta(), Limits(max_strings=20)) == "limit_strings"


# -- points ----------------------------------------------------------------------------------------


def dictionary_of(dev):
    d = Dictionary()
    d.apply_delta(dev.delta(), Limits())
    return d


def test_points_are_checked_against_the_instrument_kind():
    dev = SimDevice()
    c = dev.series(dev.instrument("c", COUNTER))
    g = dev.series(dev.instrument("g", GAUGE))
    h = dev.series(dev.instrument("h", HISTOGRAM, bounds=[1, 2]))
    d = dictionary_of(dev)
    assert decoder.validate_points([c, 3, g, -2.5, h, [2, 3.0, 1.0, 2.0, 0, 1, 1]], d) == 3
    assert reason(decoder.validate_points, [c, -1], d) == "value"
    assert reason(decoder.validate_points, [c, float("nan")], d) == "value"
    assert reason(decoder.validate_points, [c, True], d) == "value"
    assert reason(decoder.validate_points, [g, 1 << 70], d) == "value"
    assert reason(decoder.validate_points, [c, 1, c, 2], d) == "schema"
    assert reason(decoder.validate_points, [c], d) == "schema"
    with pytest.raises(NeedDict):
        decoder.validate_points([c, 1, 99, 2], d)


@pytest.mark.parametrize(
    "value",
    [
        [3, 3.0, 1.0, 2.0, 0, 1, 1],  # count != sum(buckets)
        [2, 3.0, 1.0, 2.0, 2, 1, 1],  # runs past the last bucket (3 buckets)
        [2, 3.0, 1.0, 2.0, -1, 2],  # negative first index
        [2, 3.0, 1.0, 2.0, 0, -1, 3],  # negative bucket count
        [2, 3.0, 3.0, 2.0, 0, 2],  # min > max
        [2, 3.0, 1.0],  # too short
        5,  # not a list
    ],
)
def test_malformed_histogram_values_are_rejected(value):
    dev = SimDevice()
    h = dev.series(dev.instrument("h", HISTOGRAM, bounds=[1, 2]))
    assert reason(decoder.validate_points, [h, value], dictionary_of(dev)) == "histogram"
