"""rotel (PyPI ``rotel``, its Rust ``rotel-agent`` binary) as the real OTLP receiver of the tests and the demo.

rotel accepts OTLP over HTTP and gRPC, exports to a black hole, and prints every point it received in its
detailed debug log; ``RotelProcess`` runs it on free loopback ports and reads that log back as data::

    with RotelProcess() as rotel:
        post_otlp(rotel.http_endpoint + "/v1/metrics", request)
        rotel.wait_for_points(lambda pts: any(p.metric == "requests.total" for p in pts), timeout_s=5)
        assert rotel.total("requests.total", route="/a") == 42

rotel batches what it receives (~200 ms) before printing it.
"""

import os
import subprocess
import time
from pathlib import Path

from .ports import free_port, port_open, wait_for
from .processes import ServiceProcess, ServiceUnavailable
from .rotel_log import DebugLogFile

_QUIET_S = 0.02  # the log must stop growing this long before a read counts as a whole batch


def rotel_agent_path():
    """Path of the ``rotel-agent`` binary shipped in the ``rotel`` wheel; ``ServiceUnavailable`` if absent."""
    try:
        import rotel
    except ImportError:
        raise ServiceUnavailable(
            "the Python package 'rotel' is not installed (pip install rotel; make test does)"
        )
    agent = Path(rotel.__file__).parent / "rotel-agent"
    if not agent.exists():
        raise ServiceUnavailable("rotel is installed but has no rotel-agent binary at %s" % agent)
    return agent


def check_rotel_runs():
    """Raise ``ServiceUnavailable`` with the reason (e.g. missing libpython3.11) if rotel-agent cannot start."""
    agent = rotel_agent_path()
    try:
        out = subprocess.run([str(agent), "--version"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceUnavailable("rotel-agent cannot run: %s" % exc)
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).decode(errors="replace").strip()
        raise ServiceUnavailable(
            "rotel-agent cannot run (exit %d): %s — it links against libpython3.11.so.1.0: "
            "apt-get install libpython3.11 (make test does this when root)" % (out.returncode, detail)
        )
    return agent


def _matches(point, attrs):
    """A point matches when each attribute equals the point's (or, failing that, its resource's) value."""
    for key, want in attrs.items():
        have = point.attributes[key] if key in point.attributes else point.resource.get(key)
        if have != want:
            return False
    return True


def _series_key(point):
    return (
        point.metric,
        point.scope,
        tuple(sorted((k, repr(v)) for k, v in point.resource.items())),
        tuple(sorted((k, repr(v)) for k, v in point.attributes.items())),
    )


def total(points, metric_name, **attrs):
    """What arrived for ``metric_name``: the sum of sum values (or histogram counts) over matching points.

    Delta points add up; for cumulative points only each series' latest point counts. Gauges and summaries
    are not totals and are ignored. ``attrs`` match point attributes, else resource attributes
    (``total(pts, "x", **{"device.id": "sat-7"})``).
    """
    result = 0
    latest = {}  # cumulative series → its newest point
    for point in points:
        if (
            point.metric != metric_name
            or point.type not in ("sum", "histogram")
            or not _matches(point, attrs)
        ):
            continue
        if point.temporality == "cumulative":
            key = _series_key(point)
            if key not in latest or point.time_ns >= latest[key].time_ns:
                latest[key] = point
        else:
            result += point.value if point.type == "sum" else point.count
    for point in latest.values():
        result += point.value if point.type == "sum" else point.count
    return result


class RotelProcess(ServiceProcess):
    """rotel-agent on free loopback ports (kept across ``restart()``), logging what it receives.

    ``http_endpoint`` is the base URL for OTLP/HTTP (``.../v1/metrics``), ``grpc_endpoint`` the host:port
    for OTLP/gRPC.
    """

    name = "rotel"
    start_timeout_s = 20.0

    def __init__(self, workdir=None, extra_args=()):
        super().__init__(workdir)
        self.agent = check_rotel_runs()
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.extra_args = list(extra_args)
        self._debug_log = DebugLogFile(self.log_path)

    @property
    def http_endpoint(self):
        return "http://127.0.0.1:%d" % self.http_port

    @property
    def grpc_endpoint(self):
        return "127.0.0.1:%d" % self.grpc_port

    def command(self):
        return [
            self.agent, "start",
            "--otlp-http-endpoint", "127.0.0.1:%d" % self.http_port,
            "--otlp-grpc-endpoint", "127.0.0.1:%d" % self.grpc_port,
            "--exporter", "blackhole",
            "--debug-log", "metrics", "--debug-log", "traces", "--debug-log", "logs",
            "--debug-log-verbosity", "detailed",
            # rotel's defaults are shared /tmp paths; keep each instance's own
            "--pid-file", self.workdir / "rotel.pid",
            "--log-file", self.workdir / "rotel-agent.log",
        ] + self.extra_args  # fmt: skip

    def environment(self):
        return dict(os.environ, NO_COLOR="1")

    def is_ready(self):
        return port_open("127.0.0.1", self.http_port) and port_open("127.0.0.1", self.grpc_port)

    # -- what arrived
    def refresh(self):
        """Read the log up to a quiet moment, so a batch being printed is read whole."""
        while self._debug_log.refresh():
            time.sleep(_QUIET_S)

    def points(self, metric_name=None):
        """Every metric data point received so far (``MetricPoint``), optionally of one metric."""
        self.refresh()
        points = self._debug_log.parser.points()
        return [p for p in points if metric_name is None or p.metric == metric_name]

    def spans(self):
        self.refresh()
        return self._debug_log.parser.spans()

    def logs(self):
        self.refresh()
        return self._debug_log.parser.logs()

    def total(self, metric_name, **attrs):
        """Sum of ``metric_name``'s sum values / histogram counts received, filtered by attributes."""
        return total(self.points(metric_name), metric_name, **attrs)

    def wait_for_points(self, predicate, timeout_s=10.0):
        """Poll until ``predicate(points)`` is truthy; returns the points. ``TimeoutError`` names what came."""
        try:
            wait_for(
                lambda: predicate(self.points()), timeout_s, message="rotel points matching the predicate"
            )
        except TimeoutError:
            points = self.points()
            names = sorted({p.metric for p in points})
            raise TimeoutError(
                "rotel: no match after %.1fs; %d points received, metrics %s"
                % (timeout_s, len(points), names)
            ) from None
        return self.points()

    def wait_for_total(self, metric_name, expected, timeout_s=10.0, **attrs):
        """Poll until ``total(metric_name, **attrs) == expected``; ``AssertionError`` shows what arrived."""
        try:
            wait_for(lambda: self.total(metric_name, **attrs) == expected, timeout_s)
        except TimeoutError:
            points = [p for p in self.points(metric_name) if _matches(p, attrs)]
            shown = "\n".join(
                "  %s start=%d time=%d value=%r count=%r attrs=%r resource=%r"
                % (p.temporality, p.start_ns, p.time_ns, p.value, p.count, p.attributes, p.resource)
                for p in points[:20]
            )
            raise AssertionError(
                "rotel total of %s%s is %r after %.1fs, expected %r; %d points:\n%s"
                % (
                    metric_name,
                    attrs or "",
                    self.total(metric_name, **attrs),
                    timeout_s,
                    expected,
                    len(points),
                    shown,
                )
            ) from None
        return expected

    def clear(self):
        """Forget everything received so far (for a rotel shared between tests)."""
        self.refresh()
        self._debug_log.parser.clear()
