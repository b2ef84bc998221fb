"""drop_reports.DropReports: the loss reports a stored frame carries are counted again when it is lost."""

from litetel.drop_reports import DropReports


class Buffer:
    def __init__(self, first_seq, acked):
        self._first, self.acked = first_seq, acked

    def first_seq(self):
        return self._first


class Handle:
    """A loss series' bound handle, adding into ``recounted[reason]``."""

    def __init__(self, recounted, reason):
        self.recounted, self.reason = recounted, reason

    def add(self, n):
        self.recounted[self.reason] = self.recounted.get(self.reason, 0) + n


def reports_with(series):
    recounted = {}
    reports = DropReports()
    for series_id, reason in series.items():
        reports.track(series_id, Handle(recounted, reason))
    return reports, recounted


def test_only_the_tracked_series_among_the_points_are_carried():
    reports, recounted = reports_with({7: "buffer_full", 9: "rejected"})
    reports.taken([1, 5, 7, 2, 3, 4.5, 9, 1])  # series 1 and 3 are not loss reports
    reports.stored(10)
    reports.taken([1, 6])  # a frame carrying none costs nothing
    reports.stored(11)
    carried = [x if isinstance(x, int) else x.reason for x in reports._carried[10]]
    assert carried == ["buffer_full", 2, "rejected", 1]
    assert list(reports._carried) == [10]
    reports.lost(11)
    assert recounted == {}
    reports.lost(10)
    assert recounted == {"buffer_full": 2, "rejected": 1} and reports._carried == {}
    reports.lost(10)  # once only
    assert recounted == {"buffer_full": 2, "rejected": 1}


def test_the_frame_being_made_is_recounted_when_lost_and_forgotten_when_stored():
    reports, recounted = reports_with({7: "collect_failed"})
    reports.taken([7, 1])
    reports.lost()
    assert recounted == {"collect_failed": 1}
    reports.lost()  # nothing taken since
    reports.taken([7, 2])
    reports.stored(3)
    reports.lost()
    assert recounted == {"collect_failed": 1} and list(reports._carried) == [3]


def test_settle_recounts_the_dropped_frames_and_forgets_the_acknowledged():
    reports, recounted = reports_with({7: "buffer_full"})
    for seq in (4, 5, 6, 8):
        reports.taken([7, seq])
        reports.stored(seq)
    reports.settle(Buffer(first_seq=7, acked=4))  # 4 delivered; 5 and 6 dropped by the buffer; 8 still held
    assert recounted == {"buffer_full": 5 + 6} and list(reports._carried) == [8]
    reports.settle(Buffer(first_seq=9, acked=8))  # 8 delivered
    assert recounted == {"buffer_full": 11} and reports._carried == {}
