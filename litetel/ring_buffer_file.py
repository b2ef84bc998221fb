"""The file form of ``RingBuffer``: its layout, state slots and recovery at open (docs/wire-format.md §5).

``RingBuffer(capacity, path=...)`` imports this module; a RAM buffer never does (on a 64 KB MicroPython heap
the recovery code is RAM a RAM buffer does not need). ``open_file`` opens or creates the preallocated file,
scans it for intact frames (a full scan: no pointer is trusted), indexes them into the buffer and returns the
``BufferFile`` the buffer then reads and writes through.

    >>> from litetel.ring_buffer import RingBuffer
    >>> buf = RingBuffer(capacity=4096, path="/tmp/doc.rb")   # calls open_file(buf, "/tmp/doc.rb")
    >>> buf.corrupt                                          # frames found lost at open
    0
"""

import binascii
import os
import struct
from array import array

from litetel.ring_buffer import DATA_OFFSET, FILE_MAGIC, HEADER

_MAGIC = b"LT\x01"  # frame magic + version 1: what the recovery scan searches for
_HEADER_FMT = ">4sB3xII"  # file header: magic, version 1, capacity, data offset; then its crc32 (20 bytes)
_SLOTS = (32, 48)  # two copies of the state slot: acked u32, floor u32, crc32
_CHUNK = 512  # bytes read at a time while scanning: bounded RAM on small devices


class BufferFile:
    """The open file behind a ``RingBuffer``: positioned reads and durable writes, and the state slots."""

    def __init__(self, path):
        self.path = path
        try:
            self.f = open(path, "r+b")  # noqa: SIM115 (open for the buffer's lifetime)
        except OSError:
            open(path, "wb").close()  # MicroPython's "r+b" cannot create
            self.f = open(path, "r+b")  # noqa: SIM115 (open for the buffer's lifetime)

    def write(self, off, data):
        f = self.f
        f.seek(off)
        f.write(data)
        f.flush()
        if hasattr(os, "fsync"):  # MicroPython has none; its flush reaches the filesystem
            os.fsync(f.fileno())

    def read(self, off, n):
        self.f.seek(off)
        return self.f.read(n)

    def save(self, acked, floor):
        """Persist ``acked`` and ``floor`` (the lowest seq still held) in both state slots."""
        # One copy after the other: a torn write or a flipped bit damages at most one.
        slot = _with_crc(struct.pack(">II", acked, floor))
        for at in _SLOTS:
            self.write(at, slot)

    def crc_matches(self, frame):
        """True when a whole frame's CRC is right (a damaged frame would otherwise vanish at the next reopen)."""
        mv = memoryview(frame)
        crc = binascii.crc32(mv[HEADER:], binascii.crc32(mv[:44]))
        return crc == struct.unpack_from(">I", frame, 44)[0]

    def close(self):
        self.f.close()


def open_file(buf, path):
    """Open or create ``buf``'s file, recover its frames into ``buf`` (wire-format §5.3); the ``BufferFile``."""
    file = buf._file = BufferFile(path)
    head = file.read(0, DATA_OFFSET)
    old = _file_capacity(head) or 0  # 0: new or damaged header
    limit = min(os.stat(path)[6], max(old, buf.capacity))
    # The most advanced intact copy of the state slot; (0, 1) when neither is intact.
    buf.acked, floor = 0, 1
    for at in _SLOTS:
        if _crc_ok(head[at:], 12):
            acked, fl = struct.unpack_from(">II", head, at)
            if acked < fl and (fl, acked) > (floor, buf.acked):
                buf.acked, floor = acked, fl
    found = _scan(buf, floor, limit)
    if old != buf.capacity:
        file.write(0, _with_crc(struct.pack(_HEADER_FMT, FILE_MAGIC, 1, buf.capacity, DATA_OFFSET)))
    size = os.stat(path)[6]
    while size < buf.capacity:  # preallocate: the file never grows after this
        n = min(_CHUNK, buf.capacity - size)
        file.write(size, bytes(n))
        size += n
    if size > buf.capacity and hasattr(file.f, "truncate"):  # MicroPython files cannot shrink
        file.f.truncate(buf.capacity)
    _rebuild(buf, floor, *found)
    return file


def _scan(buf, floor, limit):
    # Every intact frame with seq >= floor before `limit`: a full scan trusts no pointer. The limit covers an
    # old, larger capacity too, so a shrunk buffer's next_seq still passes every seq the file held.
    offs, seqs, lens = array("I"), array("I"), array("I")
    pos = buf._start
    read = buf._file.read
    while pos + HEADER <= limit:
        chunk = read(pos, min(_CHUNK, limit - pos))
        i = chunk.find(_MAGIC)
        if i < 0:
            pos += len(chunk) - 2  # the magic may straddle two chunks
            continue
        pos += i
        found = _intact_at(read, pos, floor, limit)
        if found:
            offs.append(pos)
            seqs.append(found[0])
            lens.append(found[1])
            pos += found[1]  # no other live frame starts inside this one
        else:
            pos += 1
    return offs, seqs, lens


def _rebuild(buf, floor, offs, seqs, lens):
    # Index the frames in seq order. Live frames lie one after another around the circle from the oldest; a
    # frame that breaks this (or lies past a shrunk capacity) is damage.
    region = buf.capacity - buf._start
    base = reach = top = 0
    for i in sorted(range(len(seqs)), key=lambda j: seqs[j]):
        top = seqs[i]
        if not buf.pending:
            base = offs[i]
        rel = (offs[i] - base) % region
        fits = offs[i] + lens[i] <= buf.capacity and reach <= rel <= region - lens[i]
        if fits and seqs[i] >= buf.next_seq:  # a seq already indexed is a copy: seqs strictly increase
            buf._index(offs[i], seqs[i], lens[i])
            reach = rel + lens[i]
    buf.next_seq = max(floor, top + 1)
    buf.corrupt = buf.next_seq - floor - buf.pending  # seqs missing between floor and the newest
    buf._save()


def _intact_at(read, off, floor, limit):
    # (seq, length) of the intact frame at `off` when its seq >= floor, else None
    head = read(off, HEADER)
    if len(head) < HEADER:
        return None
    (seq,) = struct.unpack_from(">I", head, 20)
    plen, crc = struct.unpack_from(">II", head, 40)
    n = HEADER + plen
    if seq < floor or off + n > limit:
        return None
    running = binascii.crc32(head[:44])
    done = HEADER
    while done < n:
        piece = read(off + done, min(_CHUNK, n - done))
        if not piece:
            return None
        running = binascii.crc32(piece, running)
        done += len(piece)
    return (seq, n) if running == crc else None


def _crc_ok(data, n):
    # True when the n-byte record at the start of `data` ends with the crc32 of the bytes before it
    return len(data) >= n and struct.unpack_from(">I", data, n - 4)[0] == binascii.crc32(data[: n - 4])


def _with_crc(data):
    return data + struct.pack(">I", binascii.crc32(data))


def _file_capacity(head):
    # The capacity recorded in an intact file header, else None
    if not _crc_ok(head, 20):
        return None
    magic, version, capacity, data_offset = struct.unpack_from(_HEADER_FMT, head, 0)
    return capacity if magic == FILE_MAGIC and version == 1 and data_offset == DATA_OFFSET else None
