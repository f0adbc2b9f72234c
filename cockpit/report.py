"""The cutover report: the Markdown an operator would otherwise write by hand after a migration.

Built from the journal alone (plus, optionally, the fleet as it is now for the
baseline comparison), so it can be produced at any time, by the driver or an
observer, during the cutover or long after it::

    text = build_report(config, journal, final=engine.snapshot(), history=engine.history,
                        redactor=Redactor(config.secrets))

Sections: header, summary, timeline (with a bounded summary of status
changes), phases and their steps, actions (with the tail of failed hosts'
output), baseline vs final, rollbacks against the budget, overrides and skips.
docs/report.md describes each one.

Every piece of journal or config text goes through :func:`strip_control`, the
redactor and :func:`escape_markdown_cell` before it is written; command output
goes into fenced blocks whose fence is longer than any backtick run inside.
The whole document is redacted once more at the end. Times are UTC, ISO 8601
with ``Z``. The same journal, config and ``now`` give the same text.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from cockpit.baseline import diff_rows
from cockpit.durations import format_duration
from cockpit.exports import utc
from cockpit.history import History
from cockpit.inventory import select
from cockpit.journal import Journal
from cockpit.model import FleetSnapshot
from cockpit.sanitize import escape_markdown_cell, strip_control
from cockpit.secrets import Redactor
from cockpit.spec import Config, PhaseSpec, StepSpec

__all__ = ["OUTPUT_TAIL_CHARS", "OUTPUT_TAIL_LINES", "STATUS_PAIRS_LIMIT", "STATUS_RECENT_LIMIT", "build_report"]

OUTPUT_TAIL_LINES = 40  # lines of a failed host's output shown (its tail)
OUTPUT_TAIL_CHARS = 4000  # ... and at most this many characters of them
STATUS_RECENT_LIMIT = 50  # most recent status changes listed one by one
STATUS_PAIRS_LIMIT = 100  # host/service rows in the status-change count table
GATE_FAILURES_LIMIT = 5  # failed gate evaluations listed per phase (the latest ones)
DETAIL_LIMIT = 300  # characters of a status/verify/gate detail in a cell

PHASE_END_STATES = ("done", "overridden", "rolled-back")
REASON_STATES = ("overridden", "skipped", "taken-over")
OK, BAD, UNKNOWN = "✔", "✖", "?"


# ------------------------------------------------------------------------------------- helpers

def _iso(ts: float | None) -> str:
    return utc(ts) or "–"


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return format_duration(round(seconds, 1) if abs(seconds) >= 1 else round(seconds, 3))


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _mark(ok: bool | None) -> str:
    return OK if ok is True else BAD if ok is False else UNKNOWN


def _run_result(run: dict[str, Any]) -> str:
    exit_status = run.get("exit_status")
    return run["state"] + ("" if exit_status is None else f" (exit {exit_status})")


def _longest_backticks(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


class _Report:
    """One report: the journal read once, then rendered section by section."""

    def __init__(self, config: Config, journal: Journal, final: FleetSnapshot | None, history: History | None,
                 redactor: Redactor | None, now: float | None) -> None:
        self.config = config
        self.spec = config.runbook
        self.journal = journal
        self.final = final
        self.history = history if history is not None else History()
        secrets = set(config.secrets) | set(redactor.secrets if redactor is not None else ())
        self.redactor = Redactor(secrets)
        self.now = time.time() if now is None else now
        # everything is read up front: one consistent-enough picture, deterministic order
        self.log = sorted(journal.timeline(), key=lambda r: (r["at"], r["id"]))
        self.actions = journal.actions()
        self.by_action = {a["id"]: a for a in self.actions}
        self.transitions = journal.transitions()  # ordered by id
        self.verify = journal.verify_results()
        self.gates = journal.gate_results()
        self.rollbacks = journal.rollbacks()
        self.holds = journal.holds()
        self.baseline = journal.latest_baseline()
        self.status = [r for r in self.log if r["kind"] == "status"]
        self.latest: dict[tuple[str, str], dict[str, Any]] = {}
        for t in self.transitions:
            self.latest[(t["kind"], t["target"])] = t

    # -- text --------------------------------------------------------------------------------

    def clean(self, text: object) -> str:
        """Control sequences stripped and secrets masked (before and after, so neither hides the other)."""
        s = "" if text is None else str(text)
        return self.redactor.redact(strip_control(self.redactor.redact(s)))

    def t(self, text: object, limit: int | None = None) -> str:
        """Text for a table cell or a line of prose: cleaned, on one line, Markdown-escaped."""
        s = self.clean(text)
        if limit is not None:
            s = " ".join(s.split())
            if len(s) > limit:
                s = s[: limit - 1] + "…"
        return escape_markdown_cell(s)

    def fence(self, text: str) -> list[str]:
        """A fenced block showing ``text`` verbatim: its fence is longer than any backtick run inside."""
        body = self.clean(text).expandtabs(8)
        ticks = "`" * max(3, _longest_backticks(body) + 1)
        return [f"{ticks}text", *(body.splitlines() or [""]), ticks]

    def hosts(self, names: Iterable[str]) -> str:
        return ", ".join(self.t(n) for n in names) or "–"

    # -- lookups ---------------------------------------------------------------------------

    def step_hosts(self, step: StepSpec, ref: str) -> list[str]:
        out: list[str] = []
        for sel in step.on:
            out += [h.name for h in select(self.config.hosts, sel) if h.name not in out]
        for a in self.actions:
            if a["step"] == ref:
                out += [h for h in a["hosts"] if h not in out]
        return out

    def phase_state(self, phase_id: str, step_refs: list[str]) -> str:
        t = self.latest.get(("phase", phase_id))
        if t is not None:
            return t["state"]
        touched = any(("step", ref) in self.latest for ref in step_refs) or any(
            a["phase"] == phase_id for a in self.actions)
        return "in progress" if touched else "not started"

    def phase_span(self, phase_id: str, step_refs: list[str]) -> tuple[float | None, float | None]:
        """Start: the first transition of the phase or its steps (or its first action); end: its last
        done / overridden / rolled-back transition, when that is the phase's current state."""
        mine = {("phase", phase_id)} | {("step", ref) for ref in step_refs}
        times = [t["at"] for t in self.transitions if (t["kind"], t["target"]) in mine]
        times += [a["started"] for a in self.actions if a["phase"] == phase_id or a["step"] in step_refs]
        start = min(times) if times else None
        end = None
        latest = self.latest.get(("phase", phase_id))
        if latest is not None and latest["state"] in PHASE_END_STATES:
            end = latest["at"]
        return start, end

    def failed_runs(self, action: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in action["runs"] if r["state"] != "ok"]

    def action_result(self, action: dict[str, Any]) -> str:
        """"ok: web1, web2; failed (exit 1): web3" (hosts grouped by outcome, in host order)."""
        groups: dict[str, list[str]] = {}
        for r in action["runs"]:
            groups.setdefault(_run_result(r), []).append(r["host"])
        return "; ".join(f"{self.t(k)}: {self.hosts(v)}" for k, v in groups.items()) or "no hosts"

    def budget_verdict(self, rb: dict[str, Any]) -> str:
        budget = self.spec.rollback_budget
        if rb["duration"] is None:
            return f"{UNKNOWN} not ended (budget {_dur(budget)})"
        if rb["duration"] <= budget:
            return f"{OK} within budget ({_dur(rb['duration'])} ≤ {_dur(budget)})"
        return f"{BAD} over budget ({_dur(rb['duration'])} > {_dur(budget)}, by {_dur(rb['duration'] - budget)})"

    # -- sections --------------------------------------------------------------------------

    def render(self) -> str:
        out: list[str] = []
        for section in (self.header, self.summary, self.timeline, self.phases, self.actions_section,
                        self.baseline_section, self.rollbacks_section, self.reasons_section):
            out += section()
            out.append("")
        return self.redactor.redact("\n".join(out).rstrip("\n") + "\n")

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
        if not self.spec.phases:
            outcome = "no runbook phases in the config"
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
            out.append(f"- **Rollbacks:** {len(self.rollbacks)} (budget {_dur(self.spec.rollback_budget)}): {verdicts}")
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

    # -- phases ----------------------------------------------------------------------------

    def phases(self) -> list[str]:
        out = ["## Phases", ""]
        if not self.spec.phases:
            out.append("The config has no runbook phases.")
        for i, phase in enumerate(self.spec.phases, 1):
            out += self.phase(i, phase)
        out += self.strays()
        return out

    def phase(self, index: int, phase: PhaseSpec) -> list[str]:
        refs = [f"{phase.id}.{s.id}" for s in phase.steps]
        state = self.phase_state(phase.id, refs)
        start, end = self.phase_span(phase.id, refs)
        latest = self.latest.get(("phase", phase.id))
        out = [f"### {index}. {self.t(phase.title)} ({self.t(phase.id)})", "",
               "| | |", "|---|---|",
               f"| State | **{self.t(state)}**"
               + (f"; reason: {self.t(latest['reason'])}" if latest and latest["reason"] else "")
               + (f" ({self.t(latest['detail'])})" if latest and latest["detail"] else "") + " |",
               f"| Started | {_iso(start)} |",
               f"| Ended | {_iso(end)}" + (f" ({self.t(state)})" if end is not None else "") + " |",
               f"| Duration | {_dur(None if start is None or end is None else end - start)} |"]
        gates = [g for g in self.gates if g["phase"] == phase.id]
        gate_text = "; ".join(self.t(c) for c in phase.gate) if phase.gate else "none"
        out.append(f"| Gate | {gate_text} |")
        if gates:
            g = gates[-1]
            out.append(f"| Gate, latest | {_mark(g['ok'])} {_iso(g['at'])} {self.t(g['detail'], DETAIL_LIMIT)} |")
            failures = [g for g in gates if g["ok"] is False]
            if failures:
                shown = failures[-GATE_FAILURES_LIMIT:]
                more = f" (the last {len(shown)} of {len(failures)})" if len(shown) < len(failures) else ""
                out.append(f"| Gate failures | {len(failures)}{more}: "
                           + "<br>".join(f"{BAD} {_iso(f['at'])} {self.t(f['detail'], DETAIL_LIMIT)}" for f in shown)
                           + " |")
            else:
                out.append("| Gate failures | none |")
        else:
            out.append("| Gate, latest | never evaluated |")
        since = self.holds.get(phase.id)
        hold = f"{_dur(phase.hold)} required" if phase.hold else "none required"
        if since is not None and state not in PHASE_END_STATES:
            hold += f"; holding since {_iso(since)}"
        out += [f"| Hold | {hold} |", ""]
        if not phase.steps:
            out += ["No steps.", ""]
            return out
        out += ["| Step | State | Hosts | Verify (latest per host) | Actions |", "|---|---|---|---|---|"]
        for step, ref in zip(phase.steps, refs):
            out.append(self.step_row(step, ref))
        out.append("")
        return out

    def step_row(self, step: StepSpec, ref: str) -> str:
        t = self.latest.get(("step", ref))
        state = f"**{self.t(t['state'])}**" if t else "not run"
        if t and t["reason"]:
            state += f"; reason: {self.t(t['reason'])}"
        if t and t["detail"]:
            state += f" ({self.t(t['detail'])})"
        if step.run is None:
            state += " (manual)"
        mine = [a for a in self.actions if a["step"] == ref]
        if t and t["state"] in ("running", "verifying") and any(a["interrupted"] for a in mine):
            state += "; interrupted: the cockpit stopped, outcome unknown"
        latest: dict[str, dict[str, Any]] = {}
        for v in self.verify:
            if v["step"] == ref:
                latest[v["host"]] = v
        hosts = self.step_hosts(step, ref)
        verify = []
        for h in hosts + [h for h in latest if h not in hosts]:
            v = latest.get(h)
            if v is not None:
                detail = self.t(v["detail"], DETAIL_LIMIT)
                verify.append(f"{self.t(h)} {_mark(v['ok'])}" + (f" {detail}" if detail else ""))
            elif step.verify:
                verify.append(f"{self.t(h)} {UNKNOWN} not verified")
        if step.verify:
            verify.insert(0, "checks: " + "; ".join(self.t(c) for c in step.verify))
        runs = []
        for a in mine:
            per_host = ", ".join(f"{self.t(r['host'])} {self.t(_run_result(r))}" for r in a["runs"])
            runs.append(f"#{a['id']} {self.t(a['kind'])} {_iso(a['started'])}: {per_host or 'no hosts'}")
        return (f"| {self.t(step.title)} ({self.t(ref)}) | {state} | {self.hosts(hosts)} | "
                f"{'<br>'.join(verify) or '–'} | {'<br>'.join(runs) or '–'} |")

    def strays(self) -> list[str]:
        """Phases and steps the journal knows but the config's runbook no longer has."""
        known = {("phase", p.id) for p in self.spec.phases} | {
            ("step", f"{p.id}.{s.id}") for p in self.spec.phases for s in p.steps}
        stray = sorted(k for k in self.latest if k[0] in ("phase", "step") and k not in known)
        if not stray:
            return []
        out = ["### Not in the runbook", "",
               "The journal has transitions for these, but the config's runbook does not name them:", "",
               "| Kind | Target | Latest state | At (UTC) |", "|---|---|---|---|"]
        for kind, target in stray:
            t = self.latest[(kind, target)]
            out.append(f"| {kind} | {self.t(target)} | {self.t(t['state'])} | {_iso(t['at'])} |")
        out.append("")
        return out

    # -- actions ---------------------------------------------------------------------------

    def actions_section(self) -> list[str]:
        out = ["## Actions", ""]
        if not self.actions:
            out.append("No actions were run.")
            return out
        for a in self.actions:
            out += self.action(a)
        return out

    def action(self, a: dict[str, Any]) -> list[str]:
        where = " ".join(x for x in (f"phase {self.t(a['phase'])}" if a["phase"] else "",
                                     f"step {self.t(a['step'])}" if a["step"] else "") if x) or "–"
        out = [f"### Action #{a['id']}: {self.t(a['title'])}", "",
               "| Started | Ended | Operator | Kind | Runbook | Command |", "|---|---|---|---|---|---|",
               f"| {_iso(a['started'])} | {_iso(a['ended'])}" + (" (interrupted)" if a["interrupted"] else "")
               + f" | {self.t(a['operator'])} | {self.t(a['kind'])} | {where} | {self.t(a['command'])} |", ""]
        differs = any(r["command"] != a["command"] for r in a["runs"])
        head = "| Host | State | Exit | Started | Duration |" + (" Command as run |" if differs else "") + " Error |"
        out += [head, "|---" * (6 + differs) + "|"]
        for r in a["runs"]:
            exit_status = "–" if r["exit_status"] is None else str(r["exit_status"])
            state = self.t(r["state"]) if r["state"] == "ok" else f"**{self.t(r['state'])}**"
            row = f"| {self.t(r['host'])} | {state} | {exit_status} | {_iso(r['started'])} | {_dur(r['duration'])} |"
            if differs:
                row += f" {self.t(r['command'])} |"
            out.append(row + f" {self.t(r['error'], DETAIL_LIMIT) or '–'} |")
        out.append("")
        for r in self.failed_runs(a):
            out += self.output_tail(r)
        return out

    def output_tail(self, run: dict[str, Any]) -> list[str]:
        text = self.clean(run.get("output") or "")
        host = self.t(run["host"])
        if not text.strip():
            return [f"{host}: no output recorded.", ""]
        lines = text.rstrip("\n").splitlines()
        shown = lines[-OUTPUT_TAIL_LINES:]
        body = "\n".join(shown)
        if len(body) > OUTPUT_TAIL_CHARS:
            body = body[-OUTPUT_TAIL_CHARS:]
            cut = body.find("\n")
            body = body[cut + 1:] if 0 <= cut < len(body) - 1 else body
        count = body.count("\n") + 1
        what = f"the last {count} of {len(lines)} lines" if count < len(lines) else f"all {len(lines)} lines"
        if run.get("truncated"):
            what += " (the journal kept only the tail of a longer output)"
        return [f"Output of {host} ({what}):", "", *self.fence(body), ""]

    # -- baseline ----------------------------------------------------------------------------

    def baseline_section(self) -> list[str]:
        out = ["## Baseline vs final", ""]
        if self.baseline is None:
            out.append("No baseline was captured, so there is nothing to compare the final state with.")
            return out
        bid, at, data = self.baseline
        hosts = data.get("hosts") if isinstance(data, dict) else None
        if not isinstance(hosts, dict):
            out.append(f"Baseline #{bid} ({_iso(at)}) holds no per-host data; there is nothing to compare.")
            return out
        if self.final is None:
            out += [f"Baseline #{bid} was captured at {_iso(at)}; no final snapshot was given, so this is the "
                    "baseline alone.", "",
                    "| Host | Service | Baseline status | Baseline p95 |", "|---|---|---|---:|"]
            for host, hb in hosts.items():
                for svc, b in hb.get("services", {}).items():
                    p = b.get("p95")
                    out.append(f"| {self.t(host)} | {self.t(svc)} | {self.t(b.get('status'))} | "
                               f"{'–' if p is None else f'{p * 1000:.1f} ms'} |")
            return out
        rows = diff_rows(data, self.final, self.history, self.spec.window, regressions=[])
        changed = 0
        table = []
        for row in rows:
            note = ""
            if row["baseline"] != row["now"]:
                note = f"{BAD} was {self.t(row['baseline'])}" if row["baseline"] == "up" else "changed"
            bp, np_ = row["baseline_p95_ms"], row["now_p95_ms"]
            if not note and bp and np_ is not None and np_ > self.spec.latency_factor * bp:
                note = f"{BAD} p95 ×{np_ / bp:.1f}"
            changed += bool(note)
            table.append(f"| {self.t(row['host'])} | {self.t(row['service'])} | {self.t(row['baseline'])} | "
                         f"{self.t(row['now'])} | {'–' if bp is None else f'{bp} ms'} | "
                         f"{'–' if np_ is None else f'{np_} ms'} | {note} |")
        out += [f"Baseline #{bid} captured at {_iso(at)}; final state at {_iso(self.final.at)}. "
                f"{changed} of {len(rows)} host/service pairs differ (status changed, or p95 over "
                f"{self.spec.latency_factor:g}× the baseline's).", "",
                "| Host | Service | Baseline status | Final status | Baseline p95 | Final p95 | Change |",
                "|---|---|---|---|---:|---:|---|", *table]
        return out

    # -- rollbacks -------------------------------------------------------------------------

    def rollbacks_section(self) -> list[str]:
        budget = self.spec.rollback_budget
        out = ["## Rollbacks", "", f"Budget: {_dur(budget)} per rollback.", ""]
        if not self.rollbacks:
            out.append("No rollbacks were run.")
            return out
        out += ["| # | Kind | Target | Operator | Started | Ended | Duration | Result | Budget | Actions |",
                "|---:|---|---|---|---|---|---:|---|---|---|"]
        for rb in self.rollbacks:
            end = rb["ended"] if rb["ended"] is not None else self.now
            acts = [a for a in self.actions if a["kind"] == "rollback" and rb["started"] <= a["started"] <= end]
            ran = ", ".join(f"#{a['id']} {self.action_result(a)}" for a in acts) or "–"
            result = "not ended" if rb["ok"] is None else "ok" if rb["ok"] else "**failed**"
            if rb["detail"]:
                result += f" ({self.t(rb['detail'])})"
            out.append(f"| {rb['id']} | {self.t(rb['kind'])} | {self.t(rb['target'])} | {self.t(rb['operator'])} | "
                       f"{_iso(rb['started'])} | {_iso(rb['ended'])} | {_dur(rb['duration'])} | {result} | "
                       f"{self.budget_verdict(rb)} | {ran} |")
        return out

    # -- overrides and skips -----------------------------------------------------------------

    def reasons_section(self) -> list[str]:
        out = ["## Overrides and skips", ""]
        rows = [t for t in self.transitions if t["state"] in REASON_STATES or t["reason"]]
        if not rows:
            out.append("No phase was overridden, no step skipped, and the driver lease was never taken over.")
            return out
        out += ["| Time (UTC) | Who | What | Target | Reason | Detail |", "|---|---|---|---|---|---|"]
        for t in sorted(rows, key=lambda t: (t["at"], t["id"])):
            what = {"overridden": "phase overridden", "skipped": "step skipped",
                    "taken-over": "driver lease taken over"}.get(t["state"], f"{t['kind']} {t['state']}")
            out.append(f"| {_iso(t['at'])} | {self.t(t['operator'])} | {self.t(what)} | {self.t(t['target'])} | "
                       f"{self.t(t['reason']) or '–'} | {self.t(t['detail']) or '–'} |")
        return out


def build_report(config: Config, journal: Journal, *, final: FleetSnapshot | None = None,
                 history: History | None = None, redactor: Redactor | None = None, now: float | None = None) -> str:
    """The cutover report for ``journal`` as Markdown (ends with a newline).

    ``final``: the fleet now, compared with the journal's latest baseline (with
    ``history`` for the final p95; an empty History leaves those cells blank).
    ``redactor``: secrets to mask, added to ``config.secrets`` (always masked).
    ``now``: the "generated" time (default: the current time). Reads only; the
    journal may be open read-only.
    """
    return _Report(config, journal, final, history, redactor, now).render()
