"""A chunked reply whose chunk-size line is negative (a broken or hostile gateway, or anyone in the path of the
MicroPython default https link, which verifies no certificate) must fail the request with OSError within
``timeout_s``. ``_dechunk`` took ``int("-6", 16)`` as a size, stepped its cursor back to where it started, and
looped forever (appending b"" to a list: unbounded memory), long after the socket's timeout stopped mattering."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import resource, socket, sys, threading
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
sys.path.insert(0, sys.argv[1])
from litetel.transport import socket_transport

listener = socket.create_server(("127.0.0.1", 0))

def serve_one():
    conn, _ = listener.accept()
    data = b""
    while b"\r\n\r\nbody" not in data:
        data += conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n\r\n0\r\n\r\n")
    conn.close()

threading.Thread(target=serve_one, daemon=True).start()
url = "http://127.0.0.1:%d/v1/frames" % listener.getsockname()[1]
try:
    print("returned", socket_transport(url, {}, b"body", 1))
except OSError as exc:
    print("OSError", exc)
"""


def test_negative_chunk_size_fails_the_request_instead_of_hanging():
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(REPO)], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("socket_transport(timeout_s=1) still running after 10 s on a chunk size of -6")
    assert out.stdout.startswith("OSError"), (out.stdout, out.stderr[-500:])

