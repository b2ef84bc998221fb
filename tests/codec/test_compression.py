"""litetel.compression: round trips, errors, and bounded decompression of bombs (time and memory)."""

import os
import subprocess
import sys
import time
import tracemalloc
import zlib

import pytest
import zstandard

from litetel import accel, compression, decoding
from litetel.errors import CodecError

GB = 1 << 30
MB = 1 << 20
DATA = b"litetel frame payload " * 500
ALL = [compression.NONE, compression.ZSTD, compression.DEFLATE]


def test_ids_and_names():
    assert compression.NAMES == {"none": 0, "zstd": 1, "deflate": 2}
    assert compression.available() == ALL


@pytest.mark.skipif(not accel.ENABLED, reason="LITETEL_PURE=1 chooses the pure twins (checked by test_litetel_pure_*)")
def test_zstd_is_chosen_with_accelerations():
    assert compression.best_available() == compression.ZSTD


def test_litetel_pure_prefers_deflate():
    code = "from litetel import compression; print(compression.best_available(), compression.available())"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, LITETEL_PURE="1"),
                         capture_output=True, text=True, check=True).stdout.split(None, 1)
    assert out[0] == str(compression.DEFLATE)
    assert "1" in out[1]  # zstd stays available: a gateway accepts every compression


@pytest.mark.parametrize("comp", ALL)
def test_round_trip_and_exact_limit(comp):
    blob = compression.compress(comp, DATA)
    assert decoding.decompress(comp, blob, len(DATA)) == DATA
    with pytest.raises(CodecError, match="exceeds"):
        decoding.decompress(comp, blob, len(DATA) - 1)
    assert decoding.decompress(comp, compression.compress(comp, b""), 0) == b""


def test_zstd_is_level_3_single_frame_with_content_size():
    blob = compression.compress(compression.ZSTD, DATA)
    assert blob == zstandard.ZstdCompressor(level=3).compress(DATA)
    assert zstandard.get_frame_parameters(blob).content_size == len(DATA)


def test_deflate_is_a_zlib_container():
    assert zlib.decompress(compression.compress(compression.DEFLATE, DATA)) == DATA


@pytest.mark.parametrize("comp", [compression.ZSTD, compression.DEFLATE])
def test_corrupt_truncated_or_trailing_data_is_a_codec_error(comp):
    blob = compression.compress(comp, DATA)
    for bad in (blob[:-3], blob[: len(blob) // 2], blob + b"x", b"", b"garbage!" * 4):
        with pytest.raises(CodecError):
            decoding.decompress(comp, bad, MB)


@pytest.mark.parametrize("comp", [compression.ZSTD, compression.DEFLATE])
def test_bit_flips_never_raise_anything_but_codec_error(comp):
    blob = compression.compress(comp, DATA)
    for bit in range(0, len(blob) * 8, 7):
        flipped = bytearray(blob)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            decoding.decompress(comp, bytes(flipped), MB)
        except CodecError:
            pass  # zstd without checksum may inflate a flipped literal: the frame CRC is what catches that


def test_zstd_streamed_frame_without_content_size():
    cobj = zstandard.ZstdCompressor(level=3).compressobj()
    blob = cobj.compress(DATA) + cobj.flush()
    assert zstandard.get_frame_parameters(blob).content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert decoding.decompress(compression.ZSTD, blob, len(DATA)) == DATA
    with pytest.raises(CodecError, match="exceeds"):
        decoding.decompress(compression.ZSTD, blob, len(DATA) - 1)
    with pytest.raises(CodecError):
        decoding.decompress(compression.ZSTD, blob[:-4], MB)


def test_zstd_frame_claiming_a_huge_window_is_refused():
    cobj = zstandard.ZstdCompressor(level=22).compressobj()  # streamed at level 22: a 128 MB window
    blob = cobj.compress(DATA) + cobj.flush()
    with pytest.raises(CodecError, match="exceeds"):
        decoding.decompress(compression.ZSTD, blob, MB)


@pytest.mark.parametrize("comp", [-1, 3, None])
def test_unknown_compression(comp):
    with pytest.raises(CodecError, match="unknown"):
        compression.compress(comp, DATA)
    with pytest.raises(CodecError, match="unknown"):
        decoding.decompress(comp, DATA, MB)


# ------------------------------------------------------------------------------------ decompression bombs


def zstd_bomb(declared_size):
    """~33 KB of zstd that expands to 1 GB of zeros; `declared_size` is written as the frame's content size
    (None: unknown size, as a streamed frame has)."""
    compressor = zstandard.ZstdCompressor(level=3)
    cobj = compressor.compressobj() if declared_size is None else compressor.compressobj(size=GB)
    chunk = bytes(MB)
    blob = b"".join(cobj.compress(chunk) for _ in range(1024)) + cobj.flush()
    if declared_size is not None and declared_size != GB:  # a header that lies: small size, 1 GB inside
        header = bytearray(blob[: zstandard.frame_header_size(blob)])
        assert header[4] >> 6 == 2  # frame content size field is 4 bytes, last in the header
        header[-4:] = declared_size.to_bytes(4, "little")
        blob = bytes(header) + blob[len(header):]
    return blob


def zlib_bomb(megabytes):
    """A valid zlib stream of `megabytes` MB of zeros, built from the steady-state block zlib emits for each
    MB after a sync flush (compressing 1 GB for real takes seconds; deflate tops out near 1000:1)."""
    cobj = zlib.compressobj(9)
    chunk = bytes(MB)
    pieces = [cobj.compress(chunk) + cobj.flush(zlib.Z_SYNC_FLUSH) for _ in range(3)]
    assert pieces[1] == pieces[2]
    final_empty_block = b"\x03\x00"
    adler = ((megabytes * MB) % 65521) << 16 | 1  # adler32 of zeros: a stays 1, b grows by 1 per byte
    return pieces[0] + pieces[1] * (megabytes - 1) + final_empty_block + adler.to_bytes(4, "big")


def test_zlib_bomb_builder_is_a_valid_stream():
    assert zlib.decompress(zlib_bomb(8)) == bytes(8 * MB)


@pytest.fixture(scope="module")
def bombs():
    return {
        "zstd, size unknown": (compression.ZSTD, zstd_bomb(None)),
        "zstd, size declared": (compression.ZSTD, zstd_bomb(GB)),
        "zstd, size lies": (compression.ZSTD, zstd_bomb(1000)),
        "zlib": (compression.DEFLATE, zlib_bomb(1024)),
    }


@pytest.mark.parametrize("name", ["zstd, size unknown", "zstd, size declared", "zstd, size lies", "zlib"])
def test_bombs_are_refused_quickly_with_bounded_memory(bombs, name):
    comp, blob = bombs[name]
    assert len(blob) < (40_000 if comp == compression.ZSTD else 1_100_000)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(CodecError):
            decoding.decompress(comp, blob, MB)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print("%s: refused in %.1f ms, Python peak %d bytes" % (name, elapsed * 1000, peak))
    assert peak < MB + 512 * 1024, "peak %d bytes while refusing a 1 GB bomb" % peak
    assert elapsed < 2.0  # a generous ceiling: inflating the whole GB would take several seconds
