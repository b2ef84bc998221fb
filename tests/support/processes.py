"""Child processes for tests: started in their own session, logged to a file, and never left behind.

Every process started here is remembered until it exits; ``kill_all()`` (run by conftest at session end and by
``atexit``) SIGKILLs whatever is still alive, so no gateway, rotel or Prometheus outlives a test run.

``ServiceProcess`` is the base of the service wrappers (rotel, Prometheus, the gateway): a command, a log file,
a readiness check, and start/stop/kill/restart on the same ports::

    class Echo(ServiceProcess):
        name = "echo"
        def command(self): return ["python3", "-m", "http.server", str(self.port)]
        def is_ready(self): return port_open("127.0.0.1", self.port)
"""

import atexit
import os
import signal
import subprocess
import tempfile
from pathlib import Path

from .ports import wait_for

_LIVE = set()  # Popen objects started by spawn() that may still be running


def spawn(args, log_path, env=None, cwd=None):
    """Start ``args`` with stdout+stderr appended to ``log_path``; the process is swept at session end."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(a) for a in args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group: a kill reaches its children too
        )
    _LIVE.add(proc)
    return proc


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def kill_process(proc, timeout_s=5.0):
    """SIGKILL ``proc`` (and its process group) and reap it. Safe on an already finished process."""
    if proc is None:
        return None
    if proc.poll() is None:
        _signal_group(proc, signal.SIGKILL)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pass
    _LIVE.discard(proc)
    return proc.returncode


def stop_process(proc, timeout_s=10.0, sig=signal.SIGTERM):
    """Send ``sig`` (SIGTERM), wait up to ``timeout_s`` for a clean exit, then SIGKILL. Returns the exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        _signal_group(proc, sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return kill_process(proc)
    _LIVE.discard(proc)
    return proc.returncode


def kill_all():
    """SIGKILL every process ``spawn`` started that is still running; returns how many there were."""
    stray = [p for p in list(_LIVE) if p.poll() is None]
    for proc in stray:
        kill_process(proc)
    _LIVE.clear()
    return len(stray)


atexit.register(kill_all)


class ServiceUnavailable(RuntimeError):
    """The service's program is missing or cannot run here; the message says why and how to fix it."""


class ServiceProcess:
    """A long-running child with a log file and a readiness check; usable as a context manager.

    Subclasses choose their ports in ``__init__`` (so ``restart()`` reuses them) and define ``command()``
    and ``is_ready()``; ``environment()`` may return the child's environment.
    """

    name = "service"
    start_timeout_s = 30.0
    stop_timeout_s = 10.0

    def __init__(self, workdir=None):
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="litetel-%s-" % self.name))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / ("%s.log" % self.name)
        self.proc = None
        self.starts = 0

    # -- to define in subclasses
    def command(self):
        raise NotImplementedError

    def is_ready(self):
        raise NotImplementedError

    def environment(self):
        return None

    # -- lifecycle
    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout_s=None):
        """Start the process and wait until ``is_ready()``; raise with the log's tail if it dies or hangs."""
        if self.running:
            raise RuntimeError("%s is already running (pid %d)" % (self.name, self.proc.pid))
        self.proc = spawn(self.command(), self.log_path, env=self.environment(), cwd=self.workdir)
        self.starts += 1
        timeout_s = self.start_timeout_s if timeout_s is None else timeout_s
        try:
            wait_for(self._ready_or_dead, timeout_s, message="%s to become ready" % self.name)
        except TimeoutError:
            self.kill()
            raise RuntimeError(
                "%s not ready after %.0fs; log tail:\n%s" % (self.name, timeout_s, self.log_tail())
            )
        if not self.running:
            raise RuntimeError(
                "%s exited with %s during start; log tail:\n%s"
                % (self.name, self.proc.returncode, self.log_tail())
            )
        return self

    def _ready_or_dead(self):
        return (not self.running) or self.is_ready()

    def stop(self, timeout_s=None):
        """SIGTERM, wait for a clean exit (SIGKILL after ``timeout_s``); returns the exit code."""
        return stop_process(self.proc, self.stop_timeout_s if timeout_s is None else timeout_s)

    def kill(self):
        """SIGKILL: the crash case. Returns the exit code (-9)."""
        return kill_process(self.proc)

    def restart(self, timeout_s=None):
        """Stop (if running) and start again on the same ports and data."""
        if self.running:
            self.stop()
        return self.start(timeout_s)

    def signal(self, sig):
        """Send ``sig`` (e.g. SIGHUP) to the process."""
        if self.running:
            self.proc.send_signal(sig)

    # -- log
    def log(self):
        """The whole captured stdout+stderr, across restarts."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log().splitlines()[-lines:])

    def __enter__(self):
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def __repr__(self):
        state = "running pid %d" % self.proc.pid if self.running else "stopped"
        return "<%s %s, log %s>" % (type(self).__name__, state, self.log_path)
