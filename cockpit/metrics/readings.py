"""One measurement of a PromQL query: each series' value, how old its data is, and how many requests back it.

Honest by construction: a reading is judgeable only when its value is a finite number, its data is
fresh and (when asked) enough requests stand behind it; otherwise it carries ``why`` and the caller
treats it as inconclusive, never as true.

Freshness. An instant query answers with the *evaluation* time, not the sample's, and a ``rate()``
keeps answering for its whole range after a target stopped. So each series selector of the query is
read again as ``timestamp(SELECTOR)`` (the time of each raw series' newest sample within Prometheus'
lookback). A result series is fed by the raw series that agree with it on every label they share
(``sum by (le)`` results, with no labels, are fed by all of them); its age is that of the *stalest*
selector's newest feeding sample, and it is stale when that is older than twice the source's
``scrape_interval``. A query without selectors (``vector(1)``) has no samples to be stale.

Counts. With ``count_query`` (``metric(..., count="...") ... min_count N``) a companion query says how
many requests stand behind each series (the count series agreeing with it on shared labels, summed).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from cockpit.metrics.client import PrometheusClient, QueryResult, Series, label_text, short_query
from cockpit.metrics.promql import vector_selectors

__all__ = ["Measurement", "Reading", "measure"]


@dataclass(frozen=True)
class Reading:
    """One series: labels, value (None: not a number), age of its data in seconds, count, and ``why`` it
    cannot be judged ("" when it can)."""

    labels: tuple[tuple[str, str], ...]
    value: float | None
    age: float | None = None
    count: float | None = None
    why: str = ""

    @property
    def text(self) -> str:
        return label_text(self.labels)


@dataclass(frozen=True)
class Measurement:
    """A query's readings at ``at`` on ``source``; ``why`` when nothing could be judged (empty result)."""

    source: str
    query: str
    at: float
    readings: tuple[Reading, ...]
    warnings: tuple[str, ...] = ()
    why: str = ""


def _agrees(raw: dict[str, str], result: dict[str, str]) -> bool:
    return all(result[k] == v for k, v in raw.items() if k in result and k != "__name__")


def _secs(v: float) -> str:
    return f"{v:.0f} s" if v >= 10 else f"{v:.3g} s"


async def measure(client: PrometheusClient, query: str, at: float, *, count_query: str | None = None,
                  min_count: float | None = None) -> Measurement:
    """Query ``query`` at ``at`` and read each series' freshness (and count) at the same time.

    Raises:
        MetricsError: the source failed or refused one of the queries (it names which).
    """
    selectors = vector_selectors(query)
    jobs = [client.instant(query, at), *(client.instant(f"timestamp({sel})", at) for sel in selectors)]
    if count_query is not None:
        jobs.append(client.instant(count_query, at))
    results: list[QueryResult] = list(await asyncio.gather(*jobs))
    main, stamps = results[0], results[1:1 + len(selectors)]
    counts = results[1 + len(selectors)] if count_query is not None else None
    warnings = tuple(f"{w} (query: {short_query(r.query)})" for r in results for w in r.warnings)
    source = client.source
    if not main.series:
        return Measurement(source.name, query, at, (), warnings,
                           "no series: the query matched no data (a typo in a label, or no traffic yet?)")
    limit = 2 * source.scrape_interval
    readings = []
    for s in main.series:
        readings.append(_reading(s, selectors, stamps, counts, at, limit, source.scrape_interval, min_count))
    return Measurement(source.name, query, at, tuple(readings), warnings)


def _reading(s: Series, selectors: list[str], stamps: list[QueryResult], counts: QueryResult | None, at: float,
             limit: float, scrape: float, min_count: float | None) -> Reading:
    labels = s.label_map
    value = s.value if math.isfinite(s.value) else None
    age: float | None = None
    why = ""
    if value is None:
        shown = "NaN" if math.isnan(s.value) else "+Inf" if s.value > 0 else "-Inf"
        why = f"the value is {shown}" + (": 0/0, no requests to divide by?" if shown == "NaN" else
                                         ": a division by zero?")
    for sel, stamp in zip(selectors, stamps):
        fed = [t.value for t in stamp.series if _agrees(t.label_map, labels) and math.isfinite(t.value)]
        if not fed:
            why = why or f"no sample of {short_query(sel)} within Prometheus' lookback (5 m by default)"
            age = math.inf
            continue
        sel_age = max(0.0, at - max(fed))
        if age is None or sel_age > age:
            age = sel_age
            if sel_age > limit and not why:
                why = (f"stale: the newest sample of {short_query(sel)} is {_secs(sel_age)} old, older than "
                       f"2 × scrape_interval ({_secs(scrape)})")
    count: float | None = None
    if counts is not None:
        fed_counts = [c.value for c in counts.series if _agrees(c.label_map, labels) and math.isfinite(c.value)]
        count = sum(fed_counts) if fed_counts else None
        if not why and count is None:
            why = f"the count query gave no number for {label_text(labels)}"
        elif not why and min_count is not None and count is not None and count < min_count:
            why = f"only {count:.0f} requests behind it, fewer than min_count {min_count:g}"
    return Reading(s.labels, value, None if age == math.inf else age, count, why)
