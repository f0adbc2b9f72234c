"""Each service's CPU and memory from its counters: CPU as the delta of two readings over the host's clock.

The counters come from the round script's resources section (:mod:`cockpit.checks.resources`). CPU
time is cumulative, so a figure needs two readings; the elapsed time is the host's own uptime, so
neither the network nor a late round stretches it. A counter that went backwards (the container or
process restarted) gives no CPU figure until the next round, rather than a wrong one.
"""

from __future__ import annotations

from collections import deque

from cockpit.checks import Counters, Reading
from cockpit.model import Usage


class UsageTracker:
    """Per service: the last counters and a bounded history of :class:`Usage`."""

    def __init__(self, history: int = 120) -> None:
        self.size = history
        self._prev: dict[str, tuple[int, float]] = {}  # service -> (cpu ns, host uptime)
        self.history: dict[str, deque[Usage]] = {}
        self.clock: tuple[int, int] | None = None  # the host's (CLK_TCK, page size), read once
        self.rounds = 0  # readings taken; the first round reads twice (primes the CPU counters)

    def add(self, service: str, counters: Counters | None, uptime: float | None, ncpu: int | None,
            at: float, missing: str = "", keep: bool = True) -> Usage:
        """This round's :class:`Usage` of a service, kept in its history."""
        if counters is None:
            self._prev.pop(service, None)
            u = Usage(at=at, note=missing or "no reading of its resources")
        else:
            cpu, why = self._cpu(service, counters, uptime)
            host = None if cpu is None or not ncpu else cpu / ncpu
            note = "; ".join(n for n in (counters.note, why) if n)
            u = Usage(at=at, cpu=cpu, cpu_host=host, mem=counters.mem, via=counters.via, note=note)
        if keep:
            self.history.setdefault(service, deque(maxlen=self.size)).append(u)
        return u

    def _cpu(self, service: str, c: Counters, uptime: float | None) -> tuple[float | None, str]:
        if c.cpu_pct is not None:  # docker stats sampled it itself
            return c.cpu_pct, ""
        if c.cpu_ns is None or uptime is None:
            self._prev.pop(service, None)
            return None, "" if c.note else "no CPU counter"
        prev, self._prev[service] = self._prev.get(service), (c.cpu_ns, uptime)
        if prev is None:
            return None, "CPU needs a second reading"
        if c.cpu_ns < prev[0]:
            return None, "CPU counter restarted: a figure from the next round"
        if uptime <= prev[1]:
            return None, "no time passed on the host's clock"
        return 100.0 * (c.cpu_ns - prev[0]) / 1e9 / (uptime - prev[1]), ""

    def read(self, reading: Reading, services: dict[str, str], ncpu: int | None, at: float,
             missing: dict[str, str], keep: bool = True) -> dict[str, Usage]:
        """Usage of each service (name -> section id) from one reading; ``missing``: why a service got none;
        ``keep=False``: a priming reading, which only sets the CPU counters."""
        if reading.clock is not None:
            self.clock = reading.clock
        out = {}
        for name, sid in services.items():
            c = reading.counters.get(sid)
            out[name] = self.add(name, c, reading.uptime, ncpu, at, missing.get(name, ""), keep)
        return out
