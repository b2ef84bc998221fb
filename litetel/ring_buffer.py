"""RingBuffer: frames kept until the platform acknowledges them, in RAM or in a file that survives power loss.

    buf = RingBuffer(capacity=8192)                          # RAM: one preallocated bytearray
    buf = RingBuffer(capacity=65536, path="/flash/tel.rb")   # a preallocated file of exactly `capacity` bytes
    seq = buf.append(frame)          # the frame's header carries buf.next_seq
    for seq, frame in buf.read():    # oldest unacknowledged first; nothing is removed
        send(frame)
    buf.ack(seq)                     # frees every frame with seq <= seq

The file form's layout, recovery and write pattern (docs/wire-format.md §5) live in ``ring_buffer_file``,
imported only when ``path`` is given: a RAM buffer on a 64 KB MicroPython heap never loads them.
"""

from array import array

from litetel import accel
from litetel.errors import FrameError, FrameTooLargeError

HEADER = 48  # frame header size, wire-format §1
FILE_MAGIC = b"LTRB"  # a ring buffer file starts with it (wire-format §5.1)
DATA_OFFSET = 64  # where a file's data region starts; a RAM buffer's starts at 0


def _zeros(n):
    # 'I' is 4 bytes on every port, and updating an 'I' array does not allocate on MicroPython
    return array("I", [0] * n)


