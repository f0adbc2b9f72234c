"""The report's detail sections: phases and their steps, actions, baseline vs final, rollbacks,
overrides and skips.

A mixin over :class:`cockpit.report.base.ReportBase`; :mod:`cockpit.report` puts
the sections together in order.
"""

from __future__ import annotations

from typing import Any

from cockpit.baseline import ALPHA, MIN_SLOWDOWN, diff_rows, latency_shift, median
from cockpit.report.base import (
    BAD,
    DETAIL_LIMIT,
    GATE_FAILURES_LIMIT,
    OUTPUT_TAIL_CHARS,
    OUTPUT_TAIL_LINES,
    PHASE_END_STATES,
    REASON_STATES,
    UNKNOWN,
    _dur,
    _iso,
    _mark,
)
from cockpit.report.planversions import PlanSections
from cockpit.spec import PhaseSpec, StepSpec


class DetailSections(PlanSections):
    """One section per part of the cutover, each a table; failed hosts' output as fenced tails."""

    # -- phases ----------------------------------------------------------------------------

    def phases(self) -> list[str]:
        out = ["## Phases", ""]
        if not self.spec.phases:
            out.append("The config has no runbook phases.")
        for i, phase in enumerate(self.spec.phases, 1):
            out += self.phase(i, phase)
        out += self.strays()
        out += self.removed_section()
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
        out += self.analysis_rows(phase.id)
        if not phase.steps:
            out += ["No steps.", ""]
            return out
        out += ["| Step | State | Hosts | Verify (latest per host) | Actions |", "|---|---|---|---|---|"]
        for step, ref in zip(phase.steps, refs):
            out.append(self.step_row(step, ref))
        out.append("")
        return out

    def analysis_rows(self, phase_id: str) -> list[str]:
        """The gate's analysis measurements, run by run: when, the verdict, each series' labels and value."""
        rows = [m for m in self.measurements if m["phase"] == phase_id]
        out: list[str] = []
        for run in sorted({m["run"] for m in rows}):
            out += [f"Analysis run started {_iso(run)}:", "", "| # | at | verdict | series |", "|---|---|---|---|"]
            for m in (m for m in rows if m["run"] == run):
                series = "<br>".join(
                    f"{self.t(s.get('series'))} = {'–' if s.get('value') is None else format(s['value'], '.4g')}"
                    + (f" ({self.t(s.get('why'), DETAIL_LIMIT)})" if s.get("why") else "") for s in m["series"])
                out.append(f"| {m['index']} | {_iso(m['at'])} | {_mark(m['ok'])} | "
                           f"{series or self.t(m['detail'], DETAIL_LIMIT)} |")
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
        runs = self.step_runs(ref, mine)
        state += self.changed_note(ref, mine)
        return (f"| {self.t(step.title)} ({self.t(ref)}) | {state} | {self.hosts(hosts)} | "
                f"{'<br>'.join(verify) or '–'} | {'<br>'.join(runs) or '–'} |")

    def strays(self) -> list[str]:
        """Phases and steps the journal knows but the config's runbook no longer has."""
        known = {("phase", p.id) for p in self.spec.phases} | {
            ("step", f"{p.id}.{s.id}") for p in self.spec.phases for s in p.steps}
        ran = {("step", a["step"]) for a in self.actions if a["kind"] == "step"}  # in "Removed after running"
        stray = sorted(k for k in self.latest if k[0] in ("phase", "step") and k not in known and k not in ran)
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
            if row["expected"]:  # a lifecycle service: judged against its expectation, not the baseline
                bad = row["expected"].startswith("down") and row["now"] in ("up", "degraded")
                note = (f"{BAD} " if bad else "planned: ") + f"expected {self.t(row['expected'])}"
            elif row["baseline"] != row["now"]:
                note = f"{BAD} was {self.t(row['baseline'])}" if row["baseline"] == "up" else "changed"
            bp, np_ = row["baseline_p95_ms"], row["now_p95_ms"]
            if not note and bp is not None:
                note = self._latency_note(data, row["host"], row["service"])
            changed += bool(note)
            table.append(f"| {self.t(row['host'])} | {self.t(row['service'])} | {self.t(row['baseline'])} | "
                         f"{self.t(row['now'])} | {'–' if bp is None else f'{bp} ms'} | "
                         f"{'–' if np_ is None else f'{np_} ms'} | {note} |")
        out += [f"Baseline #{bid} captured at {_iso(at)}; final state at {_iso(self.final.at)}. "
                f"{changed} of {len(rows)} host/service pairs differ (status changed, or slower by the regression "
                f"rule: median over {self.spec.latency_factor:g}× the baseline's and {MIN_SLOWDOWN * 1000:.0f} ms "
                f"more, significant at p < {ALPHA:g}).", "",
                "| Host | Service | Baseline status | Final status | Baseline p95 | Final p95 | Change |",
                "|---|---|---|---|---:|---:|---|", *table]
        return out

    def _latency_note(self, data: dict[str, Any], host: str, service: str) -> str:
        """The regression rule on the baseline's samples and the final window; inconclusive says so."""
        b = data["hosts"].get(host, {}).get("services", {}).get(service, {})
        if "samples" not in b:
            return "latency not judged (baseline without samples)"
        lat = [s.latency for s in self.history.window(service, [host], self.spec.window) if s.latency is not None]
        shift = latency_shift(b["samples"], lat, factor=self.spec.latency_factor, min_samples=self.spec.min_samples)
        if shift.verdict == "regression":
            return f"{BAD} slower: median ×{median(lat) / max(median(b['samples']), 1e-9):.1f}"
        return "latency " + shift.detail if shift.verdict == "inconclusive" else ""

    # -- rollbacks -------------------------------------------------------------------------

    def rollbacks_section(self) -> list[str]:
        budget = self.spec.rollback_budget
        own = "; ".join(f"{self.t(r.title)} ({self.t(r.name)}) {_dur(r.budget)}" for r in self.spec.rollbacks)
        out = ["## Rollbacks", "", f"Budget: {_dur(budget)} per step or phase rollback"
               + (f"; {own}." if own else "."), ""]
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
            if rb["detail"]:  # one line per failed host: exit status or signal, duration, stderr's last lines
                result += " (" + "; ".join(self.t(ln) for ln in rb["detail"].splitlines()) + ")"
            reasons = [t["reason"] for t in self.transitions
                       if t["kind"] == "runbook" and t["target"] == f"rollback#{rb['id']}"]
            if reasons:
                result += f"; reason: {self.t(reasons[-1])}"
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
