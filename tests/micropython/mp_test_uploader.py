# heapsize: 128K
# (passes at 116K with the precompiled core, as before the RAM work of issue 2: it is the uploader's heap)
# The uploader on the real MicroPython with a pluggable transport: request building, reply rules, backoff,
# Retry-After (both forms), HTTP parsing helpers, and the asyncio helper.
import gc
import json
import sys

# asyncio is frozen into the unix port; the runner's MICROPYPATH drops ".frozen" from the path.
if ".frozen" not in sys.path:
    sys.path.append(".frozen")

import asyncio

from mpcheck import check, check_eq, done, raises

from litetel import aio, frame
from litetel.ring_buffer import RingBuffer
from litetel.signing import sign_request
from litetel.transport import parse_http_date, parse_response, request_head, retry_after_s, split_url
from litetel.uploader import Uploader

KEY = b"per-device secret"


class Counter:
    def __init__(self):
        self.total = 0

    def bind(self, attrs):
        return self

    def add(self, n):
        self.total += n


class Meter:
    def __init__(self):
        self.counters = {}

    def counter(self, name, unit="", description=""):
        if name not in self.counters:
            self.counters[name] = Counter()
        return self.counters[name]


class Device:
    def __init__(self, epoch=7):
        self.device_id = "sat-7"
        self.epoch = epoch
        self.buffer = RingBuffer(capacity=4096)
        self.drops = {}
        self.m = Meter()
        self.interval_s = None
        self.uploader = None

    def record(self, n, size=60, epoch=None):
        for _ in range(n):
            seq = self.buffer.next_seq
            self.buffer.append(
                frame.pack_frame(
                    0,
                    0,
                    0,
                    frame.device_hash(self.device_id),
                    self.epoch if epoch is None else epoch,
                    seq,
                    seq,
                    seq,
                    bytes(size),
                )
            )

    def dictionary_refresh_frame(self):
        return frame.pack_frame(
            frame.FLAG_DICT_REFRESH, 0, 0, frame.device_hash(self.device_id), self.epoch, 0, 0, 0, b"dict"
        )

    def count_drop(self, reason, n, seq=None):
        self.drops[reason] = self.drops.get(reason, 0) + n

    def meter(self, name):
        return self.m

    def uses_wall_clock(self):
        return False

    def counter(self, name):
        return self.m.counters["litetel.uploader." + name].total

    def tick(self, timeout_s):
        return self.uploader.tick(timeout_s)


class Script:
    """A transport answering from a list of steps: a status, (status, headers), a results list, or 'down'."""

    def __init__(self, steps=()):
        self.steps = list(steps)
        self.requests = []

    def __call__(self, url, headers, body, timeout_s):
        frames = [(h.flags, h.epoch, h.seq) for h, _ in frame.iter_frames(body)]
        self.requests.append((url, headers, body, frames))
        step = self.steps.pop(0) if self.steps else None
        if step == "down":
            raise OSError(113, "no route to host")
        if step is None or isinstance(step, list):
            results = step if step is not None else ["ok"] * len(frames)
            return 200, {}, json.dumps({"results": results, "time": 0}).encode()
        if isinstance(step, tuple):
            return step[0], step[1], b"{}"
        return step, {}, b'{"error": "scripted"}'

    def seqs(self, i):
        return [f[2] for f in self.requests[i][3] if not f[0] & frame.FLAG_DICT_REFRESH]


class MaxRng:
    def random(self):
        return 0.999999


def setup(steps=(), n=0, **kw):
    gc.collect()  # the previous case's buffer is garbage now; 4 KiB blocks need an unfragmented heap
    dev = Device()
    dev.record(n)
    tr = Script(steps)
    dev.uploader = Uploader(dev, endpoint="http://gw:8080", key=KEY, transport=tr, rng=MaxRng(), **kw)
    return dev, dev.uploader, tr


# batching, headers, signature, acks
dev, up, tr = setup(n=10, max_request_bytes=400)  # 108-byte frames: 3 per request
check_eq(up.flush(), 10, "all acknowledged")
check_eq([len(r[3]) for r in tr.requests], [3, 3, 3, 1], "batched up to the byte budget")
check_eq(dev.buffer.pending, 0, "acked frames are freed")
url, h, body, _ = tr.requests[0]
check_eq(url, "http://gw:8080/v1/frames", "endpoint URL")
check_eq([r[1]["X-Litetel-Nonce"] for r in tr.requests], ["7.1", "7.2", "7.3", "7.4"], "nonces count up")
check_eq(h["X-Litetel-Time"], "0", "no wall clock: time 0")
check_eq(
    h["X-Litetel-Signature"],
    sign_request(KEY, "sat-7", "7.1", 0, int(h["X-Litetel-Ticks"]), body),
    "signature over the sent fields",
)
check_eq(
    (dev.counter("frames.sent"), dev.counter("frames.acked"), dev.counter("retries")), (10, 10, 0), "counters"
)

# a link failure keeps frames and backs off; the resend carries the same frames and a new nonce
dev, up, tr = setup(["down"], n=2, backoff_base_s=4)
check_eq(up.flush(), 0, "nothing acked while down")
check(not up.ready() and 3.9 < up.retry_in_s() <= 4, "backoff deadline recorded")
check_eq(up.tick(0.5), 0, "tick waits out the backoff")
check_eq(len(tr.requests), 1, "no request while backing off")
check_eq(up.flush(), 2, "explicit flush resends")
check_eq(tr.seqs(0), tr.seqs(1), "same frames again")
check_eq(tr.requests[1][1]["X-Litetel-Nonce"], "7.2", "new nonce for the resend")

