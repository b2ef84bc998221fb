"""RingBuffer against a model: random appends (any size that fits), reads, acks and reopens, RAM and file.

Where a frame lands (and so when the buffer is full) is the buffer's business; what it holds is not. After
every step: the frames read back are the newest ones appended and not acknowledged, byte for byte, oldest
first, with no gap; every frame appended is held, acknowledged or counted as dropped; ``drop_oldest`` always
keeps the frame just appended, ``reject_new`` never drops a held one; a file reopened holds the same frames,
with the same next seq and acknowledgement.
"""

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from ring_frames import held, make_frame

from litetel.ring_buffer import DATA_OFFSET, RingBuffer

_files = itertools.count()
DATA_ROOM = 1500  # a few frames of 48..700 bytes: full often, wrapped at every offset


class RingBufferModel(RuleBasedStateMachine):
    form = "ram"
    policy = "drop_oldest"
    directory = None

    def __init__(self):
        super().__init__()
        # A new file for each example: an id() can be reused, and a file left by another example would be reopened.
        self.path = None if self.form == "ram" else str(self.directory / ("tel-%d.rb" % next(_files)))
        self.buf = self.open()
        self.kept = []  # (seq, frame) appended and neither acknowledged nor dropped, oldest first
        self.appended = self.acked_frames = 0
        self.dropped_before = 0  # the drop counts of the buffers closed by a reopen (a counter is per open)

    def open(self):
        capacity = DATA_ROOM + (0 if self.path is None else DATA_OFFSET)
        return RingBuffer(capacity, path=self.path, policy=self.policy)

    @rule(size=st.integers(48, 700))
    def append(self, size):
        seq = self.buf.next_seq
        frame = make_frame(seq, size)
        stored = self.buf.append(frame)
        self.appended += 1
        if stored is None:
            assert self.policy == "reject_new"
            assert self.buf.next_seq == seq  # the refused seq is used by the next frame
            return  # the model keeps what it kept: reject_new never drops a held frame (the invariant checks)
        assert stored == seq and self.buf.next_seq == seq + 1
        self.kept.append((seq, frame))
        if self.policy == "drop_oldest":  # room is made from the oldest end only: the newest is always held
            self.kept = self.kept[len(self.kept) - self.buf.pending :]
        assert held(self.buf)[-1] == (seq, frame)

    @rule(data=st.data())
    def ack(self, data):
        seqs = [seq for seq, _ in self.kept]
        upto = data.draw(st.sampled_from(seqs)) if seqs else self.buf.acked
        self.buf.ack(upto)
        self.acked_frames += sum(1 for seq in seqs if seq <= upto)
        self.kept = [(seq, frame) for seq, frame in self.kept if seq > upto]

    @rule()
    def ack_something_old(self):
        # A late or repeated acknowledgement below the current one changes nothing.
        acked = self.buf.acked
        self.buf.ack(max(0, acked - 3))
        assert self.buf.acked == acked

    @precondition(lambda self: self.path is not None)
    @rule()
    def reopen(self):
        next_seq, acked = self.buf.next_seq, self.buf.acked
        self.buf.close()
        self.dropped_before += self.buf.dropped
        self.buf = self.open()
        assert (self.buf.next_seq, self.buf.acked, self.buf.corrupt) == (next_seq, acked, 0)

    @invariant()
    def holds_what_the_model_kept(self):
        got = held(self.buf)
        assert got == self.kept
        assert self.buf.pending == len(got)
        assert self.buf.used == sum(len(frame) for _, frame in got) <= DATA_ROOM
        seqs = [seq for seq, _ in got]
        assert not seqs or seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap
        dropped = self.dropped_before + self.buf.dropped
        assert self.appended == self.acked_frames + len(got) + dropped  # nothing lost uncounted

    def teardown(self):
        self.buf.close()


@pytest.mark.parametrize("form", ["ram", "file"])
@pytest.mark.parametrize("policy", ["drop_oldest", "reject_new"])
def test_ring_buffer_against_the_model(form, policy, tmp_path):
    machine = type("Machine", (RingBufferModel,), {"form": form, "policy": policy, "directory": tmp_path})
    runner = machine.TestCase
    runner.settings = settings(
        max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=list(HealthCheck)
    )
    runner("runTest").runTest()
