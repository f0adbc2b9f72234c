"""``[[notify]]`` webhooks, ``[alertmanager]`` and ``[grafana]``: where the cockpit tells the outside world.

URLs, headers and the Grafana token go through the ``${ENV}`` rules (the value is a secret, redacted
wherever text is shown or journaled). A body template is JSON whose strings may name event fields as
``{event}``; it is checked here, so a typo is a config error with its line, not a silent empty field.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from cockpit.config.services import _headers
from cockpit.config.source import KeyPath, Reader, suggest
from cockpit.spec import ALARM_KINDS, AlertmanagerSettings, GrafanaSettings, WebhookSpec

NOTIFY_KEYS = ("url", "body", "headers", "events", "retries", "backoff", "timeout")
ALERTMANAGER_KEYS = ("url", "matchers", "headers", "retries", "timeout")
GRAFANA_KEYS = ("url", "token", "tags", "dashboard_uid", "retries", "timeout")
#: what a body template may name (cockpit.notify.Event.fields)
BODY_FIELDS = ("event", "summary", "ref", "detail", "state", "at", "title", "operator")
MATCHER_FIELDS = ("service", "host", "step", "phase")
DEFAULT_BODY = json.dumps({"event": "{event}", "summary": "{summary}", "ref": "{ref}", "detail": "{detail}",
                           "at": "{at}", "cutover": "{title}", "operator": "{operator}"})
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


def placeholders(text: str) -> list[str]:
    """The ``{name}`` fields a template string names (``{{`` and ``}}`` are literal braces)."""
    return [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1) is not None]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _fields(r: Reader, p: KeyPath, texts: list[str], allowed: tuple[str, ...]) -> None:
    for name in {n for t in texts for n in placeholders(t)}:
        if name not in allowed:
            guess = suggest(name, allowed)
            r.issue(p, f"{{{name}}} is not a field this template can use",
                    (f"did you mean {{{guess}}}? " if guess else "") + f"fields: {', '.join(allowed)} "
                    "(write {{ and }} for literal braces)")


def _http_url(r: Reader, p: KeyPath, raw: Any, *, base: bool = True) -> str:
    """An http(s) URL; ``base``: an API root, paths are appended to it."""
    url = r.env_string(p, raw, example='"https://hooks.example.net/cutover"')
    parts = urlsplit(url) if url else None
    if parts is not None and (parts.scheme not in ("http", "https") or not parts.netloc):
        r.issue(p, "not an http:// or https:// URL", f'e.g. {p[-1]} = "https://alertmanager.example.net:9093"')
    return url.rstrip("/") if base else url


def _tries(r: Reader, p: KeyPath, t: dict[str, Any], default: int) -> int:
    return r.integer((*p, "retries"), t["retries"], 0, 10, default) if "retries" in t else default


def _timeout(r: Reader, p: KeyPath, t: dict[str, Any], default: float = 5.0) -> float:
    return r.duration((*p, "timeout"), t["timeout"], default) if "timeout" in t else default


def _number_tables(r: Reader, name: str) -> None:
    """Lines for ``[[name]]`` element N's keys (``name.N.key``), so an issue names the right table's line."""
    by_line = r.locator.by_line
    heads = sorted(n for n, path in by_line.items() if path == (name,))
    for i, start in enumerate(heads):
        end = heads[i + 1] if i + 1 < len(heads) else 1 << 30
        r.locator.first.setdefault((name, str(i + 1)), start)
        for n in sorted(by_line):
            path = by_line[n]
            if start < n < end and len(path) >= 2 and path[0] == name:
                r.locator.first.setdefault((name, str(i + 1), *path[1:]), n)


def read_notify(r: Reader, value: Any) -> tuple[WebhookSpec, ...]:
    """``[[notify]]``: each an array element with ``url`` (required), ``body``, ``headers``, ``events``…"""
    if not isinstance(value, list):
        r.issue(("notify",), "expected [[notify]] tables", 'write [[notify]] then url = "https://…" below it')
        return ()
    out = []
    _number_tables(r, "notify")
    for i, raw in enumerate(value):
        p: KeyPath = ("notify", str(i + 1))
        t = r.table(p, raw)
        r.known(p, t, NOTIFY_KEYS)
        if "url" not in t:
            r.issue(p, "a webhook needs a url", 'add url = "https://hooks.example.net/…" (${ENV} for a secret part)')
            continue
        body = DEFAULT_BODY
        if "body" in t:
            body = r.string((*p, "body"), t["body"], DEFAULT_BODY, example="'{\"text\": \"{summary}\"}'")
            try:
                parsed = json.loads(body)
            except json.JSONDecodeError as exc:
                r.issue((*p, "body"), f"the body template is not JSON: {exc.msg} at character {exc.pos}",
                        "write a JSON document; event fields go inside its strings: '{\"text\": \"{summary}\"}'")
                parsed = None
            if parsed is not None:
                _fields(r, (*p, "body"), _strings(parsed), BODY_FIELDS)
        events = ALARM_KINDS
        if "events" in t:
            events = tuple(r.strings((*p, "events"), t["events"], bare_ok=True, example='["regression", "gate-failed"]'))
            for e in events:
                if e not in ALARM_KINDS:
                    r.issue((*p, "events"), f"{e!r} is not an event the cockpit notifies",
                            f"use some of: {', '.join(ALARM_KINDS)}")
        headers, _secret = _headers(r, (*p, "headers"), t)
        out.append(WebhookSpec(
            url=_http_url(r, (*p, "url"), t["url"], base=False), body=body, headers=headers, events=events,
            retries=_tries(r, p, t, 3),
            backoff=r.duration((*p, "backoff"), t["backoff"], 1.0) if "backoff" in t else 1.0,
            timeout=_timeout(r, p, t)))
    return tuple(out)


def _section(r: Reader, name: str, value: Any, keys: tuple[str, ...], example: str) -> dict[str, Any] | None:
    """``[name]`` with its known keys and a url; None (and an issue) without one."""
    t = r.table((name,), value)
    r.known((name,), t, keys)
    if "url" not in t:
        r.issue((name,), f"[{name}] needs a url", f'add url = "{example}"')
        return None
    return t


def read_alertmanager(r: Reader, value: Any) -> AlertmanagerSettings | None:
    p: KeyPath = ("alertmanager",)
    t = _section(r, "alertmanager", value, ALERTMANAGER_KEYS, "http://alertmanager.example.net:9093")
    if t is None:
        return None
    default = AlertmanagerSettings(url="")
    matchers = default.matchers
    if "matchers" in t:
        matchers = tuple(r.strings((*p, "matchers"), t["matchers"], example='[\'service="{service}"\']'))
        for m in matchers:
            if not MATCHER.fullmatch(m):
                r.issue((*p, "matchers"), f"{m!r} is not a matcher", 'write NAME="VALUE" (or !=, =~, !~), e.g. '
                        "'instance=~\"{host}:.*\"'")
        _fields(r, (*p, "matchers"), list(matchers), MATCHER_FIELDS)
    headers, _secret = _headers(r, (*p, "headers"), t)
    return AlertmanagerSettings(url=_http_url(r, (*p, "url"), t["url"]), matchers=matchers, headers=headers,
                                retries=_tries(r, p, t, 2), timeout=_timeout(r, p, t))


def read_grafana(r: Reader, value: Any) -> GrafanaSettings | None:
    p: KeyPath = ("grafana",)
    t = _section(r, "grafana", value, GRAFANA_KEYS, "https://grafana.example.net")
    if t is None:
        return None
    token = ""
    if "token" in t:
        raw = t["token"]
        if isinstance(raw, str) and "${" not in raw.replace("$${", ""):
            r.issue((*p, "token"), "the token is written in the config file itself",
                    'take it from the environment: token = "${GRAFANA_TOKEN}"')
        token = r.env_string((*p, "token"), raw, example='"${GRAFANA_TOKEN}"')
    tags = tuple(r.strings((*p, "tags"), t["tags"], example='["cutover"]')) if "tags" in t else ("cutover",)
    uid = r.string((*p, "dashboard_uid"), t["dashboard_uid"]) if "dashboard_uid" in t else ""
    return GrafanaSettings(url=_http_url(r, (*p, "url"), t["url"]), token=token, tags=tags, dashboard_uid=uid,
                           retries=_tries(r, p, t, 2), timeout=_timeout(r, p, t))
