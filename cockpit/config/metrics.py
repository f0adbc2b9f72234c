"""``[metrics.NAME]`` sources, ``[phases.analysis]``, and the checks every ``metric()`` condition must pass.

A source's secrets (a bearer token, a header, a password in the URL) come through ``${ENV}`` like every
other secret: they land in ``Config.secrets`` and are redacted wherever text is shown or written.
A ``metric()`` must name a source that exists (or there must be exactly one default: the first), and
its placeholders may stand only inside label matchers' quoted values (:mod:`cockpit.metrics`).
"""

from __future__ import annotations

import os
from typing import Any

from cockpit.conditions import Metric
from cockpit.config.source import KeyPath, Reader, resolve_path, short_list, suggest
from cockpit.metrics import template_issues
from cockpit.spec import AnalysisSpec, MetricsSourceSpec

__all__ = ["ANALYSIS_KEYS", "METRICS_KEYS", "check_metric", "read_analysis", "read_metrics"]

METRICS_KEYS = ("prometheus", "headers", "bearer_token", "verify_tls", "ca_file", "timeout", "scrape_interval")
ANALYSIS_KEYS = ("interval", "count", "failure_limit", "inconclusive_limit", "initial_delay")


def read_metrics(r: Reader, raw: Any, base: Any) -> tuple[MetricsSourceSpec, ...]:
    out: list[MetricsSourceSpec] = []
    for name, sub in r.table(("metrics",), raw).items():
        p: KeyPath = ("metrics", name)
        t = r.table(p, sub)
        r.known(p, t, METRICS_KEYS)
        if "prometheus" not in t:
            r.issue(p, f"[metrics.{name}] needs the Prometheus URL", 'write prometheus = "http://prometheus:9090"')
            continue
        url = r.env_string((*p, "prometheus"), t["prometheus"], example='"http://prometheus:9090"')
        if url and not url.startswith(("http://", "https://")):
            r.issue((*p, "prometheus"), "expected an http:// or https:// URL of Prometheus",
                    'e.g. prometheus = "http://prometheus:9090"')
        headers: list[tuple[str, str]] = []
        for key, value in r.table((*p, "headers"), t.get("headers", {})).items():
            text = r.env_string((*p, "headers", key), value, example='"Bearer ${PROM_TOKEN}"')
            if any(c in text for c in "\r\n\x00"):
                r.issue((*p, "headers", key), "the header value holds a line break or NUL", "remove it")
                continue
            headers.append((key, text))
        if "bearer_token" in t:
            token = r.env_string((*p, "bearer_token"), t["bearer_token"], example='"${PROM_TOKEN}"')
            if token and "${" not in str(t["bearer_token"]):
                r.issue((*p, "bearer_token"), "a bearer token written in the config would be shown and journaled",
                        'take it from the environment: bearer_token = "${PROM_TOKEN}"')
            if token:
                headers.append(("Authorization", f"Bearer {token}"))
        ca = r.string((*p, "ca_file"), t["ca_file"], example='"certs/prometheus-ca.pem"') if "ca_file" in t else None
        ca_path = str(resolve_path(base, ca)) if ca else None
        if ca_path is not None and not os.path.isfile(ca_path):
            r.issue((*p, "ca_file"), f"no file at {ca_path}", "point ca_file at a PEM file of CA certificates")
        out.append(MetricsSourceSpec(
            name=name, url=url, headers=tuple(headers),
            verify_tls=r.boolean((*p, "verify_tls"), t["verify_tls"], True) if "verify_tls" in t else True,
            ca_file=ca_path,
            timeout=r.duration((*p, "timeout"), t["timeout"], 10.0) if "timeout" in t else 10.0,
            scrape_interval=r.duration((*p, "scrape_interval"), t["scrape_interval"], 15.0)
            if "scrape_interval" in t else 15.0,
        ))
    return tuple(out)


def read_analysis(r: Reader, p: KeyPath, raw: Any) -> AnalysisSpec:
    t = r.table(p, raw)
    r.known(p, t, ANALYSIS_KEYS)
    d = AnalysisSpec()
    return AnalysisSpec(
        interval=r.duration((*p, "interval"), t["interval"], d.interval) if "interval" in t else d.interval,
        count=r.integer((*p, "count"), t["count"], 1, 10000, d.count) if "count" in t else d.count,
        failure_limit=r.integer((*p, "failure_limit"), t["failure_limit"], 0, 10000, 0) if "failure_limit" in t else 0,
        inconclusive_limit=r.integer((*p, "inconclusive_limit"), t["inconclusive_limit"], 0, 10000, 0)
        if "inconclusive_limit" in t else 0,
        initial_delay=r.duration((*p, "initial_delay"), t["initial_delay"], 0.0, zero_ok=True)
        if "initial_delay" in t else 0.0,
    )


def check_metric(r: Reader, p: KeyPath, text: str, node: Metric, sources: tuple[MetricsSourceSpec, ...],
                 known: tuple[str, ...], line: int | None) -> None:
    """Its source exists; placeholders only inside label values, and only the ones known where it stands."""
    names = [s.name for s in sources]
    if node.source is not None and node.source not in names:
        guess = suggest(node.source, names)
        r.issue(p, f"condition {text!r} names no metrics source {node.source!r}; known: {short_list(names) or '(none)'}",
                f"did you mean {guess!r}?" if guess else "add a [metrics.NAME] table with prometheus = \"http://...\"",
                line=line)
    elif not sources:
        r.issue(p, f"condition {text!r} queries metrics, but the config has no [metrics.NAME] source",
                'add [metrics.prom] with prometheus = "http://prometheus:9090"', line=line)
    for query in (node.query, node.count):
        for why in template_issues(query, known) if query else ():
            r.issue(p, f"condition {text!r}: {why}",
                    'placeholders are substituted as escaped PromQL strings, e.g. {instance="{address}:9100"}',
                    line=line)
