"""Action output waiting for the screen: one message in the queue at a time, never a backlog.

The engine hands out a batch per host ten times a second, one message each. When drawing a batch takes
longer than that (thousands of lines into a RichLog on a loaded machine), messages would queue faster
than the pane takes them, and every state change behind them would wait: a finished host would keep
showing "running". Here batches for the same action and host are joined while one message is pending,
and only the last ``keep`` lines of each are kept (the pane shows no more; all of it is in the output
spool): the work per message is bounded, and a state change waits behind at most one output message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KEEP_LINES = 5000  # the output pane's RichLog keeps this many lines


@dataclass
class _Pending:
    chunks: list[str] = field(default_factory=list)
    lines: int = 0
    skipped: int = 0


class OutputInbox:
    """Coalesces ``(action, host)`` output batches until the screen takes them.

    Batches join the message already pending only until a state change is posted (:meth:`barrier`): output
    that came after an action started must never be drawn before the pane knows that action.
    """

    def __init__(self, keep: int = KEEP_LINES) -> None:
        self.keep = keep
        self._current: dict[tuple[int, str], _Pending] | None = None

    def add(self, action_id: int, host: str, text: str, skipped: int = 0) -> dict[tuple[int, str], _Pending] | None:
        """Queue a batch; a new group (for the caller to post in one message) when none is open, else None."""
        opened = self._current is None
        group = self._current = {} if self._current is None else self._current
        p = group.setdefault((action_id, host), _Pending())
        p.skipped += skipped
        if skipped:  # lines the engine already left out come before these: drop what was pending with them
            p.skipped += p.lines
            p.chunks, p.lines = [], 0
        p.chunks.append(text)
        p.lines += text.count("\n")
        if p.lines > 2 * self.keep:
            self._trim(p)
        return group if opened else None

    def barrier(self) -> None:
        """A state change is being posted: later output goes in a new message, after it."""
        self._current = None

    def _trim(self, p: _Pending) -> None:
        text = "".join(p.chunks)
        cut = len(text)
        for _ in range(self.keep + 1):  # the start of the last ``keep`` whole lines (and any partial one)
            cut = text.rfind("\n", 0, cut)
            if cut < 0:
                return
        p.skipped += text.count("\n", 0, cut + 1)
        p.chunks, p.lines = [text[cut + 1:]], self.keep

    def take(self, group: dict[tuple[int, str], _Pending]) -> list[tuple[int, str, str, int]]:
        """A posted group's output, in arrival order of each key's first batch, trimmed; it closes the group."""
        if group is self._current:
            self._current = None
        out = []
        for (action_id, host), p in group.items():
            if p.lines > self.keep:
                self._trim(p)
            out.append((action_id, host, "".join(p.chunks), p.skipped))
        group.clear()
        return out
