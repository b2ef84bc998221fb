"""Shared pieces of the reliability scenarios (issue 8): truth-keeping devices, what arrived at rotel, the
gateway's own counters, process figures from /proc, a figures recorder, and the power-loss device process.

    dev = TruthDevice("sat-1", endpoint=gateway.url, key=key_of("sat-1"))
    dev.record(rng); dev.collect(); dev.device.flush()
    assert arrived(rotel.points(), "sat-1") == dev.truth()
    figures = Figures("flaky_link"); figures["requests"] = 42; figures.save()

Short form by default (bounded for `make test`); ``LITETEL_FULL=1`` (``make reliability``) selects the full form
through ``scaled(short, full)``.

This file is also the *device process* of the power-loss scenario, run by CPython or MicroPython::

    python tests/faults/scenario_support.py BUFFER LOG DEVICE_ID KEY_HEX ENDPOINT FRAMES SEED
    MICROPYPATH=.:tests/faults micropython tests/faults/scenario_support.py ...

so everything above ``device_process_main`` imports only what MicroPython has at module level; CPython-only
modules are imported inside the helpers that need them.
"""

import os
import sys
import time

COUNTER = "work.items"  # what every scenario device records: a counter ...
HISTOGRAM = "work.duration"  # ... and a histogram whose values are multiples of 1/4: float sums stay exact
BOUNDS = (0.5, 1.0, 2.0, 4.0)


def full_form():
    """True under ``make reliability`` (``LITETEL_FULL=1``): scenarios run at their full length."""
    return os.environ.get("LITETEL_FULL", "") == "1"


def scaled(short, full):
    return full if full_form() else short


def key_of(device_id):
    """The 32-byte key of a scenario device (distinct per device)."""
    raw = ("%s/reliability-key" % device_id).encode()
    return (raw * (32 // len(raw) + 1))[:32]


def wait_until(predicate, timeout_s, what, interval_s=0.1):
    """Poll ``predicate`` until truthy (returned) or raise ``AssertionError`` naming ``what``."""
    deadline = time.time() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout_s, what))
        time.sleep(interval_s)


# ------------------------------------------------------------------------------------------- devices


class TruthDevice:
    """A ``litetel.Device`` recording ``work.items`` and ``work.duration`` and remembering what it recorded.

    ``truth()`` is (counter sum, histogram count, histogram sum) of everything recorded so far; with
    ``collected_only`` only what went into frames (``collect()``).
    """

    def __init__(self, device_id, endpoint=None, key=None, buffer=None, transport=None, **device_args):
        import litetel

        self.device_id = device_id
        self.device = litetel.Device(
            device_id,
            resource={"service.name": "reliability"},
            endpoint=endpoint,
            key=key if key is not None else key_of(device_id),
            buffer=buffer if buffer is not None else litetel.RingBuffer(capacity=1 << 20),
            transport=transport,
            interval_s=3600,  # the scenarios close intervals themselves
            **device_args,
        )
        meter = self.device.meter("reliability")
        self.items = meter.counter(COUNTER, unit="{item}")
        self.duration = meter.histogram(HISTOGRAM, unit="s", boundaries=BOUNDS)
        self.recorded = [0, 0, 0.0]
        self.collected = [0, 0, 0.0]
        self._pending = [0, 0, 0.0]
        self.frames = 0

    def record(self, rng, n=None):
        for _ in range(rng.randint(1, 5) if n is None else n):
            amount = rng.randint(1, 9)
            seconds = rng.randint(0, 24) / 4.0
            kind = rng.choice(("a", "b"))
            self.items.add(amount, {"kind": kind})
            self.duration.record(seconds, {"kind": kind})
            for i, v in enumerate((amount, 1, seconds)):
                self.recorded[i] += v
                self._pending[i] += v

    def collect(self):
        frame = self.device.collect()
        if frame is not None:
            self.frames += 1
            self.collected = [a + b for a, b in zip(self.collected, self._pending)]
            self._pending = [0, 0, 0.0]
        return frame

    def truth(self):
        return tuple(self.collected)


def arrived(points, device_id):
    """(counter sum, histogram count, histogram sum) of ``device_id``'s scenario metrics in rotel's points.

    Delta points add up; of cumulative points only each series' newest counts (a re-sent one changes nothing).
    """
    total = [0, 0, 0.0]
    newest = {}
    for p in points:
        if p.resource.get("device.id") != device_id or p.metric not in (COUNTER, HISTOGRAM):
            continue
        if p.temporality == "cumulative":
            key = (p.metric, tuple(sorted(p.attributes.items())))
            if key not in newest or p.time_ns >= newest[key].time_ns:
                newest[key] = p
            continue
        _add_point(total, p)
    for p in newest.values():
        _add_point(total, p)
    return tuple(total)


def _add_point(total, p):
    if p.type == "sum":
        total[0] += p.value
    elif p.type == "histogram":
        total[1] += p.count
        total[2] += p.sum


def repeated_points(points, device_ids=None):
    """Copies of points that arrived before (same metric, resource, attributes, start, time): double counts
    in delta temporality."""
    seen, twice = set(), []
    for p in points:
        if device_ids is not None and p.resource.get("device.id") not in device_ids:
            continue
        if p.metric not in (COUNTER, HISTOGRAM):
            continue
        key = (p.metric, tuple(sorted(p.resource.items())), tuple(sorted(p.attributes.items())),
               p.start_ns, p.time_ns)  # fmt: skip
        if key in seen:
            twice.append(p)
        seen.add(key)
    return twice


