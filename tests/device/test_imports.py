"""What the device core loads: only the stdlib at import, C libraries on first use, and on a device only
what collect() needs for its codec, compression and buffer (no decoders, no file-buffer recovery)."""

import json
import os
import subprocess
import sys

import pytest

_PROBE = """
import json, sys
before = set(sys.modules)
%s
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded_by(statements, pure=False):
    env = dict(os.environ, LITETEL_PURE="1" if pure else "")
    out = subprocess.run([sys.executable, "-c", _PROBE % statements], env=env, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    return set(json.loads(out.stdout))


def non_stdlib(modules):
    return sorted(m for m in modules if m.split(".")[0] not in sys.stdlib_module_names | {"litetel"})


@pytest.mark.parametrize("statement", ["import litetel", "import litetel; litetel.Device; litetel.RingBuffer"])
def test_import_loads_only_the_stdlib(statement):
    loaded = loaded_by(statement)
    assert non_stdlib(loaded) == []
    assert not {"typing", "hashlib", "zlib"} & loaded


def test_c_libraries_load_on_first_use_and_only_the_codec_used():
    loaded = loaded_by("import litetel\n"
                       "dev = litetel.Device('imp-1', compression='none')\n"
                       "dev.meter('m').counter('c').add(1)\n"
                       "assert dev.collect()")
    assert "msgpack" in loaded
    assert not {"cbor2", "typing", "zstandard", "litetel.cbor_c", "litetel.msgpack_pure"} & loaded


def test_pure_device_loads_encoders_only():
    loaded = loaded_by("import litetel\n"
                       "dev = litetel.Device('imp-2', compression='none')\n"
                       "dev.meter('m').counter('c').add(1)\n"
                       "assert dev.collect()", pure=True)
    assert "litetel.msgpack_encoder" in loaded
    assert not {"msgpack", "litetel.msgpack_pure", "litetel.cbor_encoder", "litetel.cbor_pure",
                "litetel.decoding", "litetel.frame_parse", "litetel.drop_reports", "litetel.ring_buffer_file",
                "litetel.deflate_compression", "litetel.zstd_compression"} & loaded


def test_file_buffer_loads_its_recovery_module(tmp_path):
    loaded = loaded_by("import litetel; litetel.RingBuffer(4096, path=%r).close()" % str(tmp_path / "b.rb"))
    assert "litetel.ring_buffer_file" in loaded


@pytest.mark.parametrize("compression, module", [("zstd", "litetel.zstd_compression"),
                                                 ("deflate", "litetel.deflate_compression")])
def test_a_device_loads_what_collect_needs_when_made(compression, module):
    # Not at its first collect: on a MicroPython heap, code loaded then finds the heap split by the series.
    loaded = loaded_by("import litetel; litetel.Device('imp-3', compression=%r)" % compression, pure=True)
    assert {"litetel.msgpack_encoder", module} <= loaded
    assert not {"litetel.msgpack_pure", "litetel.cbor_encoder"} & loaded
