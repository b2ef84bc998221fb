# What a board's firmware does with its ROM partition at boot (MicroPython 1.25+): mount it at /rom, where
# the .mpy files it holds run in place instead of being copied to the heap, and put /rom first on sys.path.
# The unix port has no ROM partition: the image (build/romfs/litetel.romfs, its path in $LITETEL_ROMFS) is
# read into one bytearray taken before anything else. That block sits at the bottom of the heap and is never
# freed, so the rest of the heap behaves as the whole heap of a board whose image is in flash.
import os
import sys

import vfs


def mount(path=None):
    """Mount the ROMFS image at ``path`` (default ``$LITETEL_ROMFS``) on /rom; -> the image's bytearray."""
    path = path or os.getenv("LITETEL_ROMFS")
    if not path:
        raise OSError("LITETEL_ROMFS is not set: run the script through tests/support/micropython.py")
    image = bytearray(os.stat(path)[6])
    with open(path, "rb") as f:
        f.readinto(image)
    vfs.mount(vfs.VfsRom(image), "/rom")
    sys.path.insert(0, "/rom")
    return image
