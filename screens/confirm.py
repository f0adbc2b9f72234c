"""Confirmation before anything fires: the hosts and the exact command, y / n, never Enter alone."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from screens import render
from screens.safety import Contained

TYPED_CONFIRM_ABOVE = 5  # more hosts than this: the operator types how many


class ConfirmScreen(Contained, ModalScreen[bool]):
    """Dismisses with True only on an explicit yes: ``y``, or the typed host count."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1; }
    ConfirmScreen #confirm-title { text-style: bold; }
    ConfirmScreen VerticalScroll { height: auto; max-height: 12; }
    ConfirmScreen #confirm-keys { color: $text-muted; }
    """

    BINDINGS = [
        Binding("y", "yes", "Yes, run it"),
        Binding("n", "no", "No"),
        Binding("escape", "no", "Cancel"),
    ]

    def __init__(self, title: str, command: str, hosts: list[str], note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.command = command
        self.hosts = hosts
        self.note = note
        self.typed = len(hosts) > TYPED_CONFIRM_ABOVE

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Run on {len(self.hosts)} host{'s' if len(self.hosts) != 1 else ''}: ")
                        + render.plain(self.title_text), id="confirm-title")
            cmd = Text("$ ", style="dim") + render.plain(self.command)
            with VerticalScroll():
                yield Static(cmd, id="confirm-command")  # text-safe: Text
                yield Static(render.plain(", ".join(self.hosts)), id="confirm-hosts")
                if self.note:
                    yield Static(render.plain(self.note), id="confirm-note")
            if self.typed:
                yield Label(Text(f"Type {len(self.hosts)} (the number of hosts) and press Enter to run; Escape cancels."),
                            id="confirm-keys")
                yield Input(placeholder=f"{len(self.hosts)}", id="confirm-count")
            else:
                yield Label("y: run   n / Escape: cancel   (Enter does nothing here)", id="confirm-keys")

    def on_mount(self) -> None:
        if self.typed:
            self.query_one("#confirm-count", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("yes", "no") and self.typed:
            return False  # letters go into the count field; only Escape cancels
        return True

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)

    def key_escape(self) -> None:
        self.dismiss(False)

    @on(Input.Submitted, "#confirm-count")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip() == str(len(self.hosts)):
            self.dismiss(True)
        else:
            event.input.value = ""
            self.notify(f"type {len(self.hosts)} to confirm, or Escape to cancel", severity="warning", markup=False)
