"""Gateway configuration: command-line flags over ``OTEL_*`` environment variables over defaults.

config = load_config(["--listen", "127.0.0.1:8080", "--data-dir", "data", "--keys", "keys.toml"],
                     environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
config.otlp_endpoint                # 'http://collector:4318/v1/metrics'
config.exports["traces"].endpoint   # 'http://collector:4318/v1/traces'
"""

import argparse
import os
import urllib.parse
from dataclasses import dataclass, field

from litetel.epoch_limits import MAX_EPOCH_SERIES, MAX_EPOCH_STRINGS

DEFAULT_PORT = 8080
MIB = 1 << 20


SIGNALS = ("metrics", "traces", "logs")
PROTOCOLS = ("http/protobuf", "grpc")
COMPRESSIONS = ("gzip", "none")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass
class SignalExport:
    """Where and how one signal (metrics, traces or logs) is exported."""

    endpoint: "str | None" = None  # full URL (http/protobuf) or target (grpc); None: not exported
    protocol: str = "http/protobuf"
    headers: dict = field(default_factory=dict)
    compression: str = "gzip"
    timeout_s: float = 10.0
    insecure: bool = False  # gRPC only: a scheme-less endpoint is plaintext (OTEL_EXPORTER_OTLP_INSECURE)
    certificate: "str | None" = None  # PEM file of trusted roots for TLS; None: the system trust store

    def connection(self):
        """What two signals must share to go through one exporter (HTTP URLs differ per signal; a gRPC
        channel has one target)."""
        endpoint = self.endpoint if self.protocol == "grpc" else None
        return (
            self.protocol,
            endpoint,
            tuple(sorted(self.headers.items())),
            self.compression,
            self.timeout_s,
            self.insecure,
            self.certificate,
        )


def _default_exports():
    return {signal: SignalExport() for signal in SIGNALS}


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: str = "./gateway-data"
    keys_path: str = "keys.toml"
    allow_insecure_keys: bool = False
    exports: dict = field(default_factory=_default_exports)  # signal -> SignalExport
    resource_attributes: dict = field(default_factory=dict)
    service_name: "str | None" = None
    temporality: str = "delta"
    max_request_bytes: int = 4 * MIB
    max_frame_bytes: int = 1 * MIB
    max_series_per_device: int = MAX_EPOCH_SERIES  # a device stays within the defaults (epoch_limits.py)
    max_strings_per_device: int = MAX_EPOCH_STRINGS
    max_clock_skew_s: float = 300.0
    batch_points: int = 5000
    shutdown_timeout_s: float = 10.0
    synchronous: str = "FULL"
    log_level: str = "INFO"

    # The metrics signal's settings under their names from before traces and logs were exported.
    otlp_endpoint = property(lambda self: self.exports["metrics"].endpoint)
    otlp_protocol = property(lambda self: self.exports["metrics"].protocol)
    otlp_headers = property(lambda self: self.exports["metrics"].headers)
    otlp_compression = property(lambda self: self.exports["metrics"].compression)
    otlp_timeout_s = property(lambda self: self.exports["metrics"].timeout_s)


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


def endpoint_for(signal, base=None, specific=None, protocol="http/protobuf"):
    """The URL ``signal`` is sent to: a signal-specific endpoint is used as-is, a base endpoint gets
    ``/v1/<signal>`` appended for http/protobuf (the OTLP exporter spec); gRPC uses the base as the target.

    >>> endpoint_for("traces", "http://collector:4318/")
    'http://collector:4318/v1/traces'
    """
    if specific:
        return specific
    if not base:
        return None
    if protocol == "grpc":
        return base
    return base.rstrip("/") + "/v1/" + signal


def metrics_endpoint(base=None, metrics=None, protocol="http/protobuf"):
    """:func:`endpoint_for` the metrics signal."""
    return endpoint_for("metrics", base, metrics, protocol)


def signal_endpoint(metrics_endpoint, signal):
    """The URL of ``signal`` next to a metrics URL: ``.../v1/metrics`` → ``.../v1/traces``; a URL not
    ending in ``/v1/metrics`` (a custom path) gets ``/v1/<signal>`` appended to its parent.

    >>> signal_endpoint("http://c:4318/custom/path", "logs")
    'http://c:4318/custom/v1/logs'
    """
    parts = urllib.parse.urlsplit(metrics_endpoint)
    base, _, last = parts.path.rstrip("/").rpartition("/")  # only the path: a URL without one has no parent
    if last == "metrics" and base.endswith("/v1"):
        path = base + "/" + signal
    else:
        path = base + "/v1/" + signal
    return urllib.parse.urlunsplit(parts._replace(path=path))


