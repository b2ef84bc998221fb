"""Device export CPU: the work of turning one recorded interval (100 points) into bytes to send.

litetel: `Device.collect()` (close the interval, encode, compress, frame, append to the RAM buffer);
OTel SDK: collect through its reader + `encode_metrics` + `SerializeToString` (no compression);
prometheus_client: `generate_latest()` of the registry (a scrape).
Before every round the same light interval is recorded again (not timed).
"""

import pytest

from benchmarks.libraries import LIBS, load_side


@pytest.mark.parametrize("lib", LIBS)
def test_export_cpu(benchmark, lib):
    record, export = load_side(lib).export_setup()
    record()
    export()  # first export carries one-off work (litetel's dictionary, OTel's first collection)
    benchmark.group = "device export: one 100-point interval"
    benchmark.extra_info.update(kind="export", lib=lib, points=100)
    payload = benchmark.pedantic(export, setup=record, rounds=40, warmup_rounds=2)
    assert payload
