"""A 408 keeps the frames and backs off. The project's own gateway answers ``408 slow_client``
(litetel_gateway/receiver.py, ``_read_body``) when a body stalls for BODY_GRACE_S (10 s) or trickles in below
256 B/s: a property of the link at that moment, not of the frame (RFC 9110 §15.5.9: the client may repeat the
request). The uploader used to treat it as any permanent 4xx, dropping the request's first frame as
``rejected``: a frame lost per stalled request, and on a link slower than 256 B/s (LoRa, satellite, NB-IoT at
the cell edge) the whole buffer drained into the drop counter, one frame per request, delivering nothing."""

from test_uploader import make_uploader
from uploader_fakes import FakeDevice, Reply, ScriptedGateway


def test_a_408_from_a_stalled_link_keeps_the_frames_and_backs_off():
    device = FakeDevice()
    device.record(3)
    with ScriptedGateway(script=[Reply(408)]) as gateway:
        up = make_uploader(device, gateway, backoff_base_s=5)
        up.flush()
        assert device.drops == {}, "a link timeout destroyed a frame: %r" % device.drops
        assert device.buffer.pending == 3 and not up.ready()
