"""The uploader: pushes buffered frames to the gateway, signed, and frees them when acknowledged.

It implements the device side of wire format §4: several frames per ``POST {endpoint}/v1/frames`` up to a byte
budget, an HMAC-signed request with a fresh nonce each time (resends too), per-frame results applied in order,
and the error codes (drop what is permanently refused, keep what may yet be delivered). Retryable failures
set a backoff deadline (exponential with full jitter, or the server's ``Retry-After``) instead of sleeping, so
a main loop or thread can sleep through it. Nothing here blocks longer than the timeout it is given.

    up = Uploader(device, endpoint="http://gateway:8080", key=b"per-device secret")
    up.flush()            # -> frames acknowledged now; on a link failure returns early and backs off
    up.ready()            # False until the backoff deadline has passed
    up.tick(timeout_s=0.5)  # flush if ready and there is something to send, within 0.5 s

The ``Device`` owns one and calls ``tick`` from ``Device.tick``.
"""

import json
import struct

from litetel import accel
from litetel.clock import ticks_us, wall_us
from litetel.signing import sign_request
from litetel.transport import default_transport, retry_after_s

CONTENT_TYPE = "application/vnd.litetel.frames"
_EPOCH_AT = 16  # byte offset of the epoch in a frame header (wire format §1)
_MAX_COUNTER = 0xFFFFFFFFFFFF


def _log(msg):
    try:
        import logging

        logging.getLogger("litetel").warning(msg)
    except ImportError:  # MicroPython without micropython-lib's logging
        print("litetel:", msg)


def _reply_results(body):
    """The ``results`` list of a 200 reply, or None when the body is not what wire format §4.1 promises."""
    try:
        reply = json.loads(body.decode() if isinstance(body, (bytes, bytearray)) else body)
        results = reply["results"]
    except (ValueError, KeyError, TypeError, UnicodeError):
        return None
    if not isinstance(results, list):
        return None
    for r in results:
        if not isinstance(r, str):
            return None
    return results


def _bound_counter(meter, name, unit, description):
    return meter.counter(name, unit=unit, description=description).bind({})


