"""The report's opening sections: header, summary, and the timeline with its status-change summary.

A mixin over :class:`cockpit.report.base.ReportBase`; :mod:`cockpit.report` puts
the sections together in order.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from cockpit.report.base import (
    BAD,
    DETAIL_LIMIT,
    OK,
    REASON_STATES,
    STATUS_PAIRS_LIMIT,
    STATUS_RECENT_LIMIT,
    UNKNOWN,
    ReportBase,
    _dur,
    _iso,
    _n,
)


class OverviewSections(ReportBase):
    """Header, summary, timeline: what happened, in order, at a glance."""

    # -- header and summary ------------------------------------------------------------------

    def header(self) -> list[str]:
        operators: list[str] = []
        for r in sorted(self.log, key=lambda r: r["id"]):
            if r["operator"] and r["operator"] not in operators:
                operators.append(r["operator"])
        first = min((r["at"] for r in self.log), default=None)
        last = max((r["at"] for r in self.log), default=None)
        return [
            f"# {self.t(self.config.cockpit.title)}: cutover report",
            "",
            f"- **Generated:** {_iso(self.now)}",
            f"- **Journal:** {self.t(self.journal.path)}",
            f"- **Operators:** {', '.join(self.t(o) for o in operators) or '–'}",
            f"- **Started:** {_iso(first)} (first journal record)",
            f"- **Ended:** {_iso(last)} (last journal record)",
            f"- **Duration:** {_dur(None if first is None or last is None else last - first)}",
        ]

    def summary(self) -> list[str]:
        out = ["## Summary", ""]
        phase_states = {p.id: self.phase_state(p.id, [f"{p.id}.{s.id}" for s in p.steps]) for p in self.spec.phases}
        counts = Counter(phase_states.values())
        rolled = [pid for pid, s in phase_states.items() if s == "rolled-back"]
        open_phases = [pid for pid, s in phase_states.items() if s not in ("done", "overridden", "rolled-back")]
        rolled_back = self.rollback_outcome()
        if not self.spec.phases:
            outcome = "no runbook phases in the config"
        elif rolled_back is not None:
            outcome = rolled_back
        elif rolled:
            outcome = f"{BAD} rolled back ({self.hosts(rolled)})"
        elif not open_phases:
            outcome = f"{OK} completed: every phase done or overridden"
        else:
            outcome = f"{UNKNOWN} not finished: {self.hosts(open_phases)} still open"
        out.append(f"- **Outcome:** {outcome}")
        out.append(f"- **Phases:** {len(self.spec.phases)} in the runbook; {counts['done']} done, "
                   f"{counts['overridden']} overridden, {counts['rolled-back']} rolled back, "
                   f"{counts['in progress']} in progress, {counts['not started']} not started")
        step_states: Counter[str] = Counter()
        for p in self.spec.phases:
            for s in p.steps:
                t = self.latest.get(("step", f"{p.id}.{s.id}"))
                step_states[t["state"] if t else "not run"] += 1
        named = ("done", "failed", "partial", "skipped", "rolled-back", "not run")
        extra = sorted(k for k in step_states if k not in named)
        out.append(f"- **Steps:** {sum(step_states.values())} in the runbook; "
                   + ", ".join(f"{step_states[k]} {k.replace('-', ' ')}" for k in named)
                   + "".join(f", {step_states[k]} {self.t(k)}" for k in extra))
        failed_actions = [a for a in self.actions if self.failed_runs(a)]
        failed_hosts = sum(len(self.failed_runs(a)) for a in self.actions)
        out.append(f"- **Actions:** {len(self.actions)} run; {len(failed_actions)} with a failure "
                   f"({_n(failed_hosts, 'host run')} not ok)"
                   + (": " + ", ".join(f"#{a['id']} {self.t(a['title'])}" for a in failed_actions)
                      if failed_actions else ""))
        unknown_states = ("pending", "running", "interrupted")
        interrupted = [a for a in self.actions
                       if a["interrupted"] or any(r["state"] in unknown_states for r in a["runs"])]
        if interrupted:
            parts = []
            for a in interrupted:
                unknown = [r["host"] for r in a["runs"] if r["state"] in unknown_states]
                parts.append(f"#{a['id']} {self.t(a['title'])} (outcome unknown on {self.hosts(unknown)})")
            out.append(f"- **Interrupted actions:** {len(interrupted)}: " + "; ".join(parts))
        else:
            out.append("- **Interrupted actions:** none")
        if self.rollbacks:
            verdicts = "; ".join(f"#{rb['id']} {self.t(rb['kind'])} {self.t(rb['target'])}: {self.budget_verdict(rb)}"
                                 for rb in self.rollbacks)
            out.append(f"- **Rollbacks:** {len(self.rollbacks)}: {verdicts}")
        else:
            out.append(f"- **Rollbacks:** none (budget {_dur(self.spec.rollback_budget)})")
        reasons = [t for t in self.transitions if t["state"] in REASON_STATES]
        out.append(f"- **Overrides and skips:** {_n(sum(t['state'] == 'overridden' for t in reasons), 'override')}, "
                   f"{_n(sum(t['state'] == 'skipped' for t in reasons), 'skip')}, "
                   f"{_n(sum(t['state'] == 'taken-over' for t in reasons), 'lease take-over')}")
        out.append("- **Baseline:** " + (f"captured {_iso(self.baseline[1])}" if self.baseline else "none captured"))
        out.append(f"- **Status changes:** {len(self.status)}")
        return out

    # -- timeline --------------------------------------------------------------------------

    def timeline_text(self, r: dict[str, Any]) -> str | None:
        kind = r["kind"]
        if kind == "transition":
            tk, target, state = r.get("target_kind"), r.get("target", ""), r.get("state", "")
            if tk == "runbook" and target == "lease" and state == "taken-over":
                text = "**Driver lease taken over**"
            elif tk == "phase":
                text = f"Phase {self.t(target)} → **{self.t(state)}**"
            elif tk == "step":
                text = f"Step {self.t(target)} → **{self.t(state)}**"
            elif tk == "runbook" and target.startswith("rollback#"):
                text = f"Rollback {self.t(target[8:])}: reason given after it fired"
            elif tk == "runbook" and target == "cutover":
                text = "**Cutover closed as rolled back**"
            else:
                text = f"Runbook {self.t(target)} → **{self.t(state)}**"
            if r.get("reason"):
                text += f"; reason: {self.t(r['reason'])}"
            if r.get("detail"):
                text += f" ({self.t(r['detail'])})"
            return text
        if kind == "action":
            a = self.by_action.get(r.get("action_id"))
            if a is None:
                return None
            where = [] if a["kind"] == "step" and a["step"] else [self.t(a["kind"])]
            if a["step"]:
                where.append(f"step {self.t(a['step'])}")
            elif a["phase"]:
                where.append(f"phase {self.t(a['phase'])}")
            ended = f"; ended {_iso(a['ended'])} after {_dur(a['duration'])}" if a["ended"] is not None else "; no end"
            return (f"Action #{a['id']} **{self.t(a['title'])}** ({', '.join(where)}) on "
                    f"{self.hosts(a['hosts'])}: {self.action_result(a)}{ended}")
        if kind == "action-interrupted":
            return (f"Action #{r.get('action_id')} {self.t(r.get('title'))} **interrupted**: outcome unknown on "
                    f"{self.hosts(r.get('hosts') or [])}")
        if kind == "rollback-started":
            what = f"{self.t(r.get('rollback_kind'))} {self.t(r.get('target'))}"
            return f"Rollback #{r.get('rollback_id')} ({what}) started"
        if kind == "rollback-ended":
            rb = next((x for x in self.rollbacks if x["id"] == r.get("rollback_id")), None)
            verdict = self.budget_verdict(rb) if rb is not None else ""
            return (f"Rollback #{r.get('rollback_id')} ({self.t(r.get('rollback_kind'))} {self.t(r.get('target'))}) "
                    f"ended **{'ok' if r.get('ok') else 'failed'}** after {_dur(r.get('duration'))}; {verdict}"
                    + (f" ({self.t(r['detail'])})" if r.get("detail") else ""))
        if kind == "baseline":
            data = r.get("data") or {}
            hosts = data.get("hosts", {}) if isinstance(data, dict) else {}
            services = sum(len(h.get("services", {})) for h in hosts.values() if isinstance(h, dict))
            return f"Baseline #{r.get('baseline_id')} captured: {len(hosts)} hosts, {services} services"
        if kind == "lease-acquired":
            text = f"Driver lease acquired by {self.t(r.get('holder'))} on {self.t(r.get('host'))} (pid {r.get('pid')})"
            return text + (f", replacing {self.t(r['replaced'])}" if r.get("replaced") else "")
        if kind == "lease-released":
            return f"Driver lease released by {self.t(r.get('holder'))} on {self.t(r.get('host'))}"
        if kind == "plan-accepted":
            steps = ", ".join(self.t(d.get("target")) for d in r.get("diff") or [])
            return (f"Plan **{self.t(r.get('plan'))}** accepted; reason: {self.t(r.get('reason'))}"
                    + (f" (changed: {steps})" if steps else ""))
        return None  # status, verify, gate, hold and per-host records are summarised elsewhere

    def timeline(self) -> list[str]:
        out = ["## Timeline", ""]
        rows = [(r, text) for r in self.log if (text := self.timeline_text(r)) is not None]
        if rows:
            out += ["| Time (UTC) | Who | What |", "|---|---|---|"]
            out += [f"| {_iso(r['at'])} | {self.t(r['operator'])} | {text} |" for r, text in rows]
        else:
            out.append("Nothing was recorded: no transitions, actions, rollbacks or baselines.")
        out += ["", "### Status changes", ""]
        if not self.status:
            out.append("No status changes were recorded.")
            return out
        pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for s in self.status:
            pairs.setdefault((s["host"], s["service"] or ""), []).append(s)
        ordered = sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        out += [f"{len(self.status)} changes on {len(pairs)} host/service pairs, most changes first.", "",
                "| Host | Service | Changes | Last change (UTC) | Last status |", "|---|---|---:|---|---|"]
        for (host, svc), changes in ordered[:STATUS_PAIRS_LIMIT]:
            last = changes[-1]
            out.append(f"| {self.t(host)} | {self.t(svc) or '(host reachability)'} | {len(changes)} | "
                       f"{_iso(last['at'])} | {self.t(last['old'])} → {self.t(last['new'])} |")
        if len(ordered) > STATUS_PAIRS_LIMIT:
            out.append(f"\n… and {len(ordered) - STATUS_PAIRS_LIMIT} more pairs.")
        recent = self.status[-STATUS_RECENT_LIMIT:]
        title = ("All status changes" if len(recent) == len(self.status)
                 else f"The last {len(recent)} of {len(self.status)} status changes")
        out += ["", f"{title}:", "", "| Time (UTC) | Host | Service | Change | Detail |", "|---|---|---|---|---|"]
        for s in recent:
            out.append(f"| {_iso(s['at'])} | {self.t(s['host'])} | {self.t(s['service']) or '(host)'} | "
                       f"{self.t(s['old'])} → {self.t(s['new'])} | {self.t(s['detail'], DETAIL_LIMIT)} |")
        return out
