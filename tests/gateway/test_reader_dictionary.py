"""The export thread reads the writer's live Dictionary object (store.reader_dictionary): it never sees an
entry or a resource change of a request that is later rolled back."""

import pytest
from devicesim import COUNTER, SimDevice

from litetel_gateway import decoder
from litetel_gateway.expand import ResourceSettings, build_request

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND


def _resource(request):
    return {kv.key: kv.value.string_value for kv in request.resource_metrics[0].resource.attributes}


def test_rolled_back_request_leaves_no_uncommitted_entries_for_the_reader(harness, monkeypatch):
    """Appended entries of a rolled-back savepoint are dropped from the writer's cache (refutes part of (a))."""
    dev = SimDevice()
    sid = dev.series(dev.instrument("requests", COUNTER), {"route": "/a"})
    assert harness.send(dev, [dev.frame([sid, 1], T0, T0 + 1)]) == ["ok"]
    sid2 = dev.series(0, {"route": "/b"})
    frame = dev.frame([sid2, 1], T0 + 1, T0 + 2)

    def boom(*args):
        raise RuntimeError("a bug after the dictionary delta was applied")

    monkeypatch.setattr(decoder, "validate_points", boom)
    with pytest.raises(RuntimeError):
        harness.send(dev, [frame])
    monkeypatch.undo()
    d = harness.store.reader_dictionary(dev.device_id, dev.epoch)
    assert len(d.series) == 1  # only what was committed
    assert len(harness.store.dictionary(dev.device_id, dev.epoch).series) == 1


def test_export_during_a_request_later_rolled_back_uses_committed_resource(harness, monkeypatch):
    """The reader shares the writer's object: a resource change of a request that is rolled back is visible
    to an export running meanwhile (the export thread is simulated at the point of the failure)."""
    dev = SimDevice(resource={"site": "old"})
    sid = dev.series(dev.instrument("requests", COUNTER), {"route": "/a"})
    assert harness.send(dev, [dev.frame([sid, 1], T0, T0 + 1)]) == ["ok"]
    store = harness.store
    settings = ResourceSettings()
    first = build_request(store.read_queue(10**6), store.reader_dictionary, settings)[0]
    assert _resource(first)["site"] == "old"

    dev.resource = {"site": "new"}
    dev.resource_sent = False
    frame = dev.frame([sid, 1], T0 + 1, T0 + 2)
    seen = []

    def export_meanwhile_then_fail(*args):
        # what the drain loop's thread may do at this instant: build a request of the committed rows
        request = build_request(store.read_queue(10**6), store.reader_dictionary, settings)[0]
        seen.append(_resource(request)["site"])
        raise RuntimeError("the request fails after its delta was applied")

    monkeypatch.setattr(decoder, "validate_points", export_meanwhile_then_fail)
    with pytest.raises(RuntimeError):
        harness.send(dev, [frame])
    monkeypatch.undo()
    # nothing of the failed request was committed, so "new" must never have been exported
    assert store.reader_dictionary(dev.device_id, dev.epoch).resource is not None
    assert seen == ["old"]
