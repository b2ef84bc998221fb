"""Runs every tests/micropython/mp_test_*.py on the real MicroPython interpreter, one pytest test each, then
again with litetel deployed as a ROMFS image (run in place from /rom, as from a board's flash).

A missing interpreter fails the suite under CI (CI=true) or LITETEL_REQUIRE_MICROPYTHON=1, and is a loud
skip elsewhere (`make test` installs it in .venv-mpy); the ``micropython`` fixture is in conftest.py.
"""

import pytest
from support.micropython import mp_test_scripts, run_script, script_form

SCRIPTS = mp_test_scripts()
# Every script again with litetel only in a ROMFS image (a board's ROM partition), but those about the sources.
ROMFS_SCRIPTS = [s for s in SCRIPTS if script_form(s) == "mpy"]


def test_micropython_suite_is_not_empty():
    assert SCRIPTS, "no tests/micropython/mp_test_*.py found"


@pytest.mark.micropython
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_micropython_script(micropython, script):
    result = run_script(micropython, script)
    if not result.passed:
        pytest.fail(result.report(), pytrace=False)


@pytest.mark.micropython
@pytest.mark.parametrize("script", ROMFS_SCRIPTS, ids=[s.stem for s in ROMFS_SCRIPTS])
def test_micropython_script_from_romfs(micropython, script):
    result = run_script(micropython, script, form="romfs")
    if not result.passed:
        pytest.fail(result.report(), pytrace=False)


@pytest.mark.micropython
def test_a_large_heap_never_collects_for_layout(micropython):
    # accel.SMALL_HEAP: above it (a PSRAM board's heap) a new instrument or series does not run gc.collect().
    script = next(s for s in SCRIPTS if s.stem == "mp_test_heap_layout")
    result = run_script(micropython, script, heapsize="2M")
    if not result.passed:
        pytest.fail(result.report(), pytrace=False)
    assert "heap: large" in result.stdout
