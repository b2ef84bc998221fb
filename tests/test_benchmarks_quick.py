"""The benchmark suite in quick mode (`--benchmark-disable`: every body runs once), so it never rots.

No timing is asserted. What is asserted: every benchmark runs and none is skipped (all three libraries and
the MicroPython interpreter present; only the optional 32-bit MicroPython's may), every non-timing figure the report reads was measured, and the
report renders (markdown with the headline block and every goal, and a PNG chart).
"""

import importlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `pytest` (not `python -m pytest`) does not put the repo root on sys.path
    sys.path.insert(0, ROOT)

report = importlib.import_module("benchmarks.report")
GOALS = importlib.import_module("benchmarks.goals").GOALS
headline = importlib.import_module("benchmarks.headline")
sections = importlib.import_module("benchmarks.sections")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    junit = out / "junit.xml"
    cmd = report.pytest_command(str(out), quick=True, extra=["--junitxml=%s" % junit])
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    return out, proc, ET.parse(junit).getroot()


def test_every_benchmark_runs_and_none_is_skipped(quick_run):
    _, proc, junit = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
    skipped = [
        c.get("name") + ": " + c.find("skipped").get("message", "")
        for c in suite.iter("testcase")
        if c.find("skipped") is not None
    ]
    # Only the 32-bit MicroPython runs may skip: PyPI has no 32-bit build; a session measures one it built.
    assert [s for s in skipped if "LITETEL_MICROPYTHON32" not in s] == []
    assert int(suite.get("tests")) >= 50
    assert int(suite.get("failures")) == 0 and int(suite.get("errors")) == 0


def test_every_figure_the_report_reads_was_measured(quick_run):
    out, _, _ = quick_run
    with open(out / "measurements.json") as f:
        figures = json.load(f)["figures"]
    expected = (
        [key for key, _ in sections.WIRE_ROWS]
        + [key for key, _ in sections.MP_ROWS]
        + ["mp.fits_64k", "mp.mpy.fits_64k", "gateway.idle_rss"]
        + ["mp.%s.%s" % (form, k) for form in ("mpy", "rom") for k in ("smallest_heap", "heap_after_scenario")]
        + ["wire.floor.no_float_stats.zstd3", "wire.lossy.float32.zstd3"]
    )
    expected += [
        "wire.%s.%s" % (op, v)
        for op in ("span", "log")
        for v in ("litetel.none", "litetel.zstd", "otel.raw", "otel.zstd3")
    ]
    expected += ["gateway.load." + k for k in ("latency_ms", "p99_ms", "lost", "requests_per_s", "rss")]
    expected += [
        "import.%s.%s" % (case, what)
        for case in ("litetel", "litetel_device", "otel", "prometheus")
        for what in ("ms", "rss")
    ]
    expected += [
        "memory.%s.%s.100" % (lib, kind)
        for lib in ("litetel", "otel", "prometheus")
        for kind in ("counter", "histogram")
    ]
    assert sorted(set(expected) - set(figures)) == []
    # Bytes per point are real measurements: litetel's frames and OTLP both hold the 1,000 points.
    assert 0 < figures["wire.litetel.msgpack.zstd"]["median"] < figures["wire.otel.delta.raw"]["median"]


def test_report_renders_every_goal_and_the_chart(quick_run, tmp_path):
    out, _, _ = quick_run
    doc, chart = tmp_path / "benchmarks.md", tmp_path / "benchmarks.png"
    text = report.render(str(out), str(doc), str(chart))
    assert doc.read_text() == text
    assert text.index(headline.HEADLINE_START) < text.index(headline.HEADLINE_END)
    for _, goal, _ in GOALS:
        assert goal in text
    with open(chart, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_readme_quote_is_refreshed_between_its_markers(quick_run, tmp_path):
    out, _, _ = quick_run
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\n%s\nold figures\n%s\n\nafter\n" % (report.README_START, report.README_END))
    report.render(str(out), str(tmp_path / "b.md"), str(tmp_path / "b.png"), readme=str(readme))
    text = readme.read_text()
    assert text.startswith("# title\n\n" + report.README_START) and text.endswith(
        report.README_END + "\n\nafter\n"
    )
    assert "old figures" not in text
    assert "| bound counter `add(1)` |" in text and "\n\n\n" not in text
