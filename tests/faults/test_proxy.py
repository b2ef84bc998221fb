"""FaultProxy against tiny local servers: each fault does what it says, and only that."""

import http.client
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support.ports import wait_for

from faults.proxy import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.connections += 1
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    connections = 0


class _Handler(BaseHTTPRequestHandler):
    """Commits each POST body (appends it) before answering, like the gateway acknowledging frames."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.committed.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_server():
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.committed = []
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def echo_proxy(echo_server):
    with FaultProxy("127.0.0.1", echo_server.server_address[1], seed=1) as proxy:
        yield proxy


def _roundtrip(proxy, payload=b"hello", timeout_s=2.0):
    with socket.create_connection(proxy.address, timeout=timeout_s) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def _post(proxy, body=b"frame", timeout_s=2.0):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout_s)
    try:
        conn.request("POST", "/v1/frames", body=body, headers={"Content-Type": "application/octet-stream"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_pass_through_relays_both_ways_and_counts_bytes(echo_proxy, echo_server):
    payload = bytes(range(256)) * 1000  # several chunks
    assert _roundtrip(echo_proxy, payload) == payload
    wait_for(lambda: echo_proxy.counters["passed"] == 1, 2)
    assert echo_proxy.counters["bytes_up"] == len(payload)
    assert echo_proxy.counters["bytes_down"] == len(payload)
    assert echo_server.connections == 1


def test_http_pass_through(http_server):
    with FaultProxy("127.0.0.1", http_server.server_address[1]) as proxy:
        assert _post(proxy, b"abc")[0] == 200
    assert http_server.committed == [b"abc"]


def test_drop_closes_without_reaching_target(echo_proxy, echo_server):
    echo_proxy.set_faults(drop=1.0)
    try:
        assert _roundtrip(echo_proxy) == b""
    except ConnectionResetError:
        pass  # closing with our bytes unread may surface as a reset: either way nothing came back
    assert echo_proxy.counters["dropped"] == 1
    assert echo_server.connections == 0


def test_reset_sends_rst(echo_proxy, echo_server):
    echo_proxy.set_faults(reset=1.0)
    with pytest.raises(ConnectionResetError):
        _roundtrip(echo_proxy)
    assert echo_proxy.counters["reset"] == 1
    assert echo_server.connections == 0


def test_blackhole_accepts_and_never_answers(echo_proxy, echo_server):
    echo_proxy.set_faults(blackhole=1.0)
    with pytest.raises(socket.timeout):
        _roundtrip(echo_proxy, timeout_s=0.3)
    assert echo_proxy.counters["blackholed"] == 1
    assert echo_server.connections == 0


def test_delay_holds_each_chunk(echo_proxy):
    echo_proxy.set_faults(delay_ms=150)
    started = time.monotonic()
    assert _roundtrip(echo_proxy, b"x") == b"x"
    assert time.monotonic() - started >= 0.3  # one delay up, one down


def test_drop_replies_loses_the_reply_after_the_target_committed(http_server):
    with FaultProxy("127.0.0.1", http_server.server_address[1]) as proxy:
        proxy.set_faults(drop_replies=1.0)
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            _post(proxy, b"frame-1")
        assert http_server.committed == [b"frame-1"]  # the target has it; the client cannot know
        assert proxy.counters["replies_dropped"] == 1


def test_http_503_answers_retry_after_without_reaching_target(http_server):
    with FaultProxy("127.0.0.1", http_server.server_address[1]) as proxy:
        proxy.set_faults(http_503=1.0, retry_after_s=3)
        status, headers, _ = _post(proxy, b"x" * 10000)
        assert (status, headers["Retry-After"]) == (503, "3")
        assert http_server.committed == []
        assert proxy.counters["http_503"] == 1


def test_offline_refuses_then_comes_back_on_the_same_port(echo_proxy):
    port = echo_proxy.port
    with socket.create_connection(echo_proxy.address, timeout=2) as open_conn:
        open_conn.sendall(b"a")
        assert open_conn.recv(1) == b"a"
        echo_proxy.set_offline(True)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(echo_proxy.address, timeout=2)
        with pytest.raises((ConnectionResetError, BrokenPipeError, AssertionError)):
            open_conn.sendall(b"b")
            assert open_conn.recv(1) == b"b", "an open connection survived going offline"
    assert echo_proxy.counters["cut_offline"] >= 1
    echo_proxy.set_offline(False)
    assert echo_proxy.port == port
    assert _roundtrip(echo_proxy) == b"hello"


def test_target_down_looks_like_a_reset():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]  # bound, not listening: connecting is refused
        with FaultProxy("127.0.0.1", dead_port) as proxy:
            with pytest.raises(ConnectionResetError):
                _roundtrip(proxy)
            assert proxy.counters["upstream_failed"] == 1


def _outcomes(proxy, n):
    results = []
    for _ in range(n):
        try:
            results.append(_roundtrip(proxy, b"p") == b"p")
        except ConnectionError:
            results.append(False)
    return results


def test_shares_are_seeded_and_roughly_honoured(echo_server):
    port = echo_server.server_address[1]
    runs = []
    for _ in range(2):
        with FaultProxy("127.0.0.1", port, seed=42) as proxy:
            proxy.set_faults(drop=0.15, reset=0.15)
            runs.append(_outcomes(proxy, 200))
            assert proxy.counters["dropped"] + proxy.counters["reset"] == runs[-1].count(False)
    assert runs[0] == runs[1], "the same seed must give the same faults"
    assert 30 <= runs[0].count(False) <= 90  # 30 % of 200, loosely


def test_invalid_settings_are_refused(echo_proxy):
    with pytest.raises(ValueError):
        echo_proxy.set_faults(drop=0.7, reset=0.5)
    with pytest.raises(ValueError):
        echo_proxy.set_faults(drop=1.5)
    with pytest.raises(ValueError):
        FaultProxy("192.0.2.1", 80)  # never a target off this machine


def test_pass_through_clears_faults_and_close_stops_listening(echo_server):
    proxy = FaultProxy("127.0.0.1", echo_server.server_address[1]).start()
    proxy.set_faults(drop=1.0, delay_ms=50).set_offline(True)
    proxy.pass_through()
    assert _roundtrip(proxy) == b"hello"
    address = proxy.address
    proxy.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2)
