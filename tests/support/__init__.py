"""Shared test support: free ports, child processes, and the real services the tests run against.

- ``ports``: ``free_port()``, ``wait_for()``
- ``processes``: ``ServiceProcess`` (start/stop/kill/restart a child with a log) and the end-of-session sweep
- ``rotel`` / ``rotel_log``: the rotel OTLP receiver and a parser of its detailed debug log
- ``prometheus``: a Prometheus server scraping given targets, queried over its HTTP API
- ``gateway``: the litetel gateway as a child process
- ``micropython``: finding and running the real MicroPython interpreter

The fault-injecting TCP proxy lives in ``tests/faults/proxy.py`` (the demo uses it too).
"""
