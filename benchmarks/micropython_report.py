"""The MicroPython section of docs/benchmarks.md: the real interpreter's timings, allocations and heap, and the
issue-2 scenario by how litetel is deployed (.mpy files, a ROMFS image) and by the interpreter's word size."""

from benchmarks.formatting import fmt_figure, table

MP_ROWS = (
    ("mp.counter_add_us", "bound counter `add(1)` (µs)"),
    ("mp.histogram_record_int_us", "bound histogram `record(3)` (µs)"),
    ("mp.histogram_record_float_us", "bound histogram `record(0.042)` (µs)"),
    ("mp.gauge_set_int_us", "bound gauge `set(40)` (µs)"),
    ("mp.loop_us", "the empty `for` loop included in the rows above (µs)"),
    ("mp.alloc_counter_add_int", "bytes allocated by 10,000 bound integer adds"),
    ("mp.alloc_histogram_record_int", "bytes allocated by 10,000 bound integer records"),
    ("mp.alloc_gauge_set_int", "bytes allocated by 10,000 bound integer gauge sets"),
    ("mp.alloc_histogram_record_float", "bytes allocated by 10,000 bound float records (boxed floats)"),
    ("mp.heap_import", "heap after `import litetel` (B)"),
    ("mp.heap_setup_20_series", "heap for the device + 20 series (B)"),
    ("mp.heap_total_after_setup", "heap in use after setup, total (B)"),
    ("mp.scenario_frame_bytes", "frame of the 10,000-recording interval (B)"),
    ("mp.heap_after_scenario", "heap in use after the scenario's collect() (B)"),
    ("mp.mpy.heap_import", "precompiled .mpy: heap after `import litetel` (B)"),
    ("mp.mpy.heap_total_after_setup", "precompiled .mpy: heap in use after setup, total (B)"),
    ("mp.mpy.heap_after_scenario", "precompiled .mpy: heap in use after the scenario (B)"),
    ("mp.mpy.smallest_heap", "precompiled .mpy: smallest `-X heapsize` that runs the scenario (KiB)"),
)


def _fits_text(fits):
    if fits is None:
        return "not run"
    # the failure's last line (the exception) is enough here; the JSON keeps more
    return "yes" if fits["median"] else "no (%s)" % (fits.get("error") or "?").strip().splitlines()[-1]


def _deployed_cell(r, prefix):
    fits = r.value(prefix + "fits_64k")
    if fits is None:
        return "not measured"
    return "%s; runs from %.0fK; %.1f KB in use after it" % (
        "**fits 64K**" if fits else "does not fit 64K",
        r.value(prefix + "smallest_heap"),
        r.value(prefix + "heap_after_scenario") / 1000,
    )


def deployed_table(r):
    """The issue-2 scenario by how litetel is deployed and by the interpreter's word size."""
    rows = [
        [form, _deployed_cell(r, "mp.%s." % key), _deployed_cell(r, "mp32.%s." % key)]
        for key, form in (("mpy", "`.mpy` files (copied to the heap at import)"),
                          ("rom", "ROMFS image, run in place (beside the image)"))
    ]
    return table(["litetel deployed as", "64-bit unix port (PyPI)", "32-bit unix port (built -m32)"], rows)


def micropython_section(r):
    rows = [
        [name, fmt_figure(r.figure(key), "%.2f" if key.endswith("_us") else "%.0f")] for key, name in MP_ROWS
    ]
    status = [_fits_text(r.figure(key)) for key in ("mp.fits_64k", "mp.mpy.fits_64k")]
    return [
        "## MicroPython (real interpreter)",
        "",
        (
            "`benchmarks/micropython_bench.py` under `-X heapsize=64K` (256K where it fails), 5 runs (median, "
            "IQR); timings with `time.ticks_us` over 10,000 calls, allocation with `gc.mem_alloc()`. The "
            "issue-2 scenario (`benchmarks/micropython_scenario.py`, that alone: import, 20 series, 10,000 "
            "recordings, `collect()` into an 8 KB RAM buffer) ran under 64K: from .py sources **%s**; "
            "precompiled to .mpy **%s** (heap figures of a failed 64K run come from a 256K run)."
        )
        % tuple(status),
        "",
    ] + table(["figure", "value"], rows) + [
        "",
        (
            "The scenario as boards deploy litetel (`bench_micropython.py::test_micropython_deployed`): the "
            "smallest `-X heapsize` that runs it and every heap 4K above; a ROMFS image (MicroPython ≥ 1.25: a "
            "ROM partition's bytecode runs in place) takes heap on the unix port, at the bottom of the heap, "
            "so its figures are less the image's heap, the RAM of a board that keeps it in flash. The 32-bit "
            "column (the microcontrollers' word size; PyPI has no such build) is measured when "
            "`LITETEL_MICROPYTHON32` names one."
        ),
        "",
    ] + deployed_table(r)
