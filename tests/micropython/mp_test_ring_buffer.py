# heapsize: 64K
# The ring buffer on the real MicroPython: an 8 KB RAM buffer (append/read/ack/wrap/drop counts, no heap
# allocation per append) and a file buffer in /tmp that is reopened.
# Heap, measured on this 64-bit unix port with the runner's precompiled .mpy modules: passes at 56K (peak
# ≈39 KB allocated, ≈28 KB of it this script's own compiled code and the two modules). It needed 80K while the
# RAM buffers stayed alive during the file part: their 9 KB left no contiguous 4 KB for reading the file.
# Frames are packed here (wire-format §1), not with litetel.frame, to keep codec imports out of the budget.
import binascii
import gc
import os
import struct

from mpcheck import check, check_eq, done, raises

from litetel.errors import FrameError, FrameTooLargeError
from litetel.ring_buffer import RingBuffer


def frame(seq, size=100):
    payload = bytearray(size - 48)
    for i in range(len(payload)):
        payload[i] = (seq + i) & 0xFF
    head = struct.pack(">2sBBBBH8sIIQQI", b"LT", 1, 0, 0, 0, 0, b"12345678", 7, seq, 0, 0, len(payload))
    return head + struct.pack(">I", binascii.crc32(payload, binascii.crc32(head))) + payload


def seqs(buf):
    return [s for s, _ in buf.read(max_bytes=1 << 20, max_frames=1000)]


# ---- RAM: append, read, ack, reuse
buf = RingBuffer(capacity=8192)
check_eq(buf.next_seq, 1, "a new buffer starts at seq 1")
for i in range(1, 11):
    check_eq(buf.append(frame(buf.next_seq, 200)), i, "append returns the seq")
check_eq((buf.pending, buf.used), (10, 2000), "ten 200-byte frames held")
got = buf.read(max_bytes=450, max_frames=32)
check_eq([s for s, _ in got], [1, 2], "read stops at max_bytes")
check_eq(got[0][1], frame(1, 200), "read returns the frame's bytes")
check_eq(len(buf.read(max_bytes=10)), 1, "read returns one frame even over max_bytes")
buf.ack(4)
check_eq(seqs(buf), [5, 6, 7, 8, 9, 10], "ack frees seq <= 4")
buf.ack(2)
check_eq(buf.acked, 4, "acking backwards is a no-op")
raises(ValueError, buf.append, frame(3, 200))
raises(FrameError, buf.append, frame(11, 200)[:150])

# ---- RAM: wrap many times with drop_oldest; counts and content stay right, append does not eat the heap
drops = [0, 0, 0]  # on_drop calls, frames reported, calls with another reason


def on_drop(reason, n):
    drops[0] += 1
    drops[1] += n
    if reason != "buffer_full":
        drops[2] += 1


buf.on_drop = on_drop
grew = before = 0  # globals created before measuring: a new global grows the dict
for _ in range(400):
    f = frame(buf.next_seq, 300)
    gc.collect()
    before = gc.mem_free()
    buf.append(f)
    if buf.dropped:  # full: the index has grown to the most frames this buffer holds (it starts with 8)
        grew = max(grew, before - gc.mem_free())
check(grew == 0, "a full buffer's append allocates nothing (%d bytes)" % grew)
check_eq(buf.next_seq, 411, "400 more frames appended")
held = seqs(buf)
check_eq(held, list(range(411 - len(held), 411)), "the newest frames are held, in order")
check(buf.used <= 8192 and len(held) == buf.pending and len(held) >= 8192 // 300 - 1, "the buffer stays full")
check_eq(buf.dropped, drops[1], "dropped matches the on_drop reports")
check(drops[0] > 0 and drops[2] == 0, "on_drop was called, always with reason buffer_full")
check_eq(drops[1] + len(held), 406, "every frame is held, acked (4) or counted dropped")
for s, f in buf.read(max_frames=3):
    check_eq(f, frame(s, 300), "content intact after wrapping")
buf.ack(buf.next_seq - 1)
check_eq((buf.pending, buf.used), (0, 0), "everything acked")

# ---- RAM: reject_new refuses when full and counts it
rej = RingBuffer(capacity=1000, policy="reject_new")
for _ in range(3):
    rej.append(frame(rej.next_seq, 300))
check_eq(rej.append(frame(4, 300)), None, "a full reject_new buffer refuses")
check_eq((rej.dropped, rej.next_seq, seqs(rej)), (1, 4, [1, 2, 3]), "the refusal is counted; seq not used")
rej.ack(1)
check_eq(rej.append(frame(4, 300)), 4, "accepted again after an ack")
raises(FrameTooLargeError, rej.append, frame(5, 1001))

del buf, rej, held, got, f  # done with the RAM buffers: a device has one buffer, not three
gc.collect()

# ---- file: survives reopen, never grows, acked state persists
path = "/tmp/mp_test_ring_buffer.rb"
try:
    os.remove(path)
except OSError:
    pass
fb = RingBuffer(capacity=4096, path=path)
for _ in range(60):
    fb.append(frame(fb.next_seq, 150))
fb.ack(50)
bad = bytearray(frame(61, 150))
bad[60] ^= 1
raises(FrameError, fb.append, bytes(bad))
before = seqs(fb)
fb.close()
check_eq(os.stat(path)[6], 4096, "the file is exactly its capacity")
fb = RingBuffer(capacity=4096, path=path)
check_eq((fb.acked, fb.next_seq, seqs(fb)), (50, 61, before), "reopen restores acked, next_seq and frames")
for s, f in fb.read(max_frames=100):
    check_eq(f, frame(s, 150), "file frames intact")
fb.close()
# zero 20 bytes inside frame 55: it is skipped and counted, the others survive
with open(path, "r+b") as f:
    at = f.read().find(b"12345678" + struct.pack(">II", 7, 55)) - 8
    check(at > 64, "frame 55 found in the file")
    f.seek(at + 60)
    f.write(bytes(20))
fb = RingBuffer(capacity=4096, path=path)
check_eq((seqs(fb), fb.corrupt), ([s for s in before if s != 55], 1), "a damaged frame skipped, counted")
fb.close()
os.remove(path)
done()
