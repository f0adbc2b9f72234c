"""Judging ``metric("PROMQL") OP N``: per series, with its labels, inconclusive (never true) when in doubt.

A reading the metrics area could not vouch for (empty result, NaN or ±Inf, stale data, fewer than
``min_count`` requests) is inconclusive with its reason; so is a source that failed or refused the
query (the message names the query). Prometheus' warnings are shown after the verdict. With ``{host}``
or ``{address}`` in the query it runs once per host the condition covers (a step's hosts in a verify),
each host's series named with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

from cockpit.baseline import RULE_MIN_SAMPLES, latency_shift
from cockpit.conditions.parser import OPS, Compare, Metric, MetricRef
from cockpit.conditions.wording import SeriesValue
from cockpit.errors import MetricsError
from cockpit.metrics import (
    PrometheusClient,
    measure,
    short_query,
    substitute,
    used_placeholders,
)
from cockpit.sanitize import strip_control
from cockpit.spec import MetricsSourceSpec

__all__ = ["MetricContext", "SeriesValue", "judge_compare", "judge_metric", "metric_label"]

_OPS = OPS
_SHOWN = 3


class MetricContext(Protocol):
    """What judging a metric() needs from the evaluation context (part of ``EvalContext``)."""

    def metrics_source(self, name: str | None) -> MetricsSourceSpec | None: ...
    def metric_client(self, source: MetricsSourceSpec) -> PrometheusClient: ...
    def eval_time(self) -> float: ...
    def placeholder_values(self, host: str | None) -> dict[str, str]: ...
    def command_hosts(self, selector: str | None) -> list[str]: ...


def metric_label(node: Metric) -> str:
    src = f', source="{node.source}"' if node.source else ""
    return f'metric("{short_query(node.query)[:60]}"{src})'


def _kleene_and(values: Iterable[bool | None]) -> bool | None:
    vals = list(values)
    return False if False in vals else None if None in vals else True


def format_value(node: Metric, value: float) -> str:
    """In the limit's unit: a ratio as a percentage when the limit is one, seconds as ms, bytes as MB."""
    unit = node.limit.unit
    if unit == "%":
        return f"{value * 100:.3g}%"
    if unit in ("ms", "s", "m", "h"):
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if unit in ("KB", "MB", "GB"):
        return f"{value / 1024.0**2:.4g} MB"
    return str(int(value)) if value.is_integer() else f"{value:.6g}"


def _limit(node: Metric) -> str:
    num = node.limit.number
    return f"limit {node.op} {int(num) if num.is_integer() else num:g}{node.limit.unit}"


async def judge_metric(node: Metric, ctx: MetricContext) -> tuple[bool | None, str, tuple[SeriesValue, ...]]:
    """(outcome, one detail line, the series judged)."""
    label = metric_label(node)
    source = ctx.metrics_source(node.source)
    if source is None:
        which = f"no [metrics.{node.source}] source" if node.source else "no [metrics.NAME] source in the config"
        return None, f"{label}: inconclusive, {which}", ()
    at = ctx.eval_time()
    per_host = bool(used_placeholders(node.query + (node.count or "")) & {"host", "address"})
    hosts: list[str | None] = list(ctx.command_hosts(None)) if per_host else [None]
    if not hosts:
        return None, f"{label}: inconclusive, no host to fill {{host}} with", ()
    limit, cmp = node.ratio_limit, _OPS[node.op]
    values: list[SeriesValue] = []
    problems: list[str] = []
    warnings: list[str] = []
    client = ctx.metric_client(source)
    redact = client.redactor.redact  # a label may echo a secret ${ENV} address: masked like every shown text
    async with client:
        for host in hosts:
            fill = ctx.placeholder_values(host)
            query = substitute(node.query, fill)
            count = substitute(node.count, fill) if node.count else None
            on = f" on {host}" if host else ""
            try:
                m = await measure(client, query, at, count_query=count, min_count=node.min_count)
            except MetricsError as exc:
                problems.append(f"{host}: {exc.message}" if host else exc.message)
                continue
            warnings += m.warnings
            if m.why:
                values.append(SeriesValue(f"(no series){on}", None, None, m.why))
            for r in m.readings:
                where = r.text + on
                if r.why or r.value is None:
                    values.append(SeriesValue(where, r.value, None, r.why))
                else:
                    values.append(SeriesValue(where, r.value, cmp(r.value, limit)))
    outcome = _kleene_and([*(v.outcome for v in values), *([None] * bool(problems))])
    shown = tuple(SeriesValue(redact(v.series), v.value, v.outcome, redact(v.why)) for v in values)
    return outcome, redact(_detail(node, label, outcome, list(shown), problems, warnings)), shown


