"""A real Prometheus server (Debian's ``prometheus``) scraping given targets, queried over its HTTP API.

    with PrometheusProcess(["127.0.0.1:%d" % gateway_port]) as prom:
        prom.wait_for_query('sum(litetel_requests_total)', lambda r: r and float(r[0]["value"][1]) == 42)

The config (JSON, which YAML accepts) and the TSDB live in a temporary folder; the server listens on a free
loopback port, so Debian's own prometheus service on :9090, if the package started one, does not matter.
"""

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request

from .ports import free_port, wait_for
from .processes import ServiceProcess, ServiceUnavailable


def prometheus_path():
    """The prometheus binary, or ``ServiceUnavailable`` saying how to get it."""
    path = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not os.access(path, os.X_OK):
        raise ServiceUnavailable(
            "PROMETHEUS NOT INSTALLED: the Prometheus tests need Debian's 'prometheus' package "
            "(apt-get install prometheus; make test installs it when run as root)"
        )
    return path


class PrometheusProcess(ServiceProcess):
    """Prometheus scraping ``scrape_targets`` ("host:port" strings) every ``scrape_interval``."""

    name = "prometheus"
    start_timeout_s = 60.0

    def __init__(self, scrape_targets, scrape_interval="1s", metrics_path="/metrics", workdir=None):
        super().__init__(workdir)
        self.binary = prometheus_path()
        self.port = free_port()
        self.scrape_targets = list(scrape_targets)
        self.config_path = self.workdir / "prometheus.yml"
        config = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "scrape_configs": [
                {
                    "job_name": "litetel",
                    "metrics_path": metrics_path,
                    "scrape_interval": scrape_interval,
                    "scrape_timeout": scrape_interval,
                    "static_configs": [{"targets": self.scrape_targets}],
                }
            ],
        }
        self.config_path.write_text(json.dumps(config, indent=2))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def command(self):
        return [
            self.binary,
            "--config.file=%s" % self.config_path,
            "--storage.tsdb.path=%s" % (self.workdir / "tsdb"),
            "--web.listen-address=127.0.0.1:%d" % self.port,
            "--log.level=warn",
        ]

    def _get(self, path, params=None, timeout_s=5.0):
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:  # a bad query is a 400 whose JSON body says why
            return err.code, err.read()

    def is_ready(self):
        try:
            return self._get("/-/ready", timeout_s=1.0)[0] == 200
        except OSError:
            return False

    def query(self, promql):
        """Instant query; returns ``data.result`` (a list of ``{"metric": {...}, "value": [ts, "str"]}``)."""
        status, body = self._get("/api/v1/query", {"query": promql})
        reply = json.loads(body)
        if status != 200 or reply.get("status") != "success":
            raise RuntimeError(
                "prometheus query %r failed (%d): %s" % (promql, status, reply.get("error", reply))
            )
        return reply["data"]["result"]

    def query_value(self, promql):
        """The single sample of a scalar-like query as a float, or None when the result is empty."""
        result = self.query(promql)
        if not result:
            return None
        if len(result) != 1:
            raise ValueError("query %r returned %d series, expected one" % (promql, len(result)))
        return float(result[0]["value"][1])

    def wait_for_query(self, promql, predicate, timeout_s=30.0):
        """Poll ``query(promql)`` until ``predicate(result)`` is truthy; returns the result."""
        last = []

        def check():
            last[:] = [self.query(promql)]
            return predicate(last[0])

        try:
            wait_for(check, timeout_s, interval_s=0.25)
        except TimeoutError:
            raise TimeoutError(
                "prometheus: %r gave %r for %.0fs" % (promql, last[0] if last else None, timeout_s)
            )
        return last[0]

    def targets(self):
        """Active scrape targets with their health (``up``/``down``) and last error."""
        _, body = self._get("/api/v1/targets")
        return json.loads(body)["data"]["activeTargets"]
