"""The session's Prometheus serves exactly what a test backfilled."""

from __future__ import annotations

import math

from prom import Prometheus, namespace


def test_backfilled_series_are_served_exactly(prometheus: Prometheus) -> None:
    ns = namespace()
    om = prometheus.om()
    om.counter("fixture_requests", {"ns": ns, "code": "200"}, [(-120, 10), (-60, 70), (-1, 130)])
    om.gauge("fixture_gauge", {"ns": ns}, [(-30, math.nan)])
    om.histogram("fixture_latency_seconds", {"ns": ns}, [0.1, 0.5], [(-60, [1, 2, 2], 0.3), (-1, [5, 9, 10], 4.0)])
    prometheus.backfill(om)

    [counter] = prometheus.query(f'fixture_requests_total{{ns="{ns}"}}')
    assert counter["value"] == [prometheus.now, "130"]
    [stamp] = prometheus.query(f'timestamp(fixture_requests_total{{ns="{ns}"}})')
    assert float(stamp["value"][1]) == prometheus.now - 1  # the sample's own time, not the evaluation's
    [gauge] = prometheus.query(f'fixture_gauge{{ns="{ns}"}}')
    assert gauge["value"][1] == "NaN"
    buckets = prometheus.query(f'fixture_latency_seconds_bucket{{ns="{ns}"}}')
    assert sorted((b["metric"]["le"], b["value"][1]) for b in buckets) == [("+Inf", "10"), ("0.1", "5"), ("0.5", "9")]


def test_a_second_backfill_keeps_the_first(prometheus: Prometheus) -> None:
    first, second = namespace(), namespace()
    prometheus.backfill(prometheus.om().gauge("fixture_kept", {"ns": first}, [(-10, 1)]))
    prometheus.backfill(prometheus.om().gauge("fixture_kept", {"ns": second}, [(-10, 2)]))
    got = {r["metric"]["ns"]: r["value"][1] for r in prometheus.query("fixture_kept")}
    assert got[first] == "1" and got[second] == "2"


# The live scrape path (prometheus.scrape with prom_exporter) is proven once, through the cockpit's own
# client: tests/test_metric_conditions.py::test_live_scrape_of_an_exporter_end_to_end.
