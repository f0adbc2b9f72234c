"""The Prometheus HTTP API over httpx: instant and range queries, errors and warnings with their query.

One :class:`PrometheusClient` per burst of queries (``async with``): it holds one httpx client with the
source's headers, TLS settings and timeout. Every failure becomes a :class:`MetricsError` naming the
source and the query, with secrets (``${ENV}`` values: a token, a password in the URL) redacted.
Prometheus' own ``warnings`` travel with the result, so a caller can show them beside its verdict.
"""

from __future__ import annotations

import json
import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from cockpit.errors import MetricsError
from cockpit.sanitize import strip_control
from cockpit.secrets import Redactor
from cockpit.spec import MetricsSourceSpec

__all__ = ["PrometheusClient", "QueryResult", "Series", "label_text"]

_QUERY_SHOWN = 160  # characters of a query quoted in an error


def label_text(labels: tuple[tuple[str, str], ...] | Mapping[str, str]) -> str:
    """``{a="1", b="2"}`` (``{}`` for none), values with control characters stripped: shown on screen."""
    items = labels.items() if isinstance(labels, Mapping) else labels
    inner = ", ".join(f'{k}="{strip_control(v)}"' for k, v in sorted(items) if k != "__name__")
    return "{" + inner + "}"


@dataclass(frozen=True)
class Series:
    """One series of a result: its labels and its points (one for an instant query), oldest first."""

    labels: tuple[tuple[str, str], ...]
    points: tuple[tuple[float, float], ...]

    @property
    def value(self) -> float:
        return self.points[-1][1] if self.points else math.nan

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def text(self) -> str:
        return label_text(self.labels)


@dataclass(frozen=True)
class QueryResult:
    """What Prometheus answered to one query (``at``: evaluation time, or the range's end)."""

    query: str
    at: float
    series: tuple[Series, ...]
    warnings: tuple[str, ...] = field(default=())


def short_query(query: str) -> str:
    text = " ".join(strip_control(query).split())
    return text if len(text) <= _QUERY_SHOWN else text[:_QUERY_SHOWN - 1] + "…"


class PrometheusClient:
    """Queries one ``[metrics.NAME]`` source; use as ``async with PrometheusClient(spec) as c``."""

    def __init__(self, source: MetricsSourceSpec, redactor: Redactor | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.source = source
        self.redactor = redactor or Redactor()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> PrometheusClient:
        self._client = httpx.AsyncClient(
            base_url=self.source.url.rstrip("/"), headers=dict(self.source.headers), verify=self._verify(),
            timeout=self.source.timeout, transport=self._transport, follow_redirects=False)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _verify(self) -> ssl.SSLContext | bool:
        if not self.source.verify_tls:
            return False
        ctx = ssl.create_default_context()
        if self.source.ca_file:
            try:
                ctx.load_verify_locations(cafile=self.source.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise MetricsError(f"metrics source {self.source.name!r}: cannot read ca_file "
                                   f"{self.source.ca_file}: {exc}", hint="point ca_file at a PEM file of CA "
                                   "certificates") from None
        return ctx

    async def instant(self, query: str, at: float) -> QueryResult:
        """``/api/v1/query`` at ``at`` (a Unix time): the value of each series then."""
        data = await self._call("/api/v1/query", query, {"query": query, "time": f"{at:.3f}"})
        return QueryResult(query, at, _series(data["data"], self.source.name, query), _warnings(data))

    async def range(self, query: str, start: float, end: float, step: float) -> QueryResult:
        """``/api/v1/query_range``: each series' points from ``start`` to ``end`` every ``step`` seconds."""
        data = await self._call("/api/v1/query_range", query, {"query": query, "start": f"{start:.3f}",
                                                                "end": f"{end:.3f}", "step": f"{step:g}"})
        return QueryResult(query, end, _series(data["data"], self.source.name, query), _warnings(data))

    def _fail(self, what: str, query: str, hint: str | None = None) -> MetricsError:
        text = self.redactor.redact(f"metrics source {self.source.name!r}: {what}; query: {short_query(query)}")
        return MetricsError(text, query, hint)

    async def _call(self, path: str, query: str, form: dict[str, str]) -> dict[str, Any]:
        if self._client is None:
            raise RuntimeError("use PrometheusClient in an async with block")
        try:
            resp = await self._client.post(path, data=form)
        except httpx.TimeoutException:
            raise self._fail(f"no answer within {self.source.timeout:g}s", query,
                             "check that Prometheus is up, or raise the source's timeout") from None
        except httpx.HTTPError as exc:
            reason = strip_control(str(exc)) or type(exc).__name__
            raise self._fail(f"cannot reach {self.source.url}: {reason}", query,
                             "check the source's URL, its TLS settings and the network") from None
        try:
            body = resp.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            raise self._fail(f"answered HTTP {resp.status_code} without a Prometheus API body", query,
                             "is the URL that of Prometheus (http://host:9090)?")
        if body.get("status") != "success":
            kind = strip_control(str(body.get("errorType", "error")))
            error = strip_control(str(body.get("error", "")))[:300]
            raise self._fail(f"Prometheus refused the query ({kind}): {error}", query,
                             "fix the PromQL (try it in Prometheus' own query page)")
        if not isinstance(body.get("data"), dict):
            raise self._fail("answered success without data", query)
        return body


def _warnings(body: Mapping[str, Any]) -> tuple[str, ...]:
    raw = body.get("warnings") or ()
    return tuple(strip_control(str(w))[:300] for w in raw) if isinstance(raw, list) else ()


def _number(raw: object) -> float:
    try:
        return float(str(raw))
    except ValueError:
        return math.nan


def _series(data: Mapping[str, Any], source: str, query: str) -> tuple[Series, ...]:
    """Vector, matrix and scalar results as series (a scalar is one series without labels)."""
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return (Series((), ((float(result[0]), _number(result[1])),)),)
    if kind not in ("vector", "matrix") or not isinstance(result, list):
        raise MetricsError(f"metrics source {source!r}: a {kind} result is not a number per series; query: "
                           f"{short_query(query)}", query, "the query must give an instant vector or a scalar")
    out = []
    for item in result:
        labels = tuple(sorted((str(k), str(v)) for k, v in dict(item.get("metric") or {}).items()))
        if kind == "vector":
            ts, val = item.get("value", (math.nan, "NaN"))
            points: tuple[tuple[float, float], ...] = ((float(ts), _number(val)),)
        else:
            points = tuple((float(ts), _number(val)) for ts, val in item.get("values") or ())
        out.append(Series(labels, points))
    return tuple(out)
