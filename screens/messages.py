"""Messages that carry engine data up to the screens (attributes down, messages up)."""

from __future__ import annotations

from textual.message import Message

from cockpit.engine import ActionRun
from cockpit.model import FleetSnapshot
from cockpit.runbook import PlanView


class SnapshotReady(Message):
    """A new fleet snapshot (with the status changes since the previous one)."""

    def __init__(self, snapshot: FleetSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class ActionChanged(Message):
    """An action started, a host finished, or it ended."""

    def __init__(self, run: ActionRun) -> None:
        super().__init__()
        self.run = run


class OutputPending(Message):
    """A group of action output waits in the app's :class:`screens.output_inbox.OutputInbox`."""

    def __init__(self, group: dict) -> None:  # type: ignore[type-arg]
        super().__init__()
        self.group = group


class PlanChanged(Message):
    """The runbook's state changed (a step, a gate, a hold, a regression)."""

    def __init__(self, view: PlanView) -> None:
        super().__init__()
        self.view = view