def _detail(node: Metric, label: str, outcome: bool | None, values: list[SeriesValue], problems: list[str],
            warnings: list[str]) -> str:
    def shown(v: SeriesValue) -> str:
        return f"{format_value(node, v.value)} {v.series}" if v.value is not None else v.series

    if outcome is True:
        body = f"{label} = " + ", ".join(shown(v) for v in values[:_SHOWN])
        body += f" and {len(values) - _SHOWN} more series" if len(values) > _SHOWN else ""
        body += f", {_limit(node)}"
    elif outcome is False:
        bad = [v for v in values if v.outcome is False]
        body = f"{label} FAILS: " + ", ".join(shown(v) for v in bad[:_SHOWN])
        body += f" and {len(bad) - _SHOWN} more series" if len(bad) > _SHOWN else ""
        body += f", {_limit(node)}"
    else:
        unsure = [f"{v.series}: {v.why}" if v.why else shown(v) for v in values if v.outcome is None]
        items = problems + unsure
        body = f"{label}: inconclusive, " + "; ".join(items[:_SHOWN])
        body += f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    if warnings:
        body += " (Prometheus warning: " + "; ".join(warnings[:2]) + ")"
    return strip_control(body)


# --------------------------------------------------------------------------- compare()

def _rule(ctx: object) -> tuple[float, float, int]:
    """(window seconds, effect factor, minimum samples a side): the runbook's, as the probes' rule uses them."""
    rule = getattr(ctx, "regression_rule", None)
    return rule() if rule is not None else (300.0, 1.5, RULE_MIN_SAMPLES)


def _num(v: float) -> str:
    return f"{v * 1000:.3g} ms" if 0 < abs(v) < 1 else f"{v:.4g}"


async def _samples(ref: MetricRef, ctx: MetricContext, at: float, window: float) -> tuple[list[float] | None, str]:
    """Every finite point of every series the query gives over the window, one per scrape interval; or why not."""
    source = ctx.metrics_source(ref.source)
    if source is None:
        return None, f"no [metrics.{ref.source}] source" if ref.source else "no [metrics.NAME] source in the config"
    query = substitute(ref.query, ctx.placeholder_values(None))
    try:
        async with ctx.metric_client(source) as client:
            res = await client.range(query, at - window, at, source.scrape_interval)
    except MetricsError as exc:
        return None, exc.message
    return [v for s in res.series for _t, v in s.points if math.isfinite(v)], ""


async def judge_compare(node: Compare, ctx: MetricContext) -> tuple[bool | None, str]:
    """The first metric's samples against the second's, by :func:`latency_shift` (the probes' regression rule).

    A regression (slower by the rule's factor and floor, and significant) fails; a series either side short
    of the rule's samples is inconclusive; anything else passes. Both medians and the p-value are in the detail.
    """
    label = f"compare({metric_label_ref(node.current)}, {metric_label_ref(node.base)})"
    window, factor, min_samples = _rule(ctx)
    at = ctx.eval_time()
    (cur, why_c), (base, why_b) = [await _samples(r, ctx, at, window) for r in (node.current, node.base)]
    if cur is None or base is None:
        return None, f"{label}: inconclusive, {why_c or why_b}"
    shift = latency_shift(base, cur, factor=factor, min_samples=min_samples)
    span = f"over {window:g} s"
    if shift.verdict == "inconclusive":
        return None, f"{label}: inconclusive: {len(cur)} vs {len(base)} samples {span}, {min_samples} needed a side"
    mc, mb = shift.medians or (math.nan, math.nan)
    words = (f"median {_num(mc)} vs {_num(mb)} (p = {shift.p:.2g}, {len(cur)} vs {len(base)} samples {span})")
    if shift.verdict == "regression":
        return False, f"{label} FAILS: {words}: worse by > {factor:g}x, significant"
    return True, f"{label}: {words}: no worse"


def metric_label_ref(ref: MetricRef) -> str:
    src = f', source="{ref.source}"' if ref.source else ""
    return f'metric("{short_query(ref.query)[:60]}"{src})'
