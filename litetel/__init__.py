"""litetel: lightweight telemetry for constrained devices.

    import litetel
    dev = litetel.Device("sat-7", resource={"service.name": "model-server"})
    requests = dev.meter("model_server").counter("http.server.request.count", unit="{request}")
    requests.bind({"http.route": "/api"}).add(1)
    dev.collect()

The core imports only what MicroPython has; CPython-only helpers are separate modules: litetel.asgi and
litetel.cli are never imported by the core, litetel.background only by ``Device.start()`` (CPython's thread).
"""

from litetel.errors import (  # noqa: F401
    CodecError,
    FrameError,
    FrameTooLargeError,
    InstrumentError,
    LitetelError,
    UploadError,
)


def __getattr__(name):
    # Lazy exports: `import litetel.frame` on a 64 KB MicroPython heap must not load the whole device stack.
    if name == "Device" or name == "RingBuffer":
        from litetel.accel import import_packed

        module = import_packed("litetel.device" if name == "Device" else "litetel.ring_buffer")
        return getattr(module, name)
    # MicroPython asks the package before importing a submodule (`from litetel import codecs`): import it.
    try:
        module = __import__("litetel." + name)
    except ImportError:
        raise AttributeError("module 'litetel' has no attribute %r" % (name,))
    return getattr(module, name)


__version__ = "0.1.0"
