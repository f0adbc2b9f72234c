"""The driver lease: one cockpit at a time fires actions on a journal; the others observe.

The lease is one row (operator, host, pid, heartbeat). The driver renews the
heartbeat every few seconds; a holder whose heartbeat is older than ``ttl`` is
stale (dead or frozen). A stale lease is never taken silently from someone
else: the operator takes it over with a reason, journaled as the transition
``("runbook", "lease", "taken-over", reason)``. The one exception is the same
operator on the same host coming back under a new pid (the cockpit crashed and
was restarted), which simply re-acquires it.

Fencing: the lease row carries a ``generation``, raised by every acquire and
take-over (the last one given out is kept in ``meta``, so a release never
resets it). A driver decision (:meth:`LeaseStore.fence`, called inside the
decision's own write transaction) is written only while the row still names
this store's holder *and* generation; otherwise it raises :class:`LeaseLost`,
and the listeners in :attr:`LeaseStore.lease_lost` hear it once (the session
demotes itself to observer). A store that never held a lease may write while
nobody holds one (tools, tests); never while someone else does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace

from cockpit.errors import JournalError, LeaseLost
from cockpit.journal.store import Store

DEFAULT_TTL = 15.0  # seconds without a heartbeat after which a lease is stale


@dataclass(frozen=True)
class Lease:
    """Who drives the journal; ``ours`` when it is this Journal's own lease."""

    operator: str
    host: str
    pid: int
    heartbeat: float
    acquired: float
    ours: bool = False
    generation: int = 0

    def stale(self, now: float, ttl: float = DEFAULT_TTL) -> bool:
        return now - self.heartbeat > ttl

    def describe(self, now: float) -> str:
        age = max(0.0, now - self.heartbeat)
        return f"{self.operator} on {self.host} (pid {self.pid}), last heartbeat {age:.0f} s ago"


_Holder = tuple[str, str, int]


