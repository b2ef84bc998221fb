"""`make demo` in a short form: the whole chain over a faulty link must end with equal totals."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_ends_with_equal_totals():
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--seconds", "8"],
        capture_output=True, text=True, timeout=150, cwd=ROOT,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "ALL TOTALS EQUAL" in out, out[-4000:]
    rows = [line for line in out.splitlines() if line.rstrip().endswith(("equal", "DIFFERENT"))]
    assert len(rows) == 14 and all(r.rstrip().endswith("equal") for r in rows), out[-4000:]
    # the link really was bad: the proxy reports the faults it injected
    assert "link faults injected" in out
