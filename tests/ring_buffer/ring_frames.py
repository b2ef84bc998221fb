"""Frames for the ring-buffer tests: content is a function of the seq, so any byte out of place is visible."""

from litetel.frame import iter_frames, pack_frame  # noqa: F401  (iter_frames: the independent CRC check)

DEVICE_HASH = b"\x01\x02\x03\x04\x05\x06\x07\x08"


def size_for(seq):
    """A varied but reproducible frame size (60..599 bytes), so records wrap at every possible offset."""
    return 60 + (seq * 7919) % 540


def make_frame(seq, size=None, epoch=7):
    """A valid frame of exactly `size` bytes (default size_for(seq)) carrying `seq`."""
    size = size_for(seq) if size is None else size
    payload = bytes((seq * 31 + i) & 0xFF for i in range(size - 48))
    return pack_frame(0, 0, 0, DEVICE_HASH, epoch, seq, seq * 1000, seq * 1000 + 999, payload)


def held(buf):
    """Every (seq, frame) the buffer holds, oldest first."""
    return buf.read(max_bytes=1 << 30, max_frames=1 << 30)


def held_seqs(buf):
    return [seq for seq, _ in held(buf)]


def fill(buf, count, size=None):
    """Append `count` frames carrying the buffer's next seqs; returns their seqs."""
    return [buf.append(make_frame(buf.next_seq, size)) for _ in range(count)]
