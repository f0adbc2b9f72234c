"""How late the cockpit's own event loop runs, so a missed deadline is blamed where it belongs.

A probe or round that times out while the loop itself was stalled (rendering a flood, a long
collection, a blocked call) says nothing about the host: the cockpit was late, not the host. A
small task wakes every :data:`TICK` seconds and records how late it woke; a deadline missed while
the loop was more than :data:`BLAME_LAG` seconds late is reported as ``cockpit overloaded``,
never as a service down or a host unreachable.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from pathlib import Path

TICK = 0.1  # seconds between two wake-ups of the monitor
BLAME_LAG = 0.5  # seconds late: from here a missed deadline is the cockpit's, not the host's
KEEP = 120.0  # seconds of samples kept

OVERLOADED = "cockpit overloaded"

_SCHEDSTAT = Path("/proc/thread-self/schedstat")


def run_delay() -> float | None:
    """Seconds this thread has waited on a CPU run queue, runnable but not running (Linux ``schedstat``).

    The loop monitor samples only its own wake-ups; a process sharing a core with a busy neighbour
    waits a few milliseconds at *every* wake-up, each too short to stand out, and a probe's clock
    runs through all of them. The kernel counts that wait exactly. None where it does not (not Linux).
    """
    try:
        return int(_SCHEDSTAT.read_bytes().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


class LoopLag:
    """Samples of the event loop's lateness; :meth:`worst_since` asks about a time window."""

    def __init__(self, tick: float = TICK) -> None:
        self._tick = tick
        self._samples: deque[tuple[float, float]] = deque()  # (monotonic time of the wake-up, seconds late)
        self._task: asyncio.Task[None] | None = None
        self._expected = 0.0  # when the monitor should wake next (0: not running)

    def start(self) -> None:
        """Start sampling in the running loop (again after :meth:`stop`); idempotent."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cockpit:loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._expected = 0.0

    async def _run(self) -> None:
        while True:
            self._expected = time.monotonic() + self._tick
            await asyncio.sleep(self._tick)
            now = time.monotonic()
            self._samples.append((now, max(0.0, now - self._expected)))
            while self._samples and self._samples[0][0] < now - KEEP:
                self._samples.popleft()

    def worst_since(self, since: float) -> float:
        """The most the loop was late (seconds) since ``since`` (monotonic), including a stall going on now."""
        worst = max((lag for at, lag in self._samples if at >= since), default=0.0)
        if self._expected:
            worst = max(worst, time.monotonic() - self._expected)
        return worst

    def stalled_within(self, start: float, end: float) -> float:
        """The longest stall of the loop (seconds) that overlapped ``[start, end]`` (monotonic).

        A wake-up at ``at`` that came ``lag`` late means the loop could run nothing over
        ``[at - lag, at]``; only the part of it inside the window counts. A stall before the window
        (building a client, say) did not stretch what was timed inside it.
        """
        worst = 0.0
        for at, lag in self._samples:
            if at >= start and lag:
                worst = max(worst, min(at, end) - max(at - lag, start))
        if self._expected:
            now = time.monotonic()
            if now > self._expected:
                worst = max(worst, min(now, end) - max(self._expected, start))
        return max(0.0, worst)

    def blame(self, since: float) -> str:
        """``""`` when the loop kept time since ``since``; else why a missed deadline is the cockpit's."""
        return blame_for(self.worst_since(since))


def blame_for(late: float) -> str:
    """``""`` below :data:`BLAME_LAG` seconds late; else why a deadline missed meanwhile is the cockpit's."""
    if late < BLAME_LAG:
        return ""
    return f"{OVERLOADED}: its event loop ran {late:.1f}s late, so this deadline says nothing about the host"
