"""The Dockerfile and examples/docker-compose cannot be built here (no image registry): check their wiring.

Each test states one link between two files (a port, a service name, a path, a metric name) so that renaming
one side without the other fails here instead of in someone's `docker compose up`.
"""

import fnmatch
import http.server
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "examples" / "docker-compose"
DOCKERFILE = ROOT / "Dockerfile"
DASHBOARD = COMPOSE_DIR / "grafana" / "dashboards" / "litetel-overview.json"

try:
    import yaml
except ImportError:  # PyYAML is a dev dependency; without it only the text checks below run
    yaml = None


def load_yaml(path):
    if yaml is None:
        pytest.skip(
            "LOUD: PyYAML is not installed, the YAML wiring of examples/docker-compose is NOT checked"
        )
    return yaml.safe_load(path.read_text())


def load_toml(path):
    tomllib = pytest.importorskip(
        "tomllib", reason="LOUD: Python < 3.11 has no tomllib; TOML wiring NOT checked"
    )
    return tomllib.loads(path.read_text())


def host_port(address):
    """('otel-collector', 4318) from 'http://otel-collector:4318', 'otel-collector:4318', '0.0.0.0:4318'."""
    parts = urlsplit(address if "://" in address else "//" + address)
    return parts.hostname, parts.port


def container_ports(service):
    return {int(str(mapping).split(":")[-1].split("/")[0]) for mapping in service.get("ports", [])}


def mounts(service):
    """{container path: host path resolved against the compose directory} for bind mounts."""
    result = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            result[target] = (COMPOSE_DIR / source).resolve()
    return result


@pytest.fixture(scope="module")
def compose():
    return load_yaml(COMPOSE_DIR / "docker-compose.yml")


@pytest.fixture(scope="module")
def collector_config():
    return load_yaml(COMPOSE_DIR / "otel-collector.yaml")


