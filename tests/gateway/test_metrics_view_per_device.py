"""--max-series-per-device bounds a (device, epoch) dictionary, and now a device's series in the /metrics view
too (PromView: held in memory, persisted, rendered on every scrape, keyed by (name, labels), never pruned).
The epoch is whatever the device's nonce and frame headers say (any u32), so one authenticated device opening
epoch after epoch, each with new attribute values, grew the gateway's memory and every scrape without bound
(10,000 histogram series x 512 bounds per epoch by default: ~5 million /metrics lines per epoch). A device's
series past the limit are left out of /metrics; they still go to OTLP."""

import asyncio

import aiohttp
from devicesim import COUNTER, SimDevice
from test_gateway_server import config_for

from litetel_gateway.server import Gateway

LIMIT = 5
EPOCHS = 20


def test_a_device_cannot_grow_the_metrics_view_past_its_series_limit_by_changing_epochs(tmp_path):
    async def scenario():
        gateway = Gateway(config_for(tmp_path, "--max-series-per-device", str(LIMIT)))
        await gateway.start()
        url = "http://127.0.0.1:%d" % gateway.port
        try:
            async with aiohttp.ClientSession() as session:
                for epoch in range(1, EPOCHS + 1):
                    dev = SimDevice(epoch=epoch)
                    counter = dev.instrument("c", COUNTER)
                    points = []
                    for i in range(LIMIT):
                        points += [dev.series(counter, {"k": "e%d-%d" % (epoch, i)}), 1]
                    body = dev.frame(points, 10, 20)
                    async with session.post(url + "/v1/frames", data=body, headers=dev.headers(body)) as r:
                        assert r.status == 200 and (await r.json())["results"] == ["ok"]
                async with session.get(url + "/metrics") as r:
                    text = await r.text()
            return len(gateway.view), sum(1 for line in text.splitlines() if line.startswith("c_total{"))
        finally:
            await gateway.stop()

    in_view, scraped = asyncio.run(scenario())
    print("one device, %d epochs of %d series: %d series in the view, %d on /metrics" % (EPOCHS, LIMIT, in_view, scraped))
    assert scraped <= LIMIT, (in_view, scraped)