class RingBuffer:
    """Frames awaiting acknowledgement, oldest first, in fixed RAM or flash. policy: drop_oldest|reject_new.

    Read-only: next_seq, pending (frames), used (bytes), capacity, acked, dropped, corrupt (lost at reopen).
    Set on_drop to a callable(reason, n): called with ("buffer_full", n) for every append that drops.
    """

    def __init__(self, capacity=8192, path=None, policy="drop_oldest"):
        if policy not in ("drop_oldest", "reject_new"):
            raise ValueError("policy must be 'drop_oldest' or 'reject_new', not %r" % (policy,))
        start = 0 if path is None else DATA_OFFSET
        if capacity < start + HEADER:
            raise ValueError("capacity %d cannot hold a single frame" % capacity)
        self.capacity = capacity
        self.path = path
        self.policy = policy
        self.on_drop = None
        self.next_seq = 1
        self.pending = self.used = self.acked = self.dropped = self.corrupt = 0
        self._lock = accel.new_lock()
        self._start = self._tail = start  # data region [_start, capacity); _tail: where the next frame goes
        # The index of held frames: a ring of (offset, seq, length) triples in one array (one allocation, not
        # three: on MicroPython each costs a header and a rounded-up block), doubled when full up to the most
        # frames the buffer can hold. It starts with room for 8, where a link that is up keeps 1 or 2.
        self._limit = (capacity - start) // HEADER + 1
        self._slots = min(self._limit, 8)
        self._ring = _zeros(3 * self._slots)
        self._first = 0
        self._file = None
        if path is None:
            self._mem = memoryview(bytearray(capacity))
        else:
            from litetel.ring_buffer_file import open_file

            self._file = open_file(self, path)

    def append(self, frame):
        """Store an intact frame carrying next_seq -> its seq, or None when full and rejected."""
        seq = _frame_seq(frame)
        n = len(frame)
        # A file verifies the CRC: a damaged frame would otherwise vanish at the next reopen. In RAM the check
        # would allocate per append (memoryview slices); the gateway still rejects a bad CRC, counted.
        if self._file is not None and not self._file.crc_matches(frame):
            raise FrameError("frame seq %d fails its CRC" % seq)
        room = self.capacity - self._start
        if n > room:
            raise FrameTooLargeError("a %d-byte frame does not fit in %d data bytes" % (n, room))
        lost = 0
        self._lock.acquire()  # not `with`: on MicroPython's append path a call fewer
        try:
            if seq != self.next_seq:
                raise ValueError("frame carries seq %d, the buffer's next_seq is %d" % (seq, self.next_seq))
            off = self._place(n)
            if off >= 0 and self.pending == self._slots and not self._grow_index():
                off = -1  # no heap for a larger index: as full as when out of bytes
            if off < 0 and self.policy == "reject_new":
                lost = 1
                seq = None
            else:
                while off < 0:
                    self._pop()
                    lost += 1
                    off = self._place(n)
                if lost:  # persist the new floor first: a crash mid-write cannot resurrect dropped frames
                    self._save()
                self._write(off, frame)
                self._index(off, seq, n)
        finally:
            # Counted even when the save or write raised: the frames popped above are gone either way.
            self.dropped += lost
            self._lock.release()
            if lost and self.on_drop is not None:
                self.on_drop("buffer_full", lost)
        return seq

    def read(self, max_bytes=16384, max_frames=32):
        """[(seq, frame_bytes), ...] oldest first; at least one even over max_bytes. Removes nothing."""
        out = []
        total = 0
        self._lock.acquire()
        try:
            ring = self._ring
            for i in range(min(self.pending, max_frames)):
                k = 3 * ((self._first + i) % self._slots)
                n = ring[k + 2]
                if out and total + n > max_bytes:
                    break
                out.append((ring[k + 1], self._read(ring[k], n)))
                total += n
        finally:
            self._lock.release()
        return out

    def newest(self):
        """The newest frame held (bytes: what the last successful ``append`` stored), or None when empty."""
        self._lock.acquire()
        try:
            if not self.pending:
                return None
            k = 3 * ((self._first + self.pending - 1) % self._slots)
            return self._read(self._ring[k], self._ring[k + 2])
        finally:
            self._lock.release()

    def first_seq(self):
        """The seq of the oldest frame held (``next_seq`` when none is)."""
        return self._ring[3 * self._first + 1] if self.pending else self.next_seq

    def ack(self, seq):
        """Free every frame with seq <= `seq` (persisted before returning)."""
        self._lock.acquire()
        try:
            seq = min(seq, self.next_seq - 1)
            if seq > self.acked:
                # acked first: a reader on another thread (drop_reports.settle, unlocked) that sees a frame gone
                # must find it acknowledged, not take it for a dropped one and count its reports again.
                self.acked = seq
                while self.pending and self._ring[3 * self._first + 1] <= seq:
                    self._pop()
                self._save()
        finally:
            self._lock.release()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<RingBuffer %s capacity=%d pending=%d used=%d next_seq=%d>" % (
            self.path or "RAM",
            self.capacity,
            self.pending,
            self.used,
            self.next_seq,
        )

    def _place(self, n):
        """Where n bytes fit without dropping, else -1. Frames never straddle the end."""
        t = self._tail
        if not self.pending:
            return t if t + n <= self.capacity else self._start
        h = self._ring[3 * self._first]
        if t > h:
            if t + n <= self.capacity:
                return t
            return self._start if self._start + n <= h else -1
        return t if t < h and t + n <= h else -1  # t == h with frames held: the circle is full

    def _index(self, off, seq, n):
        if self.pending == self._slots and not self._grow_index():
            raise MemoryError("no heap to index %d frames" % (self.pending + 1))
        k = 3 * ((self._first + self.pending) % self._slots)
        ring = self._ring
        ring[k] = off
        ring[k + 1] = seq
        ring[k + 2] = n
        self.pending += 1
        self.used += n
        self._tail = off + n
        self.next_seq = seq + 1

    def _grow_index(self):
        # Double the index (oldest frame moved to slot 0) -> False when there is no heap for it. It always gains
        # a slot: fewer than _limit frames fit in the data region (each is at least HEADER bytes).
        size = self._slots
        new = min(2 * size, self._limit)
        try:
            ring = _zeros(3 * new)
        except MemoryError:
            return False
        old = self._ring
        for i in range(3 * size):
            ring[i] = old[(3 * self._first + i) % (3 * size)]
        self._ring = ring
        self._slots = new
        self._first = 0
        return True

    def _pop(self):
        self.used -= self._ring[3 * self._first + 2]
        self._first = (self._first + 1) % self._slots
        self.pending -= 1

    def _write(self, off, data):
        if self._file is None:
            self._mem[off : off + len(data)] = data
        else:
            self._file.write(off, data)

    def _read(self, off, n):
        if self._file is None:
            return bytes(self._mem[off : off + n])
        return self._file.read(off, n)

    def _save(self):
        # floor: the lowest seq still held; everything below is acked or dropped.
        if self._file is not None:
            self._file.save(self.acked, self._ring[3 * self._first + 1] if self.pending else self.next_seq)


def _u32(b, i):
    # big-endian u32 without the tuple struct.unpack_from allocates
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def _frame_seq(frame):
    # The seq of a whole v1 frame, else FrameError. Reads bytes one by one: nothing allocated.
    n = len(frame)
    if n < HEADER or frame[0] != 76 or frame[1] != 84 or frame[2] != 1:  # b"LT", version 1
        raise FrameError("not a litetel v1 frame (%d bytes)" % n)
    if frame[3] & 2:
        raise FrameError("a DICT_REFRESH frame is never stored in a ring buffer")
    if n != HEADER + _u32(frame, 40):
        raise FrameError("frame is %d bytes but its header says %d" % (n, HEADER + _u32(frame, 40)))
    return _u32(frame, 20)
