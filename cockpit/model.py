"""Immutable snapshots the engine hands out; the UI and the exports only read these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["up", "degraded", "down", "unknown"]
#: what a service should be now: "up"; "down" (retired, or ``expect = "down"``); "absent" (new, not introduced
#: on this host yet: up or down is fine); "transition" (its step runs on this host); "inconclusive" (unknown, why)
Expect = Literal["up", "down", "absent", "transition", "inconclusive"]
Reach = Literal["ok", "connecting", "unreachable", "auth-failed", "host-key-unknown", "host-key-CHANGED", "unknown"]

#: worst first; used to pick a host's worst service status
STATUS_ORDER: dict[str, int] = {"down": 0, "degraded": 1, "unknown": 2, "up": 3}


@dataclass(frozen=True)
class Usage:
    """One service's own resources at one round: read through its cgroup or process tree on the host."""

    at: float  # epoch seconds of the reading
    cpu: float | None = None  # percent of one core since the previous reading (may pass 100 on several cores)
    cpu_host: float | None = None  # the same as a percent of all the host's cores
    mem: int | None = None  # bytes now
    via: str = ""  # how it was read: "cgroup v1", "process tree (3 pids)", "docker stats"
    note: str = ""  # why a figure is missing (sanitised)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one service check on one host."""

    service: str
    host: str
    kind: str
    status: Status
    detail: str  # one line an operator can act on (already sanitised and redacted)
    latency: float | None  # seconds, where meaningful
    at: float  # epoch seconds when the check finished
    critical: bool = True
    extra: tuple[tuple[str, float | int | str], ...] = ()  # e.g. (("rss_kb", 1234),), (("cert_days", 40),)
    since: float = 0.0  # when the status last changed (first seen, if it never did)
    expect: Expect = "up"  # the expectation the judgment follows (the status stays the literal observation)
    expect_why: str = ""  # e.g. "retired by decommission.stop-v1: done on this host"
    usage: Usage | None = None  # the service's own CPU and memory (kinds with a cgroup or processes)
    usage_history: tuple[Usage, ...] = ()  # the last readings, oldest first (the newest is ``usage``)

    @property
    def judged(self) -> Status:
        """The status judged against the expectation, in status words: "up" is fine, "down" a failure.

        A retired service that is down is fine; one still up after its step is a failure; a new one not
        introduced yet, or a service whose step runs on this host, is fine either way (shown neutral).
        """
        if self.expect == "up":
            return self.status
        if self.expect == "inconclusive":
            return "unknown"
        if self.expect == "down":
            return "unknown" if self.status == "unknown" else "up" if self.status == "down" else "down"
        return "up"

    @property
    def neutral(self) -> bool:
        """Judged fine only because of its lifecycle: shown neither green nor red."""
        return self.expect in ("down", "absent", "transition") and self.judged == "up"

    @property
    def problem(self) -> str:
        """One line saying why the judgment is not fine ("" when it is)."""
        if self.judged == "up":
            return ""
        if self.expect == "down":
            return f"{self.status}: expected down ({self.expect_why}): {self.detail}"
        if self.expect == "inconclusive":
            return f"inconclusive: {self.expect_why}"
        return f"{self.status}: {self.detail}"

    def get(self, key: str) -> float | int | str | None:
        return dict(self.extra).get(key)


@dataclass(frozen=True)
class Load:
    """One sample of a host's resource use; None where unavailable."""

    at: float
    cpu: float | None = None  # percent busy since the previous sample
    mem: float | None = None  # percent used (MemTotal - MemAvailable)
    mem_total_kb: int | None = None
    load1: float | None = None
    load5: float | None = None
    load15: float | None = None
    disks: tuple[tuple[str, float], ...] = ()  # (mount, percent used)
    ncpu: int | None = None
    supported: bool = True
    note: str = ""

    @property
    def disk(self) -> float | None:
        """The fullest configured mount, the one that matters first."""
        return max((p for _, p in self.disks), default=None)


@dataclass(frozen=True)
class HostState:
    """A host after a round: reachability, load and its services' results."""

    name: str
    reach: Reach
    error: str = ""  # why it is not reachable (sanitised)
    fingerprint: str = ""  # offered host key when the key was refused
    load: Load | None = None
    history: tuple[Load, ...] = ()
    results: tuple[CheckResult, ...] = ()
    round_started: float = 0.0
    round_ended: float = 0.0
    tags: tuple[str, ...] = ()
    connection: str = ""  # what SSH connects to, as resolved: "user@hostname:port via jump" (sanitised)
    notes: tuple[str, ...] = ()  # what an operator should know about the connection (a key file skipped…)

    @property
    def reachable(self) -> bool:
        return self.reach == "ok"

    @property
    def up_count(self) -> int:
        return sum(1 for r in self.results if r.status == "up")

    @property
    def worst(self) -> Status | None:
        """The worst judged status (a retired service that is down is fine; see :attr:`CheckResult.judged`)."""
        if not self.results:
            return None
        return min((r.judged for r in self.results), key=lambda s: STATUS_ORDER[s])


@dataclass(frozen=True)
class StatusChange:
    """A service or host changed status; what the event log and the journal record."""

    at: float
    host: str
    service: str | None  # None: the host's reachability changed
    old: str
    new: str
    detail: str = ""


@dataclass(frozen=True)
class FleetSnapshot:
    """Every host's latest state; a new one is published after each host's round."""

    title: str
    at: float
    hosts: tuple[HostState, ...]
    round: int = 0
    phases: tuple[str, ...] = ()
    changed: tuple[str, ...] = field(default=())  # hosts whose state changed in this snapshot
    events: tuple[StatusChange, ...] = ()  # status changes since the subscriber's previous snapshot

    def host(self, name: str) -> HostState:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        """Hosts by condition: up / degraded / down / unreachable (what the header shows)."""
        out = {"up": 0, "degraded": 0, "down": 0, "unreachable": 0}
        for h in self.hosts:
            if not h.reachable:
                out["unreachable"] += 1
            elif h.worst in (None, "up"):
                out["up"] += 1
            elif h.worst == "down":
                out["down"] += 1
            else:
                out["degraded"] += 1
        return out
