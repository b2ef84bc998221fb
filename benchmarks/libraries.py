"""The three libraries under test, by name, and the module that drives each ("side").

side = load_side("otel")          # benchmarks.otel_side; skips the test if the library is missing
"""

import importlib

import pytest

LIBS = ("litetel", "otel", "prometheus")
LABELS = {"litetel": "litetel", "otel": "OpenTelemetry SDK", "prometheus": "prometheus_client"}
DISTRIBUTIONS = {
    "litetel": "litetel",
    "otel": "opentelemetry-sdk",
    "prometheus": "prometheus-client",
}


def load_side(lib):
    """The side module of `lib`; pytest.skip with the reason while its library (or part of it) is missing."""
    try:
        return importlib.import_module("benchmarks.%s_side" % lib)
    except ImportError as e:
        pytest.skip("%s is not importable yet: %s" % (lib, e))


def versions():
    """Installed versions of the libraries and of the encoders the wire figures depend on."""
    from importlib import metadata

    names = list(DISTRIBUTIONS.values()) + [
        "opentelemetry-exporter-otlp-proto-common",
        "protobuf",
        "msgpack",
        "cbor2",
        "zstandard",
        "pytest-benchmark",
    ]
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    if found["litetel"] == "not installed":
        import litetel

        found["litetel"] = litetel.__version__ + " (source tree)"
    return found
