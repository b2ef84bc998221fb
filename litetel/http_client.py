"""CPython's HTTP transport: POST through ``http.client``, one connection per request (``transport.http_transport``
loads this module; MicroPython never does).

``http.client``'s timeout bounds each socket operation, not the call: a reply, or a peer draining the body,
trickling a byte at a time would stretch it without end. A timer thread cuts the link once ``timeout_s``
passed, and whatever was read by then is a timeout, never a reply (``Uploader.flush(timeout_s)`` and the exit
hook rely on the bound).
"""

import http.client
import socket
import threading

from litetel.transport import split_url


def post(url, headers, body, timeout_s, ssl_context=None):
    """``(status, reply_headers, reply_body)`` of POSTing ``body`` to ``url``; OSError when the link fails, the
    reply is garbled, or ``timeout_s`` passes."""
    scheme, host, port, path = split_url(url)
    if scheme == "https":
        if ssl_context is None:
            import ssl

            ssl_context = ssl.create_default_context()
        conn = http.client.HTTPSConnection(host, port, timeout=timeout_s, context=ssl_context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    expired = []

    def expire():
        expired.append(True)
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(timeout_s, expire)
    timer.daemon = True
    timer.start()
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        reply = resp.read()
        if expired:  # cut by the timer: whatever was read may be a truncated reply
            raise OSError(110, "timed out")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, reply
    except http.client.HTTPException as e:  # a garbled or cut reply is a link failure, like a reset
        if expired:
            raise OSError(110, "timed out")
        raise OSError("bad HTTP reply: %r" % (e,))
    finally:
        timer.cancel()
        conn.close()
