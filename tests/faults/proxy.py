"""A fault-injecting TCP proxy on loopback, for the reliability tests and the demo (issue 8).

It sits between a client and one target on this machine (device → gateway, gateway → rotel) and does to
each new connection what its current faults say, switchable at any time from any thread::

    proxy = FaultProxy("127.0.0.1", gateway_port, seed=7).start()
    device_url = proxy.url                      # point the client here
    proxy.set_faults(drop=0.15, reset=0.15)     # 30 % of connections fail
    proxy.set_faults(drop_replies=1.0)          # the target commits, the reply is lost
    proxy.set_offline(True)                     # nothing listens: connection refused
    proxy.pass_through()                        # back to normal
    proxy.counters["reset"], proxy.close()

Faults are decided once per connection, with a seeded ``random.Random`` (same seed → same sequence):

- ``drop``: share of connections closed (FIN) right after accept;
- ``reset``: share reset (RST, via SO_LINGER 0) once the client has sent its first bytes;
- ``blackhole``: share accepted and read but never answered;
- ``drop_replies``: share forwarded to the target, closed when the target's reply starts (reply lost after
  the target committed);
- ``http_503``: share answered ``503`` with ``Retry-After: <retry_after_s>`` without reaching the target;
- ``delay_ms``: every relayed chunk waits this long, both ways;
- ``set_offline(True)``: stop listening (and cut open connections); ``False`` listens again on the same port.

Faults apply per TCP connection: a keep-alive client meets them only on new connections. The proxy runs its
own asyncio loop in a daemon thread, so sync and asyncio callers use it alike. It only ever connects to its
target, which must be a loopback address. Standard library only: the demo imports it as
``tests.faults.proxy``, outside pytest.
"""

import asyncio
import ipaddress
import random
import socket
import struct
import threading

_SHARES = ("drop", "reset", "blackhole", "drop_replies", "http_503")
_COUNTERS = (
    "accepted", "passed", "dropped", "reset", "blackholed", "replies_dropped", "http_503",
    "upstream_failed", "cut_offline", "bytes_up", "bytes_down",
)  # fmt: skip
_CHUNK = 65536


def _require_loopback(host):
    for info in socket.getaddrinfo(host, None):
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            raise ValueError("FaultProxy only targets loopback addresses, not %r" % host)


