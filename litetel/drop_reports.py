"""The device's reports of lost frames, kept whole when the frames carrying them are lost too (wire format §2.3).

``litetel.device.frames.dropped`` is a delta counter: each frame carries the drops counted since the one
before. When a frame that carries such reports is itself lost (dropped by a full buffer, refused by a
``reject_new`` one, too large, rejected by the gateway, or its ``collect()`` raised), they would go with it,
and the platform would undercount the loss. So the Device notes, for each frame it stores, the reports it
carries (a frame carrying none costs nothing), counts them again when that frame is lost, and forgets them
once the frame is acknowledged. The same holds for ``litetel.device.spans.dropped`` and ``logs.dropped``.
Loaded with the first drop: a device that never loses anything never loads it.

    reports = DropReports()
    reports.track(series_id, handle)          # a loss series (its bound handle), made by its first drop
    reports.taken(points)                     # the interval's points, before its frame is stored
    reports.stored(seq)  /  reports.lost()    # ...then where that frame went
    reports.settle(buffer)                    # before the next interval: the frames the buffer dropped
"""


class DropReports:
    """The drop reports carried by the frames a Device has made and not yet seen acknowledged."""

    def __init__(self):
        self._handles = {}  # series id of a loss series -> its bound handle, which counts a report again
        self._carried = {}  # seq of a stored frame -> [handle, n, handle, n, ...] of the reports it carries
        self._taken = None  # the same, of the frame being made

    def track(self, series_id, handle):
        """Series ``series_id`` (bound ``handle``) counts losses: its points are reports to keep."""
        self._handles[series_id] = handle

    def taken(self, points):
        """Note the reports among ``points`` (``[series_id, value, ...]``), the frame being made's."""
        found = None
        handles = self._handles
        for j in range(0, len(points), 2):
            handle = handles.get(points[j])
            if handle is not None:
                if found is None:
                    found = []
                found.append(handle)
                found.append(points[j + 1])
        self._taken = found

    def stored(self, seq):
        """The frame being made was stored as ``seq``."""
        if self._taken is not None:
            self._carried[seq] = self._taken
            self._taken = None

    def lost(self, seq=None):
        """Frame ``seq`` (None: the one being made) is lost: the reports it carried are counted again."""
        if seq is None:
            found, self._taken = self._taken, None
        else:
            found = self._carried.pop(seq, None)
        if found is not None:
            for i in range(0, len(found), 2):
                found[i].add(found[i + 1])

    def settle(self, buffer):
        """Forget the reports of the frames ``buffer`` no longer holds and acknowledged; count again those of
        the frames it dropped (below its oldest held frame, above its acknowledged seq)."""
        carried = self._carried
        if carried:
            floor = buffer.first_seq()
            acked = buffer.acked
            # A snapshot of the seqs (one C-level copy): the uploader may pop one meanwhile, from its thread.
            for seq in list(carried):
                if seq < floor:
                    if seq > acked:
                        self.lost(seq)
                    else:
                        carried.pop(seq, None)
