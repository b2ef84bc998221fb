"""Shared fixtures: real services on free loopback ports, the fault proxy, MicroPython, and process cleanup.

Fixtures (see tests/support/ for the classes behind them):

- ``rotel`` / ``rotel_session``: a running ``RotelProcess`` (OTLP receiver) per test / shared by the session
- ``make_gateway(keys=None, otlp_endpoint=None, ...)``: start a ``GatewayProcess``; stopped at teardown
- ``make_prometheus(targets, scrape_interval="1s")``: start a ``PrometheusProcess``; stopped at teardown
- ``make_fault_proxy(port, host="127.0.0.1", seed=0)``: start a ``FaultProxy`` in front of a port
- ``micropython``: path of the MicroPython interpreter (fails under CI when missing, else skips)

A service whose program cannot run here (no prometheus binary, rotel without libpython3.11) skips the test
with a reason in capitals, listed in pytest's summary; under CI (CI=true, or LITETEL_REQUIRE_MICROPYTHON=1) it
fails it instead, as a missing MicroPython does: `make test` installs them, so a green CI run ran them.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `support` and `faults`, whatever the import mode

from faults.proxy import FaultProxy
from support.gateway import TEST_DEVICE_ID, TEST_DEVICE_KEY, GatewayProcess
from support.micropython import find_micropython, micropython_required
from support.processes import ServiceUnavailable, kill_all
from support.prometheus import PrometheusProcess
from support.rotel import RotelProcess


def _start_or_skip(factory):
    try:
        service = factory()
    except ServiceUnavailable as exc:
        if micropython_required():  # under CI: a test that could not run is not a pass
            pytest.fail("SERVICE UNAVAILABLE under CI — %s" % exc)
        pytest.skip("SERVICE UNAVAILABLE — %s" % exc)
    return service.start()


def _watch(request, service):
    """Remember ``service`` on the test, so a failure report carries the tail of its log."""
    request.node.__dict__.setdefault("_litetel_services", []).append(service)
    return service


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for service in item.__dict__.get("_litetel_services", []):
            report.sections.append(
                ("%s log (tail of %s)" % (service.name, service.log_path), service.log_tail(60))
            )


@pytest.fixture(scope="session", autouse=True)
def _no_stray_processes():
    """After the session, SIGKILL any child a test left running, and say so."""
    yield
    stray = kill_all()
    if stray:
        print("\nconftest: killed %d process(es) left running by tests" % stray, file=sys.stderr)


@pytest.fixture
def rotel(request, tmp_path):
    """A fresh rotel for this test (starts in well under a second)."""
    service = _watch(request, _start_or_skip(lambda: RotelProcess(workdir=tmp_path / "rotel")))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def rotel_session(tmp_path_factory):
    """One rotel shared by the session: filter points by resource attributes, or call ``clear()`` first."""
    service = _start_or_skip(lambda: RotelProcess(workdir=tmp_path_factory.mktemp("rotel")))
    yield service
    service.stop()


@pytest.fixture
def make_gateway(request, tmp_path):
    """Factory: ``make_gateway(keys={"sat-7": hex}, otlp_endpoint=rotel.http_endpoint, extra_args=(), env=None)``.

    Each call starts a gateway (unless ``start=False``) with its own data dir under tmp_path.
    """
    started = []

    def make(keys=None, otlp_endpoint=None, extra_args=(), env=None, data_dir=None, start=True):
        data_dir = data_dir or tmp_path / ("gateway-%d" % len(started))
        gateway = GatewayProcess(
            data_dir, keys or {TEST_DEVICE_ID: TEST_DEVICE_KEY}, otlp_endpoint, extra_args, env
        )
        started.append(_watch(request, gateway))
        return gateway.start() if start else gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def make_prometheus(request, tmp_path):
    """Factory: ``make_prometheus(["127.0.0.1:port"], scrape_interval="1s")`` → a started PrometheusProcess."""
    started = []

    def make(targets, scrape_interval="1s", metrics_path="/metrics"):
        workdir = tmp_path / ("prometheus-%d" % len(started))
        service = _start_or_skip(lambda: PrometheusProcess(targets, scrape_interval, metrics_path, workdir))
        started.append(_watch(request, service))
        return service

    yield make
    for service in started:
        service.stop()


@pytest.fixture
def make_fault_proxy():
    """Factory: ``make_fault_proxy(target_port, host="127.0.0.1", seed=0)`` → a started FaultProxy."""
    proxies = []

    def make(target_port, host="127.0.0.1", seed=0):
        proxy = FaultProxy(host, target_port, seed=seed).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture(scope="session")
def micropython():
    """Path of the MicroPython interpreter (``$LITETEL_MICROPYTHON``, ``.venv-mpy``, or PATH)."""
    interpreter = find_micropython()
    if interpreter is None:
        reason = (
            "MICROPYTHON NOT FOUND: set LITETEL_MICROPYTHON, run `make test`, or put `micropython` on PATH"
        )
        if micropython_required():
            pytest.fail(reason + " (required under CI / LITETEL_REQUIRE_MICROPYTHON=1)", pytrace=False)
        pytest.skip(reason)
    return interpreter
