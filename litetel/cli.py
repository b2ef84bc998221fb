"""``litetel inspect FILE [--json]``: decode frames for debugging (CPython only).

FILE may be one frame, frames back to back (an upload body), or a ring-buffer file (``RingBuffer(path=...)``,
opened on a temporary copy so the file is never touched). Any other file is scanned for intact frames.
Each frame is shown with its header and its payload, the series dictionary resolved where the file holds it
(names, units and attributes instead of ids).

    $ litetel inspect /flash/tel.rb
    $ litetel inspect body.bin --json | jq '.frames[].points'
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile

from litetel import codecs, compression, frame
from litetel.errors import LitetelError

KINDS = ("counter", "updowncounter", "gauge", "histogram")
ATTR_TYPES = ("str", "int", "float", "bool")


# ------------------------------------------------------------------------------------------ reading FILE


def read_frames(data, path):
    """``(source, [(offset or None, FrameHeader, payload)])`` from the bytes of ``path``, whatever it holds."""
    try:
        frames = []
        offset = 0
        while offset < len(data):
            header, payload, next_offset = frame.parse_frame(data, offset)
            frames.append((offset, header, payload))
            offset = next_offset
        return {"format": "frames"}, frames
    except LitetelError:
        pass
    ring = _read_ring_buffer(data, path)
    if ring is not None:
        return ring
    return {"format": "scan"}, list(_scan(data))


def _read_ring_buffer(data, path):
    try:
        from litetel.ring_buffer import FILE_MAGIC, RingBuffer
    except ImportError:
        return None
    if not data.startswith(FILE_MAGIC):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "copy.rb")
        shutil.copyfile(path, copy)  # opening a RingBuffer may recover (write) the file: never the original
        buf = RingBuffer(capacity=len(data), path=copy)
        try:
            held = buf.read(max_bytes=len(data), max_frames=max(buf.pending, 1))
            source = {"format": "ring_buffer", "capacity": buf.capacity, "pending": buf.pending,
                      "acked": buf.acked, "next_seq": buf.next_seq, "corrupt": buf.corrupt}
        finally:
            buf.close()
    frames = []
    for _, frame_bytes in held:
        header, payload, _ = frame.parse_frame(frame_bytes)
        frames.append((None, header, payload))
    return source, frames


def _scan(data):
    # Unknown container: every offset where an intact frame starts (magic + version, then a valid CRC).
    offset = data.find(frame.MAGIC + bytes([frame.VERSION]))
    while offset >= 0:
        try:
            header, payload, next_offset = frame.parse_frame(data, offset)
        except LitetelError:
            next_offset = offset + 1
        else:
            yield offset, header, payload
        offset = data.find(frame.MAGIC + bytes([frame.VERSION]), next_offset)


# -------------------------------------------------------------------------------- payload and dictionary


class Dictionaries:
    """The series dictionaries seen so far in the file, per (device hash, epoch), to resolve ids."""

    def __init__(self):
        self.by_epoch = {}

    def apply(self, key, delta):
        tables = self.by_epoch.setdefault(key, {"strings": [], "scopes": [], "instruments": [], "series": [],
                                                "resource": None})
        if delta is None:
            return tables
        for i, name in enumerate(("strings", "scopes", "instruments", "series")):
            base, entries = delta[2 * i], delta[2 * i + 1]
            table = tables[name]
            del table[base:]
            table.extend([None] * (base - len(table)))  # entries this file does not hold
            table.extend(entries)
        if len(delta) > 8 and delta[8] is not None:
            tables["resource"] = delta[8]
        return tables


def _string(tables, sid):
    strings = tables["strings"]
    if isinstance(sid, int) and 0 <= sid < len(strings) and strings[sid] is not None:
        return strings[sid]
    return "#%s" % (sid,)


def _attributes(tables, attrs):
    out = {}
    for i in range(0, len(attrs or ()) - 1, 2):
        tk, value = attrs[i], attrs[i + 1]
        key, kind = divmod(tk, 4) if isinstance(tk, int) else (tk, 1)
        # A string value is a sid, or inline (a str) as devices send it since 2026-11.
        out[_string(tables, key)] = _string(tables, value) if kind == 0 and not isinstance(value, str) else value
    return out


def _instrument(tables, inst_id):
    instruments = tables["instruments"]
    if not (isinstance(inst_id, int) and 0 <= inst_id < len(instruments) and instruments[inst_id]):
        return {"id": inst_id}
    scope_id, name, kind, unit, description, boundaries = (list(instruments[inst_id]) + [None] * 6)[:6]
    scopes = tables["scopes"]
    scope = scopes[scope_id] if isinstance(scope_id, int) and 0 <= scope_id < len(scopes) else None
    return {"id": inst_id, "name": _string(tables, name), "scope": _string(tables, scope[0]) if scope else None,
            "kind": KINDS[kind] if isinstance(kind, int) and 0 <= kind < len(KINDS) else kind,
            "unit": _string(tables, unit), "description": _string(tables, description), "boundaries": boundaries}


def _series(tables, series_id):
    series = tables["series"]
    if not (isinstance(series_id, int) and 0 <= series_id < len(series) and series[series_id]):
        return {"series": series_id}
    inst_id, attrs = series[series_id][0], series[series_id][1]
    inst = _instrument(tables, inst_id)
    return {"series": series_id, "instrument": inst.get("name", "#%s" % inst_id), "kind": inst.get("kind"),
            "attributes": _attributes(tables, attrs)}


def resolve(header, payload_obj, dictionaries):
    """The payload as readable JSON: dictionary additions spelled out, points with names and attributes."""
    if not isinstance(payload_obj, list) or len(payload_obj) < 2:
        return {"raw": payload_obj}
    delta, points = payload_obj[0], payload_obj[1]
    tables = dictionaries.apply((header.device_hash, header.epoch), delta)
    out = {}
    if delta is not None:
        out["dictionary"] = {
            "strings": {"base": delta[0], "entries": delta[1]},
            "instruments": [_instrument(tables, delta[4] + i) for i in range(len(delta[5]))],
            "series": [_series(tables, delta[6] + i) for i in range(len(delta[7]))],
            "resource": _attributes(tables, delta[8]) if len(delta) > 8 and delta[8] is not None else None,
        }
    out["points"] = [dict(_series(tables, points[i]), value=points[i + 1]) for i in range(0, len(points) - 1, 2)]
    if len(payload_obj) > 2:
        out["extra"] = payload_obj[2:]
    return out


def inspect(path):
    """Everything ``litetel inspect`` shows about ``path``, as a JSON-ready dict."""
    with open(path, "rb") as f:
        data = f.read()
    source, frames = read_frames(data, path)
    dictionaries = Dictionaries()
    shown = []
    for offset, header, payload in frames:
        entry = {"header": header.as_dict()}
        entry["header"]["codec"] = _name(codecs.NAMES, header.codec)
        entry["header"]["compression"] = _name(compression.NAMES, header.compression)
        entry["header"]["flags"] = _flag_names(header.flags)
        if offset is not None:
            entry["offset"] = offset
        try:
            entry.update(resolve(header, frame.decode_payload(header, payload), dictionaries))
        except (LitetelError, TypeError, IndexError, ValueError) as exc:
            entry["error"] = "%s: %s" % (type(exc).__name__, exc)
        shown.append(entry)
    return dict({"file": path, "size": len(data)}, **source, frames=shown)


def _name(names, value):
    for name, known in names.items():
        if known == value:
            return name
    return value


def _flag_names(flags):
    names = [n for n, bit in (("CLOCK_TICKS", frame.FLAG_CLOCK_TICKS), ("DICT_REFRESH", frame.FLAG_DICT_REFRESH))
             if flags & bit]
    return names


# ------------------------------------------------------------------------------------------------ output


def _jsonable(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)  # "nan", "inf": JSON has no such numbers
    if isinstance(obj, bytes):
        return {"hex": obj.hex()}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def format_text(report):
    """A compact human listing of ``inspect``'s report."""
    lines = ["%s: %d bytes, %s, %d frame(s)" % (report["file"], report["size"], report["format"],
                                                len(report["frames"]))]
    if report["format"] == "ring_buffer":
        lines.append("  capacity %(capacity)d, pending %(pending)d, acked %(acked)d, next_seq %(next_seq)d, "
                     "corrupt %(corrupt)d" % report)
    for entry in report["frames"]:
        h = entry["header"]
        lines.append("frame seq=%s epoch=%s device=%s %s/%s flags=%s start=%s end=%s payload=%dB" % (
            h["seq"], h["epoch"], h["device_hash"], h["codec"], h["compression"], "|".join(h["flags"]) or "-",
            h["start"], h["end"], h["payload_len"]))
        if "error" in entry:
            lines.append("  error: %s" % entry["error"])
        added = entry.get("dictionary")
        if added:
            lines.append("  dictionary: +%d strings, +%d instruments, +%d series" % (
                len(added["strings"]["entries"]), len(added["instruments"]), len(added["series"])))
        for point in entry.get("points", ()):
            attrs = ", ".join("%s=%s" % kv for kv in sorted(point.get("attributes", {}).items()))
            name = point.get("instrument", "series #%s" % point["series"])
            lines.append("  %s{%s} = %s" % (name, attrs, json.dumps(_jsonable(point["value"]))))
    return "\n".join(lines)


def main(argv=None):
    """Console entry point ``litetel``."""
    parser = argparse.ArgumentParser(prog="litetel", description="litetel device tools")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("inspect", help="decode a frame, an upload body or a ring-buffer file")
    cmd.add_argument("file")
    cmd.add_argument("--json", action="store_true", help="print the full report as JSON")
    args = parser.parse_args(argv)
    try:
        report = inspect(args.file)
    except OSError as exc:
        print("litetel inspect: %s" % exc, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_jsonable(report), indent=2, sort_keys=False))
    else:
        print(format_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
