"""Recent check results per host and service, for windowed conditions (p95, error rate) and regressions.

Only what the windows read is kept: when, the status and the latency, 17 bytes a
sample in three flat arrays per host and service (a CheckResult costs about 365).
Bounded by age (the engine passes the runbook's window plus a margin) and by count,
so a cockpit pinned for days keeps constant memory (docs/performance.md, B5).
"""

from __future__ import annotations

import sys
import time
from array import array
from collections.abc import Iterable
from typing import NamedTuple, get_args

from cockpit.model import HostState, Status

MAX_AGE = 3600.0
MAX_SAMPLES = 2000
_STATUSES: tuple[Status, ...] = get_args(Status)
_CODE = {s: i for i, s in enumerate(_STATUSES)}
_NONE = float("nan")


class Sample(NamedTuple):
    """One past check result, as windows see it."""

    at: float
    status: Status
    latency: float | None


class _Series:
    """A ring of samples in flat arrays; the head is dropped lazily (``start``) and compacted in bulk."""

    __slots__ = ("at", "lat", "code", "start")

    def __init__(self) -> None:
        self.at = array("d")
        self.lat = array("d")
        self.code = bytearray()
        self.start = 0

    def __len__(self) -> int:
        return len(self.at) - self.start

    def append(self, at: float, status: Status, latency: float | None) -> None:
        self.at.append(at)
        self.lat.append(_NONE if latency is None else latency)
        self.code.append(_CODE.get(status, _CODE["unknown"]))

    def drop_until(self, cutoff: float, keep: int) -> None:
        at, n = self.at, len(self.at)
        i = self.start
        while i < n and (at[i] < cutoff or n - i > keep):
            i += 1
        self.start = i
        if i and i * 2 >= n:  # compact once half the arrays are dead: amortised O(1) per sample
            del self.at[:i]
            del self.lat[:i]
            del self.code[:i]
            self.start = 0

    def last_at(self) -> float | None:
        return self.at[-1] if len(self) else None

    def since(self, start: float) -> list[Sample]:
        at, lat, code = self.at, self.lat, self.code
        i = len(at)
        while i > self.start and at[i - 1] >= start:  # windows are short against the ring: walk back
            i -= 1
        return [Sample(at[k], _STATUSES[code[k]], None if lat[k] != lat[k] else lat[k]) for k in range(i, len(at))]


class History:
    def __init__(self, max_age: float = MAX_AGE, max_samples: int = MAX_SAMPLES) -> None:
        self.max_age = max_age
        self._series: dict[tuple[str, str], _Series] = {}
        self._max = max_samples

    def add(self, state: HostState) -> None:
        cutoff = (state.round_ended or time.time()) - self.max_age
        for r in state.results:
            key = (state.name, r.service)
            s = self._series.get(key)
            if s is None:
                s = self._series[key] = _Series()
            elif s.last_at() == r.at:
                continue  # the same result seen again (a merged snapshot)
            s.append(r.at, r.status, r.latency)
            s.drop_until(cutoff, self._max)

    def window(self, service: str, hosts: Iterable[str], seconds: float, now: float | None = None) -> list[Sample]:
        start = (now if now is not None else time.time()) - seconds
        out: list[Sample] = []
        for h in hosts:
            s = self._series.get((h, service))
            if s is not None:
                out.extend(s.since(start))
        return out

    def last(self, service: str, host: str, n: int) -> list[Sample]:
        s = self._series.get((host, service))
        if s is None or n <= 0:
            return []
        return s.since(float("-inf"))[-n:]

    def __len__(self) -> int:
        """Samples held, across every host and service."""
        return sum(len(s) for s in self._series.values())

    def nbytes(self) -> int:
        """Memory the samples' arrays take (allocated, dead head included), for the soak benchmark."""
        return sum(sys.getsizeof(s.at) + sys.getsizeof(s.lat) + sys.getsizeof(s.code) for s in self._series.values())
