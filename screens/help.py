"""Every key the cockpit binds, generated from the bindings themselves (so it cannot drift)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from screens.safety import Contained


class HelpScreen(Contained, ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90%; max-width: 90; height: 90%; border: thick $accent; background: $surface;
        padding: 0 1; }
    HelpScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("question_mark", "close", "Close", show=False),
                Binding("q", "close", "Close", show=False)]

    def __init__(self, rows: list[tuple[str, str, str]], read_only: bool) -> None:
        super().__init__()
        self.rows = rows
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_edge=False, pad_edge=False)
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Does")
        table.add_column("Where", style="dim", no_wrap=True)
        for key, description, where in self.rows:
            table.add_row(Text(key), Text(description), Text(where))
        with Vertical():
            yield Label(Text("Keys", style="bold") + Text(
                "  (READ-ONLY: action keys are disabled)" if self.read_only else "", style="yellow"))
            with VerticalScroll():
                yield Static(table)  # text-safe: a rich Table of Text cells
            yield Label(Text("Escape closes · : or ctrl+p opens the command palette (every action, by name or key)",
                             style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
