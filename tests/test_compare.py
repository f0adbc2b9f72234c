"""compare() (issue 27, item 1): v2 against v1 on the same traffic, judged by the probes' own regression rule.

Backfilled Prometheus data (tests/prom.py): a latency gauge per version, one sample per scrape interval
over the gate's window. The same two sample sets then go through the probe path (a baseline and the
history of a service, judged by RegressionTracker) and must get the same verdict.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prom import Prometheus, namespace
from promtraffic import SCRAPE_INTERVAL

from cockpit.baseline import RegressionTracker
from cockpit.conditions import evaluate, parse
from cockpit.config import load_config
from cockpit.errors import ConfigError
from cockpit.history import History
from cockpit.metrics import PrometheusClient
from cockpit.model import CheckResult, HostState
from cockpit.secrets import Redactor
from cockpit.spec import MetricsSourceSpec

WINDOW = 300.0
MIN_SAMPLES = 20
FACTOR = 1.5
STEPS = int(WINDOW // SCRAPE_INTERVAL)  # 20 steps: 21 points in [now - window, now]


def _points(rng: random.Random, centre: float, n: int) -> list[tuple[float, float]]:
    """``n`` samples a scrape interval apart, oldest first (OpenMetrics wants them in time order), ending now."""
    return [(-SCRAPE_INTERVAL * i, centre * rng.uniform(0.85, 1.15)) for i in reversed(range(n))]


@pytest.fixture(scope="module")
def ns(prometheus: Prometheus) -> Iterator[str]:
    name = namespace("cmp")
    rng = random.Random(27)
    om = prometheus.om()
    for version, centre, n in (("v1", 0.100, STEPS + 1), ("v2", 0.300, STEPS + 1), ("v3", 0.100, STEPS + 1),
                               ("v4", 0.300, 5)):
        om.gauge("cockpit_test_latency_seconds", {"ns": name, "version": version}, _points(rng, centre, n))
    prometheus.backfill(om)
    yield name


class Ctx:
    """The metric part of an evaluation context over the real source, with the runbook's rule."""

    def __init__(self, prometheus: Prometheus) -> None:
        self.source = MetricsSourceSpec("prom", prometheus.url, scrape_interval=SCRAPE_INTERVAL)
        self.at = prometheus.now

    def metrics_source(self, name: str | None) -> MetricsSourceSpec | None:
        return self.source if name in (None, "prom") else None

    def metric_client(self, source: MetricsSourceSpec) -> PrometheusClient:
        return PrometheusClient(source, Redactor())

    def eval_time(self) -> float:
        return self.at

    def placeholder_values(self, host: str | None) -> dict[str, str]:
        return {}

    def command_hosts(self, selector: str | None) -> list[str]:
        return []

    def regression_rule(self) -> tuple[float, float, int]:
        return WINDOW, FACTOR, MIN_SAMPLES


def _cond(ns: str, current: str, base: str) -> str:
    q = 'cockpit_test_latency_seconds{{ns="{ns}",version="{v}"}}'
    return f"compare(metric('{q.format(ns=ns, v=current)}'), metric('{q.format(ns=ns, v=base)}'))"


async def _samples(prometheus: Prometheus, ns: str, version: str) -> list[float]:
    async with PrometheusClient(Ctx(prometheus).source) as client:
        res = await client.range(f'cockpit_test_latency_seconds{{ns="{ns}",version="{version}"}}',
                                 prometheus.now - WINDOW, prometheus.now, SCRAPE_INTERVAL)
    return [v for s in res.series for _t, v in s.points]


def _probe_path(tmp_path: Path, base: list[float], current: list[float]) -> bool | None:
    """The same sets as a service's baseline and its current window: what RegressionTracker says."""
    cfg = tmp_path / "probe.toml"
    cfg.write_text(f"""
[hosts.h1]
address = "127.0.0.1"

[services.api]
on = ["h1"]
http = "http://127.0.0.1:9/"

[runbook]
min_samples = {MIN_SAMPLES}
window = "{WINDOW:g}s"
latency_factor = {FACTOR}
""")
    try:
        config = load_config(cfg, env={})
    except ConfigError as exc:
        raise AssertionError(str(exc)) from None
    history = History()
    now = time.time()
    for i, latency in enumerate(current):
        at = now - (len(current) - i)
        history.add(HostState("h1", "ok", results=(CheckResult("api", "h1", "http", "up", "", latency, at),),
                              round_ended=at))
    tracker = RegressionTracker(config, history)
    tracker.set_baseline({"at": now, "hosts": {"h1": {"services": {
        "api": {"status": "up", "p95": max(base), "samples": base}}}}})
    regs = tracker.current(now)
    if regs:
        return False
    return None if tracker.undecided() else True


async def test_three_times_slower_fails_with_both_medians_and_the_p_value(prometheus: Prometheus, ns: str,
                                                                           tmp_path: Path) -> None:
    v = await evaluate(parse(_cond(ns, "v2", "v1")), Ctx(prometheus))  # type: ignore[arg-type]
    assert v.value is False, v.detail
    assert "FAILS" in v.detail and "median 3" in v.detail and "vs 1" in v.detail and "p = " in v.detail
    assert "21 vs 21 samples over 300 s" in v.detail
    base, cur = await _samples(prometheus, ns, "v1"), await _samples(prometheus, ns, "v2")
    assert _probe_path(tmp_path, base, cur) is False  # the probes' rule says the same


async def test_equal_versions_pass(prometheus: Prometheus, ns: str, tmp_path: Path) -> None:
    v = await evaluate(parse(_cond(ns, "v3", "v1")), Ctx(prometheus))  # type: ignore[arg-type]
    assert v.value is True, v.detail
    assert "no worse" in v.detail and "p = " in v.detail
    base, cur = await _samples(prometheus, ns, "v1"), await _samples(prometheus, ns, "v3")
    assert _probe_path(tmp_path, base, cur) is True


async def test_too_few_samples_is_inconclusive(prometheus: Prometheus, ns: str, tmp_path: Path) -> None:
    v = await evaluate(parse(_cond(ns, "v4", "v1")), Ctx(prometheus))  # type: ignore[arg-type]
    assert v.value is None, v.detail
    assert "inconclusive: 5 vs 21 samples" in v.detail and "20 needed a side" in v.detail
    base, cur = await _samples(prometheus, ns, "v1"), await _samples(prometheus, ns, "v4")
    assert len(cur) == 5 and _probe_path(tmp_path, base, cur) is None


async def test_a_missing_source_or_a_bad_query_is_inconclusive_and_says_why(prometheus: Prometheus, ns: str) -> None:
    ctx = Ctx(prometheus)
    v = await evaluate(parse("compare(metric('up', source='other'), metric('up'))"), ctx)  # type: ignore[arg-type]
    assert v.value is None and "no [metrics.other] source" in v.detail
    v = await evaluate(parse("compare(metric('sum(('), metric('up'))"), ctx)  # type: ignore[arg-type]
    assert v.value is None and "inconclusive" in v.detail


def test_compare_parses_renders_and_refuses_a_limit() -> None:
    from cockpit.conditions import ConditionError, render

    text = "compare(metric(\"lat{v='2'}\"), metric(\"lat{v='1'}\", source=\"prom\"))"
    assert render(parse(text)) == text
    with pytest.raises(ConditionError, match="metric"):
        parse("compare(up(api), metric('x'))")
