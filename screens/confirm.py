"""Confirmation before anything fires: what will run where, y / n, never Enter alone.

The dialog shows what will happen, not the config's template: the command as each host will run it
(placeholders filled, secrets as ``••••``, see :func:`cockpit.engine.preview_command`), the hosts
labelled and counted (``Hosts (12): h1, h2, … +4 more``), and the caller's notes (verify, budget,
rollback readiness). A new operator read ``$ …/start-v2 {address} {host}`` and a bare list of names.
"""

from __future__ import annotations

from collections.abc import Sequence

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
NAMES_SHOWN = 8  # host names in the labelled list before "+N more"
COMMANDS_SHOWN = 6  # hosts whose rendered command is shown before "+N more hosts"


def host_list(hosts: Sequence[str], shown: int = NAMES_SHOWN) -> Text:
    """``Hosts (12): h1, h2, … h8 +4 more``: the count first, then the names."""
    t = Text(f"Hosts ({len(hosts)}): ", style="bold")
    t.append(render.plain(", ".join(hosts[:shown])))
    if len(hosts) > shown:
        t.append(f" +{len(hosts) - shown} more", style="bold")
    return t


def command_lines(command: str, commands: Sequence[tuple[str, str]] | None, shown: int = COMMANDS_SHOWN) -> Text:
    """The command per host; one line when every host runs the same text."""
    if not commands:
        return Text("$ ", style="dim") + render.plain(command)
    distinct = {c for _, c in commands}
    if len(distinct) == 1:
        t = Text("$ ", style="dim") + render.plain(commands[0][1])
        if len(commands) > 1:
            t.append(f"   (the same on all {len(commands)} hosts)", style="dim")
        return t
    width = max(len(h) for h, _ in commands[:shown])
    t = Text()
    for i, (host, cmd) in enumerate(commands[:shown]):
        if i:
            t.append("\n")
        t.append(render.clean(host).ljust(width), style="bold")
        t.append(" $ ", style="dim")
        t.append(render.plain(cmd))
    if len(commands) > shown:
        t.append(f"\n+{len(commands) - shown} more hosts, each with its own values", style="dim")
    return t


class ConfirmScreen(Contained, ModalScreen[bool]):
    """Dismisses with True only on an explicit yes: ``y``, or the typed host count.

    ``command`` is the template (kept for the journal's wording); ``commands`` the rendered command per
    host, shown in its place when given.
    """

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1; }
    ConfirmScreen #confirm-title { text-style: bold; }
    ConfirmScreen VerticalScroll { height: auto; max-height: 14; }
    ConfirmScreen #confirm-keys { color: $text-muted; }
    """

    BINDINGS = [
        Binding("y", "yes", "Yes, run it"),
        Binding("n", "no", "No"),
        Binding("escape", "no", "Cancel"),
    ]

    def __init__(self, title: str, command: str, hosts: list[str], note: str = "",
                 commands: Sequence[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.command = command
        self.commands = list(commands) if commands else None
        self.hosts = hosts
        self.note = note
        self.typed = len(hosts) > TYPED_CONFIRM_ABOVE

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Run on {len(self.hosts)} host{'s' if len(self.hosts) != 1 else ''}: ")
                        + render.plain(self.title_text), id="confirm-title")
            with VerticalScroll():
                yield Static(host_list(self.hosts), id="confirm-hosts")  # text-safe: Text
                yield Static(command_lines(self.command, self.commands), id="confirm-command")  # text-safe: Text
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
