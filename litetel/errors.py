"""Exceptions raised by litetel. Each names what went wrong; none is raised silently swallowed."""


class LitetelError(Exception):
    """Base class of every litetel error."""


class InstrumentError(LitetelError, ValueError):
    """A measurement or instrument definition was refused (bad value, bad attribute, name clash)."""


class FrameError(LitetelError, ValueError):
    """Bytes are not a valid litetel frame (bad magic, version, CRC, truncated, undecodable payload)."""


class FrameTooLargeError(LitetelError, ValueError):
    """A frame does not fit in the ring buffer even when it is empty."""


class CodecError(LitetelError, ValueError):
    """A value cannot be encoded, or bytes cannot be decoded, by a litetel codec."""


class UploadError(LitetelError):
    """An upload failed in a way the caller asked to hear about (the uploader itself retries)."""
