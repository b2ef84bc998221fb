"""A damaged ring-buffer file reopens without crashing and never returns damage as data (wire-format §5).

Each test is named after the failure it plants. The offsets come from the documented layout: file header at
0, state slot copies at 32 and 48, data from 64.
"""

import os
import random

import pytest
from ring_frames import fill, held, held_seqs, make_frame

from litetel.ring_buffer import DATA_OFFSET, RingBuffer

SLOT_A, SLOT_B = 32, 48
CAPACITY = 4096
HELD = list(range(23, 31))


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def frame_offset(path, seq):
    """Where the frame carrying `seq` starts in the file (its header holds device hash, epoch 7, seq)."""
    found = read_bytes(path).find(make_frame(seq)[8:24])
    assert found > 0, "frame %d is in the file" % seq
    return found - 8


def assert_sound(buf):
    """What every reopen guarantees: intact frames, strictly increasing seqs, next_seq beyond all of them."""
    frames = held(buf)
    seqs = [s for s, _ in frames]
    assert all(f == make_frame(s) for s, f in frames), "only intact frames come back"
    assert seqs == sorted(set(seqs)), "in strictly increasing seq order"
    assert all(s > buf.acked for s in seqs)
    assert buf.next_seq > max(seqs, default=buf.acked)
    assert buf.used == sum(len(f) for _, f in frames) <= buf.capacity - DATA_OFFSET
    return seqs


def reopen_and_use(path, capacity=CAPACITY):
    """Reopen, check soundness, then prove the buffer still works: append, wrap, reopen again."""
    with RingBuffer(capacity, path=path) as buf:
        seqs = assert_sound(buf)
        state = (buf.acked, buf.next_seq, buf.corrupt)
        first_new = buf.next_seq
        fill(buf, 30)
        after = assert_sound(buf)
        assert after[-1] == first_new + 29
    with RingBuffer(capacity, path=path) as again:
        assert assert_sound(again) == after
    assert os.path.getsize(path) == capacity
    return seqs, state


@pytest.fixture
def path(tmp_path):
    """A file buffer holding frames 23..30 (1..22 acked or dropped) after wrapping a few times."""
    p = str(tmp_path / "tel.rb")
    with RingBuffer(CAPACITY, path=p) as buf:
        fill(buf, 30)
        buf.ack(22)
        assert held_seqs(buf) == HELD
    return p


def test_torn_write_truncated_mid_record(path):
    offsets = {s: frame_offset(path, s) for s in HELD}
    last = max(HELD, key=offsets.get)  # the frame nearest the end of the file
    write_bytes(path, read_bytes(path)[: offsets[last] + 100])
    seqs, (acked, next_seq, corrupt) = reopen_and_use(path)
    survivors = [s for s in HELD if offsets[s] < offsets[last]]
    assert (seqs, acked) == (survivors, 22)
    assert next_seq == (31 if last < 30 else 30), "the newest surviving seq decides"
    assert corrupt == len(HELD) - len(survivors) - (1 if last == 30 else 0)


@pytest.mark.parametrize("needs_drop", [False, True], ids=["room", "after-drop"])
def test_torn_write_at_every_length(tmp_path, needs_drop):
    """An append cut off after any number of bytes: the buffer reopens as it was before that append
    (less the frames it had dropped to make room, which were committed before the write began)."""
    p = str(tmp_path / "tel.rb")
    with RingBuffer(CAPACITY, path=p) as buf:
        fill(buf, 30)
        buf.ack(20 if needs_drop else 28)
        before_seqs = held_seqs(buf)
        before = read_bytes(p)
        dropped = -buf.dropped
        buf.append(make_frame(31, 1500 if needs_drop else 200))
        dropped += buf.dropped
        floor_after = held_seqs(buf)[0]
    after = read_bytes(p)
    changed = [i for i in range(DATA_OFFSET, CAPACITY) if before[i] != after[i]]
    start, end = changed[0], changed[-1] + 1
    assert (dropped > 0) == needs_drop
    for k in range(0, end - start, 23):
        torn = bytearray(after[:DATA_OFFSET] + before[DATA_OFFSET:])  # slots as committed, data torn
        torn[start : start + k] = after[start : start + k]
        write_bytes(p, bytes(torn))
        with RingBuffer(CAPACITY, path=p) as buf:
            seqs = assert_sound(buf)
            assert seqs == [s for s in before_seqs if s >= floor_after], "torn after %d bytes" % k
            assert buf.next_seq == 31


def test_zeroed_region(path):
    start = frame_offset(path, 24) + 10
    end = frame_offset(path, 26) + 5
    patch(path, start, bytes(end - start))
    seqs, (acked, next_seq, corrupt) = reopen_and_use(path)
    assert seqs == [23, 27, 28, 29, 30]
    assert (acked, next_seq, corrupt) == (22, 31, 3)


def test_zeroed_data_region(path):
    patch(path, DATA_OFFSET, bytes(CAPACITY - DATA_OFFSET))
    seqs, state = reopen_and_use(path)
    assert seqs == [], "nothing left to return"
    # the slots survive: acked and the floor hold, no seq below the floor is reused; with no frame left there
    # is no newest seq to count the lost ones against (corrupt counts gaps below the newest survivor)
    assert state == (22, 23, 0)


