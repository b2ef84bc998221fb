"""/metrics label sets must be valid exposition: a histogram series with an attribute named "le"
must not produce two "le" labels, and attributes that sanitize to the same label name must not merge
distinct series (OTel Prometheus compatibility: values joined with ';' in the original keys' order)."""

import re

from devicesim import COUNTER, HISTOGRAM, SimDevice

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"')


def rendered(harness):
    out = []
    harness.view.render(out)
    return "".join(out)


def test_histogram_attribute_le_does_not_duplicate_the_le_label(harness):
    dev = SimDevice()
    h = dev.series(dev.instrument("lat", HISTOGRAM, bounds=[1.0]), {"le": "x"})
    harness.send(dev, [dev.frame([h, [1, 0.5, 0.5, 0.5, 0, 1]], T0, T0 + SECOND)])
    for line in rendered(harness).splitlines():
        if line.startswith("#"):
            continue
        names = _LABEL.findall(line.split("{", 1)[1].rsplit("}", 1)[0])
        assert len(names) == len(set(names)), line


def test_attributes_sanitized_to_one_label_do_not_merge_series(harness):
    dev = SimDevice()
    req = dev.instrument("req", COUNTER)
    a = dev.series(req, {"http.route": "/a", "http_route": "/b"})
    c = dev.series(req, {"http.route": "/c", "http_route": "/b"})
    harness.send(dev, [dev.frame([a, 1, c, 2], T0, T0 + SECOND)])
    samples = [line for line in rendered(harness).splitlines() if line.startswith("req_total{")]
    assert len(samples) == 2, samples  # got one sample, req_total{...,http_route="/b"} 3
