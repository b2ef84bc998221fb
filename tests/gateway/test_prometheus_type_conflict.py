"""Same-named metrics of different kinds staged in one transaction (e.g. one device, two scopes,
a gauge and a histogram both called "lat") must follow "the first type seen for a name wins" -- not
break ingest or the /metrics rendering."""

from devicesim import GAUGE, HISTOGRAM, SimDevice

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND


def _device(labels_g, labels_h):
    dev = SimDevice()
    g = dev.series(dev.instrument("lat", GAUGE, scope=("scope.a", "")), labels_g)
    h = dev.series(dev.instrument("lat", HISTOGRAM, bounds=[1.0], scope=("scope.b", "")), labels_h)
    return dev, g, h


def test_conflicting_kinds_in_one_frame_different_labels_render(harness):
    dev, g, h = _device({"k": "1"}, {"k": "2"})
    assert harness.send(dev, [dev.frame([g, 5, h, [1, 0.5, 0.5, 0.5, 0, 1]], T0, T0 + SECOND)]) == ["ok"]
    out = []
    harness.view.render(out)  # raised TypeError: the histogram state ended up in the gauge family
    text = "".join(out)
    assert "# TYPE lat gauge" in text


def test_conflicting_kinds_in_one_frame_same_labels_ingest(harness):
    dev, g, h = _device({"k": "1"}, {"k": "1"})
    # raised TypeError from prometheus._add_histogram (old state was the gauge's int): the whole upload fails,
    # the device resends it forever
    assert harness.send(dev, [dev.frame([g, 5, h, [1, 0.5, 0.5, 0.5, 0, 1]], T0, T0 + SECOND)]) == ["ok"]
    out = []
    harness.view.render(out)
    assert 'lat{device_id="sat-7",k="1"} 5' in "".join(out)
