"""Recent check results per host and service, for windowed conditions (p95, error rate) and regressions.

Bounded by age and count, so a cockpit pinned for days keeps constant memory.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable

from cockpit.model import CheckResult, HostState

MAX_AGE = 3600.0
MAX_SAMPLES = 4000


class History:
    def __init__(self, max_age: float = MAX_AGE, max_samples: int = MAX_SAMPLES) -> None:
        self.max_age = max_age
        self._samples: dict[tuple[str, str], deque[CheckResult]] = {}
        self._max = max_samples

    def add(self, state: HostState) -> None:
        cutoff = (state.round_ended or time.time()) - self.max_age
        for r in state.results:
            q = self._samples.setdefault((state.name, r.service), deque(maxlen=self._max))
            if q and q[-1].at == r.at:
                continue
            q.append(r)
            while q and q[0].at < cutoff:
                q.popleft()

    def window(self, service: str, hosts: Iterable[str], seconds: float, now: float | None = None) -> list[CheckResult]:
        start = (now if now is not None else time.time()) - seconds
        out: list[CheckResult] = []
        for h in hosts:
            out.extend(r for r in self._samples.get((h, service), ()) if r.at >= start)
        return out

    def last(self, service: str, host: str, n: int) -> list[CheckResult]:
        q = self._samples.get((host, service), ())
        return list(q)[-n:]
