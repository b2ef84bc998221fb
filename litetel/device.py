"""``Device``: one telemetry source — its meters, the collection interval, the buffer and the uploader.

``collect()`` closes the interval: every series recorded since the previous collect becomes one point,
the points and the new dictionary entries are encoded into one frame (wire format §1-2), and the frame is
appended to the ring buffer, from which the uploader sends it.

    >>> from litetel.device import Device
    >>> dev = Device("sat-7", resource={"service.name": "model-server"})
    >>> requests = dev.meter("model_server").counter("http.server.request.count", unit="{request}")
    >>> requests.add(1, {"http.route": "/api"})
    >>> frame = dev.collect()          # bytes, also appended to dev.buffer
    >>> dev.collect() is None          # nothing recorded since
    True
"""

import os

from litetel.accel import MICROPYTHON, import_packed, new_lock
from litetel.clock import ticks_us, wall_us
from litetel.dictionary import SELF_SCOPE, Dictionary
from litetel.meter import Meter

# The encode side (codecs, compression, frame, ring buffer) is imported where it is first used: recording
# needs none of it, so `import litetel; litetel.Device` stays cheap on CPython. Not on MicroPython: every
# device there collects, and modules loaded after the application's buffer and series scatter over a small
# heap, leaving collect() no contiguous block for its frame: loaded here, the code packs at the bottom.
if MICROPYTHON:
    from litetel import frame, ring_buffer  # noqa: F401

_ID_CHARS = "._:-"


def _check_device_id(device_id):
    if device_id.__class__ is not str or not 0 < len(device_id) <= 128:
        raise ValueError("device_id must be a str of 1-128 characters, got %r" % (device_id,))
    for c in device_id:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in _ID_CHARS):
            raise ValueError("device_id %r: character %r not allowed (A-Z a-z 0-9 . _ : -)" % (device_id, c))


def _choose(names, value, what):
    if value in names:
        return names[value]
    raise ValueError("%s must be one of %s, not %r" % (what, ", ".join(sorted(names)), value))


def _new_epoch():
    try:
        return int.from_bytes(os.urandom(4), "big")
    except (AttributeError, NotImplementedError):  # a port without os.urandom
        import random

        return random.getrandbits(32)


