"""``RingBuffer.ack`` sets ``acked`` before it pops, because ``DropReports.settle`` (run by ``collect()`` on the
application's thread) reads ``buffer.first_seq()`` then ``buffer.acked`` without the buffer's lock. Were the
background uploader's ack between its pops and setting ``acked``, settle would see a frame gone from the buffer
with a seq above ``acked``, take it for a frame the buffer dropped, and count the loss reports it carried again:
losses that never happened (here a ``rejected`` frame counted twice, though the frame reporting it was
delivered). With real threads, one acking 3,000 frames while another settled re-counted 1,653 to 2,705 reports
before the fix.

The interleaving is forced: the buffer's ``_pop`` runs settle (what collect() does on the other thread) right
after the pop, at a thread switch the GIL allows there."""

from test_device import drops_in

from litetel.device import Device
from litetel.ring_buffer import RingBuffer


class SwitchAfterPop(RingBuffer):
    """A RingBuffer where, once armed, the other thread's settle runs right after ack's first pop."""

    hook = None

    def _pop(self):
        super()._pop()
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()


def test_a_collect_racing_an_ack_does_not_count_a_delivered_frames_reports_again():
    buf = SwitchAfterPop(capacity=1 << 16)
    dev = Device("race", buffer=buf, compression="none")
    c = dev.meter("m").counter("c")
    dev.count_drop("rejected", 1)  # one frame lost earlier: the next frame reports it
    c.add(1)
    dev.collect()  # frame 1 carries rejected=1 (drop_reports keeps it until frame 1 is acknowledged)
    assert buf.next_seq == 2

    # The uploader thread acks frame 1 (the gateway said ok); the application's collect() settles meanwhile.
    buf.hook = lambda: dev._drop_reports.settle(buf)
    buf.ack(1)

    c.add(1)
    got = drops_in(dev, dev.collect())
    assert got == {}, "frame 1 was delivered, so its report must not be sent again: %r" % got
