"""Free loopback ports and polling: tests never use fixed ports, and never sleep blindly."""

import socket
import time

_handed_out = set()  # every port free_port() returned in this process


def free_port(host="127.0.0.1"):
    """A TCP port on ``host`` that nothing listens on right now (the kernel picks it), and that this process
    was not handed before: a stopped process's port is free again, but its owner restarts on it (rotel keeps
    its ports across stop/start), so a second taker would collide with it.

    >>> port = free_port(); 1024 <= port <= 65535 and port != free_port()
    True
    """
    held = []  # ports refused stay bound until the loop ends, so the kernel offers others
    try:
        for _ in range(100):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.bind((host, 0))
            port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
        raise RuntimeError("no free port on %s this process was not handed before" % host)
    finally:
        for sock in held:
            sock.close()


def port_open(host, port, timeout_s=0.2):
    """True when a TCP connection to ``host:port`` is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout_s=10.0, interval_s=0.05, message=None):
    """Call ``predicate`` until it returns a truthy value, and return that value.

    Raises ``TimeoutError`` (naming ``message`` or the predicate) when ``timeout_s`` passes first.

    >>> wait_for(lambda: 42, timeout_s=1)
    42
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout_s, what))
        time.sleep(interval_s)
