# Tiny assertion helpers for the MicroPython test scripts (tests/micropython/mp_test_*.py).
# Pure MicroPython-compatible code: no f-strings with '=', no typing, nothing CPython-only.
#
#   from mpcheck import check, check_eq, raises, done
#   check_eq(1 + 1, 2, "adds")
#   raises(ValueError, int, "x")
#   done()                      # prints "OK <n> checks" as the script's last line

_count = [0]


class CheckFailed(AssertionError):
    pass


def check(cond, msg="check"):
    """Fail the script (raise) unless cond is truthy."""
    _count[0] += 1
    if not cond:
        raise CheckFailed("FAIL #%d: %s" % (_count[0], msg))


def check_eq(actual, expected, msg="values differ"):
    """Fail unless actual == expected, showing both."""
    _count[0] += 1
    if actual != expected:
        raise CheckFailed("FAIL #%d: %s: got %r, expected %r" % (_count[0], msg, actual, expected))


def raises(exc_type, fn, *args, **kwargs):
    """Fail unless fn(*args, **kwargs) raises exc_type; returns the exception."""
    _count[0] += 1
    try:
        fn(*args, **kwargs)
    except exc_type as exc:
        return exc
    raise CheckFailed(
        "FAIL #%d: %s did not raise %s" % (_count[0], getattr(fn, "__name__", fn), exc_type.__name__)
    )


def count():
    return _count[0]


def done():
    """Print the success line the runner looks for; call last."""
    print("OK %d checks" % _count[0])
