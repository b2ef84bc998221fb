"""An append whose write fails after it pushed out the oldest frames (an I/O error; on littlefs, ENOSPC on a full
flash: copy-on-write needs free blocks even in a preallocated file). The frames it popped are gone for good,
below the persisted floor where a reopen cannot see them: the buffer still counts them (``dropped``,
``on_drop``), so the device reports them in ``litetel.device.frames.dropped{reason="buffer_full"}``."""

import os

from litetel.frame import device_hash, pack_frame
from litetel.ring_buffer import RingBuffer


def frame(seq, size=300):
    return pack_frame(0, 0, 0, device_hash("d"), 7, seq, seq, seq, bytes(size - 48))


def test_frames_dropped_by_an_append_whose_write_fails_are_counted(tmp_path):
    path = str(tmp_path / "tel.rb")
    buf = RingBuffer(1024, path=path)  # 960 data bytes: three 300-byte frames
    drops = []
    buf.on_drop = lambda reason, n: drops.append((reason, n))
    for seq in (1, 2, 3):
        assert buf.append(frame(seq)) == seq

    real_write = buf._file.write

    def failing_write(off, data):
        if off >= 64:  # the frame write (the state slots, at 32 and 48, still go through)
            raise OSError(5, "Input/output error")
        real_write(off, data)

    buf._file.write = failing_write
    try:
        buf.append(frame(4))
    except OSError:
        pass
    buf._file.write = real_write

    held = [s for s, _ in buf.read(1 << 20, 100)]
    assert held == [2, 3]  # frame 1 is gone ...
    assert buf.dropped == 1, "... and counted by the buffer"
    assert drops == [("buffer_full", 1)], "... and reported through on_drop"
    buf.close()
    with RingBuffer(1024, path=path) as again:  # nor does a reopen see it as missing
        assert [s for s, _ in again.read(1 << 20, 100)] == [2, 3] and again.corrupt == 0
    os.remove(path)


def test_device_reports_the_frames_lost_to_a_failed_append(tmp_path):
    import pytest
    from test_device import drops_in

    from litetel.device import Device

    dev = Device("d-io", buffer=RingBuffer(capacity=1024, path=str(tmp_path / "dev.rb")), compression="none")
    g = dev.meter("m").gauge("g")
    g.set(0)
    dev.collect()
    dev.buffer.ack(dev.buffer.next_seq - 1)  # the frame with the dictionary delivered
    while True:  # fill the buffer, without dropping, until the next frame cannot fit
        g.set(1)
        dev.collect()
        assert dev.buffer.dropped == 0
        if dev.buffer._place(len(dev.buffer.newest())) < 0:
            break
    held = dev.buffer.pending
    real_write = dev.buffer._file.write

    def failing_write(off, data):
        if off >= 64:  # the frame's write fails; the state slots (32, 48) go through
            raise OSError(5, "Input/output error")
        real_write(off, data)

    dev.buffer._file.write = failing_write
    g.set(2)
    with pytest.raises(OSError):
        dev.collect()
    dev.buffer._file.write = real_write
    popped = held - dev.buffer.pending
    assert popped >= 1  # the oldest frame(s), pushed out for a frame that was never stored
    dev.buffer.ack(dev.buffer.next_seq - 1)  # the rest delivered
    g.set(3)
    got = drops_in(dev, dev.collect())
    assert got.get("collect_failed") == 1  # the failed collect's own interval is reported ...
    assert got.get("buffer_full") == popped, got  # ... and so are the frame(s) it pushed out