class LeaseStore(Store):
    """Lease operations and the fence; every change is a FULL-sync transaction."""

    _lease_me: _Holder | None = None
    _generation: int | None = None  # the generation we were given; None: we never held the lease
    _lost_told = False

    @property
    def lease_lost(self) -> list[Callable[[str], None]]:
        """Called once, with the reason, when a decision is refused or the heartbeat finds the lease gone."""
        if "_lease_lost" not in self.__dict__:
            self._lease_lost: list[Callable[[str], None]] = []
        return self._lease_lost

    def _current(self, conn: sqlite3.Connection) -> Lease | None:
        row = conn.execute("SELECT operator, host, pid, heartbeat, acquired, generation FROM lease "
                           "WHERE id = 1").fetchone()
        if row is None:
            return None
        lease = Lease(row[0], row[1], int(row[2]), float(row[3]), float(row[4]), generation=int(row[5]))
        mine = (lease.operator, lease.host, lease.pid) == self._lease_me and lease.generation == self._generation
        return replace(lease, ours=mine)

    def _hold(self, conn: sqlite3.Connection, me: _Holder, now: float, acquired: float,
              generation: int | None = None) -> Lease:
        """Write ``me`` as the holder; a new holding (``generation`` None) gets the next generation."""
        if generation is None:
            row = conn.execute("SELECT value FROM meta WHERE key = 'lease_generation'").fetchone()
            generation = (int(row[0]) if row else 0) + 1
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('lease_generation', ?)", (str(generation),))
        conn.execute("INSERT OR REPLACE INTO lease (id, operator, host, pid, heartbeat, acquired, generation) "
                     "VALUES (1, ?, ?, ?, ?, ?, ?)", (*me, now, acquired, generation))
        self._lease_me, self._generation, self._lost_told = me, generation, False
        return Lease(*me, heartbeat=now, acquired=acquired, ours=True, generation=generation)

    def _lost(self, why: str) -> LeaseLost:
        """Forget our lease, tell the listeners (once), and return the error to raise."""
        self._lease_me = None
        err = LeaseLost(f"this cockpit lost the driver lease of {self.path}: {why}",
                        "nothing more is fired or decided here; this cockpit goes on as an observer")
        if not self._lost_told:
            self._lost_told = True
            for listener in list(self.lease_lost):
                listener(err.message)
        return err

    def superseded(self, conn: sqlite3.Connection) -> str:
        """Inside a write: why this store may not decide now ("" when it may). See the module docstring."""
        cur = self._current(conn)
        if self._generation is None:
            if cur is None:
                return ""
            return f"it is held by {cur.describe(self._clock())}"
        if cur is not None and cur.ours and self._lease_me is not None:
            return ""
        if cur is None:
            return "nobody holds it now (it was released)"
        return f"it is now held by {cur.describe(self._clock())} (generation {cur.generation}, ours was {self._generation})"

    def fence(self, conn: sqlite3.Connection) -> None:
        """Call first inside a decision's write transaction: LeaseLost (nothing written) unless we may decide."""
        if why := self.superseded(conn):
            raise self._lost(why)

    def holds_lease(self) -> bool:
        """True while this store holds the current generation (a read; the fence is what guarantees)."""
        with self.read() as conn:
            cur = self._current(conn)
        return cur is not None and cur.ours

    def lease(self) -> Lease | None:
        """The current holder (live or stale), or None when nobody holds it."""
        with self.read() as conn:
            return self._current(conn)

    def acquire_lease(self, operator: str, host: str, pid: int, now: float, ttl: float = DEFAULT_TTL) -> Lease:
        """Take the lease if it is free (or already ours); else return the holder with ``ours=False``."""
        me = (operator, host, pid)
        with self.write("FULL") as conn:
            cur = self._current(conn)
            if cur is not None and (cur.operator, cur.host, cur.pid) == me and cur.generation == self._generation:
                return self._hold(conn, me, now, cur.acquired, cur.generation)
            restarted = cur is not None and cur.stale(now, ttl) and (cur.operator, cur.host) == (operator, host)
            if cur is not None and not restarted:
                return cur
            data = {"holder": operator, "host": host, "pid": pid,
                    "replaced": cur.describe(now) if cur is not None else ""}
            self._log(conn, "lease-acquired", now, data, operator=operator)
            return self._hold(conn, me, now, now)

    def heartbeat(self, now: float) -> Lease:
        """Renew our lease; LeaseLost if someone took it over (or it was released), JournalError if we hold none."""
        me = self._lease_me
        if me is None and self._generation is not None:
            raise self._lost("a decision was already refused")
        if me is None:
            raise JournalError("this cockpit does not hold the driver lease", "acquire it before driving")
        with self.write("FULL") as conn:
            done = conn.execute("UPDATE lease SET heartbeat = ? WHERE id = 1 AND operator = ? AND host = ? AND pid = ? "
                                "AND generation = ?", (now, *me, self._generation)).rowcount
            if done:
                return replace(self._current(conn) or Lease(*me, now, now), ours=True)
            why = self.superseded(conn)
        raise self._lost(why or "it is no longer ours")

    def release(self) -> None:
        """Give up our lease (on a clean exit); nothing if we hold none."""
        me = self._lease_me
        if me is None:
            return
        now = self._clock()
        with self.write("FULL") as conn:
            gone = conn.execute("DELETE FROM lease WHERE id = 1 AND operator = ? AND host = ? AND pid = ? "
                                "AND generation = ?", (*me, self._generation)).rowcount
            if gone:
                self._log(conn, "lease-released", now, {"holder": me[0], "host": me[1], "pid": me[2]}, operator=me[0])
        self._lease_me = self._generation = None

    def take_over(self, operator: str, host: str, pid: int, now: float, reason: str,
                  ttl: float = DEFAULT_TTL) -> Lease:
        """Take a stale lease, journaling why; JournalError naming the holder while it is live."""
        if not reason.strip():
            raise ValueError("taking over the lease needs a reason")
        with self.write("FULL") as conn:
            cur = self._current(conn)
            if cur is not None and not cur.ours and not cur.stale(now, ttl):
                raise JournalError(
                    f"the driver lease of {self.path} is held by {cur.describe(now)}; it can only be taken over "
                    f"once it is stale (no heartbeat for {ttl:g} s)",
                    "ask that operator to quit, or wait until its heartbeat stops")
            detail = f"from {cur.describe(now)}" if cur is not None else "nobody held it"
            self._insert_transition(conn, now, "runbook", "lease", "taken-over", reason, detail, operator)
            return self._hold(conn, (operator, host, pid), now, now)
