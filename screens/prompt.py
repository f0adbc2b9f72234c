"""The ad-hoc command prompt (`!`): which hosts, and what to run."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from screens.safety import Contained


@dataclass(frozen=True)
class AdHoc:
    selectors: tuple[str, ...]
    command: str


class CommandPrompt(Contained, ModalScreen[AdHoc | None]):
    DEFAULT_CSS = """
    CommandPrompt { align: center middle; }
    CommandPrompt > Vertical { width: 90%; max-width: 100; height: auto; border: thick $accent;
        background: $surface; padding: 0 1; }
    CommandPrompt Label { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, hosts_default: str) -> None:
        super().__init__()
        self.hosts_default = hosts_default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("On (host names, globs, tag:X or all, comma separated):")
            yield Input(value=self.hosts_default, id="prompt-on")
            yield Label("Command (runs through sh -c; {host} {address} {user} {port} are substituted):")
            yield Input(placeholder="systemctl is-active fleet-agent", id="prompt-command")
            yield Label("Enter: review and confirm   Escape: cancel")

    def on_mount(self) -> None:
        self.query_one("#prompt-command", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        command = self.query_one("#prompt-command", Input).value.strip()
        on_text = self.query_one("#prompt-on", Input).value
        selectors = tuple(s.strip() for s in on_text.replace(" ", ",").split(",") if s.strip())
        if not command:
            self.query_one("#prompt-command", Input).focus()
            return
        if not selectors:
            self.notify("name at least one host, glob, tag:X or all", severity="warning")
            self.query_one("#prompt-on", Input).focus()
            return
        self.dismiss(AdHoc(selectors, command))
