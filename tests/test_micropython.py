"""Runs every tests/micropython/mp_test_*.py on the real MicroPython interpreter, one pytest test each.

A missing interpreter fails the suite under CI (CI=true) or LITETEL_REQUIRE_MICROPYTHON=1, and is a loud
skip elsewhere (`make test` installs it in .venv-mpy); the ``micropython`` fixture is in conftest.py.
"""

import pytest
from support.micropython import mp_test_scripts, run_script

SCRIPTS = mp_test_scripts()


def test_micropython_suite_is_not_empty():
    assert SCRIPTS, "no tests/micropython/mp_test_*.py found"


@pytest.mark.micropython
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_micropython_script(micropython, script):
    result = run_script(micropython, script)
    if not result.passed:
        pytest.fail(result.report(), pytrace=False)
