"""litetel: lightweight telemetry for constrained devices.

    import litetel
    dev = litetel.Device("sat-7", resource={"service.name": "model-server"})
    requests = dev.meter("model_server").counter("http.server.request.count", unit="{request}")
    requests.bind({"http.route": "/api"}).add(1)
    dev.collect()

The core imports only what MicroPython has; CPython-only helpers (litetel.asgi, litetel.background,
litetel.cli) are separate modules that this package never imports.
"""

from litetel.errors import (  # noqa: F401
    CodecError,
    FrameError,
    FrameTooLargeError,
    InstrumentError,
    LitetelError,
    UploadError,
)
from litetel.ring_buffer import RingBuffer  # noqa: F401
from litetel.device import Device  # noqa: F401

__version__ = "0.1.0"
