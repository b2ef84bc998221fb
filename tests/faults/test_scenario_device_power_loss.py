"""Scenario 4, device power loss (issue 8): a device process records, appends frames to a file-backed ring buffer
and uploads them; it is SIGKILLed at random moments (during appends, uploads, acks) and restarted on the same
buffer file, several times; a last run drains the buffer.

The process logs each frame's content before appending it and marks it committed after (a frame announced but
unmarked at a kill counts as committed iff the reopened buffer's next seq moved past it). Every committed frame
must arrive and nothing else: rotel's totals equal the sum of the committed frames, the gateway rejected no
frame (no garbage reached it), and the device reported no frame lost.
"""

import os
import random
import sys
import time
from pathlib import Path

import pytest
from support.processes import kill_process, spawn

from faults.scenario_support import (
    Figures,
    arrived,
    gateway_metrics,
    key_of,
    metric,
    read_device_log,
    repeated_points,
    scaled,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "scenario_support.py"


def _command(interpreter, tmp_path, device_id, endpoint, frames, seed):
    return [interpreter, SCRIPT, tmp_path / "device.rb", tmp_path / "device.log", device_id,
            key_of(device_id).hex(), endpoint, frames, seed]  # fmt: skip


def _power_loss_run(tmp_path, rotel, make_gateway, interpreter, env, device_id, kills, frames_per_run):
    gateway = make_gateway(keys={device_id: key_of(device_id).hex()}, otlp_endpoint=rotel.http_endpoint)
    rng = random.Random(23)
    log_out = tmp_path / "process-output.log"
    lived = []
    for run in range(kills):
        proc = spawn(_command(interpreter, tmp_path, device_id, gateway.url, frames_per_run, run), log_out,
                     env=env, cwd=ROOT)  # fmt: skip
        alive_s = rng.uniform(0.3, 2.0)
        time.sleep(alive_s)  # the kill lands at a random moment: append, upload, ack or idle
        assert proc.poll() is None, "the device process ended early:\n" + log_out.read_text()[-2000:]
        kill_process(proc)
        lived.append(alive_s)
    final = spawn(
        _command(interpreter, tmp_path, device_id, gateway.url, 20, 999), log_out, env=env, cwd=ROOT
    )
    assert final.wait(180) == 0, "the last run failed:\n" + log_out.read_text()[-3000:]
    committed, starts, finished, corrupt = read_device_log(tmp_path / "device.log")
    assert finished and starts == kills + 1
    want = (sum(c[1] for c in committed), sum(c[2] for c in committed), sum(c[3] for c in committed))
    wait_until(lambda: arrived(rotel.points(), device_id) == want, 60,
               "rotel totals %r to equal the committed frames' %r" % (arrived(rotel.points(), device_id), want))  # fmt: skip
    points = rotel.points()
    values = gateway_metrics(gateway)
    rejected = metric(values, "litetel_gateway_frames_in_total", result="reject")
    device_drops = rotel.total("litetel.device.frames.dropped", **{"device.id": device_id})
    figures = {
        "kills": kills,
        "ring_buffer_corrupt_at_reopen": corrupt,
        "frames_committed": len(committed),
        "seqs_committed_unique": len({c[0] for c in committed}),
        "counter_total": want[0],
        "histogram_count": want[1],
        "gateway_frames_ok": metric(values, "litetel_gateway_frames_in_total", result="ok"),
        "gateway_frames_dup": metric(values, "litetel_gateway_frames_in_total", result="dup"),
        "gateway_frames_rejected": rejected,
        "device_frames_dropped": device_drops,
        "mean_seconds_alive": round(sum(lived) / len(lived), 2),
    }
    assert repeated_points(points, {device_id}) == []
    assert rejected == 0 and device_drops == 0
    assert figures["seqs_committed_unique"] == len(committed), "a seq was committed twice"
    return figures


def test_device_power_loss_cpython(tmp_path, rotel, make_gateway):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    kills = scaled(6, 30)
    figures = Figures("device_power_loss_cpython")
    figures.update(
        _power_loss_run(tmp_path, rotel, make_gateway, sys.executable, env, "pl-cpython", kills, 400)
    )
    figures.save()


def test_device_power_loss_micropython(tmp_path, rotel, make_gateway, micropython):
    env = dict(os.environ, MICROPYPATH="%s:%s" % (ROOT, SCRIPT.parent))
    kills = scaled(3, 12)
    try:
        result = _power_loss_run(
            tmp_path, rotel, make_gateway, micropython, env, "pl-micropython", kills, 400
        )
    except AssertionError:
        print((tmp_path / "process-output.log").read_text()[-3000:])
        raise
    figures = Figures("device_power_loss_micropython")
    figures.update(result)
    figures.save()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
