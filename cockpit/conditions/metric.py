"""Judging ``metric("PROMQL") OP N``: per series, with its labels, inconclusive (never true) when in doubt.

A reading the metrics area could not vouch for (empty result, NaN or ±Inf, stale data, fewer than
``min_count`` requests) is inconclusive with its reason; so is a source that failed or refused the
query (the message names the query). Prometheus' warnings are shown after the verdict. With ``{host}``
or ``{address}`` in the query it runs once per host the condition covers (a step's hosts in a verify),
each host's series named with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from cockpit.conditions.parser import OPS, Metric
from cockpit.errors import MetricsError
from cockpit.metrics import PrometheusClient, measure, short_query, substitute, used_placeholders
from cockpit.sanitize import strip_control
from cockpit.spec import MetricsSourceSpec

__all__ = ["MetricContext", "SeriesValue", "judge_metric", "metric_label"]

_OPS = OPS
_SHOWN = 3


@dataclass(frozen=True)
class SeriesValue:
    """One series a metric() judged: where (its labels, and the host), its value, the outcome and why."""

    series: str
    value: float | None
    outcome: bool | None
    why: str = ""


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
