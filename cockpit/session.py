"""One cockpit's session: the engine, the journal, the runbook and the driver's lease, wired together.

Both the TUI and the headless commands open a session. The driver (the lease
holder) runs steps and actions; any other cockpit on the same journal is an
observer that sees everything and runs nothing.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

import psutil

from cockpit.engine import Engine
from cockpit.errors import CockpitError
from cockpit.journal import Journal, JournalError, Lease
from cockpit.model import HostState, StatusChange
from cockpit.runbook import Runbook
from cockpit.sanitize import strip_control
from cockpit.spec import Config

HEARTBEAT = 5.0
LEASE_TTL = 15.0


class Session:
    def __init__(self, config: Config, operator: str, *, drive: bool = True, read_only: bool = False) -> None:
        self.config = config
        self.operator = strip_control(operator)  # typed or from the environment: shown to other cockpits
        self.read_only = read_only
        self.engine = Engine(config)
        self.journal: Journal | None = None
        self.journal_problem = ""
        self.lease: Lease | None = None
        self.drive = drive and not read_only
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._tasks: list[asyncio.Task[None]] = []
        self._detached: list[dict[str, object]] = []
        self._started = False
        self._open_journal()
        self.runbook = Runbook(self.engine, self.journal, self.operator)
        if self.journal_problem:
            self.runbook.banner = f"JOURNAL NOT WRITABLE: {self.journal_problem} Actions are refused; monitoring goes on."
        self._claim()

    # -- journal and lease -------------------------------------------------------------------

    def _open_journal(self) -> None:
        path = self.config.cockpit.journal
        if path is None or (self.read_only and not path.exists()):
            return  # read-only never creates a journal
        try:
            self.journal = Journal(path, self.operator, readonly=self.read_only and path.exists()).open()
        except JournalError as exc:
            self.journal_problem = exc.message
            self.journal = None
            self.engine.actions.journal = _Refusing(exc.message)
            return
        if not self.read_only:
            self.engine.actions.journal = self.journal
            self.engine.round_hooks.append(self._record_changes)
        if self.read_only and not self.journal.writable:
            pass

    def _record_changes(self, _state: HostState, events: list[StatusChange]) -> None:
        if events and self.journal is not None and self.lease is not None and self.lease.ours:
            try:
                self.journal.status_changes(events)
            except JournalError:
                pass  # monitoring goes on; actions will find the banner

    def _claim(self) -> None:
        """Take the lease when free; take it over from a dead cockpit on this very machine."""
        j = self.journal
        if j is None or not self.drive:
            if self.read_only and j is not None:
                current = j.lease()
                self.runbook.set_observer(True, current.describe(time.time()) if current else "")
            return
        now = time.time()
        try:
            lease = j.acquire_lease(self.operator, self.host, self.pid, now, ttl=LEASE_TTL)
            if not lease.ours and lease.host == self.host and not psutil.pid_exists(lease.pid):
                lease = j.take_over(self.operator, self.host, self.pid, now,
                                    f"previous driver pid {lease.pid} on {lease.host} is gone", ttl=0.0)
        except JournalError as exc:
            self.runbook.banner = f"JOURNAL NOT WRITABLE: {exc.message} Actions are refused; monitoring goes on."
            self.engine.actions.journal = _Refusing(exc.message)
            return
        self.lease = lease
        if lease.ours:
            self.runbook.set_observer(False, f"{self.operator} on {self.host}")
            self._take_stock(now)
        else:
            self.engine.actions.journal = _Refusing(f"observer: {lease.describe(now)} drives")
            self.runbook.set_observer(True, lease.describe(now))

    def take_over(self, reason: str) -> None:
        """The operator confirmed taking over a stale lease (typed); journaled with the reason."""
        if self.journal is None:
            raise CockpitError("there is no journal to take a lease in")
        now = time.time()
        self.lease = self.journal.take_over(self.operator, self.host, self.pid, now, reason, ttl=LEASE_TTL)
        self.engine.actions.journal = self.journal
        self.runbook.set_observer(False, f"{self.operator} on {self.host}")
        self._take_stock(now)
        if self._started:
            self._reattach_all()

    def _take_stock(self, now: float) -> None:
        """As the new driver: actions a dead cockpit left are interrupted, except detached jobs (reattached)."""
        assert self.journal is not None
        marked = self.journal.mark_interrupted(now, keep_detached=True)
        if marked:
            self.runbook.note_interrupted(marked)
        self._detached = self.journal.detached_running()

    def _reattach_all(self) -> None:
        for row in self._detached:
            self.runbook.reattaching(row.get("step"), row["host"], str(row.get("title")))
            self._tasks.append(asyncio.create_task(self._reattach(row)))
        self._detached = []

    async def _reattach(self, row: dict[str, object]) -> None:
        from cockpit import detach

        try:
            p = await detach.resume(self.engine, self.journal, row)
        except Exception as exc:  # a reattach problem must not stop the cockpit
            self.runbook.banner = f"could not reattach to {row.get('title')} on {row.get('host')}: {exc}"
            return
        if p is None:
            return
        rc = p.rc
        state = "ok" if rc == 0 else "failed" if rc is not None else ("cancelled" if p.killed else "interrupted")
        self.runbook.reattached(row.get("step"), str(row["host"]), state, rc)  # type: ignore[arg-type]

    @property
    def observer(self) -> bool:
        return self.runbook.observer

    # -- running -----------------------------------------------------------------------------

    async def start(self, poll: bool = True) -> None:
        if poll:
            await self.engine.start()
        self.runbook.start()
        self._started = True
        self._reattach_all()
        if self.journal is not None:
            self._tasks.append(asyncio.create_task(self._heartbeat()))

    async def _heartbeat(self) -> None:
        """Driver: renew the lease. Observer: follow the driver's state and see a lease go stale."""
        while True:
            await asyncio.sleep(HEARTBEAT)
            j = self.journal
            if j is None:
                return
            now = time.time()
            try:
                if self.lease is not None and self.lease.ours:
                    self.lease = j.heartbeat(now)
                else:
                    self.runbook.reload_states()
                    current = j.lease()
                    if current is not None:
                        stale = " (STALE: take over with T)" if current.stale(now, LEASE_TTL) else ""
                        self.runbook.set_observer(True, current.describe(now) + stale)
            except JournalError as exc:
                self.runbook.banner = f"JOURNAL: {exc.message}"

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.runbook.stop()
        await self.engine.aclose()
        if self.journal is not None:
            if self.lease is not None and self.lease.ours:
                try:
                    self.journal.release()
                except JournalError:
                    pass
            self.journal.close()


class _Refusing:
    """Stands in for the journal when actions must be refused (unwritable journal, observer)."""

    def __init__(self, why: str) -> None:
        self.why = why

    def action_intent(self, *args: object, **kw: object) -> int:
        raise JournalError(f"actions are refused: {self.why}", "fix the journal, or drive from the lease holder")

    def action_host_started(self, *args: object) -> None: ...
    def action_host_done(self, *args: object) -> None: ...
    def action_ended(self, *args: object) -> None: ...