def drain(devices, timeout_s=60.0):
    """Flush every device until its buffer is empty; False when ``timeout_s`` passes first."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        busy = [d for d in devices if d.buffer.pending]
        if not busy:
            return True
        for dev in busy:
            dev.flush(timeout_s=5)
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------------------------ gateway and /proc


def gateway_metrics(gateway):
    """The gateway's ``/metrics`` as {(name, ((label, value), ...)): float}."""
    import re

    status, body = gateway.get("/metrics")
    assert status == 200, "GET /metrics answered %s" % status
    values = {}
    pattern = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$")
    for line in body.decode().splitlines():
        match = pattern.match(line)
        if not match or line.startswith("#"):
            continue
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or "")))
        values[(match.group(1), labels)] = float(match.group(3))
    return values


def metric(values, name, **labels):
    """Sum of the samples of ``name`` whose labels include ``labels`` (from ``gateway_metrics``)."""
    want = {(k, str(v)) for k, v in labels.items()}
    return sum(v for (n, ls), v in values.items() if n == name and want <= set(ls))


def rss_kb(pid):
    """Resident set size of ``pid`` in kB (``VmRSS`` of /proc/<pid>/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def cpu_seconds(pid):
    """User + system CPU time used by ``pid`` so far (/proc/<pid>/stat), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples a process's RSS every ``interval_s`` in a thread: ``with RssSampler(pid) as s: ...; s.max_kb``."""

    def __init__(self, pid, interval_s=0.2):
        import threading

        self.pid = pid
        self.interval_s = interval_s
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(rss_kb(self.pid))
            except (OSError, RuntimeError):
                pass  # the process is gone (or restarting)
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        return False

    @property
    def max_kb(self):
        return max(self.samples) if self.samples else 0


class Figures(dict):
    """A scenario's measured figures, saved as ``tests/faults/figures/<name>.<short|full>.json`` and printed."""

    def __init__(self, name):
        super().__init__()
        self.name = name
        self["scenario"] = name
        self["form"] = "full" if full_form() else "short"
        self["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def save(self):
        import json

        folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures")
        if not os.path.isdir(folder):
            os.mkdir(folder)
        path = os.path.join(folder, "%s.%s.json" % (self.name, self["form"]))
        with open(path, "w") as f:
            json.dump(self, f, indent=1, sort_keys=True)
            f.write("\n")
        print("figures %s: %s" % (self.name, json.dumps(self, sort_keys=True)))
        return path


# ------------------------------------------------------------------------- the power-loss device process


def _log_line(path, text):
    """Append one line and make it durable before going on (fsync where the port has it)."""
    with open(path, "a") as f:
        f.write(text + "\n")
        f.flush()
        if hasattr(os, "fsync"):
            os.fsync(f.fileno())


def read_device_log(path):
    """The power-loss device's log → (committed truths [(seq, items, count, sum)], starts, finished, corrupt):
    ``corrupt`` sums what the buffer reported damaged when reopened (``RingBuffer.corrupt``)."""
    intents, committed, starts, finished, corrupt = {}, [], 0, False, 0
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return committed, starts, finished, corrupt
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "I":
            intents[int(parts[1])] = (int(parts[2]), int(parts[3]), float(parts[4]))
        elif parts[0] == "C":
            seq = int(parts[1])
            committed.append((seq,) + intents[seq])
        elif parts[0] == "S":
            starts += 1
            corrupt += int(parts[3])
        elif parts[0] == "DONE":
            finished = True
    return committed, starts, finished, corrupt


def _settle_last_intent(log_path, buffer):
    """After a kill: the frame announced last (``I seq``) was committed iff the buffer's seq moved past it."""
    try:
        with open(log_path) as f:
            lines = f.read().splitlines()
    except OSError:
        return
    last = None
    for line in lines:
        parts = line.split()
        if parts and parts[0] == "I":
            last = int(parts[1])
        elif parts and parts[0] in ("C", "X") and int(parts[1]) == last:
            last = None
    if last is not None:
        _log_line(log_path, "%s %d" % ("C" if buffer.next_seq > last else "X", last))


def device_process_main(argv):
    """Record, collect into a file-backed ring buffer, upload; log each frame's content before and after
    it is appended (``I seq items count sum`` then ``C seq``) so the test knows what committed frames held.
    Runs ``frames`` frames, then drains the buffer and logs ``DONE``, unless it is killed first."""
    buffer_path, log_path, device_id, key_hex, endpoint, frames, seed = argv[:7]
    import random

    import litetel

    random.seed(int(seed))  # MicroPython's random has no Random class: the module is the generator
    rng = random
    buffer = litetel.RingBuffer(capacity=256 * 1024, path=buffer_path)
    _settle_last_intent(log_path, buffer)
    _log_line(log_path, "S %d %d %d" % (buffer.next_seq, buffer.pending, buffer.corrupt))
    dev = TruthDevice(device_id, endpoint=endpoint, key=bytes.fromhex(key_hex), buffer=buffer)
    up = dev.device.uploader
    up.backoff_max_s = 0.5  # a killed-and-restarted process should retry promptly
    for _ in range(int(frames)):
        dev.record(rng)
        seq = buffer.next_seq
        p = dev._pending
        _log_line(log_path, "I %d %d %d %s" % (seq, p[0], p[1], repr(p[2])))
        if dev.collect() is None:
            raise RuntimeError("frame %d was not appended (buffer full?)" % seq)
        _log_line(log_path, "C %d" % seq)
        dev.device.flush(timeout_s=2)
        time.sleep(0.01)
    for _ in range(600):
        if not buffer.pending:
            break
        dev.device.flush(timeout_s=5)
        time.sleep(0.05)
    if buffer.pending:
        raise RuntimeError("%d frames still pending" % buffer.pending)
    _log_line(log_path, "DONE %d" % buffer.next_seq)
    buffer.close()


if __name__ == "__main__":
    device_process_main(sys.argv[1:])
