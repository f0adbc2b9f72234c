"""Known request traffic for backfilling: per-version counters and latency histograms, every 15 s for 10 min.

Every figure a test asserts follows from the rates here (``prometheus.now`` is t = 0):

- ``http_requests_total{ns, version, code}``: v2 100/s of 200 and 0.05/s of 500 (ratio 0.05 %); v3 100/s
  and 2/s (1.96 %); v4 like v2 but its samples stop at t = -120 s (stale at t = 0 with a 15 s
  scrape_interval); v5 zero traffic (0/0: NaN); v6 100/s of 200, 500s only from t = -150 s at 5/s
  (a canary that goes bad mid-analysis).
- ``http_request_duration_seconds{ns, version}`` (buckets 0.1 0.2 0.5 1): v2 90 % ≤ 100 ms, the rest ≤ 200 ms
  (p95 150 ms); v3 50 % ≤ 100 ms, 60 % ≤ 200 ms, all ≤ 500 ms (p95 462.5 ms).
"""

from __future__ import annotations

from prom import OpenMetrics

#: the smallest fleet a metric() config needs: one local host with one check
LOCAL_FLEET = """
[hosts.web1]
transport = "local"

[services.self]
on = ["web1"]
process = "python"
"""

STEP = 15.0
START = -600.0
SCRAPE_INTERVAL = 15.0
BUCKETS = (0.1, 0.2, 0.5, 1.0)


def _times(until: float = 0.0) -> list[float]:
    n = int((until - START) // STEP) + 1
    return [START + i * STEP for i in range(n)]


def _ok(rate: float, until: float = 0.0) -> list[tuple[float, float]]:
    return [(t, rate * (t - START)) for t in _times(until)]


def _bad_from(start: float, rate: float) -> list[tuple[float, float]]:
    return [(t, max(0.0, t - start) * rate) for t in _times()]


def traffic(om: OpenMetrics, ns: str) -> OpenMetrics:
    """Add every series above under ``ns``; returns ``om``."""
    req = "http_requests"
    for version, ok, bad, until in (("v2", 100.0, 0.05, 0.0), ("v3", 100.0, 2.0, 0.0), ("v4", 100.0, 0.05, -120.0),
                                    ("v5", 0.0, 0.0, 0.0)):
        om.counter(req, {"ns": ns, "version": version, "code": "200"}, _ok(ok, until))
        om.counter(req, {"ns": ns, "version": version, "code": "500"}, _ok(bad, until))
    om.counter(req, {"ns": ns, "version": "v6", "code": "200"}, _ok(100.0))
    om.counter(req, {"ns": ns, "version": "v6", "code": "500"}, _bad_from(-150.0, 5.0))
    for version, shares in (("v2", (90, 100, 100, 100)), ("v3", (50, 60, 100, 100))):
        points = []
        for t in _times():
            seconds = t - START
            counts = [share * seconds for share in shares] + [100 * seconds]
            points.append((t, counts, 0.1 * 100 * seconds))
        om.histogram("http_request_duration_seconds", {"ns": ns, "version": version}, BUCKETS, points)
    return om


def error_ratio(ns: str, version: str | None = None, window: str = "1m") -> str:
    """The 5xx ratio per version (one version when given), as a gate would write it."""
    pick = f',version="{version}"' if version else ""
    return (f'sum by (version) (rate(http_requests_total{{ns="{ns}"{pick},code=~"5.."}}[{window}])) / '
            f'sum by (version) (rate(http_requests_total{{ns="{ns}"{pick}}}[{window}]))')


def p95(ns: str, version: str) -> str:
    return (f'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket'
            f'{{ns="{ns}",version="{version}"}}[1m])))')


def requests(ns: str, version: str | None = None) -> str:
    pick = f',version="{version}"' if version else ""
    return f'sum by (version) (increase(http_requests_total{{ns="{ns}"{pick}}}[1m]))'
