"""Gateway configuration: command-line flags over ``OTEL_*`` environment variables over defaults.

config = load_config(["--listen", "127.0.0.1:8080", "--data-dir", "data", "--keys", "keys.toml"],
                     environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
config.otlp_endpoint   # 'http://collector:4318/v1/metrics'
"""

import argparse
import os
import urllib.parse
from dataclasses import dataclass, field

DEFAULT_PORT = 8080
MIB = 1 << 20


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: str = "./gateway-data"
    keys_path: str = "keys.toml"
    allow_insecure_keys: bool = False
    otlp_endpoint: "str | None" = None  # full metrics URL (http) or target (grpc); None: no export
    otlp_protocol: str = "http/protobuf"
    otlp_headers: dict = field(default_factory=dict)
    otlp_compression: str = "gzip"
    otlp_timeout_s: float = 10.0
    resource_attributes: dict = field(default_factory=dict)
    service_name: "str | None" = None
    temporality: str = "delta"
    max_request_bytes: int = 4 * MIB
    max_frame_bytes: int = 1 * MIB
    max_series_per_device: int = 10_000
    max_strings_per_device: int = 50_000
    max_clock_skew_s: float = 300.0
    batch_points: int = 5000
    shutdown_timeout_s: float = 10.0
    synchronous: str = "FULL"
    log_level: str = "INFO"


def parse_key_values(text, what):
    """``k=v,k2=v2`` with URL-decoded values (the OTEL_EXPORTER_OTLP_HEADERS / OTEL_RESOURCE_ATTRIBUTES form).

    >>> parse_key_values("a=1,b=x%20y", "headers")
    {'a': '1', 'b': 'x y'}
    """
    result = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError("%s: %r is not key=value" % (what, item))
        result[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return result


def metrics_endpoint(base=None, metrics=None, protocol="http/protobuf"):
    """The URL metrics are sent to: a signal-specific endpoint is used as-is, a base endpoint gets
    ``/v1/metrics`` appended for http/protobuf (the OTLP exporter spec); gRPC uses the base as the target."""
    if metrics:
        return metrics
    if not base:
        return None
    if protocol == "grpc":
        return base
    return base.rstrip("/") + "/v1/metrics"


def parse_listen(text):
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(DEFAULT_PORT)
    host = host.strip("[]") or "0.0.0.0"
    try:
        return host, int(port)
    except ValueError:
        raise ValueError("--listen wants HOST:PORT, got %r" % (text,)) from None


def _env(environ, name):
    """The _METRICS_ variant wins over the generic variable (OTLP exporter spec)."""
    specific = environ.get(name.replace("OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_METRICS_"))
    return specific if specific not in (None, "") else environ.get(name) or None


def build_parser():
    p = argparse.ArgumentParser(
        prog="litetel-gateway",
        description="Receive signed litetel device frames, queue them durably in SQLite and export them as "
        "OpenTelemetry metrics (OTLP). OTEL_* environment variables are honoured; flags override them.",
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:%d" % DEFAULT_PORT,
        metavar="HOST:PORT",
        help="address to serve /v1/frames, /metrics, /healthz, /readyz on (default %(default)s)",
    )
    p.add_argument(
        "--data-dir",
        default="./gateway-data",
        help="directory of the SQLite database (queue, dedup marks, dictionaries); created if missing",
    )
    p.add_argument(
        "--keys",
        default="keys.toml",
        metavar="FILE",
        help="TOML file with a [devices] table: device id = key (hex or base64); reloaded on SIGHUP",
    )
    p.add_argument(
        "--allow-insecure-keys",
        action="store_true",
        help="start even when the key file is readable by group or others",
    )
    p.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="OTLP base endpoint; http/protobuf appends /v1/metrics "
        "(env OTEL_EXPORTER_OTLP_ENDPOINT; OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is used as-is). "
        "None: the gateway keeps the queue and serves /metrics only",
    )
    p.add_argument(
        "--otlp-protocol",
        choices=("http/protobuf", "grpc"),
        help="env OTEL_EXPORTER_OTLP_PROTOCOL (default http/protobuf)",
    )
    p.add_argument(
        "--otlp-header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra export header, repeatable (env OTEL_EXPORTER_OTLP_HEADERS=k=v,k2=v2)",
    )
    p.add_argument(
        "--otlp-compression",
        choices=("gzip", "none"),
        help="env OTEL_EXPORTER_OTLP_COMPRESSION (default gzip)",
    )
    p.add_argument(
        "--otlp-timeout",
        type=float,
        metavar="SECONDS",
        help="export timeout (env OTEL_EXPORTER_OTLP_TIMEOUT in milliseconds; default 10 s)",
    )
    p.add_argument(
        "--temporality",
        choices=("delta", "cumulative"),
        default="delta",
        help="aggregation temporality of exported sums and histograms (default %(default)s)",
    )
    p.add_argument(
        "--max-request-bytes",
        type=int,
        default=4 * MIB,
        help="largest upload body accepted, larger → 413 (default %(default)s)",
    )
    p.add_argument(
        "--max-frame-bytes",
        type=int,
        default=MIB,
        help="largest decompressed frame payload, larger → reject:too_large (default %(default)s)",
    )
    p.add_argument(
        "--max-series-per-device",
        type=int,
        default=10_000,
        help="series per device dictionary (per epoch), more → reject:limit_series (default %(default)s)",
    )
    p.add_argument(
        "--max-strings-per-device",
        type=int,
        default=50_000,
        help="strings per device dictionary (per epoch), more → reject:limit_strings (default %(default)s)",
    )
    p.add_argument(
        "--max-clock-skew",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="a device wall clock further off than this is corrected and flagged (default %(default)s)",
    )
    p.add_argument(
        "--batch-points", type=int, default=5000, help="data points per export request (default %(default)s)"
    )
    p.add_argument(
        "--shutdown-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM: time allowed for in-flight requests and one final export (default %(default)s)",
    )
    p.add_argument(
        "--sqlite-synchronous",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="SQLite synchronous mode: FULL survives power loss; NORMAL (WAL) survives a process "
        "crash but may lose the last commits on power loss (default %(default)s)",
    )
    p.add_argument("--service-name", help="service.name for devices that set none (env OTEL_SERVICE_NAME)")
    p.add_argument(
        "--log-level",
        default=os.environ.get("LITETEL_GATEWAY_LOG_LEVEL", "INFO"),
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="(default %(default)s)",
    )
    return p


