"""Transports on their own: URL splitting, raw HTTP parsing, Retry-After dates, real http/https servers."""

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
import time
from email.utils import formatdate
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from litetel.transport import (
    default_transport,
    http_transport,
    parse_http_date,
    parse_response,
    request_head,
    retry_after_s,
    socket_transport,
    split_url,
)

TRANSPORTS = [http_transport, socket_transport]


def test_split_url():
    assert split_url("http://gw:8080") == ("http", "gw", 8080, "/")
    assert split_url("https://gw.example/v1/frames") == ("https", "gw.example", 443, "/v1/frames")
    assert split_url("http://10.0.0.2/x") == ("http", "10.0.0.2", 80, "/x")
    assert split_url("https://[fe80::1]/v1/frames") == ("https", "fe80::1", 443, "/v1/frames")
    for bad in ["ftp://gw/", "gw:8080", "http:///x"]:
        with pytest.raises(ValueError):
            split_url(bad)


def test_request_head_names_host_with_port_and_length():
    head = request_head("POST", "::1", 8080, "/v1/frames", {"X-Litetel-Device": "sat-7"}, 10).decode()
    assert head.startswith("POST /v1/frames HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Length: 10\r\n")
    assert "X-Litetel-Device: sat-7\r\n" in head and head.endswith("\r\n\r\n")


def test_parse_response_content_length_chunked_and_cut():
    assert parse_response(b"HTTP/1.1 503 Busy\r\nRetry-After: 5\r\nContent-Length: 3\r\n\r\nabcdef") == (
        503,
        {"retry-after": "5", "content-length": "3"},
        b"abc",
    )
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n"
    assert parse_response(chunked)[2] == b"Wikipedia"
    assert parse_response(b"HTTP/1.0 204 No Content\r\n\r\n") == (204, {}, b"")
    for cut in [
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc",
    ]:
        with pytest.raises(OSError):
            parse_response(cut)


@given(st.integers(min_value=0, max_value=4102444799))  # 1970 .. 2099
def test_parse_http_date_all_three_forms(ts):
    imf = formatdate(ts, usegmt=True)  # "Sun, 06 Nov 1994 08:49:37 GMT"
    assert parse_http_date(imf) == ts
    t = time.gmtime(ts)
    asctime = time.strftime("%a %b ", t) + "%2d" % t.tm_mday + time.strftime(" %H:%M:%S %Y", t)
    assert parse_http_date(asctime) == ts
    if 1970 <= t.tm_year <= 2069:  # the two-digit year of RFC 850 is only unambiguous in this window
        assert parse_http_date(time.strftime("%A, %d-%b-%y %H:%M:%S GMT", t)) == ts


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "soon",
        "Sun, 06 Nov 1994 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
    ],
)
def test_parse_http_date_refuses_garbage(bad):
    assert parse_http_date(bad) is None


def test_retry_after_forms():
    assert retry_after_s({"retry-after": "0"}) == 0
    assert retry_after_s({"retry-after": " 30 "}) == 30
    assert retry_after_s({}) is None and retry_after_s({"retry-after": "later"}) is None
    assert retry_after_s({"retry-after": "\u00b2"}) is None  # a digit to str.isdigit(), not to int(): unreadable
    date = formatdate(1700000100, usegmt=True)
    assert retry_after_s({"retry-after": date}, now_s=1700000000) == 100
    assert retry_after_s({"retry-after": date, "date": formatdate(1700000040, usegmt=True)}, 1) == 60
    assert retry_after_s({"retry-after": date}) is None  # a date, and no clock to measure it against
    assert retry_after_s({"retry-after": date}, now_s=1800000000) == 0  # already past


def test_default_transport_is_http_client_on_cpython_and_chosen_once():
    assert default_transport() is http_transport and default_transport() is default_transport()


# --- real servers -------------------------------------------------------------------------------------------


