# The device core's foundations import and behave on the real MicroPython interpreter (default 256K heap:
# importing any litetel module runs the package __init__, which imports Device and the codecs).
import sys

from mpcheck import check, check_eq, done, raises

from litetel import accel, errors

check_eq(sys.implementation.name, "micropython", "runs on MicroPython")
check(accel.MICROPYTHON, "accel detects MicroPython")
check(not accel.ENABLED, "no CPython accelerations on MicroPython")

lock = accel.new_lock()
with lock:
    check(lock.acquire(), "the MicroPython lock stand-in always acquires")
lock.release()

check(issubclass(errors.FrameError, errors.LitetelError), "FrameError is a LitetelError")
check(issubclass(errors.LitetelError, ValueError), "LitetelError is a ValueError")


def bad_frame():
    raise errors.FrameError("bad magic")


exc = raises(errors.LitetelError, bad_frame)
check_eq(str(exc), "bad magic", "the message survives")

from litetel.device import Device  # noqa: E402

exc = raises(errors.LitetelError, Device("smoke").start)
check("tick()" in str(exc), "Device.start() says what to use on MicroPython instead of threads")
done()
