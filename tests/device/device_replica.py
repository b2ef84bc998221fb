"""A test-side reader of device frames: applies dictionary deltas like the gateway must, resolves points.

    replica = Replica()
    points = replica.apply(dev.collect())   # {(instrument name, (("k", v), ...)): value}
"""

from litetel import frame as frames


class Replica:
    """The dictionary of one (device, epoch) as a gateway rebuilds it from frames, checking every base."""

    def __init__(self):
        self.strings = []
        self.scopes = []
        self.instruments = []
        self.series = []
        self.resource = None
        self.headers = []

    def apply(self, data):
        """Apply one frame (bytes); -> its points as ``{(instrument name, attrs tuple): value}``."""
        header, payload, end = frames.parse_frame(data)
        assert end == len(data)
        self.headers.append(header)
        body = frames.decode_payload(header, payload)
        dict_delta, points = body[0], body[1]
        if dict_delta is not None:
            self.apply_delta(dict_delta)
        return self.resolve(points)

    def apply_delta(self, delta):
        assert len(delta) == 9, delta
        for base, entries, table in zip(delta[0:8:2], delta[1:8:2],
                                        (self.strings, self.scopes, self.instruments, self.series)):
            assert base == len(table), "base %d but the table holds %d" % (base, len(table))
            table.extend(entries)
        if delta[8] is not None:
            self.resource = self.attrs(delta[8])

    def attrs(self, flat):
        out = []
        for j in range(0, len(flat), 2):
            tk, v = flat[j], flat[j + 1]
            key, typ = self.strings[tk // 4], tk % 4
            if typ == 0:
                v = v if type(v) is str else self.strings[v]  # inline, or a sid (wire format §2.1)
            elif typ == 3:
                assert v is True or v is False
                v = bool(v)
            out.append((key, v))
        assert [k for k, _ in out] == sorted(k for k, _ in out), "attribute keys must be sorted"
        return tuple(out)

    def instrument(self, inst_id):
        scope_id, name_sid, kind, unit_sid, desc_sid, bounds = self.instruments[inst_id]
        scope = self.scopes[scope_id]
        return {
            "scope": (self.strings[scope[0]], self.strings[scope[1]]),
            "name": self.strings[name_sid],
            "kind": kind,
            "unit": self.strings[unit_sid],
            "description": self.strings[desc_sid],
            "boundaries": bounds,
        }

    def series_name(self, series_id):
        inst_id, flat = self.series[series_id]
        return self.instrument(inst_id)["name"], self.attrs(flat)

    def resolve(self, points):
        assert len(points) % 2 == 0
        out = {}
        for j in range(0, len(points), 2):
            key = self.series_name(points[j])
            assert key not in out, "series %r twice in one frame" % (key,)
            out[key] = points[j + 1]
        return out
