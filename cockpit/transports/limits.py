"""Handshake limits where sshd has them: per destination sshd, per jump host, and one ceiling for this machine.

sshd's ``MaxStartups`` (default ``10:30:100``) counts unauthenticated connections *per sshd*: with one
connection per host, two hosts only share it when they are the same sshd (one address:port) or when they
are reached through the same jump host. A fleet-wide semaphore sized for one sshd (the old
``max_startups = 8``) made 1,000 hosts wait on each other for nothing. Here a handshake holds one slot of
its destination (resolved address:port), one of its jump host if it has one, then one of the machine's
ceiling, always taken in that order so two handshakes never wait on each other in a cycle.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

#: file descriptors kept free for everything that is not a handshake in progress (journal, HTTP checks,
#: the terminal, established connections are counted separately by the caller)
FD_RESERVE = 128
#: handshakes in progress per core beyond which the client only queues them in its own loop (kex and
#: signatures are CPU: on 2 cores 32 in flight already keep both busy)
PER_CPU = 16
CEILING_MAX = 256


def raise_fd_limit(wanted: int) -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (never above the hard limit).

    One connection per host is one descriptor per host, held for the whole session: 1,000 hosts do not fit
    the common soft limit of 1,024. Raising the soft limit up to the hard one needs no privilege (Go's
    runtime does the same at start). Returns the (soft, hard) limits now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft, hard


def default_ceiling(hosts: int) -> int:
    """Handshakes in progress at once across the fleet, sized for this machine, not for one sshd.

    Bounded by CPU (``PER_CPU`` per core) and by the file descriptors left once every host holds its
    connection (``hosts`` of them) and ``FD_RESERVE`` are set aside.
    """
    soft, _ = raise_fd_limit(hosts + hosts // 4 + FD_RESERVE + CEILING_MAX)
    fds = CEILING_MAX if soft == resource.RLIM_INFINITY else soft - hosts - FD_RESERVE
    return max(1, min(CEILING_MAX, PER_CPU * (os.cpu_count() or 1), fds))


@dataclass(frozen=True)
class LimitsView:
    """What the limits are and the most handshakes ever in progress at once (for tests and ``validate``)."""

    per_sshd: int
    per_jump: int
    ceiling: int
    peak_per_sshd: int
    peak_per_jump: int
    peak_total: int


class _Gate:
    """A semaphore that remembers its most holders at once (counted, never timed)."""

    def __init__(self, size: int) -> None:
        self._sem = asyncio.Semaphore(size)
        self.held = 0
        self.peak = 0

    async def acquire(self) -> None:
        await self._sem.acquire()
        self.held += 1
        self.peak = max(self.peak, self.held)

    def release(self) -> None:
        self.held -= 1
        self._sem.release()


class HandshakeLimits:
    """Slots for handshakes: one per destination sshd, one per jump host, one of the machine's ceiling.

    Shared by every transport of one engine (and by the jump hosts' own connections).
    """

    def __init__(self, per_sshd: int, ceiling: int, per_jump: int | None = None) -> None:
        self.per_sshd = per_sshd
        self.per_jump = per_jump if per_jump is not None else per_sshd
        self.ceiling = ceiling
        self._total = _Gate(ceiling)
        self._sshd: dict[tuple[str, int], _Gate] = {}
        self._jump: dict[str, _Gate] = {}

    def _gates(self, dest: tuple[str, int], jump: str | None) -> list[_Gate]:
        gates = [self._sshd.setdefault(dest, _Gate(self.per_sshd))]
        if jump:
            gates.append(self._jump.setdefault(jump, _Gate(self.per_jump)))
        gates.append(self._total)
        return gates

    @asynccontextmanager
    async def slot(self, dest: tuple[str, int], jump: str | None = None) -> AsyncIterator[None]:
        """Hold a slot of ``dest`` (address, port), of ``jump`` (the jump chain) and of the ceiling."""
        taken: list[_Gate] = []
        try:
            for gate in self._gates(dest, jump):
                await gate.acquire()
                taken.append(gate)
            yield
        finally:
            for gate in reversed(taken):
                gate.release()

    def view(self) -> LimitsView:
        return LimitsView(
            per_sshd=self.per_sshd, per_jump=self.per_jump, ceiling=self.ceiling,
            peak_per_sshd=max((g.peak for g in self._sshd.values()), default=0),
            peak_per_jump=max((g.peak for g in self._jump.values()), default=0),
            peak_total=self._total.peak,
        )


class _Closable(Protocol):
    async def close(self) -> None: ...


class SshPool:
    """What the SSH transports of one engine share: the handshake limits and the jump hosts' connections.

    ``jumps`` maps a jump chain (``"a,b"`` as ProxyJump writes it) to the transport holding the one
    connection every host behind it tunnels through (created by :mod:`cockpit.transports.ssh`).
    """

    def __init__(self, limits: HandshakeLimits) -> None:
        self.limits = limits
        self.jumps: dict[str, Any] = {}

    @classmethod
    def for_fleet(cls, per_sshd: int, ceiling: int | None, hosts: int) -> SshPool:
        """Limits for a fleet of ``hosts``: ``ceiling`` None sizes it for this machine."""
        return cls(HandshakeLimits(per_sshd, ceiling if ceiling is not None else default_ceiling(hosts)))

    async def aclose(self) -> None:
        """Close the jump hosts' connections (after the hosts that tunnel through them)."""
        # longest chains first: a chain's last hop tunnels through the shorter chain before it
        chains = sorted(self.jumps, key=lambda c: c.count(","), reverse=True)
        jumps: list[_Closable] = [self.jumps[c] for c in chains]
        self.jumps.clear()
        for j in jumps:
            await j.close()
