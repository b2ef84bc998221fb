"""The MicroPython runner: heapsize comment, pass/fail rules, timeouts, and the mpcheck helpers."""

from support.micropython import mp_test_scripts, run_script, script_heapsize


def _script(tmp_path, body, name="mp_test_x.py"):
    path = tmp_path / name
    path.write_text(body)
    return path


def test_heapsize_comes_from_the_first_line(tmp_path):
    assert script_heapsize(_script(tmp_path, "# heapsize: 64k\nprint(1)\n")) == "64K"
    assert script_heapsize(_script(tmp_path, "print(1)\n# heapsize: 64K\n")) == "256K"


def test_the_suite_has_the_smoke_script():
    assert "mp_test_smoke" in [p.stem for p in mp_test_scripts()]


def test_pass_needs_exit_zero_and_a_last_ok_line(micropython, tmp_path):
    ok = run_script(
        micropython, _script(tmp_path, "from mpcheck import check, done\ncheck(1 == 1)\ndone()\n")
    )
    assert ok.passed and ok.last_line == "OK 1 checks", ok.report()

    no_ok = run_script(micropython, _script(tmp_path, "print('finished')\n"))
    assert no_ok.returncode == 0 and not no_ok.passed

    failing = run_script(
        micropython,
        _script(tmp_path, "from mpcheck import check_eq\ncheck_eq(1 + 1, 3, 'adds')\nprint('OK')\n"),
    )
    assert failing.returncode == 1 and not failing.passed
    assert "got 2, expected 3" in failing.report()


def test_raises_helper_and_implementation(micropython, tmp_path):
    body = (
        "import sys\nfrom mpcheck import check_eq, raises, done\n"
        "check_eq(sys.implementation.name, 'micropython')\n"
        "e = raises(ValueError, int, 'x')\n"
        "try:\n    raises(ValueError, int, '1')\nexcept AssertionError:\n    print('caught')\n"
        "done()\n"
    )
    result = run_script(micropython, _script(tmp_path, body))
    assert result.passed and "caught" in result.stdout, result.report()


def test_the_heap_limit_is_applied(micropython, tmp_path):
    body = "# heapsize: 16K\nb = bytearray(64 * 1024)\nprint('OK')\n"
    result = run_script(micropython, _script(tmp_path, body))
    assert not result.passed and "MemoryError" in result.report()
    assert run_script(micropython, _script(tmp_path, body), heapsize="256K").passed


def test_a_hanging_script_times_out(micropython, tmp_path):
    result = run_script(micropython, _script(tmp_path, "while True:\n    pass\n"), timeout_s=1)
    assert result.returncode is None and not result.passed
    assert "timed out" in result.report()
