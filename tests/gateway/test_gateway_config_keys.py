"""config.py (flags over OTEL_* over defaults) and keys.py (key file rules, reload, signatures)."""

import base64
import os

import pytest

from litetel_gateway import keys as keys_module
from litetel_gateway.config import load_config, metrics_endpoint, parse_key_values
from litetel_gateway.keys import KeyFileError, KeyStore, decode_key, load_keys, sign

BASE = ["--keys", "k.toml"]


def test_defaults_without_environment():
    c = load_config(BASE, environ={})
    assert (c.host, c.port, c.otlp_endpoint, c.otlp_protocol, c.otlp_compression) == (
        "127.0.0.1",
        8080,
        None,
        "http/protobuf",
        "gzip",
    )
    assert (c.temporality, c.max_frame_bytes, c.max_series_per_device, c.max_clock_skew_s) == (
        "delta",
        1 << 20,
        10_000,
        300.0,
    )


def test_otel_environment_is_honoured():
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%20b,x-tenant=t1",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=lab,team=iot%2Cedge",
        "OTEL_SERVICE_NAME": "fleet",
    }
    c = load_config(BASE, environ=env)
    assert c.otlp_endpoint == "http://collector:4318/v1/metrics"
    assert c.otlp_headers == {"api-key": "a b", "x-tenant": "t1"}
    assert (c.otlp_compression, c.otlp_timeout_s) == ("none", 2.5)
    assert c.resource_attributes == {"deployment.environment": "lab", "team": "iot,edge"}
    assert c.service_name == "fleet"


def test_metrics_specific_variables_win_and_are_used_as_is():
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://other:9999/custom/path",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": "none",
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "100",
    }
    c = load_config(BASE, environ=env)
    assert c.otlp_endpoint == "http://other:9999/custom/path"
    assert (c.otlp_compression, c.otlp_timeout_s) == ("none", 0.1)


def test_flags_override_environment():
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
        "OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=2",
        "OTEL_SERVICE_NAME": "env",
    }
    c = load_config(
        BASE
        + [
            "--otlp-endpoint",
            "http://flag:1234",
            "--otlp-compression",
            "gzip",
            "--otlp-header",
            "b=3",
            "--service-name",
            "flag",
            "--listen",
            "0.0.0.0:9",
        ],
        environ=env,
    )
    assert c.otlp_endpoint == "http://flag:1234/v1/metrics"
    assert c.otlp_compression == "gzip" and c.otlp_headers == {"a": "1", "b": "3"}
    assert c.service_name == "flag" and (c.host, c.port) == ("0.0.0.0", 9)


def test_grpc_protocol_uses_the_base_endpoint():
    c = load_config(
        BASE,
        environ={
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        },
    )
    assert (c.otlp_protocol, c.otlp_endpoint) == ("grpc", "http://collector:4317")
    assert metrics_endpoint("http://c:4318", None) == "http://c:4318/v1/metrics"


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
        {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
        {"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
    ],
)
def test_unsupported_environment_values_are_clear_errors(env):
    with pytest.raises(ValueError):
        load_config(BASE, environ=env)


def test_parse_key_values_skips_blanks():
    assert parse_key_values(" a = 1 , ,b=2", "x") == {"a": "1", "b": "2"}
    assert parse_key_values("", "x") == {}


# -- keys ------------------------------------------------------------------------------------------


def write(path, text, mode=0o600):
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_key_encodings():
    key = bytes(range(16))
    assert decode_key("hex:" + key.hex()) == key
    assert decode_key(key.hex()) == key
    assert decode_key("base64:" + base64.b64encode(key).decode()) == key
    assert decode_key(base64.b64encode(key).decode()) == key
    for bad in ("hex:zz", "base64:***", "", "hex:"):
        with pytest.raises(KeyFileError):
            decode_key(bad)


def test_key_file_is_loaded_and_insecure_modes_refused(tmp_path):
    text = '[devices]\n"sat-7" = "hex:0011"\nsat-8 = "AAEC/w=="  # base64\n"sat-9" = "AAEC"\n'
    path = write(tmp_path / "keys.toml", text)
    # "AAEC" is made of hex digits: without a prefix it is hex (the documented rule)
    assert load_keys(path) == {"sat-7": b"\x00\x11", "sat-8": b"\x00\x01\x02\xff", "sat-9": b"\xaa\xec"}
    os.chmod(path, 0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_keys(path)
    assert load_keys(path, allow_insecure=True)["sat-7"] == b"\x00\x11"
    write(path, "[other]\n", 0o600)
    with pytest.raises(KeyFileError, match="no \\[devices\\]"):
        load_keys(path)
    with pytest.raises(KeyFileError, match="cannot read"):
        load_keys(tmp_path / "missing.toml")


def test_minimal_toml_fallback_matches_tomllib(tmp_path, monkeypatch):
    text = '# fleet keys\n[devices]\n"sat-7" = "hex:0011"\nsat-8 = "AAEC"  # comment\n'
    path = write(tmp_path / "keys.toml", text)
    expected = load_keys(path)
    monkeypatch.setattr(keys_module, "tomllib", None)
    assert load_keys(path) == expected


def test_reload_swaps_keys_and_keeps_the_old_ones_on_a_bad_file(tmp_path):
    path = write(tmp_path / "keys.toml", '[devices]\n"sat-7" = "hex:0011"\n')
    store = KeyStore(str(path))
    write(path, '[devices]\n"sat-8" = "hex:2233"\n')
    assert store.reload() and "sat-8" in store and "sat-7" not in store
    write(path, "[devices\n")
    assert not store.reload() and "sat-8" in store


def test_signature_verification(tmp_path):
    path = write(tmp_path / "keys.toml", '[devices]\n"sat-7" = "hex:0011"\n')
    store = KeyStore(str(path))
    signature = sign(b"\x00\x11", "sat-7", "7.1", "0", "5", b"body")
    assert store.verify("sat-7", "7.1", "0", "5", b"body", signature)
    assert not store.verify("sat-7", "7.1", "0", "5", b"bodY", signature)
    assert not store.verify("sat-7", "7.2", "0", "5", b"body", signature)
    assert not store.verify("sat-9", "7.1", "0", "5", b"body", signature)
    # the device side (litetel.signing) produces the same signature
    from litetel import signing

    device_signature = signing.sign_request(b"\x00\x11", "sat-7", "7.1", 0, 5, b"body")
    assert store.verify("sat-7", "7.1", "0", "5", b"body", device_signature)
