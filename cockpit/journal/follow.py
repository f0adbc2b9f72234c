"""An observer following the driver's published views: told by LISTEN/NOTIFY on PostgreSQL, polling on SQLite.

:meth:`ViewFollower.poll` is cheap (one indexed read) and synchronous, called on the observer's own timer.
"Driver silent" is judged on this machine's monotonic clock, from when a new view was last *seen*, so a
driver whose clock is off never makes a live view look silent (or a dead one live); the age shown beside
it is the driver's publication time against this machine's clock, said as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.errors import JournalError
from cockpit.journal.notify import ViewNotifier, is_pg
from cockpit.journal.views import PublishedView, latest_view

__all__ = ["FollowState", "ViewFollower"]

SILENT_ROUNDS = 2.0  # no new view for this many of the driver's rounds: "driver silent"


@dataclass(frozen=True)
class FollowState:
    """What the observer's screen says about the view it shows."""

    driver: str = ""  # "alice on host-a"; "" before any view was seen
    round: int = 0
    age: float | None = None  # seconds since the driver published the view shown (its clock vs ours)
    silent_for: float = 0.0  # seconds without a new view, when silent
    silent: bool = False
    problem: str = ""  # the journal could not be read, or the view not understood

    def line(self) -> str:
        """One banner line: whose view, how old; DRIVER SILENT or the problem first when there is one."""
        if self.problem:
            return f"DRIVER'S VIEW UNAVAILABLE: {self.problem}"
        if not self.driver:
            return "DRIVER'S VIEW: nothing published yet (is a driving cockpit running on this journal?)"
        age = f"{self.age:.1f} s old" if self.age is not None and self.age >= 0 else "age unknown (clocks differ)"
        if self.silent:
            return (f"DRIVER SILENT: no view from {self.driver} for {self.silent_for:.0f} s; what you see is "
                    f"its round {self.round}, {age}")
        return f"DRIVER'S VIEW: {self.driver}, round {self.round}, {age}"


class ViewFollower:
    """Reads the newest view after the one it has; says when none came for two of the driver's rounds."""

    def __init__(self, journal: Any, *, clock: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self.journal = journal
        self.clock = clock
        self.mono = mono
        self.view: PublishedView | None = None
        self._seen = mono()  # when a new view was last seen (or when following began)
        self.notifier: ViewNotifier | None = None

    def listen(self, wake: Callable[[], None]) -> bool:
        """PostgreSQL: call ``wake`` (from a thread) on each new view and after a reconnect; False on SQLite."""
        if not is_pg(self.journal):
            return False
        self.notifier = ViewNotifier(str(self.journal.url), wake).start()
        return True

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.stop()
            self.notifier = None

    def poll(self) -> tuple[PublishedView | None, FollowState]:
        """(a view newer than the last one, or None; the state to show)."""
        problem = ""
        new = None
        try:
            new = latest_view(self.journal, self.view.id if self.view is not None else 0)
        except JournalError as exc:
            problem = exc.message
        now = self.mono()
        if new is not None:
            self.view, self._seen = new, now
        v = self.view
        if v is None:
            return None, FollowState(problem=problem)
        quiet = now - self._seen
        silent = quiet > SILENT_ROUNDS * v.every
        return new, FollowState(driver=v.driver, round=v.round, age=self.clock() - v.at, silent_for=quiet,
                                silent=silent, problem=problem)
