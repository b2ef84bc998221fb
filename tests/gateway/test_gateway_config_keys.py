"""config.py (flags over OTEL_* over defaults) and keys.py (key file rules, reload, signatures)."""

import base64
import os

import pytest

from litetel_gateway import keys as keys_module
from litetel_gateway.config import SIGNALS, build_parser, load_config, metrics_endpoint, parse_key_values
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


def test_signal_endpoints_from_the_environment():
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/ingest",
    }
    c = load_config(BASE, environ=env)
    endpoints = {signal: c.exports[signal].endpoint for signal in SIGNALS}
    assert endpoints == {
        "metrics": "http://collector:4318/v1/metrics",
        "traces": "https://traces.example/ingest",  # used as-is, no /v1/traces appended
        "logs": "http://collector:4318/v1/logs",
    }


def test_signal_endpoint_flags_win_over_the_base_flag_and_every_variable():
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env-traces:1/t",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://env-logs:1/l",
    }
    argv = BASE + ["--otlp-endpoint", "http://flag:4318", "--otlp-traces-endpoint", "http://flag-traces:2/t"]
    c = load_config(argv, environ=env)
    assert c.exports["traces"].endpoint == "http://flag-traces:2/t"
    # the base flag beats the LOGS variable: flags override the environment
    assert c.exports["logs"].endpoint == "http://flag:4318/v1/logs"
    assert c.otlp_endpoint == "http://flag:4318/v1/metrics"
    c = load_config(BASE + ["--otlp-logs-endpoint", "http://only-logs:3/l"], environ={})
    assert (c.otlp_endpoint, c.exports["traces"].endpoint) == (None, None)
    assert c.exports["logs"].endpoint == "http://only-logs:3/l"


def test_traces_and_logs_follow_a_metrics_only_endpoint():
    c = load_config(BASE, environ={"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318/custom/path"})
    assert c.exports["traces"].endpoint == "http://c:4318/custom/v1/traces"
    c = load_config(BASE + ["--otlp-metrics-endpoint", "http://c:4318/v1/metrics"], environ={})
    assert c.exports["logs"].endpoint == "http://c:4318/v1/logs"
    c = load_config(
        BASE + ["--otlp-protocol", "grpc"], environ={"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "c:4317"}
    )
    assert c.exports["traces"].endpoint == "c:4317"  # one gRPC target serves every signal


# (flag and its value, variable suffix, generic value, signal-specific value, attribute, expected values)
PRECEDENCE = [
    (["--otlp-protocol", "http/protobuf"], "PROTOCOL", "grpc", "http/protobuf", "protocol",
     ("http/protobuf", "http/protobuf", "grpc", "http/protobuf")),
    (["--otlp-compression", "gzip"], "COMPRESSION", "none", "gzip", "compression",
     ("gzip", "gzip", "none", "gzip")),
    (["--otlp-timeout", "7"], "TIMEOUT", "2000", "3000", "timeout_s", (7.0, 3.0, 2.0, 10.0)),
    (["--otlp-header", "k=flag"], "HEADERS", "k=generic", "k=specific", "headers",
     ({"k": "flag"}, {"k": "specific"}, {"k": "generic"}, {})),
    (["--otlp-insecure"], "INSECURE", "true", "false", "insecure", (True, False, True, False)),
    (["--no-otlp-insecure"], "INSECURE", "TRUE", "True", "insecure", (False, True, True, False)),
]  # fmt: skip


@pytest.mark.parametrize("signal", ["traces", "logs", "metrics"])
@pytest.mark.parametrize("flag, suffix, generic, specific, attribute, expected", PRECEDENCE)
def test_precedence_flag_then_signal_variable_then_generic_variable_then_default(
    signal, flag, suffix, generic, specific, attribute, expected
):
    generic_var = "OTEL_EXPORTER_OTLP_" + suffix
    specific_var = "OTEL_EXPORTER_OTLP_%s_%s" % (signal.upper(), suffix)
    both = {generic_var: generic, specific_var: specific}
    cases = [(flag, both), ([], both), ([], {generic_var: generic}), ([], {})]
    got = tuple(
        getattr(load_config(BASE + argv, environ=env).exports[signal], attribute) for argv, env in cases
    )
    assert got == expected
    other = next(s for s in SIGNALS if s != signal)  # a signal's variable leaves the other signals alone
    assert (
        getattr(load_config(BASE, environ={specific_var: specific}).exports[other], attribute) == expected[3]
    )


def test_certificate_from_flag_or_variables(tmp_path):
    generic, specific = tmp_path / "ca.pem", tmp_path / "traces-ca.pem"
    generic.write_text("x")
    specific.write_text("y")
    env = {
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(generic),
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": str(specific),
    }
    c = load_config(BASE, environ=env)
    assert (c.exports["metrics"].certificate, c.exports["traces"].certificate) == (
        str(generic),
        str(specific),
    )
    assert load_config(BASE, environ={}).exports["logs"].certificate is None
    c = load_config(BASE + ["--otlp-certificate", str(specific)], environ=env)
    assert {c.exports[s].certificate for s in SIGNALS} == {str(specific)}
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE"):
        load_config(BASE, environ={"OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE": str(tmp_path / "missing.pem")})


def test_bad_signal_specific_values_name_their_variable():
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        load_config(BASE, environ={"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"})
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_LOGS_TIMEOUT"):
        load_config(BASE, environ={"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "soon"})


def test_help_explains_every_flag():
    parser = build_parser()
    flags = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    undocumented = [a.option_strings[0] for a in flags if not a.help or len(a.help) < 15]
    assert not undocumented
    text = parser.format_help()
    for flag in ("--otlp-traces-endpoint", "--otlp-logs-endpoint", "--otlp-insecure", "--otlp-certificate"):
        assert flag in text


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


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--listen", "127.0.0.1:99999"], "not in 0-65535"),
        (["--listen", "8080"], "HOST:PORT"),
        (["--max-clock-skew", "-5"], "--max-clock-skew"),
        (["--shutdown-timeout", "-1"], "--shutdown-timeout"),
    ],
)
def test_bad_listen_and_negative_durations_are_configuration_errors(argv, message):
    with pytest.raises(ValueError, match=message):
        load_config(BASE + argv, environ={})


def test_log_level_from_the_environment_is_checked_and_case_insensitive(monkeypatch):
    monkeypatch.setenv("LITETEL_GATEWAY_LOG_LEVEL", "debug")
    assert load_config(BASE, environ={}).log_level == "DEBUG"
    monkeypatch.setenv("LITETEL_GATEWAY_LOG_LEVEL", "verbose")
    with pytest.raises(ValueError, match="LITETEL_GATEWAY_LOG_LEVEL"):
        load_config(BASE, environ={})
