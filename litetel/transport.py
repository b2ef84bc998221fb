"""Transports: how an upload request reaches the gateway.

A transport is any callable ``transport(url, headers, body, timeout_s) -> (status, reply_headers, body)``:
``headers`` is a dict of request headers, ``body`` the bytes to POST, ``reply_headers`` a dict with lowercase
keys. It raises ``OSError`` when the link fails or ``timeout_s`` passes (the uploader then backs off and
resends). Two come with litetel:

- ``http_transport``: CPython ``http.client`` (http and https through ``ssl``).
- ``socket_transport``: raw HTTP/1.1 over ``socket`` (+ ``ssl``/``tls`` for https); the MicroPython one,
  and it works on CPython too.

Anything else that can carry bytes plugs in the same way, e.g. a file export a ground station uploads later::

    def file_export(url, headers, body, timeout_s):
        with open("/flash/outbox.bin", "ab") as f:
            f.write(body)
        # Report every frame as delivered so the ring buffer frees it.
        n = sum(1 for _ in litetel.frame.iter_frames(body))   # the frames the body carries
        return 200, {}, json.dumps({"results": ["ok"] * n}).encode()

    dev = litetel.Device("sat-7", transport=file_export)

This module also parses ``Retry-After`` (delta seconds or an HTTP date) without ``email.utils``.
"""

import sys

_MICROPYTHON = sys.implementation.name == "micropython"
_default = []  # the transport default_transport() chose, once