class Echo(http.server.BaseHTTPRequestHandler):
    """Replies with what it got: method, path, a header, the body; chunked when the path asks for it."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/slow":
            time.sleep(1.5)
        reply = (
            b"%s %s %s|" % (self.command.encode(), self.path.encode(), self.headers["X-Test"].encode()) + body
        )
        self.send_response(201)
        self.send_header("X-Reply", "yes")
        if self.path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(reply), 1000):
                part = reply[i : i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    def log_message(self, *args):
        pass


def serve(tls_context=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def echo():
    server = serve()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return d / "cert.pem", d / "key.pem"


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("path", ["/v1/frames", "/chunked"])
def test_post_round_trip(echo, transport, path):
    body = bytes(range(256)) * 40
    status, headers, reply = transport(echo + path, {"X-Test": "t1"}, body, 5)
    assert status == 201 and headers["x-reply"] == "yes"
    assert reply == b"POST " + path.encode() + b" t1|" + body


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_timeout_raises_oserror_within_the_bound(echo, transport):
    started = time.monotonic()
    with pytest.raises(OSError):
        transport(echo + "/slow", {"X-Test": "t"}, b"x", 0.3)
    assert time.monotonic() - started < 1.2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_connection_refused_raises_oserror(transport):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(OSError):
            transport("http://127.0.0.1:%d/v1/frames" % port, {}, b"x", 1)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_https_verifies_the_server_with_the_given_context(cert, transport):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*cert)
    server = serve(server_ctx)
    url = "https://127.0.0.1:%d/v1/frames" % server.server_address[1]
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert[0]))
        status, _, reply = transport(url, {"X-Test": "tls"}, b"secret frames", 5, ssl_context=client_ctx)
        assert status == 201 and reply.endswith(b"tls|secret frames")
        with pytest.raises(OSError):  # the default context does not trust a self-signed certificate
            transport(url, {"X-Test": "tls"}, b"x", 5)
    finally:
        server.shutdown()
        server.server_close()


MP_CLIENT = """
import sys
from litetel.transport import socket_transport
url, ca = sys.argv[1], sys.argv[2]
ctx = None
if url.startswith("https") and ca != "-":
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    with open(ca) as f:
        import binascii
        pem = f.read()
        b64 = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
        ctx.load_verify_locations(cadata=binascii.a2b_base64(b64))
body = b"frames" * 1000
status, headers, reply = socket_transport(url + "/chunked", {"X-Test": "mp"}, body, 5, ssl_context=ctx)
print(status, headers["x-reply"], reply == b"POST /chunked mp|" + body)
try:
    socket_transport(url + "/slow", {"X-Test": "mp"}, b"x", 0.3, ssl_context=ctx)
    print("no timeout")
except OSError:
    print("timed out")
"""


def run_on_micropython(interpreter, tmp_path, *args):
    script = tmp_path / "mp_client.py"
    script.write_text(MP_CLIENT)
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [interpreter, "-X", "heapsize=256K", str(script)] + [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo,
        env={"MICROPYPATH": ".frozen:" + str(repo)},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split("\n")


def test_socket_transport_on_real_micropython(micropython, echo, tmp_path):
    assert run_on_micropython(micropython, tmp_path, echo, "-")[:2] == ["201 yes True", "timed out"]


def test_socket_transport_tls_on_real_micropython(micropython, cert, tmp_path):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*cert)
    server = serve(server_ctx)
    url = "https://127.0.0.1:%d" % server.server_address[1]
    try:
        assert run_on_micropython(micropython, tmp_path, url, cert[0])[:2] == ["201 yes True", "timed out"]
        assert (
            run_on_micropython(micropython, tmp_path, url, "-")[0] == "201 yes True"
        )  # encrypted, unverified
    finally:
        server.shutdown()
        server.server_close()


def test_socket_transport_returns_when_the_reply_is_complete_even_if_the_server_keeps_the_link_open():
    listener = socket.create_server(("127.0.0.1", 0))
    released = threading.Event()

    def serve_one():
        conn, _ = listener.accept()
        data = b""
        while b"\r\n\r\nbody" not in data:
            data += conn.recv(4096)
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"a":1}')
        released.wait(5)  # ignores "Connection: close" and keeps the link open
        conn.close()

    threading.Thread(target=serve_one, daemon=True).start()
    try:
        started = time.monotonic()
        url = "http://127.0.0.1:%d/v1/frames" % listener.getsockname()[1]
        assert socket_transport(url, {}, b"body", 4) == (200, {"content-length": "7"}, b'{"a":1}')
        assert time.monotonic() - started < 2  # did not wait for the close (or the 4 s timeout)
    finally:
        released.set()
        listener.close()