# status rules
dev, up, tr = setup([400], n=3)
check_eq(up.flush(), 2, "400: the rest goes through")
check_eq(dev.drops, {"rejected": 1}, "400 drops the first frame")
dev, up, tr = setup([401], n=2)
check_eq((up.flush(), dev.buffer.pending, dev.drops), (0, 2, {}), "401 keeps frames")
check(not up.ready() and dev.counter("retries") == 1, "401 backs off as a retry")
dev, up, tr = setup([413, 413, 413], n=4)
check_eq(up.flush(), 3, "413 then a single frame too large")
check_eq([len(r[3]) for r in tr.requests[:3]], [4, 2, 1], "413 halves the frames per request")
check_eq(dev.drops, {"too_large": 1}, "single frame dropped as too_large")
dev, up, tr = setup([(429, {"retry-after": "120"})], n=1, backoff_max_s=5)
up.flush()
check(119 < up.retry_in_s() <= 120, "Retry-After seconds honoured")
dev, up, tr = setup(
    [(503, {"retry-after": "Sun, 06 Nov 1994 08:50:37 GMT", "date": "Sun, 06 Nov 1994 08:49:37 GMT"})], n=1
)
up.flush()
check(59 < up.retry_in_s() <= 60, "Retry-After HTTP date against the reply's Date")
dev, up, tr = setup([500], n=1, backoff_base_s=2)
up.flush()
check(1.9 < up.retry_in_s() <= 2 and dev.buffer.pending == 1, "5xx backs off")

# per-frame results
dev, up, tr = setup([["ok", "reject:crc", "need_dict", "skipped"]], n=4)
check_eq(up.flush(), 3, "ok + refreshed resend")
check_eq(dev.drops, {"rejected": 1}, "reject counted")
check(tr.requests[1][3][0][0] & frame.FLAG_DICT_REFRESH, "refresh frame first after need_dict")
check_eq(tr.seqs(1), [3, 4], "need_dict frame and the skipped one resent")
dev = Device()
dev.record(1, epoch=6)
dev.record(1)
tr = Script([["need_dict", "skipped"]])
dev.uploader = up = Uploader(dev, endpoint="http://gw", transport=tr, rng=MaxRng())
check_eq(up.flush(), 1, "older epoch's frame lost, the next delivered")
check_eq(dev.drops, {"dict_lost": 1}, "dict_lost counted")
check("X-Litetel-Signature" not in tr.requests[0][1], "no key: unsigned")

# backoff growth and cap
dev, up, tr = setup(["down"] * 12, n=1, backoff_base_s=1, backoff_max_s=300)
waits = []
for _ in range(12):
    up.flush()
    waits.append(int(up.retry_in_s() + 0.5))
check_eq(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300], "exponential backoff, capped")

# HTTP helpers
check_eq(
    split_url("https://gw.example:8443/v1/frames"), ("https", "gw.example", 8443, "/v1/frames"), "split_url"
)
raises(ValueError, split_url, "gw:8080")
check_eq(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777, "IMF-fixdate")
check_eq(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777, "RFC 850 date")
check_eq(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777, "asctime date")
check_eq(parse_http_date("Thu, 01 Jan 2037 00:00:00 GMT"), 2114380800, "past 2^31")
check_eq(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None, "bad hour")
check_eq(
    retry_after_s({"retry-after": "Sun, 06 Nov 1994 08:51:37 GMT"}, 784111777), 120, "date vs device clock"
)
check_eq(retry_after_s({"retry-after": "Sun, 06 Nov 1994 08:51:37 GMT"}), None, "date and no clock")
check_eq(
    parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhi"),
    (200, {"content-length": "2", "x-a": "b"}, b"hi"),
    "parse_response",
)
check_eq(
    parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")[2],
    b"hi",
    "chunked",
)
raises(OSError, parse_response, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhi")
check(
    request_head("POST", "gw", 8080, "/v1/frames", {"X-A": "1"}, 5).startswith(
        b"POST /v1/frames HTTP/1.1\r\nHost: gw:8080\r\nContent-Length: 5\r\n"
    ),
    "request head",
)

# the asyncio helper ticks the device and sleeps between ticks
dev, up, tr = setup(n=3)


async def run_briefly():
    try:
        await asyncio.wait_for(aio.run(dev, interval_s=30, tick_s=0.02), 0.1)
    except asyncio.TimeoutError:
        pass


asyncio.run(run_briefly())
check_eq(dev.interval_s, 30, "aio.run sets the collection interval")
check_eq(dev.buffer.pending, 0, "aio.run flushed")

# a tick that raises is reported and the task goes on (a dead task would end the device's telemetry unseen)
dev, up, tr = setup(n=3)
failures = []
real_tick = dev.tick


def flaky_tick(timeout_s):
    if len(failures) < 2:
        raise MemoryError("no heap for the frame")
    return real_tick(timeout_s)


dev.tick = flaky_tick


async def run_through_failures():
    try:
        await asyncio.wait_for(aio.run(dev, tick_s=0.02, on_error=failures.append), 0.2)
    except asyncio.TimeoutError:
        pass


asyncio.run(run_through_failures())
check_eq(len(failures), 2, "both failing ticks reported")
check_eq(dev.buffer.pending, 0, "the ticks after them flushed")
done()
