"""Wire: bytes per data point on the reference workload (benchmarks/reference_workload.py).

A data point is one counter or one histogram point of one series in one interval: 100 per interval, 1,000
over the 10 intervals. Every payload is compressed on its own (one upload / export / scrape per interval).
litetel's figure is whole frames (48-byte header included) with the series dictionary in the first frame,
so it is amortized over the 10 intervals. Deterministic: one sample each.
"""

import os

import pytest

from benchmarks import reference_workload as wl
from benchmarks.compressors import COMPRESSORS
from benchmarks.libraries import load_side

TOTAL_POINTS = wl.POINTS_PER_INTERVAL * wl.N_INTERVALS


@pytest.mark.parametrize("temporality", ("delta", "cumulative"))
def test_wire_otel(temporality, measurements):
    otel = load_side("otel")
    payloads = otel.reference_payloads(temporality)
    assert [otel.count_points(p) for p in payloads] == [wl.POINTS_PER_INTERVAL] * wl.N_INTERVALS
    for name, compress in COMPRESSORS.items():
        total = sum(len(compress(p)) for p in payloads)
        measurements.record(
            "wire.otel.%s.%s" % (temporality, name),
            total / TOTAL_POINTS,
            unit="B/point",
            lib="otel",
            total_bytes=total,
        )


def test_wire_prometheus(measurements):
    scrapes = load_side("prometheus").reference_scrapes()
    series_lines = [
        line for line in scrapes[0].split(b"\n") if line.startswith(b"http_server_request_count_total")
    ]
    assert len(series_lines) == wl.N_SERIES
    for name in ("raw", "gzip"):
        total = sum(len(COMPRESSORS[name](s)) for s in scrapes)
        measurements.record(
            "wire.prometheus.%s" % name,
            total / TOTAL_POINTS,
            unit="B/point",
            lib="prometheus",
            per_scrape=total / len(scrapes),
        )


@pytest.mark.parametrize("compression", ("none", "zstd", "deflate"))
@pytest.mark.parametrize("codec", ("msgpack", "cbor"))
def test_wire_litetel(codec, compression, measurements):
    side = load_side("litetel")
    _record_frames(
        measurements,
        "wire.litetel.%s.%s" % (codec, compression),
        side,
        side.reference_frames(codec, compression),
    )


def _record_frames(measurements, key, side, frames):
    """Record the bytes per point of the reference workload's frames, after checking each holds its points."""
    assert [side.count_frame_points(f) for f in frames] == [wl.POINTS_PER_INTERVAL] * wl.N_INTERVALS
    total = sum(len(f) for f in frames)
    measurements.record(
        key,
        total / TOTAL_POINTS,
        unit="B/point",
        lib="litetel",
        total_bytes=total,
        first_frame_bytes=len(frames[0]),
    )


def test_wire_litetel_micropython(measurements):
    """The reference workload recorded and collected by the real MicroPython interpreter (msgpack, no
    compressor: this unix build has none), so the uncompressed figure is what a MicroPython device sends."""
    import json
    import subprocess

    from benchmarks.bench_micropython import ROOT, micropython_binary, precompiled_path

    side = load_side("litetel")
    binary = micropython_binary()
    if binary is None:
        pytest.skip("no MicroPython interpreter: set LITETEL_MICROPYTHON or run `make .venv-mpy`")
    header = {
        "resource": dict(wl.RESOURCE),
        "scope": wl.SCOPE_NAME,
        "counter": wl.COUNTER_NAME,
        "histogram": wl.HISTOGRAM_NAME,
        "boundaries": list(wl.BOUNDARIES),
        "series": wl.SERIES,
    }
    lines = [json.dumps(header)]
    for interval in wl.intervals():
        lines.extend(json.dumps(latencies) for latencies in interval)
        lines.append("collect")
    done = subprocess.run(
        [binary, "-X", "heapsize=2M", "benchmarks/micropython_wire.py"],
        cwd=ROOT,
        env=dict(os.environ, MICROPYPATH=precompiled_path()),
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    frames = [bytes.fromhex(line) for line in done.stdout.split()]
    _record_frames(measurements, "wire.litetel.micropython.none", side, frames)


def test_wire_float_floor(measurements):
    """How much of the wire is the histograms' float64 sum, min and max alone: random measurements have
    ~52 bits of entropy each, so no lossless encoding sends them in less. One value per interval and series,
    packed as plain doubles and compressed per interval like the frames (zstd-3)."""
    import struct

    side = load_side("litetel")
    floats_raw = floats_zstd = 0
    for frame in side.reference_frames("msgpack", "none"):
        points = side.frame_points(frame)
        doubles = [x for value in points[1::2] if isinstance(value, list) for x in value[1:4]]
        assert len(doubles) == 3 * wl.N_SERIES
        packed = struct.pack("<%dd" % len(doubles), *doubles)
        floats_raw += len(packed)
        floats_zstd += len(COMPRESSORS["zstd3"](packed))
    measurements.record("wire.floor.floats.raw", floats_raw / TOTAL_POINTS, unit="B/point", lib="litetel")
    measurements.record("wire.floor.floats.zstd3", floats_zstd / TOTAL_POINTS, unit="B/point", lib="litetel")


def _reencoded(side, encode, stats=None):
    """(raw, zstd-3) B/point of the reference frames re-encoded by ``encode(payload)``, the histograms'
    sum/min/max first mapped by ``stats`` when given; the 48-byte header counted as in the frames."""
    from litetel import frame as wire

    raw = compressed = 0
    for f in side.reference_frames("msgpack", "none"):
        header, body, _ = wire.parse_frame(f)
        payload = wire.decode_payload(header, body)
        if stats is not None:
            for value in payload[1][1::2]:
                if isinstance(value, list):
                    value[1:4] = [stats(x) for x in value[1:4]]
        encoded = encode(payload)
        raw += wire.HEADER_SIZE + len(encoded)
        compressed += wire.HEADER_SIZE + len(COMPRESSORS["zstd3"](encoded))
    return raw / TOTAL_POINTS, compressed / TOTAL_POINTS


def test_wire_without_float_stats(measurements):
    """What the frames cost without the histograms' sum, min and max (each 0): a bound below every float
    encoding of them, lossy or not. And, for issue 3's lossy-float question, every float as float32."""
    import msgpack

    from litetel import codecs

    side = load_side("litetel")
    as_is = _reencoded(side, lambda p: codecs.encode(codecs.MSGPACK, p))
    assert as_is[0] == pytest.approx(sum(len(f) for f in side.reference_frames("msgpack", "none")) / TOTAL_POINTS)
    for key, (raw, zstd3) in (
        ("wire.floor.no_float_stats", _reencoded(side, lambda p: codecs.encode(codecs.MSGPACK, p), lambda x: 0)),
        ("wire.lossy.float32", _reencoded(side, lambda p: msgpack.packb(p, use_single_float=True))),
    ):
        assert raw < as_is[0] and zstd3 < as_is[1]
        measurements.record(key + ".raw", raw, unit="B/point", lib="litetel")
        measurements.record(key + ".zstd3", zstd3, unit="B/point", lib="litetel")
