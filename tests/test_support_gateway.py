"""The gateway fixture runs the real `python -m litetel_gateway` through its CLI contract (issue 5)."""

import signal


def test_gateway_starts_restarts_and_stops_on_the_same_url(make_gateway, tmp_path):
    gateway = make_gateway(data_dir=tmp_path / "gw")
    url = gateway.url
    assert gateway.get("/readyz")[0] == 200
    assert gateway.get("/healthz")[0] == 200
    assert (tmp_path / "gw").is_dir()
    assert "--keys" in gateway.command() and gateway.keys_path.exists()

    assert gateway.kill() == -signal.SIGKILL  # a crash
    gateway.start()
    assert gateway.url == url and gateway.get("/readyz")[0] == 200

    assert gateway.stop() == 0  # SIGTERM: a clean drain and exit
    assert gateway.log().strip(), "the gateway's output is captured"
