"""The report's plan sections: the plan version each step's run was made under, and every plan change.

Operators edit the runbook mid-cutover. The journal keeps each plan version once and stamps every action
with the plan it ran under and its step's fingerprint (docs/journal.md), so the report can say what a step
was when it ran, flag a step whose definition changed since, and list every accepted change with its time,
operator, reason and diff. A mixin over :class:`cockpit.report.base.ReportBase`.
"""

from __future__ import annotations

from typing import Any

from cockpit.plans import plan_version
from cockpit.report.base import ReportBase, _iso, _run_result


class PlanSections(ReportBase):
    """Plan versions per run, and the plan changes section."""

    def step_runs(self, ref: str, mine: list[dict[str, Any]]) -> list[str]:
        """One cell line per action of the step: when, which plan, and each host's result and exact command."""
        out = []
        for a in mine:
            per_host = "; ".join(f"{self.t(r['host'])} {self.t(_run_result(r))}: {self.t(r['command'])}"
                                 for r in a["runs"])
            plan = f" under plan {self.t(a['plan'])}" if a.get("plan") else ""
            out.append(f"#{a['id']} {self.t(a['kind'])} {_iso(a['started'])}{plan}: {per_host or 'no hosts'}")
        return out

    def removed_section(self) -> list[str]:
        """Steps that ran but are no longer in the config's runbook: removed after running, each run with the
        plan version it was made under and each host's exact command (the config cannot say what they were)."""
        known = {f"{p.id}.{s.id}" for p in self.spec.phases for s in p.steps}
        gone = [ref for ref in dict.fromkeys(a["step"] for a in self.actions if a["kind"] == "step" and a["step"])
                if ref not in known]
        if not gone:
            return []
        out = ["### Removed after running", "",
               "These steps ran, but the config's runbook no longer has them (a plan change removed them):", "",
               "| Step | Latest state | Runs (plan version, each host's exact command) |", "|---|---|---|"]
        for ref in gone:
            t = self.latest.get(("step", ref))
            state = f"**{self.t(t['state'])}** {_iso(t['at'])}" if t else "not recorded"
            runs = self.step_runs(ref, [a for a in self.actions if a["step"] == ref])
            out.append(f"| {self.t(ref)} | removed after running; {state} | {'<br>'.join(runs)} |")
        out.append("")
        return out

    def changed_note(self, ref: str, mine: list[dict[str, Any]]) -> str:
        """"; changed since run" when the step's last run was made under another definition than the config's."""
        last = mine[-1] if mine else None
        if last is None or not last.get("step_fp"):
            return ""
        now = plan_version(self.config).step(ref)
        if now == last["step_fp"]:
            return ""
        return f"; changed since run (last run under plan {self.t(last['plan'])})"

    def plan_changes_section(self) -> list[str]:
        out = ["## Plan changes", ""]
        changes = self.journal.plan_changes()
        if not changes:
            out.append("The journal records no accepted plan (it predates plan versions, or nothing was decided).")
            return out
        current = plan_version(self.config).fingerprint
        last = changes[-1]["new"]
        out.append(f"The config's plan now is {self.t(current)}"
                   + ("; it is the last one accepted." if current == last
                      else f"; the last one accepted in the journal is {self.t(last)}.") + "")
        out += ["", "| At (UTC) | Operator | From | To | Reason | Changes |", "|---|---|---|---|---|---|"]
        for c in changes:
            diff = "<br>".join(self.t(self._change_text(d)) for d in c["diff"]) or "–"
            out.append(f"| {_iso(c['at'])} | {self.t(c['operator'])} | {self.t(c['old'] or '–')} | {self.t(c['new'])} "
                       f"| {self.t(c['reason'])} | {diff} |")
        return out

    @staticmethod
    def _change_text(d: dict[str, Any]) -> str:
        head = f"{d['what']} {d['target']}" + (f" ({', '.join(d['fields'])})" if d.get("fields") else "")
        return head + "".join(f"; {line}" for line in d.get("lines", []))
