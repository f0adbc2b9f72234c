"""What a host's poller remembers of its log checks between rounds: where it read up to, and what matched.

The count a condition sees (``matches(S)``) is of lines read after the *mark*: the start of the current
step (the runbook has every host with a log check read its logs once more before the step's command
runs, then marks), or, before any step, the cockpit's first read. So a line the step caused is never
counted before the mark, and a line from before the step never after it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from cockpit.checks import LogRead, Verdict
from cockpit.spec import LogCheck


@dataclass
class LogState:
    """One log check on one host."""

    cursor: str | None = None
    total: int = 0  # lines matched since the first read
    at_mark: int = 0  # ``total`` when the mark was set
    mark: str = "the cockpit started watching"
    mark_at: float = field(default_factory=time.time)
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=5))  # newest matching lines since the mark
    note: str = ""

    def read(self, got: LogRead) -> str:
        """Take one round's answer; returns an error to show ("" when the read went fine)."""
        if got.error:
            return got.error  # the cursor stays: the next good read counts what this one missed
        first = self.cursor is None
        self.cursor = got.cursor
        self.note = got.note
        if not first:
            self.total += got.count
            self.lines.extend(got.lines)
        return ""

    def set_mark(self, label: str) -> None:
        self.at_mark, self.mark, self.mark_at = self.total, label, time.time()
        self.lines.clear()

    @property
    def matches(self) -> int:
        return self.total - self.at_mark

    def verdict(self, check: LogCheck, error: str = "") -> Verdict:
        """up: nothing matched since the mark; degraded: N lines did (the newest shown); unknown: unread."""
        since = f"since {self.mark} ({time.strftime('%H:%M:%S', time.localtime(self.mark_at))})"
        extra: tuple[tuple[str, float | int | str], ...] = (("matches", self.matches), ("matches_total", self.total))
        if error:
            return Verdict("unknown", f"{check.source}: {error}"
                           + (f"; {self.matches} matches {since} before that" if self.cursor else ""),
                           extra if self.cursor else ())
        if self.cursor is None:
            return Verdict("unknown", f"{check.source}: not read yet")
        note = f"; {self.note}" if self.note else ""
        if not self.matches:
            return Verdict("up", f"no line matches /{check.pattern}/ in {check.source} {since}{note}", extra)
        shown = " | ".join(self.lines)
        lines = "1 line matches" if self.matches == 1 else f"{self.matches} lines match"
        return Verdict("degraded", f"{lines} /{check.pattern}/ "
                       f"{since}{note}; newest: {shown}", extra)
