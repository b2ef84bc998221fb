"""A real `python -m litetel_gateway` process on a free loopback port, for RSS and load figures.

with running_gateway(tmp_path, {"dev-1": b"k" * 32}) as gw:
    gw.url, gw.rss()
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    def __init__(self, proc, port):
        self.proc = proc
        self.port = port
        self.url = "http://127.0.0.1:%d" % port

    def rss(self):
        """VmRSS of the gateway process, bytes."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))

    def wait_ready(self, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited: " + self.proc.stderr.read().decode()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gateway not ready after %d s" % timeout_s)
            time.sleep(0.2)


@contextlib.contextmanager
def running_gateway(directory, keys):
    """Start the gateway (no OTLP endpoint: it queues and serves /metrics) with `keys` {device: bytes}."""
    directory.mkdir(parents=True, exist_ok=True)
    keys_file = directory / "keys.toml"
    keys_file.write_text("[devices]\n" + "".join('"%s" = "%s"\n' % (d, k.hex()) for d, k in keys.items()))
    os.chmod(keys_file, 0o600)
    port = free_port()
    cmd = [
        sys.executable, "-m", "litetel_gateway", "--listen", "127.0.0.1:%d" % port,
        "--data-dir", str(directory / "data"), "--keys", str(keys_file), "--log-level", "WARNING",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gateway = GatewayProcess(proc, port)
    try:
        gateway.wait_ready()
        yield gateway
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