@pytest.mark.parametrize("where", ["payload", "seq field", "length field", "crc field", "magic"])
def test_flipped_bit_in_record(path, where):
    at = (
        frame_offset(path, 25)
        + {"payload": 200, "seq field": 23, "length field": 42, "crc field": 46, "magic": 0}[where]
    )
    data = bytearray(read_bytes(path))
    data[at] ^= 0x04
    write_bytes(path, bytes(data))
    seqs, (acked, next_seq, corrupt) = reopen_and_use(path)
    assert seqs == [23, 24, 26, 27, 28, 29, 30]
    assert (acked, next_seq, corrupt) == (22, 31, 1)


def test_duplicated_record(path):
    """A second intact copy of a frame (e.g. writes reordered by a power loss) is returned once."""
    with RingBuffer(CAPACITY, path=path) as buf:
        buf.ack(28)
    patch(path, frame_offset(path, 23), make_frame(29))  # into freed room
    seqs, (acked, next_seq, corrupt) = reopen_and_use(path)
    assert (seqs, acked, next_seq, corrupt) == ([29, 30], 28, 31, 0)


@pytest.mark.parametrize("slot", [SLOT_A, SLOT_B], ids=["copy-A", "copy-B"])
@pytest.mark.parametrize("byte", [0, 5, 11])
def test_flipped_bit_in_ack_slot(path, slot, byte):
    data = bytearray(read_bytes(path))
    data[slot + byte] ^= 0x80
    write_bytes(path, bytes(data))
    seqs, state = reopen_and_use(path)
    assert (seqs, state) == (HELD, (22, 31, 0)), "the other copy keeps the state"


def test_torn_write_of_the_ack_slot(path):
    """ack() writes copy A then copy B: cut anywhere, the state is the old one or the new one, never less."""
    before = read_bytes(path)
    with RingBuffer(CAPACITY, path=path) as buf:
        buf.ack(25)
    after = read_bytes(path)
    for k in range(2 * 16 + 1):  # bytes of the two copies written so far, in order
        torn = bytearray(before)
        torn[SLOT_A : SLOT_A + k] = after[SLOT_A : SLOT_A + k]
        write_bytes(path, bytes(torn))
        with RingBuffer(CAPACITY, path=path) as buf:
            assert_sound(buf)
            assert buf.acked in (22, 25)
            assert held_seqs(buf) == list(range(buf.acked + 1, 31))
            if k >= 12:  # copy A complete
                assert buf.acked == 25


def test_garbage_file(tmp_path):
    p = str(tmp_path / "tel.rb")
    write_bytes(p, random.Random(7).randbytes(CAPACITY))
    seqs, state = reopen_and_use(p)
    assert (seqs, state) == ([], (0, 1, 0))


@pytest.mark.parametrize("size", [0, 10, 63, 100, 9000])
def test_garbage_file_of_any_size(tmp_path, size):
    p = str(tmp_path / "tel.rb")
    write_bytes(p, random.Random(size).randbytes(size))
    seqs, _ = reopen_and_use(p)
    assert seqs == []


def test_damaged_file_header(path):
    patch(path, 9, b"\xff")  # inside the capacity field: the header CRC fails
    seqs, (acked, next_seq, _) = reopen_and_use(path)
    assert (seqs, acked, next_seq) == (HELD, 22, 31), "slots and frames do not need the header"


def test_file_of_wrong_capacity_larger(path):
    """Reopened with a larger capacity: everything is kept, the file is extended, wrapping stays correct."""
    seqs, (acked, next_seq, corrupt) = reopen_and_use(path, capacity=8192)
    assert (seqs, acked, next_seq, corrupt) == (HELD, 22, 31, 0)
    with RingBuffer(8192, path=path) as buf:
        fill(buf, 100)
        assert_sound(buf)


def test_file_of_wrong_capacity_smaller(path):
    """Reopened with a smaller capacity: frames past the new end are lost (counted), seqs never repeat."""
    seqs, (acked, next_seq, corrupt) = reopen_and_use(path, capacity=1024)
    assert next_seq == 31 and acked == 22
    assert corrupt == len(HELD) - len(seqs)
    assert set(seqs) <= set(HELD)


def test_random_damage_never_crashes_or_returns_damage(tmp_path):
    """Random histories, then random damage (zeroed runs, flipped bits, truncation): every reopen is sound."""
    rng = random.Random(2024)
    p = str(tmp_path / "tel.rb")
    for case in range(36):
        if os.path.exists(p):
            os.remove(p)
        with RingBuffer(2048, path=p) as buf:
            for _ in range(rng.randrange(1, 30)):
                buf.append(make_frame(buf.next_seq))
                if rng.random() < 0.3:
                    buf.ack(rng.randrange(buf.acked, buf.next_seq))
            acked, next_seq = buf.acked, buf.next_seq
        data = bytearray(read_bytes(p))
        kind = case % 3
        if kind == 0:
            at = rng.randrange(DATA_OFFSET, len(data))
            n = min(rng.randrange(1, 400), len(data) - at)
            data[at : at + n] = bytes(n)
        elif kind == 1:
            for _ in range(rng.randrange(1, 8)):
                data[rng.randrange(DATA_OFFSET, len(data))] ^= 1 << rng.randrange(8)
        else:
            del data[rng.randrange(DATA_OFFSET, len(data)) :]
        write_bytes(p, bytes(data))
        with RingBuffer(2048, path=p) as buf:
            assert_sound(buf)
            assert buf.acked == acked, "slots were not damaged"
            assert buf.next_seq <= next_seq
