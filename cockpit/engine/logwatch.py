"""What a host's poller remembers of its log checks between rounds: where it read up to, and what matched.

The count a condition sees (``matches(S)``) is of lines read after the *mark*: the start of the current
step (the runbook has every host with a log check read its logs once more before the step's command
runs, then marks), or, before any step, the cockpit's first read. So a line the step caused is never
counted before the mark, and a line from before the step never after it.

A check with ``since = "baseline"`` is marked when the runbook's baseline is captured instead, and never
at a step's start. The baseline records every log check's cursor, so a cockpit started later reads again
from there (a file from the recorded offset, journald and container logs from the recorded time): the
count is the one since the baseline, not since the restart. Without a baseline, or with one that holds no
cursor for this log (it was not read when the baseline was taken), the check is ``unknown`` and says so,
with what it counted since the cockpit started watching: a gate never passes on a count from the wrong
starting point.
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
    since: str = "step"  # the check's ``since`` this state counts for
    current: bool = False  # the last read went fine: ``cursor`` is where the log is now
    caveat: str = ""  # why the count is not the one asked for (since = "baseline" without a usable baseline)

    def read(self, got: LogRead) -> str:
        """Take one round's answer; returns an error to show ("" when the read went fine)."""
        self.current = not got.error
        if got.error:
            return got.error  # the cursor stays: the next good read counts what this one missed
        first = self.cursor is None
        self.cursor = got.cursor
        self.note = got.note
        if not first:
            self.total += got.count
            self.lines.extend(got.lines)
        return ""

    def set_mark(self, label: str, at: float | None = None) -> None:
        self.at_mark, self.mark, self.mark_at = self.total, label, time.time() if at is None else at
        self.lines.clear()
        self.caveat = ""

    @classmethod
    def for_check(cls, check: LogCheck, baseline: tuple[dict[str, str], float] | None, service: str) -> LogState:
        """A fresh state; ``since = "baseline"`` starts at the baseline's cursor for this service when it has one."""
        if check.since != "baseline":
            return cls()
        if baseline is None:
            return cls(since="baseline", caveat="no baseline recorded yet (record one: cockpit baseline, or b in "
                                                "the cockpit)")
        cursors, at = baseline
        if service not in cursors:
            return cls(since="baseline", caveat=f"the baseline of {_clock(at)} has no starting point for this log "
                                                "(it was not read when the baseline was taken): record a new one")
        return cls(cursor=cursors[service], mark="the baseline", mark_at=at, since="baseline")

    @property
    def matches(self) -> int:
        return self.total - self.at_mark

    def verdict(self, check: LogCheck, error: str = "") -> Verdict:
        """up: nothing matched since the mark; degraded: N lines did (the newest shown); unknown: unread."""
        since = f"since {self.mark} ({_clock(self.mark_at)})"
        extra: tuple[tuple[str, float | int | str], ...] = (("matches", self.matches), ("matches_total", self.total))
        if self.caveat:  # counted, but not from the point asked for: shown, never given to matches()
            seen = (f": {self.matches} matching since {self.mark} ({_clock(self.mark_at)})" if self.cursor else "")
            return Verdict("unknown", f"{self.caveat}; {check.source}" + (f": {error}" if error else seen),
                           (("matches_total", self.total),) if self.cursor else ())
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


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))
