"""The migration plan as phases and steps with their state (titles from the config until the runbook lands)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from screens import render

STATE_GLYPH = {"pending": ("○", "dim"), "running": ("◔", "cyan"), "done": ("●", "green"), "failed": ("✖", "bold red")}


class PhasePanel(Widget):
    DEFAULT_CSS = """
    PhasePanel { height: auto; max-height: 12; border-top: solid $primary-darken-2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.phases: list[tuple[str, str]] = []
        self.border_title = "Plan"

    def set_phases(self, phases: list[tuple[str, str]]) -> None:
        if phases != self.phases:
            self.phases = phases
            self.refresh(layout=True)

    def render(self) -> Text:
        if not self.phases:
            return Text("no phases configured", style="dim")
        lines = []
        for title, state in self.phases:
            glyph, style = STATE_GLYPH.get(state, ("?", ""))
            line = Text(f"{glyph} ", style=style)
            line.append(render.plain(title))
            line.append(f"  {state}", style="dim")
            lines.append(line)
        out = Text("\n").join(lines)
        out.no_wrap = True
        out.overflow = "ellipsis"
        return out