def _reset(writer):
    """Close with RST instead of FIN: SO_LINGER on with a zero timeout, then abort."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class FaultProxy:
    """TCP proxy from ``127.0.0.1:<port>`` to ``target_host:target_port`` with switchable faults."""

    def __init__(self, target_host, target_port, seed=0, listen_port=None):
        _require_loopback(target_host)
        self.target_host = target_host
        self.target_port = int(target_port)
        self.port = listen_port or 0  # 0: the kernel picks a free port at start(), kept afterwards
        self.rng = random.Random(seed)
        self.counters = dict.fromkeys(_COUNTERS, 0)
        self.shares = dict.fromkeys(_SHARES, 0.0)
        self.delay_ms = 0
        self.retry_after_s = 1
        self.offline = False
        self._loop = None
        self._thread = None
        self._server = None
        self._writers = set()

    # -- public control, callable from any thread
    @property
    def address(self):
        return ("127.0.0.1", self.port)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        """Start listening (in a background thread); returns self."""
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="fault-proxy-%d" % self.port, daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        self._call(self._listen())
        return self

    def set_faults(self, drop=None, reset=None, blackhole=None, drop_replies=None, http_503=None, delay_ms=None,
                   retry_after_s=None):  # fmt: skip
        """Change some faults (shares in [0, 1], summing to at most 1); the others keep their value."""
        shares = dict(self.shares)
        for name, value in (("drop", drop), ("reset", reset), ("blackhole", blackhole),
                            ("drop_replies", drop_replies), ("http_503", http_503)):  # fmt: skip
            if value is not None:
                if not 0.0 <= value <= 1.0:
                    raise ValueError("%s share must be within [0, 1], got %r" % (name, value))
                shares[name] = float(value)
        if sum(shares.values()) > 1.0 + 1e-9:
            raise ValueError("fault shares sum to more than 1: %r" % shares)
        self.shares = shares
        if delay_ms is not None:
            self.delay_ms = max(0, delay_ms)
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s
        return self

    def pass_through(self):
        """Clear every fault and come back online."""
        self.shares = dict.fromkeys(_SHARES, 0.0)
        self.delay_ms = 0
        self.set_offline(False)
        return self

    def set_offline(self, offline=True):
        """Offline: stop listening (clients get 'connection refused') and cut open connections."""
        if offline != self.offline:
            self.offline = offline
            self._call(self._unlisten() if offline else self._listen())
        return self

    def close(self):
        """Stop listening, cut every connection, stop the thread."""
        if self._loop is None:
            return
        self._call(self._unlisten())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self):
        return self if self._loop else self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        active = {k: v for k, v in self.shares.items() if v}
        return "<FaultProxy :%d → %s:%d faults=%s delay=%sms offline=%s>" % (
            self.port,
            self.target_host,
            self.target_port,
            active,
            self.delay_ms,
            self.offline,
        )

    # -- the loop thread
    def _run(self, ready):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self):
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, reuse_address=True
            )
            self.port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self):
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            if self.offline:
                self.counters["cut_offline"] += 1
            writer.transport.abort()
        if server is not None:
            await server.wait_closed()  # Python >= 3.12 waits for the connections too: cut them first

    def _choose_fault(self):
        roll = self.rng.random()
        for name in _SHARES:
            share = self.shares[name]
            if roll < share:
                return name
            roll -= share
        return None

    async def _handle(self, reader, writer):
        self.counters["accepted"] += 1
        self._writers.add(writer)
        upstream = None
        try:
            fault = self._choose_fault()
            if fault == "drop":
                self.counters["dropped"] += 1
                writer.close()
            elif fault == "reset":
                await reader.read(1)  # the client has started to talk
                self.counters["reset"] += 1
                _reset(writer)
            elif fault == "blackhole":
                self.counters["blackholed"] += 1
                while await reader.read(_CHUNK):
                    pass
            elif fault == "http_503":
                await self._answer_503(reader, writer)
            else:
                upstream = await self._connect(writer)
                if upstream is not None:
                    await self._relay(reader, writer, upstream, drop_reply=fault == "drop_replies")
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            if upstream is not None:
                upstream[1].transport.abort()

    async def _connect(self, writer):
        try:
            return await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            self.counters["upstream_failed"] += 1
            _reset(writer)  # the client sees the target's absence as a reset
            return None

    async def _answer_503(self, reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        if length:
            await reader.readexactly(length)
        self.counters["http_503"] += 1
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: %d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            % self.retry_after_s
        )
        await writer.drain()

    async def _relay(self, reader, writer, upstream, drop_reply):
        up_reader, up_writer = upstream
        self._writers.add(up_writer)
        try:
            results = await asyncio.gather(
                self._pipe(reader, up_writer, "bytes_up", drop=False),
                self._pipe(up_reader, writer, "bytes_down", drop=drop_reply),
                return_exceptions=True,
            )
        finally:
            self._writers.discard(up_writer)
        if not any(isinstance(r, BaseException) for r in results) and not drop_reply:
            self.counters["passed"] += 1

    async def _pipe(self, source, dest, counter, drop):
        try:
            while True:
                data = await source.read(_CHUNK)
                if not data:
                    if dest.can_write_eof() and not dest.is_closing():
                        dest.write_eof()
                    return
                if drop:  # the target answered: it has committed; the client never hears
                    self.counters["replies_dropped"] += 1
                    dest.transport.abort()
                    raise ConnectionAbortedError("reply dropped")
                if self.delay_ms:
                    await asyncio.sleep(self.delay_ms / 1000.0)
                self.counters[counter] += len(data)
                dest.write(data)
                await dest.drain()
        except (ConnectionError, OSError):
            dest.transport.abort()  # one side failed: fail the other side too
            raise
