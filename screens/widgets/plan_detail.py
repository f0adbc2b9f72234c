"""Why the selected phase or step is in its state: every condition's one-line reason, per host for verify.

A few lines under the plan that fit 80 columns (wrapped, never cut): the plan row keeps its short form,
and this shows the whole verdict of the row under the cursor. The rollback state's banner is ranked
with the others in ``screens.banners``.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cockpit.runbook import PlanView
from screens import render

MAX_LINES = 6  # then "… N more": the plan keeps most of the tab at 80x24


def detail_lines(view: PlanView | None, key: str | None) -> list[str]:
    """The full verdict of ``phase:ID`` or ``step:PHASE.STEP``."""
    if view is None or key is None:
        return []
    kind, _, target = key.partition(":")
    if kind in ("analysis", "measure"):  # an analysis run's row, or one of its measurements
        phase_id, _, index = target.partition(":")
        ph = next((p for p in view.phases if p.id == phase_id and p.analysis is not None), None)
        if ph is None or ph.analysis is None:
            return []
        if kind == "analysis":
            return [f"{ph.id} analysis [{ph.analysis.state}]", ph.analysis.summary()]
        m = next((m for m in ph.analysis.measurements if str(m.index) == index), None)
        if m is None:
            return []
        return [m.line(), m.detail] + [f"{v.series}: {v.why}" for v in m.series if v.why]
    for ph in view.phases:
        if kind == "phase" and ph.id == target:
            head = f"{ph.id} [{ph.state}]"
            lines = list(ph.reasons())
            if ph.state == "rolled-back" and view.rollback is not None:
                lines.insert(0, view.rollback.outcome())
            return [head] + lines if lines else [head + ": nothing pending"]
        for st in ph.steps:
            if kind == "step" and st.ref == target:
                return [f"{st.ref} [{st.state}]"] + list(st.reasons())
    return []


class PlanDetail(Static):
    """The selected plan row's reasons (text-safe: a Text, never markup)."""

    DEFAULT_CSS = """
    PlanDetail { height: auto; max-height: 7; padding: 0 1; background: $boost; }
    PlanDetail.-empty { display: none; }
    """

    def show(self, view: PlanView | None, key: str | None) -> None:
        lines = detail_lines(view, key)
        if len(lines) > MAX_LINES:
            lines = lines[: MAX_LINES - 1] + [f"… {len(lines) - MAX_LINES + 1} more (cockpit plan shows all)"]
        t = Text()
        for i, line in enumerate(lines):
            if i:
                t.append("\n")
            style = "bold" if i == 0 else ("bold red" if ("FAIL" in line or line.startswith("✖")) else "")
            t.append(render.clean(line), style=style)
        self.update(t)  # text-safe: Text
        self.set_class(not lines, "-empty")
