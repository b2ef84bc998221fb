"""Run the benchmark suite and render docs/benchmarks.md + docs/benchmarks.png from its results.

    python -m benchmarks.report                 # full run (a few minutes), then render
    python -m benchmarks.report --quick         # every benchmark body once (CI smoke), results in a temp dir
    python -m benchmarks.report --render-only   # re-render from benchmarks/results/*.json

The raw results (pytest-benchmark JSON + the side JSON of non-timing figures) stay in benchmarks/results/
and are committed with the doc, so every number in the README has a source.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks import sections
from benchmarks.chart import draw_ratios
from benchmarks.headline import headline_ratios, readme_block
from benchmarks.results import BENCHMARK_JSON, MEASUREMENTS_JSON, Results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
CHART = os.path.join(ROOT, "docs", "benchmarks.png")
README = os.path.join(ROOT, "README.md")
README_START, README_END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"

# Chosen for a 2-core shared machine: enough rounds for a median and IQR, the whole suite in a few minutes.
TIMING_ARGS = [
    "--benchmark-min-rounds=7",
    "--benchmark-max-time=0.4",
    "--benchmark-warmup=on",
    "--benchmark-warmup-iterations=3",
    "--benchmark-sort=name",
]
QUICK_ARGS = ["--benchmark-disable"]


def pytest_command(results_dir, quick=False, extra=()):
    """The pytest command line that produces both JSON files in `results_dir`."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        os.path.join(ROOT, "benchmarks"),
        "-q",
        "-p",
        "no:cacheprovider",
        "--measurements-json=" + os.path.join(results_dir, MEASUREMENTS_JSON),
    ]
    cmd += QUICK_ARGS if quick else TIMING_ARGS
    return cmd + ["--benchmark-json=" + os.path.join(results_dir, BENCHMARK_JSON)] + list(extra)


def run_suite(results_dir, quick=False, extra=()):
    """Run pytest; returns (exit code, seconds). The seconds are stored with the figures (issue 7's goal)."""
    os.makedirs(results_dir, exist_ok=True)
    cmd = pytest_command(results_dir, quick, extra)
    t0 = time.monotonic()
    code = subprocess.call(cmd, cwd=ROOT)
    seconds = time.monotonic() - t0
    _edit_json(
        os.path.join(results_dir, MEASUREMENTS_JSON),
        lambda d: d.setdefault("environment", {}).update(suite_seconds=seconds),
    )
    _edit_json(os.path.join(results_dir, BENCHMARK_JSON), _drop_raw_timings)
    return code, seconds


def _edit_json(path, edit):
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
        edit(data)
        with open(path, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)


def _drop_raw_timings(data):
    # Every round's time would make each committed run ~0.5 MB; the stats (median, IQR, ...) stay.
    for b in data.get("benchmarks", []):
        b["stats"].pop("data", None)


def render(results_dir=RESULTS_DIR, doc=DOC, chart=CHART, readme=None):
    """Write the markdown report and the chart from the JSON files in `results_dir`; with `readme`, also
    refresh the block that file quotes between README_START and README_END."""
    results = Results.load(results_dir)
    draw_ratios(headline_ratios(results), chart)
    text = sections.document(results, chart_name=os.path.basename(chart))
    with open(doc, "w") as f:
        f.write(text)
    if readme:
        _quote_in_readme(readme, readme_block(results))
    return text


def _quote_in_readme(path, lines):
    with open(path) as f:
        text = f.read()
    start, end = text.index(README_START), text.index(README_END)
    with open(path, "w") as f:
        f.write(
            text[:start] + "\n".join([README_START] + lines + [README_END]) + text[end + len(README_END) :]
        )


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="run every benchmark body once (no timings)")
    parser.add_argument("--render-only", action="store_true", help="do not run the suite, only render")
    parser.add_argument("--results-dir", default=RESULTS_DIR)
    parser.add_argument("--doc", default=DOC)
    parser.add_argument("--chart", default=CHART)
    args, extra = parser.parse_known_args(argv)
    if args.quick and args.results_dir == RESULTS_DIR:
        args.results_dir = tempfile.mkdtemp(prefix="litetel-bench-")  # never overwrite the committed results
    if not args.render_only:
        code, seconds = run_suite(args.results_dir, args.quick, extra)
        print("benchmark suite: exit %d in %.0f s" % (code, seconds))
        if code != 0:
            return code
        if args.quick:
            return 0  # no timings to render; the committed report stays as it is
    # The README quotes the committed figures only: a run into another results dir or doc leaves it alone.
    default_output = args.results_dir == RESULTS_DIR and args.doc == DOC
    render(args.results_dir, args.doc, args.chart, readme=README if default_output else None)
    print("wrote %s and %s" % (os.path.relpath(args.doc, ROOT), os.path.relpath(args.chart, ROOT)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