def split_url(url):
    """``"https://gw:8443/v1/frames"`` -> ``("https", "gw", 8443, "/v1/frames")``.

    >>> split_url("http://[::1]:8080/v1/frames?x=1")
    ('http', '::1', 8080, '/v1/frames?x=1')
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError("not an http(s) URL: %r" % url)
    slash = rest.find("/")
    hostport, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    port = 443 if scheme == "https" else 80
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        host, tail = hostport[1:end], hostport[end + 1 :]
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in hostport:
        host, _, p = hostport.rpartition(":")
        port = int(p)
    else:
        host = hostport
    if not host:
        raise ValueError("no host in URL: %r" % url)
    return scheme, host, port, path


# --- CPython http.client ------------------------------------------------------------------------------------


def http_transport(url, headers, body, timeout_s, ssl_context=None):
    """POST ``body`` with CPython's ``http.client``; one connection per request, the whole call held to
    ``timeout_s`` (``litetel.http_client``, CPython only: MicroPython never loads it).

    >>> status, hdrs, reply = http_transport("http://127.0.0.1:8080/v1/frames", {}, b"", 5)  # doctest: +SKIP
    """
    from litetel.http_client import post

    return post(url, headers, body, timeout_s, ssl_context)


# --- raw HTTP/1.1 over socket (MicroPython) -----------------------------------------------------------------


def _ticks_ms():
    import time

    if _MICROPYTHON:
        return time.ticks_ms()
    return int(time.monotonic() * 1000)


def _ms_left(start_ms, timeout_s):
    import time

    if _MICROPYTHON:
        spent = time.ticks_diff(time.ticks_ms(), start_ms)
    else:
        spent = _ticks_ms() - start_ms
    left = timeout_s * 1000 - spent
    if left <= 0:
        raise OSError(110, "timed out")  # ETIMEDOUT
    return left


def _wrap_tls(sock, host, ssl_context):
    if ssl_context is None:
        import ssl

        if _MICROPYTHON:
            # No CA bundle on a bare device: pass an ssl.SSLContext with load_verify_locations(cadata=...) to
            # verify the gateway; without one the link is encrypted but the server is not authenticated.
            ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ssl_context.verify_mode = ssl.CERT_NONE
        else:
            ssl_context = ssl.create_default_context()
    return ssl_context.wrap_socket(sock, server_hostname=host)


def _send_all(stream, data):
    view = memoryview(data)
    send = getattr(stream, "send", None) or stream.write  # MicroPython's TLS socket only has write
    while len(view):
        n = send(view)
        if n is None:  # a non-blocking write that would block: treat like a stalled link
            raise OSError(110, "send stalled")
        view = view[n:]


def request_head(method, host, port, path, headers, body_len):
    """The request line and headers of an HTTP/1.1 request, as bytes (``Connection: close``).

    >>> request_head("POST", "gw", 80, "/v1/frames", {"X-A": "1"}, 3).split(b"\\r\\n")[:5]
    [b'POST /v1/frames HTTP/1.1', b'Host: gw', b'Content-Length: 3', b'Connection: close', b'X-A: 1']
    """
    hostname = "[%s]" % host if ":" in host else host
    if port not in (80, 443):
        hostname = "%s:%d" % (hostname, port)
    lines = [
        "%s %s HTTP/1.1" % (method, path),
        "Host: " + hostname,
        "Content-Length: %d" % body_len,
        "Connection: close",
    ]
    for k in headers:
        lines.append("%s: %s" % (k, headers[k]))
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


def _dechunk(data):
    out = []
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise OSError("truncated chunked reply")
        digits = data[pos:eol].split(b";")[0].strip()
        if not digits or digits.strip(b"0123456789abcdefABCDEF"):  # int() would take "-6", "+6", "0x6", "6_0"
            raise OSError("bad chunk size in chunked reply: %r" % (digits[:16],))
        size = int(digits, 16)
        if size == 0:
            return b"".join(out)
        start = eol + 2
        if start + size + 2 > len(data):
            raise OSError("truncated chunked reply")
        if data[start + size : start + size + 2] != b"\r\n":
            raise OSError("chunk not followed by CRLF in chunked reply")
        out.append(data[start : start + size])
        pos = start + size + 2


def _reply_complete(raw):
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = raw[:end].lower()
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        eol = head.find(b"\r\n", at + 2)
        n = int(head[at + 17 : eol if eol >= 0 else len(head)].strip())
        return len(raw) >= end + 4 + n
    return head.find(b"transfer-encoding: chunked") >= 0 and raw.endswith(b"\r\n0\r\n\r\n")


def parse_response(raw):
    """Split a whole HTTP/1.x response into ``(status, headers with lowercase keys, body)``; OSError if cut.

    >>> parse_response(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nX-Y: z\\r\\n\\r\\nhi")
    (200, {'content-length': '2', 'x-y': 'z'}, b'hi')
    """
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        raise OSError("incomplete HTTP reply head")
    lines = raw[:end].decode().split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise OSError("not an HTTP reply: %r" % lines[0][:40])
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if sep:
            headers[k.strip().lower()] = v.strip()
    body = raw[end + 4 :]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if len(body) < n:
            raise OSError("reply cut after %d of %d bytes" % (len(body), n))
        body = body[:n]
    return status, headers, body


def socket_transport(url, headers, body, timeout_s, ssl_context=None, max_reply_bytes=65536):
    """POST ``body`` as raw HTTP/1.1 over a socket (TLS for https), never longer than about ``timeout_s``.

    >>> status, hdrs, reply = socket_transport("http://10.0.0.2:8080/v1/frames", {}, b"", 5)  # doctest: +SKIP
    """
    import socket

    scheme, host, port, path = split_url(url)
    start = _ticks_ms()
    info = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    stream = sock
    try:
        sock.settimeout(_ms_left(start, timeout_s) / 1000)
        sock.connect(info[-1])
        if scheme == "https":
            stream = _wrap_tls(sock, host, ssl_context)
        _send_all(stream, request_head("POST", host, port, path, headers, len(body)))
        _send_all(stream, body)
        recv = getattr(stream, "recv", None) or stream.read
        # CPython's wrap_socket detaches sock (the TLS socket takes the timeout); MicroPython keeps using it.
        timed = stream if hasattr(stream, "settimeout") else sock
        chunks = []
        size = 0
        while True:
            # Re-arm the timeout with what is left, so a trickling reply cannot stretch the call.
            timed.settimeout(_ms_left(start, timeout_s) / 1000)
            chunk = recv(2048)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_reply_bytes:
                raise OSError("reply larger than %d bytes" % max_reply_bytes)
            if len(chunks) > 1:
                chunks = [b"".join(chunks)]
            if _reply_complete(chunks[0]):  # do not wait for the close of a server that keeps the link open
                break
        return parse_response(b"".join(chunks))
    except (ValueError, UnicodeError) as e:  # garbled reply: a link failure, not a crash
        raise OSError("bad HTTP reply: %r" % (e,))
    finally:
        stream.close()
        if stream is not sock:
            sock.close()


def default_transport():
    """The transport of this platform: ``http_transport`` on CPython, ``socket_transport`` on MicroPython."""
    if not _default:
        _default.append(socket_transport if _MICROPYTHON else http_transport)
    return _default[0]


# --- Retry-After --------------------------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _days_from_civil(y, m, d):
    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): no time.mktime, whose
    # epoch is 2000 on some MicroPython ports.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_http_date(text):
    """Unix seconds of an HTTP date (RFC 7231 IMF-fixdate, or the obsolete RFC 850 and asctime), or None.

    >>> parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
    784111777
    >>> parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), parse_http_date("Sun Nov  6 08:49:37 1994")
    (784111777, 784111777)
    """
    tokens = text.replace(",", " ").replace("-", " ").split()
    day = month = year = clock = None
    for tok in tokens:
        low = tok.lower()
        if ":" in tok:
            clock = tok
        elif low[:3] in _MONTHS and len(low) == 3:
            month = _MONTHS.index(low) + 1
        elif tok.isdigit():  # the day always comes before the year, in all three forms
            if day is None:
                day = int(tok)
            else:
                year = int(tok)
    if None in (day, month, year, clock):
        return None
    if year < 100:  # RFC 850 two-digit year: RFC 7231 §7.1.1.1 says pick the past-most-recent century
        year += 1900 if year >= 70 else 2000
    hms = clock.split(":")
    if len(hms) != 3 or not (1 <= day <= 31):
        return None
    try:
        h, mi, s = int(hms[0]), int(hms[1]), int(hms[2])
    except ValueError:
        return None
    if h > 23 or mi > 59 or s > 60:
        return None
    return _days_from_civil(year, month, day) * 86400 + h * 3600 + mi * 60 + s


def retry_after_s(headers, now_s=None):
    """Seconds a reply's ``Retry-After`` asks to wait, or None when absent or unreadable.

    An HTTP date is measured against the reply's own ``Date`` header when it has one (so a device without a
    wall clock still honours it), else against ``now_s`` (unix seconds).

        >>> retry_after_s({"retry-after": "120"})
        120
        >>> retry_after_s({"retry-after": "Sun, 06 Nov 1994 08:51:37 GMT",
        ...                "date": "Sun, 06 Nov 1994 08:49:37 GMT"})
        120
    """
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        try:
            return int(value)
        except ValueError:  # digits int() does not read ("²" is a digit to isdigit): unreadable
            return None
    when = parse_http_date(value)
    if when is None:
        return None
    now = parse_http_date(headers["date"]) if "date" in headers else None
    if now is None:
        now = now_s
    if now is None:
        return None
    return max(0, when - int(now))
