"""RingBuffer behaviour, RAM and file alike: append/read/ack, reuse, wraparound, policies, limits, reopen."""

import os

import pytest
from ring_frames import fill, held, held_seqs, make_frame

from litetel.errors import FrameError, FrameTooLargeError
from litetel.ring_buffer import DATA_OFFSET, RingBuffer


@pytest.fixture(params=["ram", "file"])
def new_buffer(request, tmp_path):
    """new_buffer(capacity, policy="drop_oldest") in RAM or in a file, closed at teardown."""
    made = []

    def make(capacity, policy="drop_oldest"):
        path = None if request.param == "ram" else str(tmp_path / "tel.rb")
        # the file header takes DATA_OFFSET bytes: both kinds get the same data room
        buf = RingBuffer(capacity + (0 if path is None else DATA_OFFSET), path=path, policy=policy)
        made.append(buf)
        return buf

    yield make
    for buf in made:
        buf.close()


def test_append_read_ack_and_reuse(new_buffer):
    buf = new_buffer(1000)
    assert (buf.next_seq, buf.pending, buf.used) == (1, 0, 0)
    assert fill(buf, 4, size=200) == [1, 2, 3, 4]
    assert (buf.next_seq, buf.pending, buf.used) == (5, 4, 800)
    assert held(buf) == [(s, make_frame(s, 200)) for s in (1, 2, 3, 4)]
    assert held(buf) == held(buf), "read removes nothing"
    buf.ack(2)
    assert (held_seqs(buf), buf.used, buf.acked) == ([3, 4], 400, 2)
    assert fill(buf, 3, size=200) == [5, 6, 7]  # the freed room is used again
    assert held_seqs(buf) == [3, 4, 5, 6, 7]
    assert buf.dropped == 0


def test_read_limits(new_buffer):
    buf = new_buffer(2000)
    fill(buf, 5, size=100)
    assert [s for s, _ in buf.read(max_bytes=250)] == [1, 2]
    assert [s for s, _ in buf.read(max_frames=3)] == [1, 2, 3]
    assert [s for s, _ in buf.read(max_bytes=10)] == [1], "one frame even when it exceeds max_bytes"
    assert RingBuffer(100).read() == []


def test_newest_is_the_last_frame_stored(new_buffer):
    buf = new_buffer(1000)
    assert buf.newest() is None
    fill(buf, 2, size=300)
    assert buf.newest() == make_frame(2, 300)
    fill(buf, 2, size=300)  # the third frame wraps: the oldest is dropped, the newest is the last appended
    assert (buf.newest(), held_seqs(buf)) == (make_frame(4, 300), [2, 3, 4])
    buf.ack(4)
    assert buf.newest() is None
    assert buf.append(bytearray(make_frame(5, 100))) == 5, "a bytearray frame (Device.collect's) is stored"
    assert buf.newest() == make_frame(5, 100) and isinstance(buf.newest(), bytes)


def test_index_grows_past_its_first_size(new_buffer):
    buf = new_buffer(60 * 100)  # room for 100 frames of 60 bytes: the index starts at 8 and doubles
    assert fill(buf, 100, size=60) == list(range(1, 101))
    assert held(buf) == [(s, make_frame(s, 60)) for s in range(1, 101)]
    buf.ack(90)
    assert fill(buf, 5, size=60) == list(range(101, 106))
    assert held_seqs(buf) == list(range(91, 106))


@pytest.mark.parametrize("policy", ["drop_oldest", "reject_new"])
def test_an_index_that_cannot_grow_makes_the_buffer_full(new_buffer, monkeypatch, policy):
    # The index starts with room for 8 frames and doubles; with no heap left for a larger one (MicroPython),
    # the buffer is as full as when out of bytes: its policy applies and the loss is counted, nothing breaks.
    from litetel import ring_buffer

    buf = new_buffer(60 * 100, policy=policy)
    reports = []
    buf.on_drop = lambda reason, n: reports.append((reason, n))
    fill(buf, 8, size=60)

    def no_heap(n):
        raise MemoryError

    monkeypatch.setattr(ring_buffer, "_zeros", no_heap)
    if policy == "drop_oldest":
        assert fill(buf, 3, size=60) == [9, 10, 11]
        assert held_seqs(buf) == list(range(4, 12))
    else:
        assert fill(buf, 2, size=60) == [None, None]
        assert held_seqs(buf) == list(range(1, 9))
    assert buf.dropped == sum(n for _, n in reports) and reports[0][0] == "buffer_full"
    monkeypatch.undo()  # heap again: the index grows past 8
    first = buf.next_seq
    assert fill(buf, 12, size=60) == list(range(first, first + 12))
    assert held_seqs(buf)[-12:] == list(range(first, first + 12)) and buf.pending >= 12


def test_ack_is_monotonic_and_clamped(new_buffer):
    buf = new_buffer(1000)
    fill(buf, 3, size=100)
    buf.ack(2)
    buf.ack(1)
    assert (buf.acked, held_seqs(buf)) == (2, [3])
    buf.ack(99)  # beyond what was appended: frees everything, but acked never passes next_seq - 1
    assert (buf.acked, buf.pending, buf.next_seq) == (3, 0, 4)


