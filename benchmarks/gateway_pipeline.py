"""The gateway's frames → OTLP protobuf path, in memory, with the gateway's own functions.

Per frame what `litetel_gateway.receiver` does (parse + CRC, bounded decompress + decode with limits,
dictionary delta, point validation, the queue's msgpack blob), then what the exporter does
(`expand.build_request` + `SerializeToString`). SQLite and HTTP are left out: this is the CPU cost per point.

    to_otlp = FramesToOtlp(frames)        # frames: bytes of one device's consecutive frames
    body, n_points = to_otlp()
"""

import msgpack

from litetel_gateway import decoder
from litetel_gateway.expand import ResourceSettings, build_request
from litetel_gateway.store import QueueRow

DEVICE_ID = "bench-device"


class FramesToOtlp:
    """Callable: the frames given at construction → (OTLP request bytes, data points).

    The dictionary persists between calls, as it does in the gateway (steady state): the first frame's
    dictionary delta is re-applied every call, which the gateway accepts as an equal re-send.
    """

    def __init__(self, frames, temporality="delta"):
        self.frames = list(frames)
        self.limits = decoder.Limits()
        self.dictionary = decoder.Dictionary()
        self.settings = ResourceSettings(service_name="bench", temporality=temporality)

    def _get_dictionary(self, device, epoch):
        return self.dictionary

    def __call__(self):
        rows = []
        points_total = 0
        for i, buf in enumerate(self.frames):
            header, payload = decoder.parse_header(buf, 0)
            delta, points = decoder.decode_payload(header, payload, self.limits)
            self.dictionary.apply_delta(delta, self.limits)
            n = decoder.validate_points(points, self.dictionary)
            blob = msgpack.packb([points, None], use_bin_type=True)
            rows.append(
                QueueRow(i, DEVICE_ID, header.epoch, header.seq, header.start, header.end, False, n, blob)
            )
            points_total += n
        request, n_points = build_request(rows, self._get_dictionary, self.settings)
        assert n_points == points_total
        return request.SerializeToString(), n_points
