"""`repeat(n, fn, *args)`: a function that calls `fn(*args)` n times in a plain `for` loop.

The hot-path benchmarks time n calls per round, so the per-call figure is round time / n; every library's
operation goes through the same loop shape, so the loop's cost is the same in every column.

    run = repeat(1000, handle.add, 1)
    run()                                  # handle.add(1) x 1000
"""


def repeat(n, fn, *args):
    loop = range(n)
    if not args:

        def run():
            for _ in loop:
                fn()

    elif len(args) == 1:
        (a,) = args

        def run():
            for _ in loop:
                fn(a)

    elif len(args) == 2:
        a, b = args

        def run():
            for _ in loop:
                fn(a, b)

    else:
        raise ValueError("repeat() takes at most 2 arguments for fn")
    return run


def repeat_cycling(n, fn, first, seconds):
    """A function that calls ``fn(first, seconds[i % len(seconds)])`` for i in range(n): one attribute set
    after another, as a workload of many series does (a library's cache of the last dict never helps)."""
    k = len(seconds)
    loop = range(n)

    def run():
        for i in loop:
            fn(first, seconds[i % k])

    return run
