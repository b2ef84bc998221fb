"""examples/micropython_sensor.py on the real MicroPython interpreter: alone, and pushing to a real gateway."""

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "micropython_sensor.py"
KEY = bytes(range(32))


def run_sensor(micropython, heapsize, *args):
    """The example as a user runs it: from the repository root, the package found through MICROPYPATH."""
    return subprocess.run(
        [micropython, "-X", "heapsize=%s" % heapsize, str(SCRIPT)] + [str(a) for a in args],
        cwd=ROOT, env=dict(os.environ, MICROPYPATH="."), capture_output=True, text=True, timeout=120,
    )


def _summary(result):
    line = [s for s in result.stdout.splitlines() if s.startswith("samples")]
    assert line, result.stdout + result.stderr
    return dict(re.findall(r"(\w+) (-?\d+)", line[-1]))


def test_sensor_loop_records_into_ram_buffer(micropython):
    result = run_sensor(micropython, "256K")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = _summary(result)
    assert summary["samples"] == "3000" and int(summary["frames"]) >= 6
    assert summary["dropped"] == "0" and int(summary["pending"]) == int(summary["frames"])


def test_sensor_loop_pushes_to_gateway(micropython, make_gateway, rotel):
    gateway = make_gateway(keys={"sensor-1": KEY.hex()}, otlp_endpoint=rotel.http_endpoint)
    result = run_sensor(micropython, "256K", gateway.url, KEY.hex(), 2000)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = _summary(result)
    assert summary["pending"] == "0" and int(summary["acked"]) >= 1
    rotel.wait_for_total("sensor.samples", 2000, timeout_s=15, sensor="adc0")
    assert rotel.total("sensor.read.duration", sensor="adc0") == 2000
    assert rotel.total("sensor.errors") == len(range(0, 2000, 97))