@pytest.fixture(scope="module")
def dockerfile():
    """Instructions as (KEYWORD, argument) with line continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def instruction(dockerfile, keyword):
    return [argument for key, argument in dockerfile if key.upper() == keyword]


# --- Dockerfile ---------------------------------------------------------------------------------------------


def test_dockerfile_base_user_port_volume_entrypoint(dockerfile):
    assert instruction(dockerfile, "FROM") == ["python:3.12-slim"]
    users = instruction(dockerfile, "USER")
    assert users and users[-1] not in ("root", "0"), "the gateway must not run as root"
    assert "8080" in instruction(dockerfile, "EXPOSE")
    assert any("/data" in v for v in instruction(dockerfile, "VOLUME"))
    assert json.loads(instruction(dockerfile, "ENTRYPOINT")[0]) == ["litetel-gateway"]
    assert any('pip install ".[gateway]"' in run for run in instruction(dockerfile, "RUN"))


def test_dockerfile_installs_what_pyproject_declares(dockerfile):
    pyproject = load_toml(ROOT / "pyproject.toml")
    assert "gateway" in pyproject["project"]["optional-dependencies"]
    assert pyproject["project"]["scripts"]["litetel-gateway"].startswith("litetel_gateway.")
    copied = " ".join(instruction(dockerfile, "COPY"))
    for needed in [
        "pyproject.toml",
        pyproject["project"]["readme"],
        *pyproject["tool"]["setuptools"]["packages"],
    ]:
        assert needed in copied, "%s is needed by `pip install .` but not copied" % needed
        assert (ROOT / needed).exists()


def test_dockerignore_keeps_the_build_inputs():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = ["pyproject.toml", "README.md", "litetel/__init__.py", "litetel_gateway/exporter_grpc.py"]
    for path in needed:
        hits = [p for p in patterns if fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/")]
        assert not hits, "%s is excluded by .dockerignore pattern %s" % (path, hits)
    assert ".git" in patterns and ".venv" in patterns and "tests" in patterns


def healthcheck_command(dockerfile):
    (argument,) = instruction(dockerfile, "HEALTHCHECK")
    return json.loads(argument.split(" CMD ", 1)[1])


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False)])
def test_healthcheck_command_asks_healthz_with_python_only(dockerfile, status, healthy):
    command = healthcheck_command(dockerfile)
    assert command[0] == "python" and "urllib" in command[-1] and "curl" not in command[-1]
    env_default = [v for v in instruction(dockerfile, "ENV") if "LITETEL_HEALTHCHECK_URL" in v]
    assert env_default and "127.0.0.1:8080/healthz" in env_default[0]
    handler = type("Handler", (_Health,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/healthz" % server.server_port
        env = dict(os.environ, LITETEL_HEALTHCHECK_URL=url)
        result = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) == healthy, result.stderr.decode()


def test_healthcheck_command_passes_against_the_real_gateway(dockerfile, make_gateway):
    gateway = make_gateway()
    env = dict(os.environ, LITETEL_HEALTHCHECK_URL=gateway.url + "/healthz")
    result = subprocess.run(
        [sys.executable, *healthcheck_command(dockerfile)[1:]], env=env, capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stderr.decode()
    gateway.stop()
    result = subprocess.run(
        [sys.executable, *healthcheck_command(dockerfile)[1:]], env=env, capture_output=True, timeout=30
    )
    assert result.returncode != 0, "a stopped gateway must be reported unhealthy"


# --- docker-compose -----------------------------------------------------------------------------------------


def test_compose_text_names_every_part():
    # The minimal check that runs even without PyYAML.
    text = (COMPOSE_DIR / "docker-compose.yml").read_text()
    for needle in [
        "gateway:",
        "otel-collector:",
        "prometheus:",
        "grafana:",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "opentelemetry-collector-contrib",
        "8080:8080",
        "4318:4318",
        "9090:9090",
        "3000:3000",
    ]:
        assert needle in text, needle


def test_compose_services_build_and_mount_existing_files(compose):
    services = compose["services"]
    assert set(services) == {"gateway", "otel-collector", "prometheus", "grafana"}
    build = services["gateway"]["build"]
    assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    for name, service in services.items():
        for target, source in mounts(service).items():
            assert source.exists(), "%s mounts missing %s at %s" % (name, source, target)
    assert "contrib" in services["otel-collector"]["image"]


def test_gateway_exports_to_the_collector_otlp_receiver(compose, collector_config):
    env = compose["services"]["gateway"]["environment"]
    protocol = env["OTEL_EXPORTER_OTLP_PROTOCOL"]
    assert protocol in ("http/protobuf", "grpc")
    host, port = host_port(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert host == "otel-collector" and host in compose["services"]
    receiver = collector_config["receivers"]["otlp"]["protocols"][
        "http" if protocol == "http/protobuf" else "grpc"
    ]
    bind_host, bind_port = host_port(receiver["endpoint"])
    assert bind_port == port
    assert bind_host == "0.0.0.0", "a receiver bound to localhost is unreachable from the gateway container"
    assert env["OTEL_SERVICE_NAME"] and env["OTEL_EXPORTER_OTLP_COMPRESSION"] == "gzip"


def test_gateway_listens_where_the_ports_and_the_scrape_point(compose):
    gateway = compose["services"]["gateway"]
    listen = [arg.split("=", 1)[1] for arg in gateway["command"] if arg.startswith("--listen=")]
    assert listen and host_port(listen[0]) == ("0.0.0.0", 8080)
    assert 8080 in container_ports(gateway)
    assert "/data" in [v.split(":")[1] for v in gateway["volumes"]]
    keys = [arg.split("=", 1)[1] for arg in gateway["command"] if arg.startswith("--keys=")]
    assert keys and keys[0] in mounts(gateway)
    assert load_toml(mounts(gateway)[keys[0]])["devices"], "keys.toml needs a [devices] table"


def test_gateway_config_accepts_the_compose_command_and_environment(compose):
    config = pytest.importorskip("litetel_gateway.config", reason="LOUD: litetel_gateway/config.py missing")
    gateway = compose["services"]["gateway"]
    settings = config.load_config([str(a) for a in gateway["command"]], environ=gateway["environment"])
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert settings.otlp_endpoint == "http://otel-collector:4318/v1/metrics"
    assert (settings.otlp_protocol, settings.otlp_compression) == ("http/protobuf", "gzip")
    assert settings.service_name == gateway["environment"]["OTEL_SERVICE_NAME"]
    assert settings.temporality == "cumulative"
    assert settings.data_dir == "/data" and settings.keys_path in mounts(gateway)


def test_gateway_config_accepts_the_dockerfile_default_command(dockerfile):
    config = pytest.importorskip("litetel_gateway.config", reason="LOUD: litetel_gateway/config.py missing")
    settings = config.load_config(json.loads(instruction(dockerfile, "CMD")[0]), environ={})
    assert (settings.host, settings.port, settings.data_dir) == ("0.0.0.0", 8080, "/data")
    assert settings.keys_path == "/etc/litetel/keys.toml"


def test_collector_pipeline_wiring(collector_config, compose):
    pipeline = collector_config["service"]["pipelines"]["metrics"]
    assert pipeline["receivers"] == ["otlp"]
    assert pipeline["processors"][0] == "memory_limiter", "memory_limiter must be first (Collector docs)"
    assert "batch" in pipeline["processors"]
    assert set(pipeline["exporters"]) == {"prometheus", "debug"}
    for kind in ("receivers", "processors", "exporters"):
        for name in pipeline[kind]:
            assert name in collector_config[kind], "pipeline uses undefined %s %s" % (kind, name)
    assert collector_config["exporters"]["prometheus"]["resource_to_telemetry_conversion"]["enabled"] is True
    collector = compose["services"]["otel-collector"]
    config_target = [a.split("=", 1)[1] for a in collector["command"] if a.startswith("--config=")][0]
    assert mounts(collector)[config_target] == (COMPOSE_DIR / "otel-collector.yaml").resolve()
    for protocol in ("grpc", "http"):
        _, port = host_port(collector_config["receivers"]["otlp"]["protocols"][protocol]["endpoint"])
        assert port in container_ports(collector)


def test_prometheus_scrapes_the_collector_exporter_and_the_gateway(compose, collector_config):
    prometheus = compose["services"]["prometheus"]
    config_arg = [a for a in prometheus["command"] if a.startswith("--config.file=")][0].split("=", 1)[1]
    config_path = mounts(prometheus)[config_arg]
    jobs = {job["job_name"]: job for job in load_yaml(config_path)["scrape_configs"]}
    targets = {name: job["static_configs"][0]["targets"] for name, job in jobs.items()}
    _, exporter_port = host_port(collector_config["exporters"]["prometheus"]["endpoint"])
    assert targets["otel-collector"] == ["otel-collector:%d" % exporter_port]
    assert targets["litetel-gateway"] == ["gateway:8080"]
    assert jobs["litetel-gateway"].get("metrics_path", "/metrics") == "/metrics"


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard(compose):
    grafana = compose["services"]["grafana"]
    provisioning = mounts(grafana)["/etc/grafana/provisioning"]
    (datasource,) = load_yaml(provisioning / "datasources" / "prometheus.yaml")["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert 9090 in container_ports(compose["services"]["prometheus"])
    (provider,) = load_yaml(provisioning / "dashboards" / "litetel.yaml")["providers"]
    assert provider["type"] == "file"
    assert mounts(grafana)[provider["options"]["path"]] == DASHBOARD.parent.resolve()

    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    for panel in panels:
        assert panel["datasource"]["uid"] == datasource["uid"]
        assert all(t["datasource"]["uid"] == datasource["uid"] for t in panel["targets"])


def dashboard_exprs():
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] if p["type"] != "row" for t in p["targets"]]


def test_dashboard_shows_request_rate_latency_p95_and_dropped_frames():
    exprs = " ".join(dashboard_exprs())
    assert "rate(http_server_request_duration_seconds_count" in exprs
    assert re.search(r"histogram_quantile\(0\.95, .*http_server_request_duration_seconds_bucket", exprs)
    # litetel.device.frames.dropped (wire-format §2.3), unit {frame}: the translator drops {...} units.
    assert "litetel_device_frames_dropped_total" in exprs
    assert "litetel.device.frames.dropped" in (ROOT / "docs" / "wire-format.md").read_text()


def test_dashboard_gateway_metrics_exist_in_the_gateway():
    metrics_module = pytest.importorskip("litetel_gateway.self_metrics")
    gateway_metrics = metrics_module.GatewayMetrics()
    families = {family.name for family in gateway_metrics.families}
    histograms = {
        family.name for family in gateway_metrics.families if isinstance(family, metrics_module.Histogram)
    }
    exposed = set()
    for name in families:
        exposed.add(name)
        if name in histograms:
            exposed.update({name + "_bucket", name + "_sum", name + "_count"})
    used = {m for expr in dashboard_exprs() for m in re.findall(r"\b(litetel_gateway_\w+)", expr)}
    assert used, "the dashboard shows no gateway metric"
    assert used <= exposed, "dashboard queries gateway metrics that do not exist: %s" % sorted(used - exposed)


def test_readme_mentions_every_file():
    readme = (COMPOSE_DIR / "README.md").read_text()
    for path in COMPOSE_DIR.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert path.name in readme, "%s is not explained in the README" % path.relative_to(COMPOSE_DIR)
