"""The authenticated device id wins over what a device says of itself, on every output: a device's resource
attribute ``device.id`` does not change the OTLP Resource (metrics, spans and logs share it), nor does a series
attribute ``device_id`` change the ``/metrics`` label. And a description with a newline or a backslash cannot
break the exposition's HELP line."""

from devicesim import COUNTER, SimDevice

from litetel_gateway.expand import ResourceSettings, build_request

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND


def rendered(harness):
    out = []
    harness.view.render(out)
    return "".join(out)


def test_a_device_cannot_claim_another_device_id(harness):
    dev = SimDevice(resource={"device.id": "sat-8", "service.name": "s"})
    c = dev.series(dev.instrument("c", COUNTER), {"device_id": "sat-8"})
    harness.send(dev, [dev.frame([c, 1], T0, T0 + SECOND)], receive_us=T0 + SECOND)
    request, _ = build_request(harness.queue(), harness.store.reader_dictionary, ResourceSettings())
    resource = {kv.key: kv.value.string_value for kv in request.resource_metrics[0].resource.attributes}
    assert resource["device.id"] == dev.device_id != "sat-8"
    samples = [line for line in rendered(harness).splitlines() if line.startswith("c_total{")]
    assert samples == ['c_total{device_id="%s"} 1' % dev.device_id], samples


def test_help_text_is_escaped(harness):
    dev = SimDevice()
    c = dev.series(dev.instrument("c", COUNTER, description="two\nlines \\ and a backslash"))
    harness.send(dev, [dev.frame([c, 1], T0, T0 + SECOND)], receive_us=T0 + SECOND)
    (help_line,) = [line for line in rendered(harness).splitlines() if line.startswith("# HELP c_total")]
    assert help_line == "# HELP c_total two\\nlines \\\\ and a backslash"
