"""`o` on the fleet table: pick the sort key with one more key (n, s, c, m, l); the same key again reverses.

Two keys rather than five bound ones: the dashboard's capitals are the runbook's (S, C, L…), and the letters
configured actions use (t, h, w, s…) stay free; the picker lists every key, so nothing is memorised.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from cockpit.fleetquery import SORT_KEYS
from screens.safety import Contained

#: the picker's keys, in the order shown
PICKS = (("n", "name"), ("s", "status"), ("c", "cpu"), ("m", "mem"), ("l", "load"))
#: what the first press puts first, per key
FIRST = {"name": "A to Z", "status": "worst first", "cpu": "busiest first", "mem": "fullest first",
         "load": "highest first"}


class SortPicker(Contained, ModalScreen[str | None]):
    """Dismisses with a :data:`cockpit.fleetquery.SORT_KEYS` key, or None (Escape)."""

    DEFAULT_CSS = """
    SortPicker { align: center middle; }
    SortPicker > Vertical { width: 60; height: auto; border: thick $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [*(Binding(k, f"pick('{key}')", f"Sort by {SORT_KEYS[key][0]}") for k, key in PICKS),
                Binding("escape", "pick", "Cancel")]

    def __init__(self, current: str | None, reverse: bool) -> None:
        super().__init__()
        self.current = current
        self.reverse = reverse

    def compose(self) -> ComposeResult:
        lines = Text()
        for k, key in PICKS:
            lines.append(f" {k} ", style="bold cyan")
            lines.append(f" {SORT_KEYS[key][0]:<7} {FIRST[key]}")
            if key == self.current:
                lines.append("  (now" + (", reversed" if self.reverse else "") + "; again reverses)", style="dim")
            lines.append("\n")
        with Vertical():
            yield Label(Text("Sort the fleet by", style="bold"))
            yield Static(lines)  # text-safe: our own words in a Text
            yield Label(Text("Escape: keep the order", style="dim"))

    def action_pick(self, key: str | None = None) -> None:
        self.dismiss(key)
