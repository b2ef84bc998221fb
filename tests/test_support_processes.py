"""ServiceProcess, kill/stop helpers, ports and polling: the plumbing every service fixture stands on."""

import os
import signal
import stat
import sys
import urllib.request

import pytest
from support import processes
from support.gateway import write_keys
from support.ports import free_port, port_open, wait_for
from support.processes import ServiceProcess, kill_all, kill_process, spawn, stop_process


class HttpServer(ServiceProcess):
    """python -m http.server on a port chosen once."""

    name = "http"

    def __init__(self, workdir=None):
        super().__init__(workdir)
        self.port = free_port()

    def command(self):
        return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port)]

    def is_ready(self):
        return port_open("127.0.0.1", self.port)


class Crashing(ServiceProcess):
    name = "crashing"

    def command(self):
        return [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"]

    def is_ready(self):
        return False


def _get(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5) as response:
        return response.status


def test_free_port_is_bindable_and_wait_for_returns_the_value():
    port = free_port()
    assert not port_open("127.0.0.1", port)
    assert wait_for(lambda: "ready", 1) == "ready"
    with pytest.raises(TimeoutError, match="the thing"):
        wait_for(lambda: False, 0.1, message="the thing")


def test_service_lifecycle_on_the_same_port(tmp_path):
    with HttpServer(tmp_path / "http") as server:
        assert server.running and _get(server.port) == 200
        port, pid = server.port, server.pid
        server.restart()
        assert server.port == port and server.pid != pid and _get(port) == 200
        assert server.kill() == -signal.SIGKILL
        assert not port_open("127.0.0.1", port)
        server.start()
        assert _get(port) == 200 and server.starts == 3
    assert not server.running
    assert "GET / HTTP" in server.log()  # stdout+stderr captured across restarts


def test_a_service_that_dies_at_start_reports_its_log(tmp_path):
    with pytest.raises(RuntimeError, match="boom: bad config"):
        Crashing(tmp_path / "c").start(timeout_s=10)


def test_stop_escalates_to_sigkill_and_kill_all_sweeps(tmp_path):
    ignore_sigterm = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    stubborn = spawn([sys.executable, "-c", ignore_sigterm], tmp_path / "stubborn.log")
    wait_for(lambda: "up" in (tmp_path / "stubborn.log").read_text(), 10)
    assert stop_process(stubborn, timeout_s=0.3) == -signal.SIGKILL

    left = [
        spawn([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log") for _ in range(2)
    ]
    assert kill_all() == 2
    assert all(p.poll() is not None for p in left)
    assert processes._LIVE == set()
    assert kill_process(left[0]) == -signal.SIGKILL  # harmless on a finished process


def test_kill_reaches_the_whole_process_group(tmp_path):
    # A shell that starts a grandchild: killing the service must not leave the grandchild behind.
    pid_file = tmp_path / "grandchild.pid"
    proc = spawn(["sh", "-c", "sleep 60 & echo $! > %s; wait" % pid_file], tmp_path / "g.log")
    grandchild = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 10))
    kill_process(proc)

    def gone():
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            return True
        with open("/proc/%d/stat" % grandchild) as f:
            return f.read().split()[2] == "Z"  # a zombie waiting for init counts as gone

    wait_for(gone, 5)


def test_keys_file_is_private_toml(tmp_path):
    path = write_keys(tmp_path / "keys.toml", {"sat-7": "00ff", 'sat-"8"': b"\x01\x02"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    assert tomllib.loads(path.read_text()) == {"devices": {"sat-7": "00ff", 'sat-"8"': "0102"}}
    os.chmod(path, 0o644)
    write_keys(path, {"sat-7": "00"})  # rewriting an existing file makes it private again
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
