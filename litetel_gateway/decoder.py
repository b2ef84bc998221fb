"""Frames → validated payloads: envelope split, header check, bounded decompress, decode with limits,
strict schema validation (wire format §1–§3); the per-(device, epoch) series dictionary is
``device_dictionary.Dictionary``, re-exported here.

Nothing here touches SQLite or the network; failures are exceptions naming the reply::

    for start, end in split_frames(body):
        header, payload = parse_header(body, start)          # Reject("crc"), Reject("version"), ...
        dict_delta, points = decode_payload(header, payload, limits)
        dictionary.apply_delta(dict_delta, limits)           # NeedDict, Reject("limit_series"), ...
        n = validate_points(points, dictionary)
"""

import binascii
import struct

import cbor2
import msgpack

from litetel import compression, decoding
from litetel import frame as wire
from litetel.dictionary import MAX_BOUNDARIES, MAX_KEY, MAX_SERIES_ATTRIBUTES, MAX_TEXT
from litetel.epoch_limits import MAX_EPOCH_SCOPES, MAX_EPOCH_SERIES, MAX_EPOCH_STRINGS
from litetel.errors import CodecError, FrameError
from litetel_gateway.device_dictionary import Dictionary  # noqa: F401 (re-exported: the decoder's public names)
from litetel_gateway.payload_schema import (  # noqa: F401 (re-exported: the decoder's public names)
    ATTR_BOOL,
    ATTR_FLOAT,
    ATTR_INT,
    ATTR_STRING,
    COUNTER,
    GAUGE,
    HISTOGRAM,
    INT64_MAX,
    INT64_MIN,
    UP_DOWN_COUNTER,
    NeedDict,
    Reject,
    _is_int,
    _is_number,
    validate_exemplars,
    validate_logs,
    validate_points,
    validate_spans,
)

HEADER_SIZE = 48
_PAYLOAD_LEN = struct.Struct(">I")


class EnvelopeError(Exception):
    """The request body is not a whole number of frames. ``frames``: the ``(start, end)`` of the whole frames
    before the fault (the receiver stores those and leaves the rest unanswered; HTTP 400 when there are none)."""

    def __init__(self, message, frames=()):
        Exception.__init__(self, message)
        self.frames = list(frames)


class Limits:
    """Per-device bounds against hostile or broken input."""

    def __init__(
        self,
        max_frame_bytes=1 << 20,
        max_series=MAX_EPOCH_SERIES,  # the defaults are the wire's limits, which devices stay within
        max_strings=MAX_EPOCH_STRINGS,
        max_value_len=MAX_TEXT,
        max_key_len=MAX_KEY,
        max_attrs=MAX_SERIES_ATTRIBUTES,
        max_buckets=MAX_BOUNDARIES,
        max_scopes=MAX_EPOCH_SCOPES,
    ):
        self.max_frame_bytes = max_frame_bytes
        self.max_series = max_series
        self.max_strings = max_strings
        self.max_value_len = max_value_len
        self.max_key_len = max_key_len
        self.max_attrs = max_attrs
        self.max_buckets = max_buckets
        self.max_scopes = max_scopes


def split_frames(body):
    """``[(start, end), ...]`` of each frame in a concatenation, from the headers' payload_len only.

    Raises EnvelopeError (carrying the frames before it) when a frame is truncated or does not start with the
    magic: past that point frame boundaries are unknown.
    """
    spans, offset, size = [], 0, len(body)
    while offset < size:
        if size - offset < HEADER_SIZE:
            raise EnvelopeError("truncated frame header at byte %d" % offset, spans)
        if body[offset : offset + 2] != wire.MAGIC:
            raise EnvelopeError("no frame magic at byte %d" % offset, spans)
        end = offset + HEADER_SIZE + _PAYLOAD_LEN.unpack_from(body, offset + 40)[0]
        if end > size:
            raise EnvelopeError("frame at byte %d runs past the end of the body" % offset, spans)
        spans.append((offset, end))
        offset = end
    return spans


def _why_bad_header(buf, offset):
    """Name the header fault parse_frame refused, for the reply reason (most specific first)."""
    _, version, flags, codec, comp, reserved = struct.unpack_from(">2sBBBBH", buf, offset)
    if version != wire.VERSION:
        return "version"
    if flags & ~(wire.FLAG_CLOCK_TICKS | wire.FLAG_DICT_REFRESH) or reserved:
        return "reserved"
    payload_len = _PAYLOAD_LEN.unpack_from(buf, offset + 40)[0]
    crc = binascii.crc32(
        buf[offset + HEADER_SIZE : offset + HEADER_SIZE + payload_len],
        binascii.crc32(buf[offset : offset + 44]),
    )
    if crc != _PAYLOAD_LEN.unpack_from(buf, offset + 44)[0]:
        return "crc"
    if codec not in (0, 1):
        return "codec"
    if comp not in (0, 1, 2):
        return "compression"
    return "header"


def parse_header(body, offset):
    """``(header, payload)`` of the frame at ``offset`` (litetel.frame.parse_frame), or Reject."""
    try:
        header, payload, _ = wire.parse_frame(body, offset)
    except FrameError as exc:
        raise Reject(_why_bad_header(body, offset), str(exc)) from None
    return header, payload


def decode_payload(header, payload, limits, budget=None):
    """``(dict_delta, points)`` of a frame payload (see ``decode_elements``)."""
    value = decode_elements(header, payload, limits, budget)
    return value[0], value[1]


def decode_elements(header, payload, limits, budget=None):
    """``[dict_delta, points, spans, logs, exemplars]`` of a frame payload (None for the elements a frame
    does not have): bounded decompression, then the C decoders with limits. ``budget``: a one-item list of
    the bytes the request may still decode, charged with this frame's decompressed size."""
    if header.compression == compression.NONE:
        if len(payload) > limits.max_frame_bytes:
            raise Reject("too_large", "payload of %d bytes" % len(payload))
        data = payload
    else:
        try:
            data = decoding.decompress(header.compression, payload, limits.max_frame_bytes)
        except CodecError as exc:
            raise Reject("too_large" if "exceed" in str(exc) else "decompress", str(exc)) from None
    n = len(data)
    if budget is not None:
        budget[0] -= n
    try:
        if header.codec == 0:
            # Declared lengths are capped by the data size, so no huge preallocation from a forged header.
            value = msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=False,
                use_list=True,
                max_str_len=n,
                max_bin_len=n,
                max_array_len=n,
                max_map_len=n // 2,
                max_ext_len=0,
            )
        else:
            value = cbor2.loads(data)
    except Exception as exc:  # each library has its own error types (and RecursionError, MemoryError)
        raise Reject("decode", "%s: %s" % (type(exc).__name__, exc)) from None
    if not isinstance(value, list) or len(value) < 2:
        raise Reject("schema", "payload is not [dict_delta, points, ...]")
    if not isinstance(value[1], list):
        raise Reject("schema", "points is not a list")
    return (value + [None, None, None])[:5]
