"""The driver lease: one cockpit at a time fires actions on a journal; the others observe.

The lease is one row (operator, host, pid, heartbeat). The driver renews the
heartbeat every few seconds; a holder whose heartbeat is older than ``ttl`` is
stale (dead or frozen). A stale lease is never taken silently from someone
else: the operator takes it over with a reason, journaled as the transition
``("runbook", "lease", "taken-over", reason)``. The one exception is the same
operator on the same host coming back under a new pid (the cockpit crashed and
was restarted), which simply re-acquires it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace

from cockpit.errors import JournalError
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

    def stale(self, now: float, ttl: float = DEFAULT_TTL) -> bool:
        return now - self.heartbeat > ttl

    def describe(self, now: float) -> str:
        age = max(0.0, now - self.heartbeat)
        return f"{self.operator} on {self.host} (pid {self.pid}), last heartbeat {age:.0f} s ago"


_Holder = tuple[str, str, int]


class LeaseStore(Store):
    """Lease operations; every change is a FULL-sync transaction."""

    _lease_me: _Holder | None = None

    def _current(self, conn: sqlite3.Connection) -> Lease | None:
        row = conn.execute("SELECT operator, host, pid, heartbeat, acquired FROM lease WHERE id = 1").fetchone()
        if row is None:
            return None
        lease = Lease(row[0], row[1], int(row[2]), float(row[3]), float(row[4]))
        return replace(lease, ours=(lease.operator, lease.host, lease.pid) == self._lease_me)

    def _hold(self, conn: sqlite3.Connection, me: _Holder, now: float, acquired: float) -> Lease:
        conn.execute("INSERT OR REPLACE INTO lease (id, operator, host, pid, heartbeat, acquired) "
                     "VALUES (1, ?, ?, ?, ?, ?)", (*me, now, acquired))
        self._lease_me = me
        return Lease(*me, heartbeat=now, acquired=acquired, ours=True)

    def lease(self) -> Lease | None:
        """The current holder (live or stale), or None when nobody holds it."""
        with self.read() as conn:
            return self._current(conn)

    def acquire_lease(self, operator: str, host: str, pid: int, now: float, ttl: float = DEFAULT_TTL) -> Lease:
        """Take the lease if it is free (or already ours); else return the holder with ``ours=False``."""
        me = (operator, host, pid)
        with self.write("FULL") as conn:
            cur = self._current(conn)
            if cur is not None and (cur.operator, cur.host, cur.pid) == me:
                return self._hold(conn, me, now, cur.acquired)
            restarted = cur is not None and cur.stale(now, ttl) and (cur.operator, cur.host) == (operator, host)
            if cur is not None and not restarted:
                return cur
            data = {"holder": operator, "host": host, "pid": pid,
                    "replaced": cur.describe(now) if cur is not None else ""}
            self._log(conn, "lease-acquired", now, data, operator=operator)
            return self._hold(conn, me, now, now)

    def heartbeat(self, now: float) -> Lease:
        """Renew our lease; JournalError if we hold none or someone took it over."""
        me = self._lease_me
        if me is None:
            raise JournalError("this cockpit does not hold the driver lease", "acquire it before driving")
        with self.write("FULL") as conn:
            done = conn.execute("UPDATE lease SET heartbeat = ? WHERE id = 1 AND operator = ? AND host = ? AND pid = ?",
                                (now, *me)).rowcount
            if done:
                return replace(self._current(conn) or Lease(*me, now, now), ours=True)
            holder = self._current(conn)
        self._lease_me = None
        who = holder.describe(now) if holder is not None else "nobody (it was released)"
        raise JournalError(f"this cockpit lost the driver lease of {self.path}: it is now held by {who}",
                           "actions are refused here; this cockpit goes on as an observer")

    def release(self) -> None:
        """Give up our lease (on a clean exit); nothing if we hold none."""
        me = self._lease_me
        if me is None:
            return
        now = self._clock()
        with self.write("FULL") as conn:
            gone = conn.execute("DELETE FROM lease WHERE id = 1 AND operator = ? AND host = ? AND pid = ?",
                                me).rowcount
            if gone:
                self._log(conn, "lease-released", now, {"holder": me[0], "host": me[1], "pid": me[2]}, operator=me[0])
        self._lease_me = None

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
