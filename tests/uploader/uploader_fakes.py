"""Test doubles for the uploader tests: a scripted gateway over real HTTP, and a small device.

``ScriptedGateway`` is a real HTTP server on a free loopback port. It verifies every request's signature with
CPython's ``hmac`` (independently of ``litetel.signing``), parses the frames of the body, records everything,
and answers each request with the next step of its script; with an empty script it behaves like the gateway:
``ok`` for a frame it has not seen, ``dup`` for one it has, ``ok`` for a dictionary refresh.

``FakeDevice`` gives the uploader what ``litetel.Device`` gives it, around a real ``RingBuffer`` holding real
frames (``litetel.frame``), so these tests do not depend on the rest of ``Device``.
"""

import hashlib
import hmac
import http.server
import json
import socket
import struct
import threading
import time

from litetel.frame import FLAG_DICT_REFRESH as DICT_REFRESH
from litetel.frame import device_hash, pack_frame, parse_frame
from litetel.ring_buffer import RingBuffer

KEY = b"per-device secret"


def make_frame(epoch, seq, payload, flags=0, device_id="sat-7"):
    """A well-formed frame (wire format §1) carrying ``payload`` bytes."""
    return pack_frame(flags, 0, 0, device_hash(device_id), epoch, seq, 1000 * seq, 1000 * seq + 999, payload)


def split_frames(body):
    """[(flags, epoch, seq, frame_bytes)] of a request body."""
    out = []
    pos = 0
    while pos < len(body):
        header, _, end = parse_frame(body, pos)
        out.append((header.flags, header.epoch, header.seq, body[pos:end]))
        pos = end
    return out


# --- device -------------------------------------------------------------------------------------------------


class FakeCounter:
    def __init__(self):
        self.total = 0

    def bind(self, attrs):
        assert attrs == {}
        return self

    def add(self, n):
        self.total += n


class FakeMeter:
    def __init__(self):
        self.counters = {}

    def counter(self, name, unit="", description=""):
        return self.counters.setdefault(name, FakeCounter())


class FakeDevice:
    """What litetel.Device gives the uploader (wire format §2.3 counters land in ``meter.counters``)."""

    def __init__(self, device_id="sat-7", epoch=7, wall_clock=True, buffer=None):
        self.device_id = device_id
        self.epoch = epoch
        self.buffer = buffer if buffer is not None else RingBuffer(capacity=1 << 20)
        self.drops = {}
        self.litetel_meter = FakeMeter()
        self.wall_clock = wall_clock
        self.uploader = None
        self.interval_s = None
        self.collects = 0

    def record(self, n=1, payload_bytes=100, epoch=None):
        """Append ``n`` frames; -> their seqs."""
        seqs = []
        for _ in range(n):
            seq = self.buffer.next_seq
            payload = bytes([seq & 0xFF]) * payload_bytes
            seqs.append(self.buffer.append(make_frame(self.epoch if epoch is None else epoch, seq, payload)))
        return seqs

    def dictionary_refresh_frame(self):
        return make_frame(self.epoch, 0, b"full dictionary", flags=DICT_REFRESH)

    def count_drop(self, reason, n, seq=None):
        self.drops[reason] = self.drops.get(reason, 0) + n

    def meter(self, name):
        assert name == "litetel"
        return self.litetel_meter

    def uses_wall_clock(self):
        return self.wall_clock

    def counter(self, name):
        return self.litetel_meter.counters["litetel.uploader." + name].total

    # what background.py / aio.py drive
    def collect(self):
        self.collects += 1
        self.record(1)

    def flush(self, timeout_s=None):
        return self.uploader.flush(timeout_s)

    def tick(self, timeout_s):
        return self.uploader.tick(timeout_s)


# --- gateway ------------------------------------------------------------------------------------------------


class Reply:
    """A scripted reply: ``status``, headers, and per-frame ``results`` (None: behave like the gateway)."""

    def __init__(self, status=200, headers=None, results=None, body=None):
        self.status = status
        self.headers = headers or {}
        self.results = results
        self.body = body


RESET = "reset"  # close the connection with RST instead of replying
COMMIT_THEN_RESET = "commit-then-reset"  # process the frames, then lose the reply
HANG = "hang"  # read the request, never answer (until the client gives up)


class ScriptedGateway:
    def __init__(self, key=KEY, script=()):
        self.key = key
        self.script = list(script)
        self.requests = []  # dicts: headers, body, frames, signature_ok, step
        self.delivered = []  # (epoch, seq) of every frame committed, in order
        self._seen = set()
        self._lock = threading.Lock()
        self._release = threading.Event()
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway._handle(self, body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self):
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _verify(self, h, body):
        signed = "litetel-v1\n%s\n%s\n%s\n%s\n" % (
            h["X-Litetel-Device"],
            h["X-Litetel-Nonce"],
            h["X-Litetel-Time"],
            h["X-Litetel-Ticks"],
        )
        mac = hmac.new(self.key, signed.encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac, h.get("X-Litetel-Signature", ""))

    def _gateway_results(self, frames):
        results = []
        for flags, epoch, seq, _ in frames:
            if flags & DICT_REFRESH:
                results.append("ok")
            elif (epoch, seq) in self._seen:
                results.append("dup")
            else:
                self._seen.add((epoch, seq))
                self.delivered.append((epoch, seq))
                results.append("ok")
        return results

    def _commit(self, frames, results):
        # Scripted results: frames answered ok count as delivered (so a later resend is a dup).
        for (flags, epoch, seq, _), r in zip(frames, results):
            if r == "ok" and not flags & DICT_REFRESH and (epoch, seq) not in self._seen:
                self._seen.add((epoch, seq))
                self.delivered.append((epoch, seq))

    def _handle(self, handler, body):
        frames = split_frames(body)
        with self._lock:
            step = self.script.pop(0) if self.script else Reply()
            self.requests.append(
                {
                    "headers": dict(handler.headers),
                    "body": body,
                    "frames": frames,
                    "signature_ok": self._verify(handler.headers, body),
                    "step": step,
                }
            )
            if step == COMMIT_THEN_RESET or (
                isinstance(step, Reply) and step.status == 200 and step.results is None and step.body is None
            ):
                results = self._gateway_results(frames)
            elif isinstance(step, Reply) and step.results is not None:
                results = list(step.results)
                self._commit(frames, results)
        if step in (RESET, COMMIT_THEN_RESET):
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
            handler.close_connection = True
            return
        if step == HANG:
            self._release.wait(5)
            handler.close_connection = True
            return
        if step.body is not None:
            payload = step.body
        elif step.status == 200:
            payload = json.dumps({"results": results, "time": int(time.time() * 1000)}).encode()
        else:
            payload = json.dumps({"error": "scripted", "detail": str(step.status)}).encode()
        handler.send_response_only(step.status)
        if "Date" not in step.headers:  # real servers send one; a script may set its own
            handler.send_header("Date", handler.date_time_string())
        for k, v in step.headers.items():
            handler.send_header(k, v)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    # handy views
    def seqs(self, i):
        """Seqs of the buffered frames (not refreshes) of request ``i``."""
        return [seq for flags, _, seq, _ in self.requests[i]["frames"] if not flags & DICT_REFRESH]

    def nonces(self):
        return [r["headers"]["X-Litetel-Nonce"] for r in self.requests]
