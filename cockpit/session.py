"""One cockpit's session: the engine, the journal, the runbook and the driver's lease, wired together.

Both the TUI and the headless commands open a session. The driver (the lease
holder) runs steps and actions; any other cockpit on the same journal is an
observer that sees everything and runs nothing.

A driver that loses the lease (the journal's fence refuses a decision, or a
heartbeat finds it taken over) is demoted to observer at once: the banner says
so, the actions' journal refuses every new intent, outcomes of commands already
running are still written (flagged), and before each host's command the runner
asks :meth:`Session.may_exec`, which refuses once more than half the lease TTL
has passed since the last good heartbeat and a renewal now fails.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from cockpit.config import ConfigWatch, PlanUpdate
from cockpit.engine import Engine
from cockpit.errors import CockpitError
from cockpit.inventory import select
from cockpit.journal import (
    Journal,
    JournalError,
    JournalUnavailable,
    Lease,
    action_summaries,
    encode_view,
    journal_exists,
    open_journal,
    publish_view,
)
from cockpit.model import FleetSnapshot, HostState, StatusChange
from cockpit.plans import (
    PlanChange,
    PlanVersion,
    diff_plans,
    plan_version,
    spec_of,
    version_of,
)
from cockpit.notify import Outbox
from cockpit.runbook import Announcer, Runbook
from cockpit.sanitize import strip_control
from cockpit.spec import Config

HEARTBEAT = 5.0  # at most; with a short lease_ttl the heartbeat runs every lease_ttl / 3
OUTSIDE_GRACE = 3.0  # seconds close() waits for calls to the outside still in flight
WATCH_EVERY = 1.0  # seconds between looks at the config file's size and mtime
OUTAGE = "JOURNAL DATABASE UNREACHABLE: actions are refused; monitoring goes on; observations are spooled on disk."


class Session:
    def __init__(self, config: Config, operator: str, *, drive: bool = True, read_only: bool = False,
                 own_probes: bool = False) -> None:
        self.config = config
        self.operator = strip_control(operator)  # typed or from the environment: shown to other cockpits
        self.read_only = read_only
        self.engine = Engine(config)
        self.plan: PlanVersion = plan_version(config)  # every decision journaled here carries its fingerprint
        self.pending: PlanUpdate | None = None  # an edit of the config on disk, not applied (yet)
        self._driver_plan = ""  # observer: the driver's newer plan, as the banner says it
        self.plan_from_journal = False  # an observer loaded the driver's plan (secrets masked): not for driving
        self._watch = ConfigWatch(config) if config.path is not None and not read_only else None
        self.journal: Journal | None = None
        self.journal_problem = ""
        self.journal_error: JournalError | None = None  # why the journal could not be opened (headless: fatal)
        self.lease: Lease | None = None
        self.drive = drive and not read_only
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.ttl = config.journal.lease_ttl
        self.heartbeat_every = min(HEARTBEAT, self.ttl / 3)
        self.lost = ""  # why this session lost the lease (it is an observer since)
        self.on_demoted: list[Callable[[str], None]] = []
        self._beat_ok = time.monotonic()  # the last good heartbeat (or acquire), monotonic
        self._tasks: list[asyncio.Task[None]] = []
        self._detached: list[dict[str, object]] = []
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self.closing = False  # close() has begun: a signal's stop must not cancel it half-way
        self._open_journal()
        self.runbook = Runbook(self.engine, self.journal, self.operator)
        if self.journal_problem:
            self.runbook.banner = f"JOURNAL NOT WRITABLE: {self.journal_problem} Actions are refused; monitoring goes on."
        self._claim()
        #: an observer of a live driver renders the driver's published view and opens no SSH connection
        #: (``--own-probes``: it polls the fleet itself as well, and says so)
        self.follows = not own_probes and self.observer and self._driver_alive()
        self.own_probes = own_probes and self.observer
        self.servers: list[Any] = []  # started with the session, closed with it (the metrics endpoint): start()/close()
        self.outside_warnings: list[Callable[[str], None]] = []  # a failed webhook/silence/annotation: said, never fatal
        self.outbox = Outbox(self.engine.redactor, record=self._record_outside, warn=self._warn_outside)
        self.announcer: Announcer | None = None
        if self.drive and (config.notify or config.alertmanager is not None or config.grafana is not None):
            self.announcer = Announcer(self.runbook, config, self.outbox, self.operator)
            self.runbook.listeners.append(self.announcer.seen)

    def _driver_alive(self) -> bool:
        try:
            current = self.journal.lease() if self.journal is not None else None
        except JournalError:
            return False
        return current is not None and not current.ours and not current.stale(time.time(), self.ttl)

    def _record_outside(self, kind: str, data: dict[str, object]) -> None:
        if self.journal is not None and not self.read_only:
            self.journal.outside_call(kind, data)

    def _warn_outside(self, text: str) -> None:
        if not self.outside_warnings:
            print(f"cockpit: warning: {text}", file=sys.stderr)  # headless: stderr (the TUI subscribes)
        for listener in list(self.outside_warnings):
            listener(text)

    # -- journal and lease -------------------------------------------------------------------

    def _open_journal(self) -> None:
        settings = self.config.journal
        target = settings.target
        if target is None or (self.read_only and not settings.exists()):
            return  # read-only never creates a journal
        try:
            if self.read_only and settings.url is not None and not journal_exists(target):
                return  # an empty database: no journal yet, and read-only never creates one
            self.journal = open_journal(target, self.operator, readonly=self.read_only,
                                        spool_dir=self.config.cockpit.state_dir)
        except JournalError as exc:
            self.journal_problem = exc.message
            self.journal_error = exc
            self.journal = None
            self.engine.actions.journal = _Refusing(exc.message)
            return
        self.journal.use_plan(self.plan)  # read-only too: the plan view compares runs with it
        if not self.read_only:
            self.engine.actions.journal = self.journal
            self.engine.actions.may_exec = self.may_exec
            self.engine.round_hooks.append(self._record_changes)
            self.journal.lease_lost.append(self._demote_soon)

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
            lease = j.acquire_lease(self.operator, self.host, self.pid, now, ttl=self.ttl)
            if not lease.ours and lease.host == self.host and not psutil.pid_exists(lease.pid):
                lease = j.take_over(self.operator, self.host, self.pid, now,
                                    f"previous driver pid {lease.pid} on {lease.host} is gone", ttl=0.0)
        except JournalError as exc:
            self.runbook.banner = f"JOURNAL NOT WRITABLE: {exc.message} Actions are refused; monitoring goes on."
            self.engine.actions.journal = _Refusing(exc.message)
            return
        self.lease = lease
        self._beat_ok = time.monotonic()
        if lease.ours:
            self.runbook.set_observer(False, f"{self.operator} on {self.host}")
            self._take_stock(now)
            try:
                if j.last_accepted_plan() is None:  # a new journal: the plan it starts with is the first accepted
                    j.accept_plan(self.plan, "the first plan this journal ran", at=now)
            except JournalError as exc:
                self.runbook.banner = f"JOURNAL NOT WRITABLE: {exc.message} Actions are refused; monitoring goes on."
        else:
            self.engine.actions.journal = _Refusing(f"observer: {lease.describe(now)} drives")
            self.runbook.set_observer(True, lease.describe(now))

    def take_over(self, reason: str) -> None:
        """The operator confirmed taking over a stale lease (typed); journaled with the reason."""
        if self.journal is None:
            raise CockpitError("there is no journal to take a lease in")
        if self.plan_from_journal:
            raise CockpitError(f"this cockpit follows the driver's plan {self.plan.fingerprint} loaded from the "
                               "journal, with its secrets masked: it cannot drive with it",
                               "restart this cockpit on a config whose plan is that one, then take over")
        now = time.time()
        self.lease = self.journal.take_over(self.operator, self.host, self.pid, now, reason, ttl=self.ttl)
        self._beat_ok = time.monotonic()
        self.lost = ""
        self.engine.actions.journal = self.journal
        if self.runbook.banner.startswith("LEASE LOST"):
            self.runbook.banner = ""
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
        await self.runbook.reattached(row.get("step"), str(row["host"]), state, rc)  # type: ignore[arg-type]

    # -- plan versions ---------------------------------------------------------------------------

    def plan_drift(self) -> tuple[dict[str, object], list[PlanChange]] | None:
        """(the journal's last accepted plan change, what differs from it) when this cockpit's plan is not
        the one last accepted in the journal; None when it is, or nothing was accepted yet."""
        last = self.journal.last_accepted_plan() if self.journal is not None else None
        if last is None or last["new"] == self.plan.fingerprint or not last.get("text"):
            return None
        return last, diff_plans(str(last["text"]), self.plan.text)

    def accept_plan(self, reason: str) -> int:
        """The driver accepts this cockpit's plan (fenced, journaled with the operator, the reason, the diff)."""
        if self.journal is None:
            raise CockpitError("there is no journal to record the plan change in")
        return self.journal.accept_plan(self.plan, reason)

    async def _watch_config(self, watch: ConfigWatch) -> None:
        """Validate every edit of the config (and its inventories); show the diff or the errors, apply nothing."""
        while True:
            await asyncio.sleep(WATCH_EVERY)
            if watch.changed():
                update = await asyncio.to_thread(watch.check, self.config, self.plan)
                self.pending = update
                self._show_plan_notice()

    def _see_driver_plan(self) -> None:
        """Observer: say when the driver runs a plan other than this cockpit's (and what differs), and offer to
        load it; once loaded, say which of its hosts this cockpit cannot watch (its config lacks them)."""
        drift = self.plan_drift()
        lines: list[str] = []
        if drift is not None:
            last = drift[0]
            changes = diff_plans(self.plan.text, str(last["text"]))  # what loading it would change here
            mine = "the plan loaded from the journal" if self.plan_from_journal else "this cockpit's file"
            lines = [f"PLAN: the driver runs plan {last['new']} (accepted by {last['operator']} at {last['at_iso']}: "
                     f"{last['reason']}), not {mine} (plan {self.plan.fingerprint}); L loads it here, in place:",
                     *(c.render() for c in changes)]
        elif self.plan_from_journal:
            lines = [f"PLAN: following the driver's plan {self.plan.fingerprint}, loaded from the journal (secrets "
                     "masked: to drive, restart on a config with this plan)", *self._unwatched()]
        notice = "\n".join(lines)
        if notice != self._driver_plan:
            self._driver_plan = notice
            self._show_plan_notice()

    def _unwatched(self) -> list[str]:
        """Steps of the loaded plan whose hosts, as the driver resolved them, differ from this cockpit's (its
        config lacks some, or has more that the selectors pick): its plan view would show other hosts."""
        out = []
        for p in json.loads(self.plan.text)["phases"]:
            for s in p["steps"]:
                ref = f"{p['id']}.{s['id']}"
                theirs = [h[0] for h in s.get("hosts", [])]
                ours = self.runbook.step_hosts(self.config.runbook.step(ref)[1])
                if set(theirs) != set(ours):
                    missing = [h for h in theirs if h not in self.engine.pollers]
                    lacks = f"; its config lacks {', '.join(missing)}, so it cannot watch them" if missing else ""
                    out.append(f"{ref}: the driver runs it on {', '.join(theirs) or 'no host'}, this cockpit's hosts "
                               f"resolve it to {', '.join(ours) or 'no host'}{lacks} (restart it on the driver's config)")
        return out

    async def load_driver_plan(self) -> PlanVersion:
        """Observer: replace this cockpit's plan in place with the one the driver last accepted, as the journal
        keeps it (runbook and services; hosts stay this cockpit's, and the notice names a step's hosts it lacks).
        Its secrets are masked: it is for watching. Refused for the driver and when nothing newer is known."""
        if not self.observer:
            raise CockpitError("this cockpit drives: its plan is the one the journal follows",
                               "edit the config and accept the change (A) to change it")
        drift = self.plan_drift()
        if drift is None:
            raise CockpitError("this cockpit already runs the driver's plan", "nothing to load")
        last = drift[0]
        plan = version_of(str(last["text"]))
        if plan.fingerprint != last["new"]:  # a text this cockpit normalises differently: never show a guess
            raise CockpitError(f"the journal's plan {last['new']} does not read back to the same fingerprint here "
                               f"({plan.fingerprint}): this cockpit is of another version than the driver's",
                               "restart this cockpit on the driver's config")
        runbook, services = spec_of(plan.text)
        assignments = tuple((h.name, tuple(s.name for s in services if any(select([h], sel) for sel in s.on)))
                            for h in self.config.hosts)
        config = dataclasses.replace(self.config, runbook=runbook, services=services, assignments=assignments)
        self.plan, self.config, self.plan_from_journal = plan, config, True
        if self.journal is not None:
            self.journal.use_plan(plan)
        await self.engine.apply_config(config)
        self.runbook.tracker.config = config
        self.runbook.apply_spec(runbook)
        self._see_driver_plan()
        return plan

    def _show_plan_notice(self) -> None:
        lines = self.pending.lines() if self.pending is not None else []
        if self.pending is not None and not self.pending.errors and not self.pending.restart and not self.observer:
            lines.append("A: review and accept it (journaled with your reason)")
        self.runbook.set_plan_notice(tuple(lines) + ((self._driver_plan,) if self._driver_plan else ()))

    async def accept_update(self, reason: str) -> PlanVersion:
        """The driver accepts the edit on disk: journaled (fenced) with the reason and the diff, then applied in
        place: the runbook, the services each host checks and the hosts (added, removed, reconnected when
        changed; :meth:`cockpit.engine.Engine.apply_config`). Refused (CockpitError) when invalid, when it
        changes a part applied only by a restart (:data:`cockpit.config.watch.RESTART_PARTS`, each with its
        reason), when it changes a running step (hosts already fired keep the command they ran, and a batch
        never switches commands half-way), or when it drops or moves a host with a command running. A rolling
        step paused for the operator between batches takes the accepted definition for the next ones."""
        update = self.pending
        if update is None or update.plan is None or update.config is None:
            raise CockpitError("there is no valid plan change to accept", "edit the config; the cockpit shows the diff")
        if self.observer:
            raise CockpitError("this cockpit is an observer: only the driver accepts a plan change",
                               "accept it in the driving cockpit")
        if update.restart:
            raise CockpitError(f"this edit also changes {', '.join(update.restart)}: the cockpit applies that only "
                               "on a restart", "restart the cockpit; `step run` then asks to accept the plan")
        busy = [c.target for c in update.changes if self.runbook.step_state(c.target) in ("running", "verifying")]
        if busy:
            raise CockpitError(f"the change touches {', '.join(busy)}, running now",
                               "accept it when the step has ended or while it pauses for you between batches "
                               "(pause = \"manual\"), or cancel it first")
        firing = self.engine.busy_hosts()
        moved = [c.target.partition(".")[2] for c in update.fleet if c.what in ("removed", "changed")
                 and c.fields != ("services",)]
        if held := [h for h in moved if h in firing]:
            raise CockpitError(f"the edit removes or reconnects {', '.join(held)}, where a command is running now",
                               "accept it when that command has ended (or cancel it first)")
        gone = {c.target.partition(".")[2] for c in update.fleet if c.what == "removed"}
        for p in self.config.runbook.phases:
            for s in p.steps:
                ref = f"{p.id}.{s.id}"
                if self.runbook.step_state(ref) in ("running", "verifying", "paused") and (
                        lost := [h for h in self.runbook.step_hosts(s) if h in gone]):
                    raise CockpitError(f"the edit removes {', '.join(lost)}, a host of {ref}, which is under way",
                                       "accept it when the step has ended, or cancel it first")
        if self.journal is None:
            raise CockpitError("there is no journal to record the plan change in")
        self.journal.accept_plan(update.plan, reason, also=update.fleet)
        self.plan, self.config, self.pending = update.plan, update.config, None
        await self.engine.apply_config(update.config)
        self.runbook.tracker.config = update.config  # regressions: services and hosts of the accepted config
        self.runbook.apply_spec(update.config.runbook)
        self._show_plan_notice()
        return update.plan

    @property
    def observer(self) -> bool:
        return self.runbook.observer

    # -- fencing -------------------------------------------------------------------------------

    def _demote_soon(self, why: str) -> None:
        """The journal's lease_lost listener: it may be told on the heartbeat's thread; demote on the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and threading.get_ident() != self._loop_thread:
            loop.call_soon_threadsafe(self._demote, why)
        else:
            self._demote(why)

    def _demote(self, why: str) -> None:
        """The lease is gone: observer at once; nothing more is fired or decided here."""
        if self.lost:
            return
        self.lost = why
        self.lease = None
        self.engine.actions.journal = _Refusing(why, outcomes=self.journal)
        self.runbook.banner = f"LEASE LOST: {why}. This cockpit is an observer now: it fires and decides nothing."
        self.runbook.lease_lost = why
        holder = self.journal.lease() if self.journal is not None else None
        self.runbook.set_observer(True, holder.describe(time.time()) if holder is not None else "nobody")
        for listener in list(self.on_demoted):
            listener(why)

    def may_exec(self) -> str:
        """Asked by the runner before each host's command: "" to go, else why it is refused.

        More than half the TTL since the last good heartbeat means this process may have been frozen and
        the lease taken meanwhile: renew it now, and refuse (demoted) if that fails.
        """
        if self.lost:
            return f"refused: {self.lost}"
        j = self.journal
        if j is None or self.lease is None or not self.lease.ours:
            return ""
        age = time.monotonic() - self._beat_ok
        if age <= self.ttl / 2:
            return ""
        try:
            self.lease = j.heartbeat(time.time())
        except JournalUnavailable as exc:
            return f"refused: the journal database is unreachable: {exc.message}"
        except JournalError as exc:
            self._demote(exc.message)
            return (f"refused: no good heartbeat for {age:.1f} s (more than half the {self.ttl:g} s lease) "
                    f"and renewing failed: {exc.message}")
        self._beat_ok = time.monotonic()
        return ""

    # -- running -----------------------------------------------------------------------------

    async def start(self, poll: bool = True) -> None:
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        if poll:
            await self.start_polling()
        self.runbook.start()
        self._started = True
        self._reattach_all()
        for server in self.servers:
            await server.start()
        if self.journal is not None:
            self._tasks.append(asyncio.create_task(self._heartbeat()))
        if self._watch is not None:
            self._tasks.append(asyncio.create_task(self._watch_config(self._watch)))

    async def _heartbeat(self) -> None:
        """Driver: renew the lease. Observer: follow the driver's state and see a lease go stale."""
        while True:
            await asyncio.sleep(self.heartbeat_every)
            j = self.journal
            if j is None:
                return
            now = time.time()
            driving = self.lease is not None and self.lease.ours
            try:
                if driving:  # in a thread: a slow or unreachable database never stalls the screen
                    self.lease = await asyncio.to_thread(j.heartbeat, now)
                    self._beat_ok = time.monotonic()
                else:
                    self.runbook.reload_states()
                    self._see_driver_plan()
                    current = j.lease()
                    if current is not None:
                        stale = " (STALE: take over with T)" if current.stale(now, self.ttl) else ""
                        if stale and self.read_only:  # T is disabled here: say what it means, not what to press
                            stale = " (STALE: it stopped heartbeating)"
                        self.runbook.set_observer(True, current.describe(now) + stale)
                    elif self.read_only:  # the driver left: nobody drives, and the banner says so
                        self.runbook.set_observer(True, "")
            except JournalUnavailable as exc:  # the database is away: refuse actions, keep monitoring, keep trying
                self.runbook.banner = f"{OUTAGE} {exc.message}"
                continue
            except JournalError as exc:
                if driving:  # a failed heartbeat demotes at once: the lease may be someone else's next
                    self._demote(exc.message)
                else:
                    self.runbook.banner = f"JOURNAL: {exc.message}"
                continue
            if self.runbook.banner.startswith(OUTAGE):
                self.runbook.banner = ""  # back, and (driving) the lease re-validated by that heartbeat

    async def start_polling(self) -> None:
        """Probe the fleet from here (and publish the view while driving); a follower that took over calls it."""
        await self.engine.start()
        self.follows = False
        if self.journal is not None and not self.read_only:
            self._tasks.append(asyncio.create_task(self._publish()))

    async def _publish(self) -> None:
        """Driver: its merged view into the journal, at most once per round, for observers without SSH.

        Published every round even when no host answered (a hung fleet), so an observer's "driver silent"
        means this cockpit stopped, never that the fleet is slow. Only while holding the lease (fenced).
        """
        sub = self.engine.subscribe()
        every = self.config.cockpit.interval
        latest: FleetSnapshot | None = None
        while True:
            started = time.monotonic()
            try:
                latest = await asyncio.wait_for(sub.next(), timeout=every)
            except TimeoutError:
                pass
            j = self.journal
            if latest is not None and j is not None and self.lease is not None and self.lease.ours and not self.lost:
                try:  # the journal's part in a thread: a slow disk or database never stalls the screen
                    await asyncio.to_thread(self._publish_once(j, latest, every))
                except JournalError:
                    pass  # monitoring goes on; a lost lease demotes through the journal's own listeners
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))

    def _publish_once(self, j: Journal, snap: FleetSnapshot, every: float) -> Callable[[], int]:
        """The runbook's part read here, on the loop; the returned call reads actions and writes the view."""
        view = self.runbook.view()
        gates = [{"phase": p.id, "state": p.state, "ok": p.gate.value, "detail": p.gate.detail}
                 for p in view.phases if p.gate is not None]
        rollbacks = [{"title": r.title, "started": r.started, "ended": r.ended, "ok": r.ok} for r in view.rollbacks[-3:]]
        plan, host = self.plan.fingerprint, self.host

        def write() -> int:
            body = encode_view(snap, every=every, actions=action_summaries(j), gates=gates, rollbacks=rollbacks,
                               plan=plan)
            return publish_view(j, body, at=time.time(), host=host, round_no=snap.round)

        return write

    # -- stopping on a signal (cockpit.shutdown) ---------------------------------------------

    def interrupt(self, reason: str) -> None:
        """First signal: cancel every running action (detached jobs run on); ``reason`` is journaled per host."""
        for run in self.engine.actions.running():
            self.engine.actions.cancel(run.id, shutdown=True, reason=reason)

    async def settle(self, timeout: float) -> None:
        """Until the cancelled actions have journaled their outcome (bounded)."""
        await self.engine.actions.settle(timeout)

    def abandon(self, note: str) -> None:
        """Exiting at once: open actions are journaled ``interrupted`` with ``note``; the lease is released."""
        self.engine.actions.abandon(note, self.engine.kills_pending())
        if self.journal is not None and self.lease is not None and self.lease.ours:
            try:
                self.journal.release()
            except JournalError:
                pass  # a stale lease then; the next cockpit on this machine re-acquires it

    async def close(self) -> None:
        self.closing = True
        for server in self.servers:
            await server.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.runbook.stop()
        if self.announcer is not None:  # a headless step's last silences and annotations still go out (bounded)
            await self.announcer.drain(OUTSIDE_GRACE)
        await self.outbox.aclose(grace=0.0)
        await self.engine.aclose()
        await self.engine.actions.flush_records()  # the last outcomes are in the journal before it closes
        if self.journal is not None:
            if self.lease is not None and self.lease.ours:
                try:
                    self.journal.release()
                except JournalError:
                    pass
            self.journal.close()


class _Refusing:
    """Stands in for the journal when actions must be refused (unwritable journal, observer, lease lost).

    ``outcomes``: the real journal, which still records what commands fired before the refusal did.
    """

    def __init__(self, why: str, outcomes: Journal | None = None) -> None:
        self.why = why
        self.outcomes = outcomes

    def action_intent(self, *args: object, **kw: object) -> int:
        raise JournalError(f"actions are refused: {self.why}", "fix the journal, or drive from the lease holder")

    def action_host_started(self, *args: object) -> None:
        if self.outcomes is not None:
            self.outcomes.action_host_started(*args)  # type: ignore[arg-type]

    def action_host_done(self, *args: object) -> None:
        if self.outcomes is not None:
            self.outcomes.action_host_done(*args)  # type: ignore[arg-type]

    def action_ended(self, *args: object) -> None:
        if self.outcomes is not None:
            self.outcomes.action_ended(*args)  # type: ignore[arg-type]
