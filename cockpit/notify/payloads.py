"""The requests themselves: a webhook's body from its template, an Alertmanager silence, a Grafana annotation.

Templates are filled inside the parsed JSON's strings, never by pasting text into JSON: an event's
detail holding quotes or braces cannot change the document's shape.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["annotation", "fill", "matchers", "render_body", "silence"]

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_]+)\}")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


def fill(text: str, values: Mapping[str, str]) -> str:
    """``{name}`` from ``values`` (unknown names stay as written; ``{{``/``}}`` are literal braces)."""
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name is None:
            return m.group(0)[0]
        return values.get(name, m.group(0))

    return _PLACEHOLDER.sub(one, text)


def _walk(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, list):
        return [_walk(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, values) for k, v in value.items()}
    return value


def render_body(template: str, values: Mapping[str, str]) -> Any:
    """The JSON to POST: the template parsed, each string filled."""
    return _walk(json.loads(template), values)


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


def matchers(templates: tuple[str, ...], values: Mapping[str, str]) -> list[dict[str, Any]]:
    """Alertmanager's matchers from ``NAME="VALUE"`` templates (=, !=, =~, !~); a regex value is escaped."""
    out = []
    for t in templates:
        m = _MATCHER.fullmatch(t)
        if m is None:
            continue  # the config loader refused it already
        name, op, raw = m.groups()
        regex = op in ("=~", "!~")
        safe = {k: re.escape(v) for k, v in values.items()} if regex else values
        out.append({"name": name, "value": fill(raw.replace('\\"', '"'), safe), "isRegex": regex,
                    "isEqual": op in ("=", "=~")})
    return out


def silence(templates: tuple[str, ...], values: Mapping[str, str], start: float, end: float,
            operator: str, comment: str) -> dict[str, Any]:
    """POST /api/v2/silences: for ``values`` (service, host, step, phase) from ``start`` to ``end``."""
    return {"matchers": matchers(templates, values), "startsAt": _iso(start), "endsAt": _iso(end),
            "createdBy": operator or "cockpit", "comment": comment}


def annotation(text: str, tags: tuple[str, ...], at: float, dashboard_uid: str = "") -> dict[str, Any]:
    """POST /api/annotations: a point at ``at`` (epoch ms), later made a region by PATCHing ``timeEnd``."""
    body: dict[str, Any] = {"time": int(at * 1000), "tags": list(tags), "text": text}
    if dashboard_uid:
        body["dashboardUID"] = dashboard_uid
    return body
