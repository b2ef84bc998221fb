"""A scripted device for gateway tests: real frames (litetel.frame / litetel.codecs / litetel.compression),
a real series dictionary with deltas (wire format §2.1) and signed upload requests (§4).

    dev = SimDevice("sat-7", key=bytes(range(32)))
    count = dev.instrument("http.server.request.count", COUNTER, unit="{request}")
    requests = dev.series(count, {"route": "/a"})
    body = dev.frame([requests, 5], start_us=1_000_000, end_us=2_000_000)
    status, reply = dev.post(url, [body])
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from litetel import codecs, compression
from litetel import frame as wire

COUNTER, UP_DOWN_COUNTER, GAUGE, HISTOGRAM = 0, 1, 2, 3
TEST_KEY = bytes(range(32))


class SimDevice:
    def __init__(
        self,
        device_id="sat-7",
        key=TEST_KEY,
        epoch=7,
        codec=codecs.MSGPACK,
        comp=compression.NONE,
        resource=None,
    ):
        self.device_id = device_id
        self.key = key
        self.epoch = epoch
        self.codec = codec
        self.comp = comp
        self.counter = 0
        self.seq = 0
        self.strings, self.scopes, self.instruments, self.series_table = [], [], [], []
        self.sent = [0, 0, 0, 0]
        self.resource = resource
        self.resource_sent = False
        self._sid = {}

    # -- dictionary --------------------------------------------------------------------------------
    def sid(self, text):
        if text not in self._sid:
            self._sid[text] = len(self.strings)
            self.strings.append(text)
        return self._sid[text]

    def scope(self, name, version=""):
        entry = [self.sid(name), self.sid(version)]
        if entry not in self.scopes:
            self.scopes.append(entry)
        return self.scopes.index(entry)

    def instrument(self, name, kind, unit="", description="", bounds=None, scope=("test.scope", "1.0")):
        scope_id = self.scope(*scope)
        self.instruments.append(
            [
                scope_id,
                self.sid(name),
                kind,
                self.sid(unit),
                self.sid(description),
                None if bounds is None else [float(b) for b in bounds],
            ]
        )
        return len(self.instruments) - 1

    def attrs(self, attributes):
        flat = []
        for key in sorted(attributes):
            value = attributes[key]
            if isinstance(value, bool):
                flat += [self.sid(key) * 4 + 3, value]
            elif isinstance(value, int):
                flat += [self.sid(key) * 4 + 1, value]
            elif isinstance(value, float):
                flat += [self.sid(key) * 4 + 2, value]
            else:
                flat += [self.sid(key) * 4, self.sid(value)]
        return flat

    def series(self, instrument_id, attributes=None):
        self.series_table.append([instrument_id, self.attrs(attributes or {})])
        return len(self.series_table) - 1

    def delta(self, full=False):
        """The dict_delta since the last frame (or the whole dictionary), marking it sent."""
        tables = (self.strings, self.scopes, self.instruments, self.series_table)
        bases = [0, 0, 0, 0] if full else list(self.sent)
        resource = self.attrs(self.resource) if self.resource and (full or not self.resource_sent) else None
        if not full and all(b == len(t) for b, t in zip(bases, tables)) and resource is None:
            return None
        delta = []
        for base, table in zip(bases, tables):
            delta += [base, table[base:]]
        delta.append(resource)
        self.sent = [len(t) for t in tables]
        self.resource_sent = self.resource_sent or resource is not None
        return delta

    def reboot(self, epoch):
        """A new epoch: the dictionary is sent again from scratch, nonce counter restarts."""
        self.epoch = epoch
        self.counter = 0
        self.sent = [0, 0, 0, 0]
        self.resource_sent = False

    # -- frames ------------------------------------------------------------------------------------
    def frame(self, points, start_us, end_us, seq=None, flags=0, delta="auto", epoch=None):
        if seq is None:
            self.seq += 1
            seq = self.seq
        payload = [self.delta() if delta == "auto" else delta, points]
        return wire.encode_frame(
            payload,
            self.codec,
            self.comp,
            wire.device_hash(self.device_id),
            self.epoch if epoch is None else epoch,
            seq,
            start_us,
            end_us,
            flags,
        )

    def refresh_frame(self):
        return wire.encode_frame(
            [self.delta(full=True), []],
            self.codec,
            self.comp,
            wire.device_hash(self.device_id),
            self.epoch,
            0,
            0,
            0,
            wire.FLAG_DICT_REFRESH,
        )

    # -- requests ----------------------------------------------------------------------------------
    def headers(self, body, time_ms=None, ticks=0, counter=None, key=None):
        if counter is None:
            self.counter += 1
            counter = self.counter
        nonce = "%d.%d" % (self.epoch, counter)
        time_text = str(int(time.time() * 1000) if time_ms is None else time_ms)
        ticks_text = str(ticks)
        message = b"\n".join(
            [
                b"litetel-v1",
                self.device_id.encode(),
                nonce.encode(),
                time_text.encode(),
                ticks_text.encode(),
                body,
            ]
        )
        signature = hmac.new(key or self.key, message, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/vnd.litetel.frames",
            "X-Litetel-Device": self.device_id,
            "X-Litetel-Nonce": nonce,
            "X-Litetel-Time": time_text,
            "X-Litetel-Ticks": ticks_text,
            "X-Litetel-Signature": signature,
        }

    def post(self, url, frames, headers=None, **header_args):
        """POST frames to ``url`` (``.../v1/frames`` appended); returns (status, parsed JSON)."""
        body = b"".join(frames)
        request = urllib.request.Request(
            url.rstrip("/") + "/v1/frames",
            data=body,
            method="POST",
            headers=headers or self.headers(body, **header_args),
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")
