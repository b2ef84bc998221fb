"""The reference workload of issues 3 and 7, as plain data (no telemetry library imported here).

50 HTTP series, each a request counter plus a 16-bucket latency histogram with 3 attributes; 10 intervals of
60 s; per series a request rate drawn uniformly from 1-20 req/s (counts Poisson-ish around rate x 60) and
latencies log-normal around 50 ms. Seeded, so every library sees exactly the same measurements:

    for interval in intervals():
        for series, latencies in zip(SERIES, interval):
            ...  # counter.add(len(latencies), series); histogram.record(v, series) for v in latencies
"""

import math
import random

SEED = 7
N_SERIES = 50
N_INTERVALS = 10
INTERVAL_S = 60
POINTS_PER_INTERVAL = 2 * N_SERIES  # one counter point + one histogram point per series

# 15 boundaries -> 16 buckets (seconds), close to OTel's HTTP semantic-convention advice.
BOUNDARIES = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0)

COUNTER_NAME = "http.server.request.count"
HISTOGRAM_NAME = "http.server.request.duration"
SCOPE_NAME = "model_server"
RESOURCE = {"service.name": "model-server"}

_METHODS = ("GET", "POST", "PUT", "DELETE")
_ROUTES = ("/api/users", "/api/orders", "/api/items", "/api/login", "/api/search", "/health", "/api/cart")
_STATUSES = (200, 201, 204, 400, 404, 500)


def _series_attributes():
    rng = random.Random(SEED)
    seen = set()
    series = []
    while len(series) < N_SERIES:
        key = (rng.choice(_METHODS), rng.choice(_ROUTES), rng.choice(_STATUSES))
        if key not in seen:
            seen.add(key)
            series.append(
                {"http.request.method": key[0], "http.route": key[1], "http.response.status_code": key[2]}
            )
    return tuple(series)


SERIES = _series_attributes()
"""The 50 attribute dicts, in a fixed order."""


def label_values(attrs):
    """The attribute values as prometheus_client label values: ``labels(*label_values(a))``."""
    return (attrs["http.request.method"], attrs["http.route"], str(attrs["http.response.status_code"]))


LABEL_NAMES = ("http_request_method", "http_route", "http_response_status_code")

_cache = []


def use_short_intervals(seconds=1):
    """Quick mode (CI smoke run): same series, shapes and point counts, `seconds`-long intervals, so the
    workload replays ~60x faster. Wire figures of a quick run are not the reference figures."""
    global INTERVAL_S
    INTERVAL_S = seconds
    del _cache[:]


def intervals():
    """The 10 intervals: each a list (one per series) of that interval's request latencies in seconds.

    Computed once and cached: every library replays the identical measurements.
    """
    if not _cache:
        rng = random.Random(SEED + 1)
        rates = [rng.uniform(1.0, 20.0) for _ in SERIES]
        mu = math.log(0.05)
        for _ in range(N_INTERVALS):
            interval = []
            for rate in rates:
                mean = rate * INTERVAL_S
                # Poisson, normal approximation; at least one request so every series has its points
                count = max(1, round(rng.gauss(mean, math.sqrt(mean))))
                interval.append([rng.lognormvariate(mu, 0.8) for _ in range(count)])
            _cache.append(interval)
    return _cache


def light_interval(samples_per_series=16):
    """A cheap-to-replay interval with the same shape (every series and most buckets touched).

    Used where an interval must be re-recorded before every timed round (export CPU): the export cost depends
    on the number of points, not on how many measurements went into them.
    """
    return [latencies[:samples_per_series] for latencies in intervals()[0]]


def many_series(n):
    """n distinct 3-attribute HTTP dicts (for memory per series), built by the caller before measuring."""
    return [
        {
            "http.request.method": _METHODS[i % 4],
            "http.route": "/api/r%d" % i,
            "http.response.status_code": 200,
        }
        for i in range(n)
    ]