def test_wraparound_many_times(new_buffer):
    buf = new_buffer(1500)
    for round_ in range(300):  # varied sizes: every record boundary lands somewhere new
        seq = buf.append(make_frame(buf.next_seq))
        if round_ % 3 == 2:
            buf.ack(seq - 1)
        frames = held(buf)
        assert [s for s, _ in frames] == list(range(frames[0][0], seq + 1))
        assert all(f == make_frame(s) for s, f in frames)
        assert buf.used == sum(len(f) for _, f in frames) <= 1500
    assert buf.next_seq == 301


def test_drop_oldest_counts_every_dropped_frame(new_buffer):
    buf = new_buffer(1000)
    reports = []
    buf.on_drop = lambda reason, n: reports.append((reason, n))
    fill(buf, 5, size=200)  # exactly full
    assert buf.append(make_frame(6, 450)) == 6  # needs three frames' room
    assert (held_seqs(buf), buf.dropped, reports) == ([4, 5, 6], 3, [("buffer_full", 3)])
    buf.ack(4)
    fill(buf, 10, size=200)
    assert buf.dropped == sum(n for _, n in reports)
    assert buf.dropped + buf.pending + 1 == buf.next_seq - 1, "every frame is held, acked (seq 4) or counted"


def test_reject_new_refuses_and_counts(new_buffer):
    buf = new_buffer(1000, policy="reject_new")
    reports = []
    buf.on_drop = lambda reason, n: reports.append((reason, n))
    fill(buf, 5, size=200)
    assert buf.append(make_frame(6, 100)) is None
    assert buf.append(make_frame(6, 100)) is None
    assert (held_seqs(buf), buf.dropped, buf.next_seq) == ([1, 2, 3, 4, 5], 2, 6)
    assert reports == [("buffer_full", 1), ("buffer_full", 1)]
    buf.ack(1)
    assert buf.append(make_frame(6, 100)) == 6


def test_frame_larger_than_the_buffer_is_an_error(new_buffer):
    buf = new_buffer(1000)
    with pytest.raises(FrameTooLargeError):
        buf.append(make_frame(1, 1001))
    assert buf.append(make_frame(1, 1000)) == 1, "a frame of exactly the room fits"
    with pytest.raises(FrameTooLargeError):
        buf.append(make_frame(2, 1001))
    assert (held_seqs(buf), buf.dropped) == ([1], 0), "a refused giant drops nothing"


def test_append_requires_next_seq_and_a_whole_frame(new_buffer):
    buf = new_buffer(1000)
    with pytest.raises(ValueError, match="next_seq is 1"):
        buf.append(make_frame(2, 100))
    with pytest.raises(FrameError):
        buf.append(make_frame(1, 100)[:-1])
    with pytest.raises(FrameError):
        buf.append(b"XX" + make_frame(1, 100)[2:])
    assert buf.pending == 0


def test_file_rejects_a_frame_with_a_bad_crc(tmp_path):
    with RingBuffer(1000, path=str(tmp_path / "b.rb")) as buf:
        bad = bytearray(make_frame(1, 100))
        bad[70] ^= 0x10
        with pytest.raises(FrameError, match="CRC"):
            buf.append(bytes(bad))


def test_bad_policy_and_tiny_capacity():
    with pytest.raises(ValueError):
        RingBuffer(1000, policy="drop_newest")
    with pytest.raises(ValueError):
        RingBuffer(47)


def test_file_is_preallocated_and_never_grows(tmp_path):
    path = tmp_path / "tel.rb"
    with RingBuffer(4096, path=str(path)) as buf:
        assert os.path.getsize(path) == 4096
        for _ in range(200):
            buf.append(make_frame(buf.next_seq))
            assert os.path.getsize(path) == 4096
    assert buf.dropped > 100


def test_next_seq_and_acked_state_survive_reopen(tmp_path):
    path = str(tmp_path / "tel.rb")
    with RingBuffer(4096, path=path) as buf:
        fill(buf, 40)
        buf.ack(35)
        before = held(buf)
        assert [s for s, _ in before] == [36, 37, 38, 39, 40]
    with RingBuffer(4096, path=path) as buf:
        assert (buf.acked, buf.next_seq, held(buf), buf.corrupt) == (35, 41, before, 0)
        buf.ack(38)
        fill(buf, 2)
    with RingBuffer(4096, path=path) as buf:
        assert (buf.acked, buf.next_seq, held_seqs(buf)) == (38, 43, [39, 40, 41, 42])


def test_seqs_continue_after_everything_was_acked(tmp_path):
    path = str(tmp_path / "tel.rb")
    with RingBuffer(2048, path=path) as buf:
        fill(buf, 20)
        buf.ack(20)
    with RingBuffer(2048, path=path) as buf:
        assert (buf.next_seq, buf.pending, buf.acked) == (21, 0, 20)


def test_dropped_frames_stay_dropped_after_reopen(tmp_path):
    path = str(tmp_path / "tel.rb")
    with RingBuffer(1064, path=path) as buf:
        fill(buf, 12, size=200)  # room for 5
        kept = held(buf)
    with RingBuffer(1064, path=path) as buf:
        assert held(buf) == kept and [s for s, _ in kept] == [8, 9, 10, 11, 12]
        assert buf.corrupt == 0
