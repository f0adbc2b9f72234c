"""Recent check results per host and service, for windowed conditions (p95, error rate) and regressions.

Only what the windows read is kept: when, the status, the latency and, for HTTP and TCP,
the connect and TLS times (:data:`PHASES`), 25 bytes a sample in a ring of flat arrays per
host and service (a CheckResult costs about 365). Bounded by age (the engine passes the runbook's window plus a margin)
and by count; once a window's worth is held the ring is reused in place, so a
cockpit pinned for days keeps constant memory (docs/performance.md, B5).
"""

from __future__ import annotations

import math
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


#: The latency series a check can have besides its main one (``latency``: an HTTP request's
#: time from sending to the last byte read, a TCP connect's time): ``connect`` (TCP connect,
#: HTTP's only when the probe opened a connection) and ``tls`` (the TLS handshake).
PHASES = ("connect", "tls")


class Sample(NamedTuple):
    """One past check result, as windows see it."""

    at: float
    status: Status
    latency: float | None
    connect: float | None = None
    tls: float | None = None


def phase_seconds(extra: dict[str, float | int | str], name: str) -> float | None:
    """A phase's seconds from a result's ``extra`` (``connect_ms``, ``tls_ms``), None when not measured."""
    v = extra.get(f"{name}_ms")
    return None if not isinstance(v, (int, float)) else v / 1000.0


class _Series:
    """A ring of samples in flat arrays, grown while the window fills, then reused in place.

    Once a window's worth of samples is held, memory stays put: no array is
    reallocated again, so a cockpit pinned for days neither grows nor fragments.
    """

    __slots__ = ("at", "lat", "conn", "tls", "code", "head", "size")

    def __init__(self, capacity: int = 16) -> None:
        self.at = array("d", bytes(8 * capacity))
        self.lat = array("d", bytes(8 * capacity))
        self.conn = array("f", bytes(4 * capacity))  # float32: a phase to the microsecond is plenty
        self.tls = array("f", bytes(4 * capacity))
        self.code = bytearray(capacity)
        self.head = 0  # index of the oldest sample
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _idx(self, k: int) -> int:
        """Array index of the k-th oldest sample."""
        return (self.head + k) % len(self.at)

    def append(self, at: float, status: Status, latency: float | None, cutoff: float, limit: int,
               connect: float | None = None, tls: float | None = None) -> None:
        while self.size and (self.at[self.head] < cutoff or self.size >= limit):
            self.head = (self.head + 1) % len(self.at)  # drop the oldest: too old, or over the count bound
            self.size -= 1
        cap = len(self.at)
        if self.size == cap:  # full of samples still in the window: grow, up to the count bound
            self._grow(min(limit, _enough(cap, at - self.at[self.head], at - cutoff)))
            cap = len(self.at)
        i = (self.head + self.size) % cap
        self.at[i] = at
        self.lat[i] = _NONE if latency is None else latency
        self.conn[i] = _NONE if connect is None else connect
        self.tls[i] = _NONE if tls is None else tls
        self.code[i] = _CODE.get(status, _CODE["unknown"])
        self.size += 1

    def _grow(self, capacity: int) -> None:
        order = [self._idx(k) for k in range(self.size)]
        at, lat, code = array("d", bytes(8 * capacity)), array("d", bytes(8 * capacity)), bytearray(capacity)
        conn, tls = array("f", bytes(4 * capacity)), array("f", bytes(4 * capacity))
        for k, i in enumerate(order):
            at[k], lat[k], code[k] = self.at[i], self.lat[i], self.code[i]
            conn[k], tls[k] = self.conn[i], self.tls[i]
        self.at, self.lat, self.conn, self.tls, self.code, self.head = at, lat, conn, tls, code, 0

    def last_at(self) -> float | None:
        return self.at[self._idx(self.size - 1)] if self.size else None

    def since(self, start: float) -> list[Sample]:
        at, lat, code, conn, tls = self.at, self.lat, self.code, self.conn, self.tls
        out: list[Sample] = []
        for k in range(self.size - 1, -1, -1):  # newest first: windows are short against the ring
            i = self._idx(k)
            if at[i] < start:
                break
            c, t = conn[i], tls[i]
            out.append(Sample(at[i], _STATUSES[code[i]], None if lat[i] != lat[i] else lat[i],
                              None if c != c else c, None if t != t else t))
        out.reverse()
        return out


def _enough(capacity: int, span: float, age: float) -> int:
    """Double, but no further than a whole window at the rate seen so far (+10 %): the last step fits."""
    if span <= 0:
        return capacity * 2
    return min(capacity * 2, max(capacity + 16, math.ceil(capacity * age / span * 1.1)))


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
            if r.extra:  # the hot path: most results carry no phases, and build no dict
                extra = dict(r.extra)
                s.append(r.at, r.status, r.latency, cutoff, self._max,
                         phase_seconds(extra, "connect"), phase_seconds(extra, "tls"))
            else:
                s.append(r.at, r.status, r.latency, cutoff, self._max)

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
        return sum(sys.getsizeof(s.at) + sys.getsizeof(s.lat) + sys.getsizeof(s.conn) + sys.getsizeof(s.tls)
                   + sys.getsizeof(s.code) for s in self._series.values())
