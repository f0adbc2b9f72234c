"""The migration plan: phases with their gate and hold, steps with state and per-host checks.

A table with one row per phase and per step; the cursor picks what the plan keys act on. A phase whose
gate is an analysis run shows its measurements under it while it is not done (a small table: number,
time, verdict, each series' labels and value). Without a runbook it lists the phase titles from
``[cockpit] phases``.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import DataTable

from cockpit.runbook import DONE_PHASE, MeasurementView, PhaseView, PlanView, RemovedStep, StepView
from screens import render

STATE_STYLE = {
    "done": ("●", "green"), "overridden": ("◍", "yellow"), "running": ("◔", "cyan"), "verifying": ("◔", "cyan"),
    "holding": ("◔", "cyan"), "failing": ("✖", "bold red"), "failed": ("✖", "bold red"), "partial": ("◐", "yellow"), "skipped": ("↷", "dim"),
    "rolled-back": ("↶", "magenta"), "interrupted": ("⚠", "bold yellow"), "pending": ("○", "dim"),
    "open": ("○", ""), "locked": ("·", "dim"),
}


def _state(state: str) -> Text:
    glyph, style = STATE_STYLE.get(state, ("?", ""))
    return Text(f"{glyph} {state}", style=style)


def hold_bar(ph: PhaseView, width: int = 10) -> str:
    left = ph.hold_left
    if left is None or not ph.hold:
        return ""
    done = 1 - left / ph.hold
    filled = int(done * width)
    return "▓" * filled + "░" * (width - filled) + f" {render.age(left)} left"


def phase_detail(ph: PhaseView) -> Text:
    t = Text()
    if ph.gate is not None:
        mark, style = {True: ("gate holds", "green"), False: ("gate FAILS", "bold red"),
                       None: ("gate inconclusive", "yellow")}[ph.gate.value]
        if ph.analysis is not None and ph.analysis.state == "running":
            mark, style = "gate measuring", "cyan"  # an analysis run not decided yet
        t.append(mark, style=style)
        if ph.gate.value is not True:
            t.append(": ")
            t.append(render.clean(ph.gate.detail))
    bar = hold_bar(ph)
    if bar:
        t.append("  hold " + bar, style="cyan")
    return t


def step_detail(st: StepView) -> Text:
    t = Text()
    if st.manual:
        t.append("manual ", style="italic")
    if st.irreversible:
        t.append("⚑ no return ", style="bold magenta")
    if st.batch:
        t.append(st.batch + " ", style="cyan")
    if st.waiting:
        if st.progress is not None:
            filled = int(st.progress * 10)
            t.append("▓" * filled + "░" * (10 - filled) + " ", style="cyan")
        t.append(render.clean(st.waiting) + " ", style="bold cyan")
    if st.rollback_ready is False:
        t.append("rollback NOT READY ", style="bold red")
    if st.changed:
        t.append("changed since run ", style="bold yellow")
    if st.checks:
        ok = sum(1 for c in st.checks if c.ok)
        t.append(f"{ok}/{len(st.checks)} hosts ok", style="green" if ok == len(st.checks) else "yellow")
        bad = [c for c in st.checks if c.ok is False]
        if bad:
            t.append("  ")
            t.append(render.clean(f"{bad[0].host}: {bad[0].detail}"), style="red")
    elif st.hosts:
        t.append("on " + ", ".join(st.hosts[:4]) + (" …" if len(st.hosts) > 4 else ""), style="dim")
    return t


_MEASURE_STYLE = {True: ("✔", "green"), False: ("✖", "bold red"), None: ("…", "yellow")}


def measurement_row(phase: str, m: MeasurementView) -> tuple[str, tuple[Text, ...]]:
    """One measurement of a running analysis: ``✖ #3 14:05:00`` and its series' values (remote text: clean)."""
    glyph, style = _MEASURE_STYLE[m.value]
    when = time.strftime("%H:%M:%S", time.localtime(m.at))
    return (f"measure:{phase}:{m.index}", (Text(f"  {glyph} {m.word}", style=style),
                                           Text(f"    #{m.index} {when}", style="dim"),
                                           render.plain(m.values())))


def removed_row(r: RemovedStep) -> tuple[str, tuple[Text, ...]]:
    """A step that ran but is gone from the plan: it stays in view, with what it ran and the plan version."""
    detail = Text("removed after running ", style="bold yellow")
    detail.append(render.clean(r.what()))
    return (f"removed:{r.ref}", (_state(r.state) if r.state else Text("⊘", style="yellow"),
                                 Text("  ") + render.plain(r.title or r.ref), detail))


class PhasePanel(DataTable[Text]):
    DEFAULT_CSS = """
    PhasePanel { height: 1fr; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, show_header=False, **kw)  # type: ignore[arg-type]
        self.view: PlanView | None = None
        self._titles: list[str] = []
        self._rows: list[tuple[str, tuple[Text, ...]]] = []
        self.border_title = "Plan"

    def on_mount(self) -> None:
        self.add_column("state", key="state")
        self.add_column("item", key="item")
        self.add_column("detail", key="detail")

    def set_titles(self, titles: list[str]) -> None:
        """No runbook: just the phase titles of ``[cockpit] phases``."""
        self._titles = titles
        self._apply([(f"title:{i}", (_state("pending"), render.plain(t), Text(""))) for i, t in enumerate(titles)])

    def apply(self, view: PlanView) -> None:
        self.view = view
        rows: list[tuple[str, tuple[Text, ...]]] = []
        passed = {s.ref for p in view.phases for s in p.steps if s.irreversible and s.state in ("done", "partial")}
        for ph in view.phases:
            title = Text(render.clean(ph.title), style="bold")
            if any(s.ref in passed for s in ph.steps):
                title.append("  ⚑ point of no return passed", style="bold magenta")
            rows.append((f"phase:{ph.id}", (_state(ph.state), title, phase_detail(ph))))
            if ph.analysis is not None and ph.state not in DONE_PHASE:
                rows.append((f"analysis:{ph.id}", (Text("  analysis", style="cyan"), Text(""),
                                                   render.plain(ph.analysis.summary()))))
                rows += [measurement_row(ph.id, m) for m in ph.analysis.measurements]
            for st in ph.steps:
                rows.append((f"step:{st.ref}", (_state(st.state), Text("  ") + render.plain(st.title),
                                                 step_detail(st))))
            rows += [removed_row(r) for r in view.removed_steps if r.ref.partition(".")[0] == ph.id]
        phases = {ph.id for ph in view.phases}  # a removed phase's steps: after the plan
        rows += [removed_row(r) for r in view.removed_steps if r.ref.partition(".")[0] not in phases]
        self._apply(rows)

    def _apply(self, rows: list[tuple[str, tuple[Text, ...]]]) -> None:
        if [k for k, _ in rows] != [k for k, _ in self._rows]:
            keep = self.cursor_row
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)  # text-safe: Text (render.*)
            if rows:
                self.move_cursor(row=min(keep, len(rows) - 1))
        else:
            old = dict(self._rows)
            for key, cells in rows:
                for col, cell, before in zip(("state", "item", "detail"), cells, old[key]):
                    if cell != before:
                        self.update_cell(key, col, cell)  # text-safe: Text (render.*)
        self._rows = rows

    @property
    def selected(self) -> str | None:
        """``phase:ID`` or ``step:PHASE.STEP`` under the cursor."""
        if not self._rows or self.cursor_row >= len(self._rows):
            return None
        return self._rows[self.cursor_row][0]
