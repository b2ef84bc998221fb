"""`litetel inspect FILE [--json]` on a frame, an upload body, a ring-buffer file and a damaged file."""

import hashlib
import json
import subprocess
import sys

import pytest

from litetel import codecs, compression, frame
from litetel.ring_buffer import RingBuffer

DEV = frame.device_hash("sat-7")
# wire-format §2.1: strings, scopes, instruments (counter, histogram), series, resource attributes
DELTA = [0, ["", "app", "http.server.request.count", "{request}", "http.route", "/api", "latency", "ms",
             "service.name", "model-server"],
         0, [[1, 0]],
         0, [[0, 2, 0, 3, 0, None], [0, 6, 3, 7, 0, [1.0, 5.0]]],
         0, [[0, [4 * 4 + 0, 5]], [1, []]],
         [8 * 4 + 0, 9]]
FIRST = frame.encode_frame([DELTA, [0, 5, 1, [3, 7.5, 1.0, 4.0, 0, 1, 1, 1]]], codecs.MSGPACK, compression.ZSTD,
                           DEV, 9, 1, 0, 60_000_000)
SECOND = frame.encode_frame([None, [0, 2]], codecs.CBOR, compression.DEFLATE, DEV, 9, 2, 60_000_000, 120_000_000,
                            flags=frame.FLAG_CLOCK_TICKS)


def inspect(path, *flags):
    result = subprocess.run([sys.executable, "-m", "litetel.cli", "inspect", str(path), *flags],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if "--json" in flags else result.stdout


def test_single_frame_file(tmp_path):
    path = tmp_path / "frame.bin"
    path.write_bytes(FIRST)
    report = inspect(path, "--json")
    assert report["format"] == "frames" and len(report["frames"]) == 1
    entry = report["frames"][0]
    assert entry["header"]["seq"] == 1 and entry["header"]["codec"] == "msgpack"
    assert entry["header"]["compression"] == "zstd" and entry["header"]["device_hash"] == DEV.hex()
    assert entry["dictionary"]["resource"] == {"service.name": "model-server"}
    assert entry["dictionary"]["instruments"][1]["kind"] == "histogram"
    assert entry["dictionary"]["instruments"][1]["boundaries"] == [1.0, 5.0]
    assert entry["points"][0] == {"series": 0, "instrument": "http.server.request.count", "kind": "counter",
                                  "attributes": {"http.route": "/api"}, "value": 5}
    assert entry["points"][1]["instrument"] == "latency" and entry["points"][1]["value"][0] == 3


def test_upload_body_resolves_later_frames_with_the_first_ones_dictionary(tmp_path):
    path = tmp_path / "body.bin"
    path.write_bytes(FIRST + SECOND)
    report = inspect(path, "--json")
    second = report["frames"][1]
    assert second["header"]["flags"] == ["CLOCK_TICKS"] and second["header"]["codec"] == "cbor"
    assert second["points"] == [{"series": 0, "instrument": "http.server.request.count", "kind": "counter",
                                 "attributes": {"http.route": "/api"}, "value": 2}]
    text = inspect(path)
    assert "http.server.request.count{http.route=/api} = 2" in text
    assert "dictionary: +10 strings, +2 instruments, +2 series" in text


def test_ring_buffer_file_is_read_and_left_untouched(tmp_path):
    path = tmp_path / "tel.rb"
    buf = RingBuffer(capacity=4096, path=str(path))
    buf.append(FIRST)
    buf.append(SECOND)
    buf.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    report = inspect(path, "--json")
    assert report["format"] == "ring_buffer" and report["pending"] == 2 and report["next_seq"] == 3
    assert [e["header"]["seq"] for e in report["frames"]] == [1, 2]
    assert report["frames"][1]["points"][0]["instrument"] == "http.server.request.count"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_damaged_file_is_scanned_for_intact_frames(tmp_path):
    path = tmp_path / "junk.bin"
    path.write_bytes(b"xx" + FIRST + b"LT\x01junk" + SECOND[:-1])
    report = inspect(path, "--json")
    assert report["format"] == "scan"
    assert [(e["offset"], e["header"]["seq"]) for e in report["frames"]] == [(2, 1)]


def test_undecodable_payload_is_reported_not_fatal(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(frame.pack_frame(0, codecs.MSGPACK, compression.ZSTD, DEV, 1, 1, 0, 0, b"not zstd"))
    entry = inspect(path, "--json")["frames"][0]
    assert "CodecError" in entry["error"]


def test_missing_file_exits_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "litetel.cli", "inspect", str(tmp_path / "nope")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "nope" in result.stderr


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (float("inf"), "inf"), (b"\x01", {"hex": "01"})])
def test_json_output_is_strict_json(tmp_path, value, shown):
    path = tmp_path / "odd.bin"
    path.write_bytes(frame.encode_frame([None, [7, value]], 0, 0, DEV, 1, 1, 0, 0))
    assert inspect(path, "--json")["frames"][0]["points"][0]["value"] == shown
