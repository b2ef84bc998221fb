"""Finding and running the real MicroPython interpreter (the unix port) on the device-core test scripts.

The interpreter is, in order: ``$LITETEL_MICROPYTHON`` (the Makefile exports it), ``.venv-mpy/bin/micropython``
(made by ``make``), then ``micropython`` on PATH.

Scripts are ``tests/micropython/mp_test_<topic>.py``, run from the repository root with
``MICROPYPATH=.:tests/micropython`` and ``-X heapsize=<N>`` taken from a first line ``# heapsize: 64K``
(default 256K). A script passes when it exits 0 and its last output line starts with ``OK``.

    result = run_script(find_micropython(), Path("tests/micropython/mp_test_smoke.py"))
    assert result.passed, result.report()
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = REPO_ROOT / "tests" / "micropython"
DEFAULT_HEAPSIZE = "256K"
TIMEOUT_S = 120
_HEAPSIZE = re.compile(r"^#\s*heapsize:\s*(\d+[KkMm]?)\s*$")


def find_micropython():
    """Path of the MicroPython interpreter, or None when there is none."""
    configured = os.environ.get("LITETEL_MICROPYTHON")
    if configured and os.access(configured, os.X_OK):
        return configured
    local = REPO_ROOT / ".venv-mpy" / "bin" / "micropython"
    if os.access(local, os.X_OK):
        return str(local)
    return shutil.which("micropython")


def micropython_required():
    """True under CI or LITETEL_REQUIRE_MICROPYTHON=1: a missing interpreter is then a failure, not a skip."""
    return (
        os.environ.get("CI", "").lower() in ("1", "true", "yes")
        or os.environ.get("LITETEL_REQUIRE_MICROPYTHON") == "1"
    )


def script_heapsize(path):
    """The heap size a script asks for on its first line (``# heapsize: 64K``), else the default."""
    with open(path, encoding="utf-8") as f:
        match = _HEAPSIZE.match(f.readline().strip())
    return match.group(1).upper() if match else DEFAULT_HEAPSIZE


def mp_test_scripts():
    """Every ``mp_test_*.py`` under tests/micropython, sorted."""
    return sorted(SCRIPTS_DIR.glob("mp_test_*.py"))


@dataclass
class ScriptResult:
    script: Path
    heapsize: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def last_line(self):
        lines = self.stdout.strip().splitlines()
        return lines[-1] if lines else ""

    @property
    def passed(self):
        return self.returncode == 0 and self.last_line.startswith("OK")

    def report(self):
        return "%s (heapsize %s) exited %s, last line %r\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            self.script.name,
            self.heapsize,
            self.returncode,
            self.last_line,
            self.stdout,
            self.stderr,
        )


def run_script(interpreter, script, heapsize=None, timeout_s=TIMEOUT_S, extra_env=None):
    """Run ``script`` on MicroPython from the repository root; a timeout counts as a failure (returncode None)."""
    script = Path(script)
    heapsize = heapsize or script_heapsize(script)
    env = dict(os.environ, MICROPYPATH=".:tests/micropython", **(extra_env or {}))
    try:
        done = subprocess.run(
            [interpreter, "-X", "heapsize=%s" % heapsize, str(script.resolve())],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace")
        return ScriptResult(script, heapsize, None, out, "timed out after %ds" % timeout_s)
    return ScriptResult(
        script,
        heapsize,
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )
