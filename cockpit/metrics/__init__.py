"""Metrics sources (Prometheus) the ``metric()`` conditions query: an engine area below the conditions.

Parts: ``client`` (:class:`PrometheusClient`: instant and range queries over httpx, errors and warnings
with their query), ``promql`` (placeholders inside label matchers' quoted values only, the PromQL string
escaper, the series selectors of a query) and ``readings`` (:func:`measure`: one query's per-series
values with the freshness and count checks that make a reading inconclusive). The source's settings are
:class:`cockpit.spec.MetricsSourceSpec` (``[metrics.NAME]``); docs/architecture.md lists this API.
"""

from __future__ import annotations

from cockpit.errors import MetricsError
from cockpit.metrics.client import PrometheusClient, QueryResult, Series, label_text, short_query
from cockpit.metrics.promql import (
    PLACEHOLDERS,
    decode_string,
    promql_string,
    substitute,
    template_issues,
    used_placeholders,
    vector_selectors,
)
from cockpit.metrics.readings import Measurement, Reading, measure

__all__ = [
    "Measurement",
    "MetricsError",
    "PLACEHOLDERS",
    "PrometheusClient",
    "QueryResult",
    "Reading",
    "Series",
    "decode_string",
    "label_text",
    "measure",
    "promql_string",
    "short_query",
    "substitute",
    "template_issues",
    "used_placeholders",
    "vector_selectors",
]
