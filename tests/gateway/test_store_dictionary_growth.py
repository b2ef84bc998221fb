"""What a (device, epoch) dictionary costs the store: each change appends a part (linear writes, not the whole
dictionary each time: O(n^2)), parts compact and reload, and the writer's cache is bounded in bytes as well as
in count (one device opening epoch after epoch of large dictionaries)."""

from devicesim import COUNTER, SimDevice

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND


class _CountingDb:
    """Delegates to the store's connection, counting the bytes of the blobs the store writes."""

    def __init__(self, db):
        self._db, self.blob_bytes = db, 0

    def _count(self, params):
        self.blob_bytes += sum(len(p) for p in params if isinstance(p, (bytes, bytearray)))

    def execute(self, sql, params=()):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE")):
            self._count(params)
        return self._db.execute(sql, params)

    def executemany(self, sql, rows):
        rows = list(rows)
        for params in rows:
            self._count(params)
        return self._db.executemany(sql, rows)

    def __getattr__(self, name):
        return getattr(self._db, name)


def test_dictionary_writes_are_linear_not_quadratic(harness):
    """Each frame that adds one series must not rewrite the whole (device, epoch) dictionary."""
    dev = SimDevice()
    inst = dev.instrument("requests", COUNTER)
    sid = dev.series(inst, {"route": "/"})
    assert harness.send(dev, [dev.frame([sid, 1], T0, T0 + 1)]) == ["ok"]
    counting = harness.store.db = _CountingDb(harness.store.db)
    n = 400
    for i in range(n):
        sid = dev.series(inst, {"route": "/%04d" % i + "x" * 200})
        assert harness.send(dev, [dev.frame([], T0 + i, T0 + i + 1)]) == ["ok"]
    harness.store.db = counting._db
    final = len(harness.store.dictionary(dev.device_id, dev.epoch).to_blob())
    total = counting.blob_bytes
    # linear persistence writes about the final size once (a few times at most); this writes ~n/2 times it
    assert total <= 4 * final, "%d frames wrote %d bytes of blobs for a %d-byte dictionary (%.0fx)" % (
        n, total, final, total / final)
    harness.reopen()  # and what was written reloads to the same dictionary
    assert len(harness.store.dictionary(dev.device_id, dev.epoch).series) == n + 1


def test_cached_dictionaries_are_bounded_in_bytes(harness):
    """One device opening epoch after epoch, each with a large (but within-limits) dictionary: the writer's
    cache keeps every one of them (up to 4,096 dictionaries of up to 50,000 x 4,096-char strings each)."""
    dev = SimDevice()
    budget = 64 << 20  # any byte bound; the cache has none (only a count of 4,096)
    epochs, per_frame, frames = 20, 240, 4  # 20 x 960 strings x 4,096 chars ~ 80 MB of text
    for epoch in range(1, epochs + 1):
        dev.reboot(epoch)
        dev.strings, dev.scopes, dev.instruments, dev.series_table, dev._sid = [], [], [], [], {}
        for f in range(frames):
            for i in range(per_frame):
                dev.sid(("%d-%d-%d-" % (epoch, f, i)).ljust(4096, "s"))
            assert harness.send(dev, [dev.frame([], T0 + f, T0 + f + 1)]) == ["ok"]
    retained = sum(
        sum(len(s) for s in d.strings) for d in harness.store._dictionaries.values()
    )
    assert retained <= budget, "%d dictionaries, %d MB of strings kept in memory" % (
        len(harness.store._dictionaries), retained >> 20)


def test_dictionary_parts_compact_and_reload(harness, monkeypatch):
    from litetel_gateway import store as store_module

    monkeypatch.setattr(store_module, "MAX_DICTIONARY_PARTS", 5)
    dev = SimDevice(resource={"site": "a"})
    inst = dev.instrument("requests", COUNTER)
    for i in range(23):
        sid = dev.series(inst, {"route": "/%d" % i})
        if i % 3 == 0:
            dev.resource, dev.resource_sent = {"site": "s%d" % i}, False
        assert harness.send(dev, [dev.frame([sid, 1], T0 + i, T0 + i + 1)]) == ["ok"]
    live = harness.store.dictionary(dev.device_id, dev.epoch)
    reader = harness.store._load_dictionary(harness.store.reader_db, dev.device_id, dev.epoch)
    harness.reopen()
    loaded = harness.store.dictionary(dev.device_id, dev.epoch)
    for d in (reader, loaded):
        assert d.to_blob() == live.to_blob()
    assert harness.store.db.execute("SELECT COUNT(*) FROM dictionary_parts").fetchone()[0] <= 5
