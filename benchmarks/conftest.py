"""pytest plumbing for the benchmark suite: collects `bench_*.py`, the `measurements` side JSON, quick mode.

Full run (what `python -m benchmarks.report` does):
    pytest benchmarks/ --benchmark-json=RESULTS --measurements-json=FIGURES
Quick run (CI; every body executes once, no timing is meaningful):
    pytest benchmarks/ --benchmark-disable
"""

import os

import pytest

from benchmarks.measurements import Measurements, machine_environment

_MEASUREMENTS = pytest.StashKey()


def pytest_addoption(parser):
    parser.addoption(
        "--measurements-json",
        default=None,
        help="write the non-timing figures (bytes, heap, RSS, MicroPython) to this JSON file",
    )


def pytest_collect_file(parent, file_path):
    # Benchmark modules are named bench_*.py so `pytest tests/` never picks them up by accident; a file named
    # on the command line is already collected by pytest itself.
    is_bench = file_path.suffix == ".py" and file_path.name.startswith("bench_")
    if is_bench and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_configure(config):
    config.stash[_MEASUREMENTS] = Measurements()
    if config.getoption("benchmark_disable", False):
        from benchmarks import reference_workload

        reference_workload.use_short_intervals()


def pytest_sessionstart(session):
    session.config.stash[_MEASUREMENTS].environment.update(
        machine_environment(), load_at_start=os.getloadavg()
    )


def pytest_sessionfinish(session):
    path = session.config.getoption("--measurements-json")
    if path:
        m = session.config.stash[_MEASUREMENTS]
        m.environment["load_at_end"] = os.getloadavg()
        m.write(path)


@pytest.fixture(scope="session")
def measurements(pytestconfig):
    return pytestconfig.stash[_MEASUREMENTS]


@pytest.fixture(scope="session")
def quick(pytestconfig):
    """True under --benchmark-disable: measure the smallest sizes, repeat nothing."""
    return bool(pytestconfig.getoption("benchmark_disable", False))