class Device:
    """A device: ``Device(device_id, resource=None, buffer=None, endpoint=None, key=None, transport=None,
    codec="msgpack", compression="auto", interval_s=60, max_series=64, max_spans=64, max_logs=64)``.

    - ``buffer``: where frames wait for upload; default ``RingBuffer(capacity=16384)`` in RAM.
    - ``endpoint``/``key``/``transport``: the gateway; with neither endpoint nor transport nothing is sent.
    - ``codec``: ``"msgpack"`` or ``"cbor"``; ``compression``: ``"auto"`` (best available), ``"zstd"``,
      ``"deflate"`` or ``"none"``.
    - ``max_series``: the default cardinality cap of every instrument.
    - ``max_spans``/``max_logs``: finished spans / log records kept per interval; more are dropped and
      counted (``litetel.device.spans.dropped``, ``litetel.device.logs.dropped``).

        dev = Device("sat-7", endpoint="https://gw.example:8443", key=b"secret")
        dev.meter("sensors").gauge("device.temperature", unit="Cel").set(41.5)
        dev.tick()      # from the application's loop: collects when interval_s has passed, uploads
    """

    _drop_reports = None  # drop_reports.DropReports, made with the first drop (an instance attribute then)

    def __init__(self, device_id, resource=None, buffer=None, endpoint=None, key=None, transport=None,
                 codec="msgpack", compression="auto", interval_s=60, max_series=64, max_spans=64, max_logs=64):
        from litetel import codecs
        from litetel import compression as _compression
        from litetel.frame import device_hash

        _check_device_id(device_id)
        self.device_id = device_id
        self.codec = _choose(codecs.NAMES, codec, "codec")
        if compression == "auto":
            self.compression = _compression.best_available()
        else:
            self.compression = _choose(_compression.NAMES, compression, "compression")
            if not _compression.can_compress(self.compression):  # e.g. zstd on MicroPython: fail now
                raise ValueError("compression %r is not available here" % (compression,))
        # What collect() needs is loaded now (the compressor was, by the checks above): on a MicroPython heap,
        # code loaded at the first collect finds it split by the series (the issue-2 scenario needed 12-19K more).
        codecs.implementation(self.codec)
        if interval_s.__class__ not in (int, float) or not interval_s > 0:
            raise ValueError("interval_s must be a number > 0, got %r" % (interval_s,))
        self.interval_s = interval_s
        self.max_series = max_series
        self.max_spans = max_spans
        self.max_logs = max_logs
        self.epoch = _new_epoch()
        self.device_hash = device_hash(device_id)
        if MICROPYTHON:
            self.dictionary = Dictionary(resource)
        else:  # held within a gateway's per-device limits, which a MicroPython heap runs out long before
            from litetel.epoch_limits import Dictionary as HeldDictionary

            self.dictionary = HeldDictionary(resource)
        if buffer is None:
            from litetel.ring_buffer import RingBuffer

            buffer = RingBuffer(capacity=16384)
        self.buffer = buffer
        self.buffer.on_drop = self._buffer_dropped
        self._meters = {}
        self._lock = new_lock()  # one collect at a time; guards the interval bounds
        self._start_wall = wall_us()
        self._start_ticks = self._last_collect_ticks = ticks_us()
        self._endpoint = endpoint
        self._key = key
        self._transport = transport
        self._uploader = None
        self._runner = None
        self._drop_reasons = {}  # reason -> series of litetel.device.frames.dropped, made with its first drop
        self._failed_collects = 0  # collect() calls that raised after taking their interval, not yet counted
        lost = getattr(self.buffer, "corrupt", 0)  # frames a file buffer found lost when it was opened
        if lost:
            self.count_drop("corrupt", lost)
        self._signals = {}  # "spans"/"logs" -> SignalBuffer, made with the first tracer/logger
        self._emitters = {}  # (kind, name, version) -> Tracer or Logger
        self._frame_room = 2048  # bytes reserved for the next uncompressed frame (MicroPython)

    def __repr__(self):
        return "<Device %s epoch=%d series=%d>" % (self.device_id, self.epoch, self.dictionary.series_count)

    def meter(self, name, version=None, max_series=None):
        """The ``Meter`` of instrumentation scope ``name`` (``version``): the same object for the same pair.

        ``max_series`` is the default cap of its instruments (the Device's when None).
        """
        key = (name, version or None)  # "" and None are one scope on the wire (Dictionary.add_scope): one Meter
        found = self._meters.get(key)
        if found is None:
            found = Meter(self.dictionary, name, version, self.max_series if max_series is None else max_series)
            found = self._meters.setdefault(key, found)
        return found

    def tracer(self, name, version=None, sampler=None):
        """The ``Tracer`` of scope ``name`` (``version``), the same object for the same pair; ``sampler``
        (``litetel.sampling``) applies when it is created. ``with dev.tracer("app").span("work"): ...``"""
        # Loaded on first use (a metrics-only device never pays), packed as the device modules are (accel.py).
        return import_packed("litetel.signals").emitter(self, "tracer", name, version, sampler)

    def logger(self, name, version=None):
        """The ``Logger`` of scope ``name`` (``version``). ``dev.logger("app").warning("battery low")``"""
        return import_packed("litetel.signals").emitter(self, "logger", name, version)

    # ------------------------------------------------------------------------------------ collecting

    def collect(self):
        """Close the interval: encode the recorded series into a frame, append it to ``buffer``, return it.

        Returns ``None`` (and the interval goes on) when nothing was recorded. A frame too large for the
        buffer is counted as dropped (``too_large``) and also gives ``None``, as does one a full
        ``reject_new`` buffer refused (counted ``buffer_full`` by the buffer).
        """
        lock = self._lock
        lock.acquire()
        try:
            sent = self.dictionary.mark()  # first: on CPython it refuses a Device inherited across a fork
            failed = self._failed_collects
            if failed:  # counted now, not when they failed: that could need the heap that ran out
                self.count_drop("collect_failed", failed)
                self._failed_collects = 0  # in the counter now: should this frame be lost, drop_reports recounts it
            try:
                frame = self._append_frame()
            except BaseException:
                # Raised once the points were being taken out of the instruments (on a small heap: a MemoryError
                # while encoding): the interval went with the frame, counted (and the drop reports it carried
                # again). Only the clock reads and two small lists come before the taking: one failing there
                # counts an interval that the next frame still carries. The dictionary entries did not go: the
                # next delta has them.
                self.dictionary.rewind(sent)
                self._failed_collects += 1
                if self._drop_reports is not None:
                    self._drop_reports.lost()
                raise
            if frame is not True:
                return frame
            # MicroPython: the frame was written into a buffer that went with _append_frame's frame (a called
            # function's locals and stack, unlike this one's, are freed when it returns, so no stale slot keeps
            # it or the payload alive): the bytes returned are copied from the ring into the room they left.
            return self.buffer.newest()
        finally:
            lock.release()

    def _append_frame(self):
        # The frame of the interval appended to the buffer -> the frame, None (nothing recorded, too large or
        # refused), or True when it is held only by the buffer (MicroPython, uncompressed).
        end_wall = wall_us()
        end_ticks = ticks_us()
        out = None
        if MICROPYTHON and self.compression == 0:
            # The frame's buffer made before the payload: one block low in free memory, where one grown while
            # encoding would hop between the payload's lists. Shortened in place to its header, it keeps the
            # rest as room to append into (MicroPython does not shrink it).
            from litetel.frame import HEADER_SIZE

            try:
                out = bytearray(self._frame_room)
                out[HEADER_SIZE:] = b""
            except MemoryError:  # no block that large: encode_frame grows its own
                out = None
        reports = self._drop_reports
        if reports is not None:  # forget the reports of the frames delivered since
            reports.settle(self.buffer)
        payload = self._build_payload(end_ticks)
        if payload is None:
            return None
        if reports is not None:
            reports.taken(payload[1])
        from litetel.errors import FrameTooLargeError
        from litetel.frame import FLAG_CLOCK_TICKS, encode_frame

        start_wall = self._start_wall
        # The wall clock when it was set for the whole interval and did not step back; else ticks.
        if end_wall is not None and start_wall is not None and start_wall <= end_wall:
            flags, start, end = 0, start_wall, end_wall
        else:
            flags, start, end = FLAG_CLOCK_TICKS, self._start_ticks, end_ticks
        self._start_wall = end_wall
        self._start_ticks = end_ticks
        frame = None
        while frame is None:
            try:
                frame = encode_frame(payload, self.codec, self.compression, self.device_hash, self.epoch,
                                     self.buffer.next_seq, start, end, flags, out)
                seq = self.buffer.append(frame)
            except FrameTooLargeError:
                frame = out = None
                # Spans or log records too large for the buffer never cost the interval's metrics their frame:
                # they are dropped (counted by their signal) and the frame is encoded again without them.
                if len(payload) > 2:
                    from litetel.signals import drop_signals

                    if drop_signals(self, payload):
                        continue
                self.count_drop("too_large", 1)
                seq = None
                break
        if reports is not None:
            if seq is None:  # too large, or refused by a full reject_new buffer
                reports.lost()
            else:
                reports.stored(seq)
        if seq is None:
            return None
        # The next frame's room: this one's size and a quarter (later frames rarely carry new names).
        self._frame_room = len(frame) + (len(frame) >> 2)
        return True if out is not None else frame

    def _build_payload(self, end_ticks=None):
        """``[dict_delta, points]`` of everything recorded since the last call (resetting it), or None;
        ``[dict_delta, points, spans, logs]`` once the device has a tracer or logger (wire format §2)."""
        points = []
        for inst in self.dictionary.instruments[:]:
            inst._collect(points)
        if self._signals:  # a tracer or logger exists: its spans or log records, and exemplars, join
            from litetel.signals import payload

            return payload(self, points, end_ticks)
        if not points:
            return None
        return [self.dictionary.delta(rows=True), points]

    def dictionary_refresh_frame(self):
        """A ``DICT_REFRESH`` frame holding the whole dictionary (wire format §3), for the uploader."""
        from litetel.frame import FLAG_DICT_REFRESH, encode_frame

        return encode_frame([self.dictionary.refresh(rows=True), []], self.codec, self.compression,
                            self.device_hash, self.epoch, 0, 0, 0, FLAG_DICT_REFRESH)

    def uses_wall_clock(self):
        """True when frames are stamped with the wall clock (it is set), False when with ticks."""
        return wall_us() is not None

    def count_drop(self, reason, n=1, seq=None):
        """Count ``n`` lost frames under ``reason`` (``litetel.device.frames.dropped``, wire format §2.3).

        ``seq``: the frame lost, when it was one of this device's buffer (the uploader's rejects): the drop
        reports it carried are counted again (``drop_reports.py``)."""
        handle = self._drop_reasons.get(reason)
        if handle is None:
            # The counter is made with the first drop: a device that never loses a frame never holds it.
            dropped = self.meter(SELF_SCOPE).counter(
                "litetel.device.frames.dropped", unit="{frame}", description="Frames the device lost, by reason")
            handle = dropped.bind({"reason": reason})
            self._loss_series(handle)
            self._drop_reasons[reason] = handle
        handle.add(n)
        if seq is not None:
            self._drop_reports.lost(seq)

    def _loss_series(self, handle):
        # handle counts losses (frames, spans, log records): the reports of it a frame carries are kept whole
        reports = self._drop_reports
        if reports is None:
            from litetel.drop_reports import DropReports

            reports = self._drop_reports = DropReports()
        reports.track(handle._inst._gids[handle._i], handle)

    def _buffer_dropped(self, reason, n):
        # The buffer's on_drop: n frames gone. The drop reports those frames carried are counted again now,
        # before an acknowledgement could move past their seqs (drop_reports.settle tells them apart by it).
        self.count_drop(reason, n)
        self._drop_reports.settle(self.buffer)

    # ------------------------------------------------------------------------------------- uploading

    @property
    def uploader(self):
        """The ``Uploader`` (created on first use), or None when the device has no endpoint or transport."""
        if self._uploader is None and (self._endpoint or self._transport is not None):
            from litetel.uploader import Uploader

            lock = self._lock
            lock.acquire()
            try:
                if self._uploader is None:
                    self._uploader = Uploader(self, endpoint=self._endpoint, key=self._key,
                                              transport=self._transport)
            finally:
                lock.release()
        return self._uploader

    def flush(self, timeout_s=None):
        """Upload the buffered frames now (within ``timeout_s``); -> frames acknowledged (0 without uploader)."""
        up = self.uploader
        return 0 if up is None else up.flush(timeout_s)

    def tick(self, timeout_s=0.5):
        """Call often from the application's loop: collects once ``interval_s`` has passed since the last
        collect ``tick()`` made (a manual ``collect()`` does not move that clock), then lets the uploader send
        what is due, taking at most ``timeout_s``; -> frames acknowledged. A collect that raises does not hold
        back the frames already buffered: they are sent first, then its exception is raised.
        """
        now = ticks_us()
        failed = None
        if now - self._last_collect_ticks >= self.interval_s * 1000000:
            self._last_collect_ticks = now  # a failing collect is retried an interval later, not every tick
            try:
                self.collect()
            except Exception as exc:  # noqa: BLE001 -- raised below, once the buffer had its chance to drain
                failed = exc
        up = self.uploader
        acked = 0 if up is None else up.tick(timeout_s)
        if failed is not None:
            raise failed
        return acked

    def start(self, interval_s=None):
        """Collect and upload from a background thread every ``interval_s`` (default: the device's).
        CPython only; on MicroPython run ``litetel.aio.run(dev)`` or call ``tick()`` from the main loop."""
        if self._runner is not None:
            return self._runner
        if MICROPYTHON:  # checked here: a board holds no CPython-only module, background.py included
            from litetel.errors import LitetelError

            raise LitetelError(
                "Device.start() needs threads (CPython): call tick() from the main loop or litetel.aio.run(dev)"
            )
        from litetel.background import start

        if interval_s is not None:
            self.interval_s = interval_s
        self._runner = start(self, self.interval_s)
        return self._runner

    def stop(self):
        """Stop the background thread; it collects and flushes one last time."""
        runner = self._runner
        if runner is not None:
            self._runner = None
            runner.stop()
