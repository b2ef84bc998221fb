"""``POST /v1/frames`` (wire format §4): size limits, headers, signature, replay, then every frame of the
request processed in ONE SQLite transaction on the store's writer thread, committed before the reply.

    ingest = Ingest(store, view, Limits(), temporality="delta", max_clock_skew_s=300)
    app.router.add_post("/v1/frames", FramesHandler(keys, store, ingest, metrics, max_request_bytes).handle)
"""

import asyncio
import json
import logging
import re
import time

import msgpack
from aiohttp import web

from litetel import frame as wire
from litetel_gateway import decoder
from litetel_gateway.decoder import GAUGE, HISTOGRAM, INT64_MAX, NeedDict, Reject
from litetel_gateway.payload_schema import UINT64_MAX
from litetel_gateway.store import GroupWriter

log = logging.getLogger("litetel_gateway.receiver")

CONTENT_TYPE = "application/vnd.litetel.frames"
_DEVICE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_NONCE = re.compile(r"^([0-9]{1,10})\.([0-9]{1,19})$")
_INT = re.compile(r"^[0-9]{1,20}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
# Slow-loris uploads must not hold connections: a body must keep coming at MIN_BODY_RATE bytes/s on average
# once BODY_GRACE_S have passed, else 408. The request head has its own limit, the server's keep-alive timeout.
BODY_GRACE_S = 10.0
MIN_BODY_RATE = 256
_FUTURE_SLACK_US = 3_600_000_000
# Decompressed bytes one request may make the writer thread decode, as a multiple of its body (at least one
# frame): tiny frames that each inflate to --max-frame-bytes must not buy minutes of the single writer.
# Frames past the budget are "skipped" (the device sends them again), never dropped.
INFLATE_PER_BODY_BYTE = 16
U32_MAX = (1 << 32) - 1


class Replay(Exception):
    """The request's nonce counter is not above the largest seen for its (device, epoch)."""


class UploadRequest:
    """One authenticated upload, handed to the writer thread."""

    def __init__(self, device, epoch, counter, time_ms, ticks, receive_us, body, spans):
        self.device, self.epoch, self.counter = device, epoch, counter
        self.time_ms, self.ticks, self.receive_us = time_ms, ticks, receive_us
        self.body, self.spans = body, spans
        self.device_hash = wire.device_hash(device)


class IngestStats:
    def __init__(self):
        self.points = 0
        self.queued_frames = 0
        self.corrected = False


class Ingest:
    """Processes one upload request inside one transaction (call it on the store's writer thread)."""

    def __init__(self, store, view, limits, temporality="delta", max_clock_skew_s=300.0):
        self.store = store
        self.view = view
        self.limits = limits
        self.cumulative = temporality == "cumulative"
        self.max_skew_us = int(max_clock_skew_s * 1_000_000)

    def __call__(self, req):
        """One request in its own transaction: ``(results, IngestStats)``; raises Replay (no trace)."""
        outcome = self.run_group([req])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def run_group(self, requests):
        """Several requests in ONE transaction (one fsync), each in its own savepoint.

        Returns, per request, ``(results, IngestStats)`` or the exception that undid it alone (Replay,
        or an error); an error of the commit itself raises for the whole group.
        """
        store = self.store
        outcomes = []
        group_pending = {}
        store.begin()
        try:
            for req in requests:
                store.savepoint()
                pending = {}
                try:
                    outcome = self._request(req, pending, group_pending)
                    if pending:
                        store.save_prom_series(self.view.rows(pending))
                    store.release()
                except Exception as exc:
                    store.rollback_request()
                    outcomes.append(exc)
                    continue
                group_pending.update(pending)
                outcomes.append(outcome)
            store.commit()
        except BaseException:
            store.rollback()
            raise
        self.view.apply(group_pending)
        return outcomes

    def _request(self, req, pending, group_pending):
        store = self.store
        last = store.nonce(req.device, req.epoch)
        if last is not None and req.counter <= last:
            raise Replay()
        store.set_nonce(req.device, req.epoch, req.counter)
        stats = IngestStats()
        results = []
        budget = [max(self.limits.max_frame_bytes, INFLATE_PER_BODY_BYTE * len(req.body))]
        for index, (start, end) in enumerate(req.spans):
            if budget[0] <= 0:
                results.extend(["skipped"] * (len(req.spans) - index))
                break
            try:
                results.append(self._frame(req, start, pending, group_pending, stats, budget))
            except NeedDict:
                results.append("need_dict")
                results.extend(["skipped"] * (len(req.spans) - index - 1))
                break
            except Reject as exc:
                log.info("device %s: frame %d rejected: %s", req.device, index, exc)
                results.append("reject:" + exc.reason)
        return results, stats

    def _frame(self, req, offset, pending, group_pending, stats, budget=None):
        store, device = self.store, req.device
        header, payload = decoder.parse_header(req.body, offset)
        if header.device_hash != req.device_hash:
            raise Reject("device_mismatch", "frame device_hash is not sha256(X-Litetel-Device)[:8]")
        epoch = header.epoch
        if header.flags & wire.FLAG_DICT_REFRESH:
            if header.seq or header.start or header.end:
                raise Reject("schema", "dictionary refresh frame with seq/start/end set")
            delta, points = decoder.decode_payload(header, payload, self.limits, budget)
            if points:
                raise Reject("schema", "dictionary refresh frame with points")
            self._apply_delta(device, epoch, delta, refresh=True)
            return "ok"
        last = store.last_seq(device, epoch)
        if last is not None and header.seq <= last:
            return "dup"
        if header.start > header.end:
            raise Reject("schema", "start > end")
        delta, points, spans, logs, exemplars = decoder.decode_elements(header, payload, self.limits, budget)
        dictionary = self._apply_delta(device, epoch, delta)
        n = decoder.validate_points(points, dictionary)
        n_spans = decoder.validate_spans(spans, dictionary, self.limits)
        n_logs = decoder.validate_logs(logs, dictionary, self.limits)
        n_exemplars = decoder.validate_exemplars(exemplars, points, dictionary) if n else 0
        start_us, end_us, corrected = self._real_time(req, header, stats)
        # Span, log and exemplar times are "µs before the frame's end" (§2.4-§2.6), so the frame's clock
        # correction applies to them unchanged. Checked before anything of the frame is queued.
        if n_spans and max(e[6] for e in spans) > end_us or n_logs and max(e[1] for e in logs) > end_us:
            raise Reject("clock", "a span or log record time maps before 1970")
        if n:
            starts = None
            queued = points
            if self.cumulative:
                queued, starts = self._accumulate(device, epoch, dictionary, points, start_us)
            row = [queued, starts]
            if n_exemplars:
                row.append(_absolute_exemplars(exemplars, end_us))
            store.enqueue(
                device,
                epoch,
                header.seq,
                start_us,
                end_us,
                corrected,
                n,
                msgpack.packb(row, use_bin_type=True),
            )
            self.view.stage(pending, dictionary, device, points, group_pending)
            stats.points += n
            stats.queued_frames += 1
        for signal, items, count in (("traces", spans, n_spans), ("logs", logs, n_logs)):
            if count:  # the expander turns their times into unix µs from end_us
                blob = msgpack.packb(items, use_bin_type=True)
                store.enqueue(device, epoch, header.seq, start_us, end_us, corrected, count, blob, signal)
        store.set_last_seq(device, epoch, header.seq)
        return "ok"

    def _apply_delta(self, device, epoch, delta, refresh=False):
        dictionary = self.store.dictionary(device, epoch)
        self.store.touch(device, epoch, dictionary)
        if dictionary.apply_delta(delta, self.limits, refresh):
            self.store.save_dictionary(device, epoch, dictionary)
        return dictionary

    def _real_time(self, req, header, stats):
        """Unix µs of the frame's start and end, and whether a wrong wall clock was corrected.

        CLOCK_TICKS: offset = receive time − X-Litetel-Ticks, fixed on first sight per (device, epoch), so
        consecutive frames chain exactly. Wall clock: an offset is fixed the same way, on the first request
        of the epoch, only when the device clock is off by more than the allowed skew (then flagged).
        """
        clock = self.store.clock(req.device, header.epoch)
        ticks_offset, wall_offset, corrected = clock
        current_epoch = header.epoch == req.epoch
        if header.flags & wire.FLAG_CLOCK_TICKS:
            if ticks_offset is None:
                if not current_epoch:
                    raise Reject("clock", "device ticks of a past epoch with no known offset")
                clock[0] = ticks_offset = req.receive_us - req.ticks
                self.store.set_clock(req.device, header.epoch, clock)
            offset, corrected = ticks_offset, 0
        else:
            if wall_offset is None and current_epoch and req.time_ms:
                skew = req.receive_us - req.time_ms * 1000
                if abs(skew) > self.max_skew_us:
                    clock[1], clock[2] = skew, 1
                else:
                    clock[1] = 0
                wall_offset, corrected = clock[1], clock[2]
                self.store.set_clock(req.device, header.epoch, clock)
            offset = wall_offset or 0
            corrected = corrected if offset else 0
        start, end = header.start + offset, header.end + offset
        if start < 0 or end < 0:
            raise Reject("clock", "frame time maps before 1970")
        # A frame cannot end in the future beyond the clock skew we tolerate: such times are a broken or
        # hostile clock, and past year 2554 they do not even fit OTLP's u64 nanoseconds.
        if end > req.receive_us + 2 * self.max_skew_us + _FUTURE_SLACK_US:
            raise Reject("clock", "frame time is in the future")
        if corrected:
            stats.corrected = True
        return start, end, corrected

    def _accumulate(self, device, epoch, dictionary, points, start_us):
        """Running totals per series of (device, epoch): the values exported with cumulative temporality."""
        states = self.store.cumulative(device, epoch)
        kinds = dictionary.series_kind
        out, starts, changed = [], [], []
        for i in range(0, len(points), 2):
            sid, value = points[i], points[i + 1]
            state = states.get(sid)
            first_start = start_us if state is None else state[0]
            kind = kinds[sid]
            if kind == GAUGE:
                total = value
            elif kind == HISTOGRAM:
                bounds = dictionary.instruments[dictionary.series[sid][0]][5]
                total = _add_histogram(None if state is None else state[1], value, len(bounds) + 1)
            else:
                total = value if state is None else state[1] + value
                if type(total) is int and not -INT64_MAX <= total <= INT64_MAX:
                    total = float(total)  # beyond int64: keep counting, as a double
            states[sid] = entry = [first_start, total]
            changed.append((sid, entry))
            out.append(sid)
            out.append(total)
            starts.append(first_start)
        self.store.save_cumulative(device, epoch, changed)
        return out, starts


def _absolute_exemplars(exemplars, end_us):
    """Exemplar times from "µs before the frame's end" to unix µs (the frame's clock correction applied)."""
    out = []
    for i in range(0, len(exemplars), 2):
        out.append(exemplars[i])
        out.append([[v, max(0, end_us - ago), trace_id, span_id] for v, ago, trace_id, span_id in exemplars[i + 1]])
    return out


def _add_histogram(total, value, n_buckets):
    """Cumulative ``[count, sum, min, max, 0, dense counts...]`` plus one interval value (sparse)."""
    if total is None:
        total = [0, 0.0, None, None, 0] + [0] * n_buckets
    else:
        total = list(total)
    count = value[0]
    if count:
        total[2] = value[2] if total[2] is None else min(total[2], value[2])
        total[3] = value[3] if total[3] is None else max(total[3], value[3])
    # counts are OTLP fixed64 (and msgpack u64 in SQLite): they saturate instead of overflowing
    total[0] = min(total[0] + count, UINT64_MAX)
    total[1] += value[1]
    first = value[4]
    for i, c in enumerate(value[5:]):
        total[5 + first + i] = min(total[5 + first + i] + c, UINT64_MAX)
    return total


def error_response(status, reason, detail="", retry_after=None):
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.Response(
        status=status,
        headers=headers,
        content_type="application/json",
        text=json.dumps({"error": reason, "detail": detail}),
    )


class FramesHandler:
    """The aiohttp handler of ``POST /v1/frames``. Nothing is recorded for a 4xx reply."""

    def __init__(self, keys, store, ingest, metrics, max_request_bytes):
        self.keys = keys
        self.store = store
        self.group = GroupWriter(store, ingest.run_group)
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes
        self.draining = False
        self.in_flight = 0

    async def handle(self, request):
        if self.draining:
            return self._refuse(503, "shutting_down", "the gateway is stopping", retry_after=5)
        self.in_flight += 1
        started = time.perf_counter()
        try:
            return await self._handle(request)
        finally:
            self.in_flight -= 1
            self.metrics.ingest_latency.observe(time.perf_counter() - started)

    def _refuse(self, status, reason, detail="", retry_after=None):
        self.metrics.requests.labels(status).inc()
        self.metrics.reject(reason)
        return error_response(status, reason, detail, retry_after)

    async def _handle(self, request):
        if request.content_length is not None and request.content_length > self.max_request_bytes:
            return self._refuse(413, "too_large", "request over %d bytes" % self.max_request_bytes)
        h = request.headers
        if h.get("Content-Type", "").split(";")[0].strip() != CONTENT_TYPE:
            return self._refuse(400, "content_type", "Content-Type must be " + CONTENT_TYPE)
        device, nonce = h.get("X-Litetel-Device"), h.get("X-Litetel-Nonce")
        time_ms, ticks, signature = (
            h.get("X-Litetel-Time"),
            h.get("X-Litetel-Ticks"),
            h.get("X-Litetel-Signature"),
        )
        if device is None or nonce is None or time_ms is None or ticks is None:
            return self._refuse(
                400, "missing_header", "X-Litetel-Device, -Nonce, -Time and -Ticks are required"
            )
        nonce_match = _NONCE.match(nonce)
        if not _DEVICE.match(device) or not nonce_match or not _INT.match(time_ms) or not _INT.match(ticks):
            return self._refuse(400, "bad_header", "malformed X-Litetel-* header")
        epoch, counter = int(nonce_match.group(1)), int(nonce_match.group(2))
        # what SQLite (int64) can hold: the counter, the ticks offset and the wall-clock skew in µs
        if (
            epoch > U32_MAX
            or not 1 <= counter <= INT64_MAX
            or int(ticks) > INT64_MAX
            or int(time_ms) > INT64_MAX // 1000
        ):
            return self._refuse(400, "bad_header", "nonce epoch or counter, time or ticks out of range")
        if device not in self.keys:
            return self._refuse(401, "unknown_device", "no key for this device")
        if not signature:
            return self._refuse(401, "missing_signature", "X-Litetel-Signature is required")
        try:
            body = await self._read_body(request)
        except asyncio.TimeoutError:
            return self._refuse(408, "slow_client", "body arriving slower than %d B/s" % MIN_BODY_RATE)
        if body is None:
            return self._refuse(413, "too_large", "request over %d bytes" % self.max_request_bytes)
        if not _SIGNATURE.match(signature) or not self.keys.verify(
            device, nonce, time_ms, ticks, body, signature
        ):
            return self._refuse(403, "bad_signature", "signature does not match")
        try:
            spans = decoder.split_frames(body)
        except decoder.EnvelopeError as exc:
            if not exc.frames:
                return self._refuse(400, "envelope", str(exc))
            # The whole frames before the fault are stored and answered; the rest get no result, so the device
            # keeps them and sends the faulty one first next time, where its 400 costs that frame alone.
            log.warning("upload from %s: %s; storing the %d whole frames before it", device, exc, len(exc.frames))
            self.metrics.reject("envelope")
            spans = exc.frames
        if not spans:
            return self._refuse(400, "envelope", "empty body")
        upload = UploadRequest(
            device, epoch, counter, int(time_ms), int(ticks), time.time_ns() // 1000, body, spans
        )
        try:
            results, stats = await self.group.submit(upload)
        except Replay:
            return self._refuse(403, "replay", "nonce counter already used for this device and epoch")
        except Exception:
            log.exception("storing an upload from %s failed", device)
            return self._refuse(503, "store_error", "the gateway could not store the request", retry_after=5)
        self._count(results, stats)
        return web.json_response({"results": results, "time": time.time_ns() // 1_000_000})

    async def _read_body(self, request):
        """The body, or None as soon as it grows past the limit (also without a Content-Length).

        Raises ``asyncio.TimeoutError`` for a slow-loris client: nothing for ``BODY_GRACE_S``, or less than
        ``MIN_BODY_RATE`` bytes/s on average once the grace has passed (a 9600-baud link still makes it).
        """
        chunks, size = [], 0
        started = time.monotonic()
        while True:
            chunk = await asyncio.wait_for(request.content.read(65536), BODY_GRACE_S)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_request_bytes:
                return None
            chunks.append(chunk)
            elapsed = time.monotonic() - started
            if elapsed > BODY_GRACE_S and size < elapsed * MIN_BODY_RATE:
                raise asyncio.TimeoutError

    def _count(self, results, stats):
        m = self.metrics
        m.requests.labels(200).inc()
        for r in results:
            if r.startswith("reject:"):
                m.frames_in.labels("reject").inc()
                m.reject(r[7:])
            else:
                m.frames_in.labels(r).inc()
                if r == "dup":
                    m.dups.inc()
        m.points_in.inc(stats.points)
        m.queue_rows.inc(stats.queued_frames)
        m.queue_points.inc(stats.points)
        if stats.corrected:
            m.clock_corrected.inc()