class Uploader:
    """Sends a device's buffered frames to the gateway and applies the replies (wire format §4).

    ``device`` provides ``device_id``, ``epoch``, ``buffer`` (a ``RingBuffer``),
    ``dictionary_refresh_frame()``, ``count_drop(reason, n, seq)``, ``meter(name)`` and ``uses_wall_clock()``.
    ``transport`` is any callable ``(url, headers, body, timeout_s) -> (status, headers, body)`` (see
    ``litetel.transport``); the platform's default when only ``endpoint`` is given. With neither, frames stay
    buffered and ``flush()`` returns 0.

        up = Uploader(dev, endpoint="https://gw.example:8443", key=b"secret", max_request_bytes=16384)
        acked = up.flush(timeout_s=5)
    """

    def __init__(
        self,
        device,
        endpoint=None,
        key=None,
        transport=None,
        max_request_bytes=65536,
        max_frames=32,
        timeout_s=10,
        backoff_base_s=1,
        backoff_max_s=300,
        rng=None,
    ):
        self.device = device
        self.url = endpoint.rstrip("/") + "/v1/frames" if endpoint else None
        self._key = key.encode() if isinstance(key, str) else key
        if transport is None and endpoint:
            transport = default_transport()
        self.transport = transport
        self.max_request_bytes = max_request_bytes
        self.max_frames = max_frames
        self.timeout_s = timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        if rng is None:
            import random as rng
        self._rng = rng
        # Halved by 413 replies and kept: the gateway's request limit does not change between requests.
        self._frame_cap = max_frames
        self._nonce_epoch = None
        self._nonce_counter = 0
        self._need_refresh = False
        self.failures = 0  # consecutive retryable failures; drives the backoff exponent
        self._retry_at = None  # ticks_us() before which ready() is False
        self.last_error = None  # why the last request failed (never contains the key)
        self._warned_auth = False
        self._lock = accel.new_lock()  # a user's flush() and the background thread must not interleave
        meter = device.meter("litetel")
        self._sent = _bound_counter(
            meter, "litetel.uploader.frames.sent", "{frame}", "Frames put on the wire"
        )
        self._acked = _bound_counter(meter, "litetel.uploader.frames.acked", "{frame}", "Frames acknowledged")
        self._retries = _bound_counter(meter, "litetel.uploader.retries", "{request}", "Requests to retry")
        self._bytes = _bound_counter(meter, "litetel.uploader.bytes.sent", "By", "Request bodies sent")

    # --- scheduling -----------------------------------------------------------------------------------------

    def ready(self):
        """True when no backoff is pending (a retryable failure's deadline has passed)."""
        return self._retry_at is None or ticks_us() >= self._retry_at

    def retry_in_s(self):
        """Seconds until ``ready()`` turns True (0 when ready): how long a runner may sleep."""
        if self._retry_at is None:
            return 0
        return max(0, self._retry_at - ticks_us()) / 1e6

    def tick(self, timeout_s):
        """Flush if frames are pending and no backoff runs, within ``timeout_s`` in all; -> frames acked."""
        if self.transport is None or not self.ready() or not self.device.buffer.pending:
            return 0
        return self.flush(timeout_s)

    # --- sending --------------------------------------------------------------------------------------------

    def flush(self, timeout_s=None):
        """Send the oldest unacknowledged frames until none are left or a request fails; -> frames acked.

        Ignores a pending backoff (an explicit flush always tries). ``timeout_s`` bounds the whole call (each
        request gets what is left, at most the constructor's ``timeout_s``); None: no overall bound.
        """
        if self.transport is None:
            return 0
        with self._lock:
            return self._flush(timeout_s)

    def _flush(self, timeout_s):
        start = ticks_us()
        acked = 0
        while True:
            per_request = self.timeout_s
            if timeout_s is not None:
                left = timeout_s - (ticks_us() - start) / 1e6
                if left <= 0:
                    break
                per_request = min(per_request, left)
            refresh = self.device.dictionary_refresh_frame() if self._need_refresh else None
            room = self.max_request_bytes - (len(refresh) if refresh else 0)
            batch = self.device.buffer.read(max(room, 1), self._frame_cap)
            if not batch:
                break
            n, go_on = self._send(batch, refresh, per_request)
            acked += n
            if not go_on:
                break
        return acked

    def _next_nonce(self):
        epoch = self.device.epoch
        if epoch != self._nonce_epoch:  # a new epoch starts a new counter (wire format §4)
            self._nonce_epoch = epoch
            self._nonce_counter = 0
        self._nonce_counter = self._nonce_counter + 1 if self._nonce_counter < _MAX_COUNTER else 1
        return "%d.%d" % (epoch, self._nonce_counter)

    def request_headers(self, body):
        """The headers of one request carrying ``body``, signed; takes the next nonce."""
        dev = self.device
        nonce = self._next_nonce()
        now_us = wall_us() if dev.uses_wall_clock() else None
        time_ms = now_us // 1000 if now_us else 0
        ticks = ticks_us()
        headers = {
            "Content-Type": CONTENT_TYPE,
            "X-Litetel-Device": dev.device_id,
            "X-Litetel-Nonce": nonce,
            "X-Litetel-Time": str(time_ms),
            "X-Litetel-Ticks": str(ticks),
        }
        if self._key:
            headers["X-Litetel-Signature"] = sign_request(
                self._key, dev.device_id, nonce, time_ms, ticks, body
            )
        return headers

    def _send(self, batch, refresh, timeout_s):
        """One request; -> (frames acknowledged, whether to go on with the next request now)."""
        frames = [f for _, f in batch]
        body = b"".join([refresh] + frames if refresh else frames)
        headers = self.request_headers(body)
        self._sent.add(len(batch))
        self._bytes.add(len(body))
        try:
            status, reply_headers, reply = self.transport(self.url, headers, body, timeout_s)
        except OSError as e:  # timeouts, resets, refused: the reply may be lost, so the frames are resent
            self._retry_later(None, "link: %r" % (e,))
            return 0, False
        if status == 200:
            results = _reply_results(reply)
            if results is None:
                self._retry_later(None, "unreadable 200 reply")
                return 0, False
            return self._apply(batch, results, refresh is not None)
        if status in (401, 403):
            # A key or clock mistake must not destroy the buffer: keep the frames and back off.
            if not self._warned_auth:
                self._warned_auth = True
                _log("gateway refused device %r (%d): check its key" % (self.device.device_id, status))
            self._retry_later(None, "auth %d" % status)
            return 0, False
        if status in (429, 503):
            now_us = wall_us() if self.device.uses_wall_clock() else None
            wait_s = retry_after_s(reply_headers, now_us / 1e6 if now_us else None)
            self._retry_later(wait_s, "busy %d" % status)
            return 0, False
        if status == 413:
            if len(batch) > 1:
                self._frame_cap = max(1, len(batch) // 2)
                return 0, True
            self._drop(batch[0][0], "too_large")
            return 0, True
        if status == 408:
            # Request Timeout: the link stalled or crawled (the gateway's slow_client), not the frame's fault.
            self._retry_later(None, "request timeout 408")
            return 0, False
        if 400 <= status < 500:
            # Permanent (400 malformed, other 4xx): drop the first frame; the rest are never stuck behind it.
            self._drop(batch[0][0], "rejected")
            return 0, True
        self._retry_later(None, "status %d" % status)
        return 0, False

    def _apply(self, batch, results, refreshed):
        """Apply the per-frame results of a 200 reply (wire format §4.1) and ack the handled prefix."""
        i = 0
        if refreshed:
            i = 1  # the refresh frame's own result comes first
            self._need_refresh = False
        dev = self.device
        acked = 0
        last = None  # seq of the last frame handled, in order
        for seq, frame in batch:
            r = results[i] if i < len(results) else "skipped"
            i += 1
            if r == "ok" or r == "dup":
                acked += 1
            elif r.startswith("reject:"):
                dev.count_drop("rejected", 1, seq)
            elif r == "need_dict":
                epoch = struct.unpack_from(">I", frame, _EPOCH_AT)[0]
                if epoch == dev.epoch and not refreshed:
                    self._need_refresh = True  # resend with the whole dictionary first
                    break
                # An older epoch's dictionary is gone, and a frame the full refresh cannot resolve never will.
                dev.count_drop("dict_lost", 1, seq)
            else:  # "skipped", or a result this version does not know: send again later
                break
            last = seq
        if last is not None:
            dev.buffer.ack(last)
        self._acked.add(acked)
        if last is None and not self._need_refresh:
            # Nothing handled: going on would resend the same request in a tight loop.
            self._retry_later(None, "no progress: %r" % (results[:2],))
            return acked, False
        self.failures = 0
        self._retry_at = None
        return acked, True

    def _drop(self, seq, reason):
        self.device.count_drop(reason, 1, seq)
        self.device.buffer.ack(seq)
        self.failures = 0
        self._retry_at = None

    def _retry_later(self, wait_s, why):
        """Record a retryable failure; the deadline is ``wait_s`` (Retry-After) or full-jitter backoff."""
        self.failures += 1
        self._retries.add(1)
        self.last_error = why
        if wait_s is None:
            cap = min(self.backoff_max_s, self.backoff_base_s * (1 << min(self.failures - 1, 30)))
            wait_s = cap * self._rng.random()
        self._retry_at = ticks_us() + int(wait_s * 1000000)