def parse_listen(text):
    host, sep, port = text.rpartition(":")
    if not sep:
        if text.isdigit():  # "--listen 8080" would bind the IPv4 address 0.0.31.144
            raise ValueError("--listen wants HOST:PORT, got %r (':%s' listens on every interface)" % (text, text))
        host, port = text, str(DEFAULT_PORT)
    host = host.strip("[]") or "0.0.0.0"
    try:
        port = int(port)
    except ValueError:
        raise ValueError("--listen wants HOST:PORT, got %r" % (text,)) from None
    if not 0 <= port <= 65535:
        raise ValueError("--listen: port %d is not in 0-65535" % port)
    return host, port


def _env(environ, name, signal="metrics"):
    """``(variable, value)`` of ``name``: its ``_<SIGNAL>_`` variant wins over the generic variable (OTLP
    exporter spec); value None when neither is set (an empty value counts as unset)."""
    specific = name.replace("OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_%s_" % signal.upper())
    for variable in (specific, name):
        if environ.get(variable) not in (None, ""):
            return variable, environ[variable]
    return name, None


def build_parser():
    p = argparse.ArgumentParser(
        prog="litetel-gateway",
        description="Receive signed litetel device frames, queue them durably in SQLite and export them as "
        "OpenTelemetry metrics, traces and logs (OTLP). OTEL_* environment variables are honoured; flags "
        "override them.",
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
        metavar="DIR",
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
    otlp = p.add_argument_group(
        "export (OTLP)",
        "Each flag applies to every signal (metrics, traces, logs) and overrides the OTEL_* variables, of "
        "which a signal-specific one (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT) wins over the generic one "
        "(OTEL_EXPORTER_OTLP_TIMEOUT).",
    )
    otlp.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="OTLP base endpoint; http/protobuf appends /v1/metrics, /v1/traces, /v1/logs, gRPC uses it as "
        "the target (env OTEL_EXPORTER_OTLP_ENDPOINT). None: the gateway keeps the queue and serves "
        "/metrics only",
    )
    for signal in SIGNALS:
        otlp.add_argument(
            "--otlp-%s-endpoint" % signal,
            metavar="URL",
            help="where %s go, used as-is (env OTEL_EXPORTER_OTLP_%s_ENDPOINT); default: from the base "
            "endpoint" % (signal, signal.upper()),
        )
    otlp.add_argument(
        "--otlp-protocol",
        choices=PROTOCOLS,
        help="export wire protocol (env OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf)",
    )
    otlp.add_argument(
        "--otlp-header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra export header, repeatable, added to those of env OTEL_EXPORTER_OTLP_HEADERS=k=v,k2=v2",
    )
    otlp.add_argument(
        "--otlp-compression",
        choices=COMPRESSIONS,
        help="compression of export request bodies (env OTEL_EXPORTER_OTLP_COMPRESSION; default gzip)",
    )
    otlp.add_argument(
        "--otlp-timeout",
        type=float,
        metavar="SECONDS",
        help="time allowed for one export attempt (env OTEL_EXPORTER_OTLP_TIMEOUT in milliseconds; "
        "default 10 s)",
    )
    otlp.add_argument(
        "--otlp-insecure",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="gRPC: a scheme-less endpoint (host:port) is plaintext instead of TLS; an http:// or https:// "
        "scheme decides by itself (env OTEL_EXPORTER_OTLP_INSECURE=true; default false)",
    )
    otlp.add_argument(
        "--otlp-certificate",
        metavar="FILE",
        help="PEM file of the CA certificates trusted for TLS endpoints instead of the system store "
        "(env OTEL_EXPORTER_OTLP_CERTIFICATE)",
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
        metavar="BYTES",
        default=4 * MIB,
        help="largest upload body accepted, larger → 413 (default %(default)s)",
    )
    p.add_argument(
        "--max-frame-bytes",
        type=int,
        metavar="BYTES",
        default=MIB,
        help="largest decompressed frame payload, larger → reject:too_large (default %(default)s)",
    )
    p.add_argument(
        "--max-series-per-device",
        type=int,
        metavar="N",
        default=10_000,
        help="series per device dictionary (per epoch), more → reject:limit_series (default %(default)s)",
    )
    p.add_argument(
        "--max-strings-per-device",
        type=int,
        metavar="N",
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
        "--batch-points",
        type=int,
        default=5000,
        metavar="N",
        help="data points (spans, log records) per export request (default %(default)s)",
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
    p.add_argument(
        "--service-name",
        metavar="NAME",
        help="service.name for devices that set none (env OTEL_SERVICE_NAME)",
    )
    p.add_argument(
        "--log-level",
        type=str.upper,
        default=os.environ.get("LITETEL_GATEWAY_LOG_LEVEL") or "INFO",
        choices=LOG_LEVELS,
        help="verbosity of the gateway's own log on stderr (env LITETEL_GATEWAY_LOG_LEVEL; default %(default)s)",
    )
    return p


def load_config(argv=None, environ=None):
    """Parse flags and the environment into a :class:`Config`; raises SystemExit on bad flags,
    ValueError on bad environment values."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    host, port = parse_listen(args.listen)
    exports = {"metrics": signal_export("metrics", args, environ)}
    for signal in ("traces", "logs"):
        exports[signal] = signal_export(signal, args, environ, exports["metrics"])
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
    for name in ("max_clock_skew", "shutdown_timeout"):
        if getattr(args, name) < 0:
            raise ValueError("--%s must not be negative" % name.replace("_", "-"))
    if args.log_level not in LOG_LEVELS:  # argparse checks a flag's choices, not a default from the environment
        raise ValueError("LITETEL_GATEWAY_LOG_LEVEL %r is not one of %s" % (args.log_level, ", ".join(LOG_LEVELS)))
    return Config(
        host=host,
        port=port,
        data_dir=args.data_dir,
        keys_path=args.keys,
        allow_insecure_keys=args.allow_insecure_keys,
        exports=exports,
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


def _env_choice(environ, name, signal, allowed, default):
    """The value of ``name`` (see :func:`_env`) if it is one of ``allowed``, ``default`` when unset."""
    variable, value = _env(environ, name, signal)
    if value is None:
        return default
    if value not in allowed:
        raise ValueError("%s %r is not supported (%s)" % (variable, value, ", ".join(allowed)))
    return value


def signal_export(signal, args, environ, metrics=None):
    """The :class:`SignalExport` of ``signal`` from parsed flags and the environment: flag > signal-specific
    variable > generic variable > default. Traces and logs with no endpoint of their own follow a
    metrics-only endpoint (``metrics``: the metrics signal's settings), so one URL exports everything."""
    protocol = args.otlp_protocol or _env_choice(
        environ, "OTEL_EXPORTER_OTLP_PROTOCOL", signal, PROTOCOLS, "http/protobuf"
    )
    endpoint = getattr(args, "otlp_%s_endpoint" % signal)
    if not endpoint and args.otlp_endpoint:
        endpoint = endpoint_for(signal, args.otlp_endpoint, None, protocol)
    elif not endpoint:
        endpoint = endpoint_for(
            signal,
            environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            environ.get("OTEL_EXPORTER_OTLP_%s_ENDPOINT" % signal.upper()),
            protocol,
        )
    if not endpoint and metrics is not None and metrics.endpoint and metrics.protocol == protocol:
        endpoint = metrics.endpoint if protocol == "grpc" else signal_endpoint(metrics.endpoint, signal)
    variable, text = _env(environ, "OTEL_EXPORTER_OTLP_HEADERS", signal)
    headers = parse_key_values(text, variable)
    headers.update(parse_key_values(",".join(args.otlp_header), "--otlp-header"))
    compression = args.otlp_compression or _env_choice(
        environ, "OTEL_EXPORTER_OTLP_COMPRESSION", signal, COMPRESSIONS, "gzip"
    )
    timeout_s = args.otlp_timeout
    if timeout_s is None:
        variable, timeout_ms = _env(environ, "OTEL_EXPORTER_OTLP_TIMEOUT", signal)
        try:
            timeout_s = float(timeout_ms) / 1000.0 if timeout_ms else 10.0
        except ValueError:
            raise ValueError("%s %r is not a number of milliseconds" % (variable, timeout_ms)) from None
    if timeout_s <= 0:
        raise ValueError("the export timeout must be positive, not %r s" % (timeout_s,))
    insecure = args.otlp_insecure
    if insecure is None:  # the SDK rule for booleans: only "true" (any case) is true
        insecure = (_env(environ, "OTEL_EXPORTER_OTLP_INSECURE", signal)[1] or "").strip().lower() == "true"
    certificate = args.otlp_certificate
    variable = "--otlp-certificate"
    if not certificate:
        variable, certificate = _env(environ, "OTEL_EXPORTER_OTLP_CERTIFICATE", signal)
    if certificate and not os.path.isfile(certificate):
        raise ValueError("%s: no such file %r" % (variable, certificate))
    return SignalExport(endpoint, protocol, headers, compression, timeout_s, insecure, certificate or None)
