"""Asks for a reason (skip, override, take-over) or a typed word; the answer goes into the journal."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from screens import render
from screens.safety import Contained


class ReasonPrompt(Contained, ModalScreen[str | None]):
    """Dismisses with the text (non-empty, and equal to ``must_equal`` when given) or None on Escape."""

    DEFAULT_CSS = """
    ReasonPrompt { align: center middle; }
    ReasonPrompt > Vertical { width: 90%; max-width: 90; height: auto; border: thick $warning;
        background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, placeholder: str = "", must_equal: str | tuple[str, ...] | None = None,
                 password: bool = False) -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder
        self.must_equal = must_equal
        self.password = password  # masked input (the sudo password); never echoed

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(render.plain(self.question))
            yield Input(placeholder=self.placeholder, id="reason", password=self.password)
            yield Label("Enter: confirm   Escape: cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#reason")
    def _done(self, event: Input.Submitted) -> None:
        text = event.value if self.password else event.value.strip()
        event.input.value = ""
        if not text:
            return
        allowed = (self.must_equal,) if isinstance(self.must_equal, str) else self.must_equal
        if allowed is not None and text not in allowed:
            event.input.value = ""
            self.notify(f"type {' or '.join(allowed)} exactly, or Escape to cancel", severity="warning",
                        markup=False)
            return
        self.dismiss(text)
