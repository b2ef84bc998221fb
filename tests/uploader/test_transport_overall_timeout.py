"""``transport(url, headers, body, timeout_s)`` must raise OSError once ``timeout_s`` passes (transport.py module
docstring; ``Uploader.flush(timeout_s)`` and the exit hook rely on it as an overall bound). ``socket_transport``
re-arms its socket timeout with what is left; ``http_transport`` (the CPython default) gives http.client a
per-recv timeout only, so a reply trickling one byte a little faster than ``timeout_s`` kept it going
indefinitely: now a timer shuts the socket at the deadline."""

import socket
import threading
import time

import pytest

from litetel.transport import http_transport, socket_transport


def trickling_server(stop):
    listener = socket.create_server(("127.0.0.1", 0))

    def serve_one():
        conn, _ = listener.accept()
        data = b""
        while b"\r\n\r\nbody" not in data:
            data += conn.recv(4096)
        reply = b'{"results": ["ok"], "time": 1}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply))
        for i in range(len(reply)):  # ~3 s in all, a byte every 0.1 s
            if stop.is_set():
                break
            conn.sendall(reply[i : i + 1])
            time.sleep(0.1)
        conn.close()

    threading.Thread(target=serve_one, daemon=True).start()
    return listener


@pytest.mark.parametrize("transport", [http_transport, socket_transport])
def test_a_trickling_reply_cannot_stretch_the_request_past_timeout_s(transport):
    stop = threading.Event()
    listener = trickling_server(stop)
    url = "http://127.0.0.1:%d/v1/frames" % listener.getsockname()[1]
    started = time.monotonic()
    try:
        try:
            transport(url, {}, b"body", 0.5)
            outcome = "returned"
        except OSError:
            outcome = "OSError"
        spent = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
    assert outcome == "OSError" and spent < 1.5, "%s after %.1f s with timeout_s=0.5" % (outcome, spent)
