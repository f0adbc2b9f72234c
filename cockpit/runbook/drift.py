"""Steps whose definition changed since they ran: what the journal says ran, against the plan in use now.

The journal stamps every action with its step's fingerprint and keeps each plan version's text, so the
runbook can tell, and name, what changed in a step after it started or finished on some hosts. Running it
again then needs its id typed (:meth:`cockpit.runbook.Runbook.rerun_needed`), and the plan view says
"changed since run"; steps removed from the plan after they ran are listed as "removed after running".
"""

from __future__ import annotations

import json

from cockpit.plans import PlanVersion, diff_plans
from cockpit.runbook.views import RemovedStep, hhmm


def changed_since_run(journal: object | None, ref: str) -> str:
    """"changed since run (...): command: 'a' -> 'b'" when ``ref``'s last action ran under another definition
    of the step than the plan in use now; "" when it did not run, or ran as it is now, or nothing is known."""
    plan: PlanVersion | None = getattr(journal, "plan", None)
    if journal is None or plan is None:
        return ""
    action = journal.last_step_action(ref)  # type: ignore[attr-defined]
    if action is None or not action.get("step_fp") or action["step_fp"] == plan.step(ref):
        return ""
    old_text = journal.plan_text(action["plan"]) if action.get("plan") else None  # type: ignore[attr-defined]
    lines = [line for c in diff_plans(old_text, plan.text) if c.target == ref for line in c.lines] if old_text else []
    what = "; ".join(lines) or "its definition differs"
    return f"changed since run (its last run started at {hhmm(action['started'])} under plan {action['plan']}): {what}"


def done_under_other(journal: object | None, ref: str, hosts: list[str]) -> dict[str, str]:
    """{host: "plan P at HH:MM"} for the hosts of ``ref`` whose last journaled outcome is done under another
    definition of the step than the plan in use now: a changed step's next run leaves them alone unless the
    operator chooses to re-run them (:meth:`cockpit.runbook.Runbook.run_step`, ``rerun_done``). An outcome
    older than a rollback of the step, of its phase or of the whole plan does not count: it was undone."""
    plan: PlanVersion | None = getattr(journal, "plan", None)
    if journal is None or plan is None:
        return {}
    phase = ref.partition(".")[0]
    undone = max((float(rb["started"]) for rb in journal.rollbacks()  # type: ignore[attr-defined]
                  if rb["kind"] not in ("step", "phase") or rb["target"] in (ref, phase)), default=0.0)
    last: dict[str, dict[str, object]] = {}
    for r in journal.verify_results(ref):  # type: ignore[attr-defined]
        if float(r["at"]) > undone:  # a rollback since (of the step, its phase, or the quick one) undid it
            last[str(r["host"])] = r
    now = plan.step(ref)
    out: dict[str, str] = {}
    for h in hosts:
        r = last.get(h)
        if r is not None and r["ok"] is True and r.get("step_fp") and r["step_fp"] != now:
            out[h] = f"plan {r['plan']} at {hhmm(float(r['at']))}"  # type: ignore[arg-type]
    return out


def removed_after_running(journal: object | None, steps: set[str]) -> list[RemovedStep]:
    """Steps that ran (a step action in the journal) but are not in ``steps`` (the plan in use now), with
    their title as the plan they last ran under had it, and their last journaled state."""
    if journal is None or not hasattr(journal, "last_step_runs"):
        return []
    out = []
    for r in journal.last_step_runs():
        if r["step"] in steps:
            continue
        moves = journal.transitions(r["step"])  # type: ignore[attr-defined]
        text = journal.plan_text(r["plan"]) if r.get("plan") else None  # type: ignore[attr-defined]
        out.append(RemovedStep(r["step"], _title(text, r["step"]), moves[-1]["state"] if moves else "",
                               r["started"], r["operator"], r["command"], r.get("plan")))
    return out


def _title(plan_text: str | None, ref: str) -> str:
    """A step's title in a plan version's normalised text ("" when not found)."""
    if not plan_text:
        return ""
    phase, _, step = ref.partition(".")
    for p in json.loads(plan_text).get("phases", []):
        for s in p.get("steps", []) if p.get("id") == phase else []:
            if s.get("id") == step:
                return str(s.get("title") or "")
    return ""
