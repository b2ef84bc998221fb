"""Exceptions raised by litetel. Each names what went wrong; none is raised silently swallowed."""


class LitetelError(ValueError):
    """Base class of every litetel error.

    A ValueError: MicroPython cannot combine two built-in exception bases, so the hierarchy is single.
    """


class InstrumentError(LitetelError):
    """A measurement or instrument definition was refused (bad value, bad attribute, name clash)."""


class FrameError(LitetelError):
    """Bytes are not a valid litetel frame (bad magic, version, flags, CRC, truncated); an undecodable payload
    is a ``CodecError``."""


class FrameTooLargeError(LitetelError):
    """A frame does not fit in the ring buffer even when it is empty."""


class CodecError(LitetelError):
    """A value cannot be encoded, or bytes cannot be decoded, by a litetel codec."""


class UploadError(LitetelError):
    """An upload failed in a way the caller asked to hear about (the uploader itself retries)."""
