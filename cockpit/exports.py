"""Snapshots as JSON, JSON lines and Markdown, and judged as ``cockpit check`` cases.

Every string is sanitised and redacted here again.

Times are UTC, ISO 8601. The JSON schema is versioned (``schema_version``);
docs/headless.md describes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from cockpit.model import CheckResult, FleetSnapshot, HostState, Load, StatusChange, Usage
from cockpit.sanitize import escape_markdown_cell, one_line, strip_control
from cockpit.secrets import Redactor

SCHEMA_VERSION = 1
CaseOutcome = Literal["pass", "fail", "skip"]
GLYPH = {"up": "●", "degraded": "◐", "down": "✖", "unknown": "?"}


def utc(ts: float | None) -> str | None:
    if ts is None or ts == 0:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class Exporter:
    """Renders snapshots; holds the redactor so no export can forget it."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor()

    def _s(self, text: str) -> str:
        return self.redactor.redact(strip_control(text))

    # -- JSON -------------------------------------------------------------------------------

    def load_dict(self, load: Load | None) -> dict[str, Any] | None:
        if load is None:
            return None
        r = lambda v: None if v is None else round(v, 2)  # noqa: E731
        return {
            "at": utc(load.at), "cpu_pct": r(load.cpu), "mem_pct": r(load.mem), "mem_total_kb": load.mem_total_kb,
            "load1": r(load.load1), "load5": r(load.load5), "load15": r(load.load15), "ncpu": load.ncpu,
            "disks": {m: r(p) for m, p in load.disks}, "supported": load.supported, "note": self._s(load.note),
        }

    def result_dict(self, r: CheckResult) -> dict[str, Any]:
        return {
            "service": self._s(r.service), "kind": r.kind, "status": r.status, "critical": r.critical,
            "detail": self._s(r.detail),
            "latency_ms": None if r.latency is None else round(r.latency * 1000, 1),
            "at": utc(r.at),
            "extra": {k: (self._s(v) if isinstance(v, str) else v) for k, v in r.extra},
            "expect": r.expect, "expect_why": self._s(r.expect_why), "judged": r.judged,
            "usage": self.usage_dict(r.usage),
        }

    def usage_dict(self, u: Usage | None) -> dict[str, Any] | None:
        """A service's own CPU and memory (kinds with a cgroup or processes), None for the others."""
        if u is None:
            return None
        r = lambda v: None if v is None else round(v, 2)  # noqa: E731
        return {"at": utc(u.at), "cpu_pct_core": r(u.cpu), "cpu_pct_host": r(u.cpu_host), "mem_bytes": u.mem,
                "via": u.via, "note": self._s(u.note)}

    def host_dict(self, h: HostState) -> dict[str, Any]:
        return {
            "name": h.name, "tags": list(h.tags), "reachable": h.reachable, "reach": h.reach,
            "error": self._s(h.error) or None, "fingerprint": h.fingerprint or None,
            "load": self.load_dict(h.load), "services": [self.result_dict(r) for r in h.results],
            "round_started": utc(h.round_started), "round_ended": utc(h.round_ended),
        }

    def event_dict(self, e: StatusChange) -> dict[str, Any]:
        return {"at": utc(e.at), "host": e.host, "service": e.service, "old": e.old, "new": e.new,
                "detail": self._s(e.detail)}

    def snapshot_dict(self, snap: FleetSnapshot) -> dict[str, Any]:
        return {
            "schema": "cutover-cockpit/snapshot", "schema_version": SCHEMA_VERSION,
            "title": self._s(snap.title), "generated_at": utc(snap.at), "round": snap.round,
            "counts": snap.counts(), "hosts": [self.host_dict(h) for h in snap.hosts],
        }

    def json(self, snap: FleetSnapshot) -> str:
        return json.dumps(self.snapshot_dict(snap), indent=2, ensure_ascii=False) + "\n"

    def jsonl(self, snap: FleetSnapshot) -> str:
        d = self.snapshot_dict(snap)
        d["events"] = [self.event_dict(e) for e in snap.events]
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n"

    # -- Markdown ---------------------------------------------------------------------------

    def markdown(self, snap: FleetSnapshot) -> str:
        c = snap.counts()
        cell = lambda t: escape_markdown_cell(self._s(one_line(t)))  # noqa: E731
        out = [
            f"### {cell(snap.title)}: fleet at {utc(snap.at)}",
            "",
            f"**{c['up']} up, {c['degraded']} degraded, {c['down']} down, {c['unreachable']} unreachable**",
            "",
            "| Host | Reach | CPU | Mem | Load1 | Disk | Services |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        pct = lambda v: "–" if v is None else f"{v:.0f}%"  # noqa: E731
        for h in snap.hosts:
            reach = h.reach if h.reachable else f"**{h.reach}**: {h.error}"
            ld = h.load
            load1 = "–" if ld is None or ld.load1 is None else f"{ld.load1:.2f}"
            ups = f"{h.up_count}/{len(h.results)}"
            out.append(f"| {cell(h.name)} | {cell(reach)} | {pct(ld and ld.cpu)} | {pct(ld and ld.mem)} | {load1} "
                       f"| {pct(ld and ld.disk)} | {ups} |")
        out += ["", "| Host | Service | Status | Detail | Latency |", "|---|---|---|---|---:|"]
        rows = sorted(((h, r) for h in snap.hosts for r in h.results),
                      key=lambda hr: ({"down": 0, "unknown": 1, "degraded": 2, "up": 3}[hr[1].status]))
        for h, r in rows:
            lat = "–" if r.latency is None else f"{r.latency * 1000:.0f} ms"
            status = f"{GLYPH[r.status]} {r.status}" + ("" if r.critical else " (non-critical)") + (
                f" (expected {r.expect}: {r.expect_why})" if r.expect != "up" else "")
            out.append(f"| {cell(h.name)} | {cell(r.service)} | {status} | {cell(r.detail)} | {lat} |")
        return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Case:
    """One judged thing: a host × service, or one condition of the current phase's gate."""

    suite: str  # "services" or "gate PHASE"
    name: str  # "h1 agent" or the condition's text
    outcome: CaseOutcome
    detail: str = ""  # why it failed or was skipped; a warning or note on a pass
    lines: tuple[tuple[str, str], ...] = ()  # the text format's lines: (FAIL|WARN|PLANNED|INCONCLUSIVE, text)


def service_cases(snap: FleetSnapshot, regressions: Sequence[tuple[str, str, str]] = (),
                  minor: Sequence[tuple[str, str, str]] = (), unjudged: Sequence[str] = ()) -> list[Case]:
    """One case per host × service (an unreachable host without results: one case for the host).

    ``regressions``/``minor`` are (host, service, line) of critical / non-critical regressions;
    ``unjudged`` the regression rule's "HOST SERVICE: why" lines for series it could not judge.
    """
    regs = {(h, s): line for h, s, line in regressions}
    small = {(h, s): line for h, s, line in minor}
    unsure = {tuple(u.split(":", 1)[0].split(" ", 1)): u for u in unjudged}
    out: list[Case] = []
    for h in snap.hosts:
        if not h.reachable:
            why = f"{h.name}: {h.reach}" + (f" ({h.error})" if h.error else "") + ": its services are unknown"
            names = [r.service for r in h.results] or ["(reachable)"]
            out.append(Case("services", f"{h.name} {names[0]}", "fail", why, (("FAIL", why),)))
            out += [Case("services", f"{h.name} {n}", "fail", why) for n in names[1:]]  # one FAIL line per host
            continue
        for r in h.results:
            key, name = (h.name, r.service), f"{h.name} {r.service}"
            lines: list[tuple[str, str]] = []
            if r.critical and r.judged in ("down", "unknown"):
                lines.append(("FAIL", f"{name}: {r.problem}"))
            elif r.judged == "degraded" or (not r.critical and r.judged != "up"):
                lines.append(("WARN", f"{name}: {r.problem}" + ("" if r.critical else " (non-critical)")))
            if key in regs:
                lines.append(("FAIL", f"REGRESSION {regs[key]}"))
            if key in small:
                lines.append(("WARN", f"REGRESSION {small[key]} (non-critical)"))
            if key in unsure:
                lines.append(("INCONCLUSIVE", unsure[key]))
            if r.neutral:
                lines.append(("PLANNED", f"{name}: {r.status}, {r.expect_why}"))
            labels = {label for label, _ in lines}
            unknown = not r.critical and r.judged == "unknown"
            outcome: CaseOutcome = ("fail" if "FAIL" in labels else "skip" if "INCONCLUSIVE" in labels or unknown
                                else "pass")
            out.append(Case("services", name, outcome, "\n".join(t for _, t in lines), tuple(lines)))
    return out


def _lines(snap: FleetSnapshot, label: str) -> list[str]:
    return [text for c in service_cases(snap) for lab, text in c.lines if lab == label]


def failures(snap: FleetSnapshot) -> list[str]:
    """What makes `cockpit check` fail: unreachable hosts, critical services judged down or unknown.

    Judged against each service's expectation (:attr:`CheckResult.judged`): a retired service that is
    down is fine, one still up after its step fails. An unreachable host is one failure, its services unknown.
    """
    return _lines(snap, "FAIL")


def warnings(snap: FleetSnapshot) -> list[str]:
    """Degraded or non-critical problems: printed, never failing."""
    return _lines(snap, "WARN")


def notes(snap: FleetSnapshot) -> list[str]:
    """Lifecycle services judged fine though not up (retired, not introduced yet, in transition): said, never failing."""
    return _lines(snap, "PLANNED")