def load_config(argv=None, environ=None):
    """Parse flags and the environment into a :class:`Config`; raises SystemExit on bad flags,
    ValueError on bad environment values."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    host, port = parse_listen(args.listen)
    protocol = args.otlp_protocol or _env(environ, "OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    if protocol not in ("http/protobuf", "grpc"):
        raise ValueError(
            "OTEL_EXPORTER_OTLP_PROTOCOL %r is not supported (http/protobuf, grpc)" % (protocol,)
        )
    if args.otlp_endpoint:
        endpoint = metrics_endpoint(base=args.otlp_endpoint, protocol=protocol)
    else:
        endpoint = metrics_endpoint(
            environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
            protocol,
        )
    headers = parse_key_values(_env(environ, "OTEL_EXPORTER_OTLP_HEADERS"), "OTEL_EXPORTER_OTLP_HEADERS")
    headers.update(parse_key_values(",".join(args.otlp_header), "--otlp-header"))
    compression = args.otlp_compression or _env(environ, "OTEL_EXPORTER_OTLP_COMPRESSION") or "gzip"
    if compression not in ("gzip", "none"):
        raise ValueError("OTEL_EXPORTER_OTLP_COMPRESSION %r is not supported (gzip, none)" % (compression,))
    if args.otlp_timeout is not None:
        timeout_s = args.otlp_timeout
    else:
        timeout_ms = _env(environ, "OTEL_EXPORTER_OTLP_TIMEOUT")
        timeout_s = float(timeout_ms) / 1000.0 if timeout_ms else 10.0
    resource = parse_key_values(environ.get("OTEL_RESOURCE_ATTRIBUTES"), "OTEL_RESOURCE_ATTRIBUTES")
    service_name = args.service_name or environ.get("OTEL_SERVICE_NAME") or None
    for name in (
        "max_request_bytes",
        "max_frame_bytes",
        "max_series_per_device",
        "max_strings_per_device",
        "batch_points",
    ):
        if getattr(args, name) < 1:
            raise ValueError("--%s must be positive" % name.replace("_", "-"))
    return Config(
        host=host,
        port=port,
        data_dir=args.data_dir,
        keys_path=args.keys,
        allow_insecure_keys=args.allow_insecure_keys,
        otlp_endpoint=endpoint,
        otlp_protocol=protocol,
        otlp_headers=headers,
        otlp_compression=compression,
        otlp_timeout_s=timeout_s,
        resource_attributes=resource,
        service_name=service_name,
        temporality=args.temporality,
        max_request_bytes=args.max_request_bytes,
        max_frame_bytes=args.max_frame_bytes,
        max_series_per_device=args.max_series_per_device,
        max_strings_per_device=args.max_strings_per_device,
        max_clock_skew_s=args.max_clock_skew,
        batch_points=args.batch_points,
        shutdown_timeout_s=args.shutdown_timeout,
        synchronous=args.sqlite_synchronous,
        log_level=args.log_level,
    )
