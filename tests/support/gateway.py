"""The litetel gateway as a child process, through its command-line contract (issue 5)::

    python -m litetel_gateway --listen 127.0.0.1:<port> --data-dir DIR --keys keys.toml --otlp-endpoint URL

    with GatewayProcess(tmp_path / "gw", {"sat-7": "00" * 32}, otlp_endpoint=rotel.http_endpoint) as gw:
        urllib.request.urlopen(gw.url + "/readyz")
        gw.kill(); gw.start()          # a crash and a restart on the same port and data

The listening port is chosen once, so ``restart()`` and ``kill()`` + ``start()`` come back on the same URL.
"""

import os
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .ports import free_port
from .processes import ServiceProcess

# The device the tests' gateways know by default, and its key (32 bytes, hex).
TEST_DEVICE_ID = "sat-7"
TEST_DEVICE_KEY = bytes(range(32)).hex()


def make_test_device(url, resource, codec="msgpack", compression="auto", **kwargs):
    """A real ``litetel.device.Device`` pushing to ``url`` as the test device, with a 64 KiB RAM buffer;
    ``kwargs`` go to ``Device`` (e.g. ``max_spans``)."""
    from litetel.device import Device
    from litetel.ring_buffer import RingBuffer

    return Device(
        TEST_DEVICE_ID,
        endpoint=url,
        key=bytes.fromhex(TEST_DEVICE_KEY),
        codec=codec,
        compression=compression,
        buffer=RingBuffer(capacity=1 << 16),
        resource=resource,
        **kwargs,
    )


def write_keys(path, keys):
    """Write ``keys`` ({device id: hex key}) as keys.toml, readable by its owner only (mode 0600)."""
    lines = ["[devices]"]
    for device_id, key in sorted(keys.items()):
        if isinstance(key, (bytes, bytearray)):
            key = bytes(key).hex()
        lines.append('"%s" = "%s"' % (device_id.replace("\\", "\\\\").replace('"', '\\"'), key))
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT
    return path


class GatewayProcess(ServiceProcess):
    """``sys.executable -m litetel_gateway`` on a free loopback port, ready when ``GET /readyz`` answers 200."""

    name = "gateway"
    start_timeout_s = 30.0
    stop_timeout_s = 20.0  # SIGTERM drains in-flight requests and flushes

    def __init__(self, data_dir, keys, otlp_endpoint=None, extra_args=(), env=None, workdir=None):
        super().__init__(workdir or Path(data_dir).parent / ("%s-run" % Path(data_dir).name))
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.keys_path = write_keys(self.workdir / "keys.toml", keys)
        self.keys = dict(keys)
        self.otlp_endpoint = otlp_endpoint
        self.extra_args = [str(a) for a in extra_args]
        self.extra_env = dict(env or {})
        self.port = free_port()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def command(self):
        args = [
            sys.executable, "-m", "litetel_gateway",
            "--listen", "127.0.0.1:%d" % self.port,
            "--data-dir", self.data_dir,
            "--keys", self.keys_path,
        ]  # fmt: skip
        if self.otlp_endpoint:
            args += ["--otlp-endpoint", self.otlp_endpoint]
        return args + self.extra_args

    def environment(self):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        repo = str(Path(__file__).resolve().parents[2])  # the checkout, importable without an install
        env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.update(self.extra_env)
        return env

    def is_ready(self):
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=1.0) as response:
                return response.status == 200
        except OSError:  # refused, timed out, or an HTTP error status (503 while starting)
            return False

    def set_keys(self, keys, reload=True):
        """Rewrite keys.toml and (by default) send SIGHUP so the running gateway reloads it."""
        self.keys = dict(keys)
        write_keys(self.keys_path, self.keys)
        if reload:
            self.signal(signal.SIGHUP)

    def get(self, path, timeout_s=5.0):
        """GET ``path``; returns (status, body bytes), HTTP errors included."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout_s) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
