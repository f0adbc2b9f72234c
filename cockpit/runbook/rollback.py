"""Rollbacks: of one step, of a phase (its done steps, in reverse), and the named rollbacks of the runbook.

A mixin over :class:`cockpit.runbook.state.RunbookState`, part of
:class:`cockpit.runbook.Runbook`. Every rollback is journaled and timed against
its own budget. A rollback pre-empts: running steps are cancelled ("cancelled by
rollback") before it fires, and no step runs while it does. What it undid is a
state the whole cockpit believes (:class:`RollbackState` in every plan view):
its phases are rolled back, lifecycle services are expected as before their
steps, and a failure names each host with its exit status and stderr.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from cockpit.conditions import evaluate_all
from cockpit.engine import ActionRun
from cockpit.errors import RunbookError
from cockpit.inventory import select
from cockpit.runbook.context import EngineContext
from cockpit.runbook.state import RunbookState
from cockpit.runbook.views import (
    DONE_PHASE,
    VERIFY_POLL,
    HostFailure,
    RollbackRecord,
    RollbackState,
)
from cockpit.spec import RollbackSpec

#: what a running step's hosts are cancelled with, and what its journal record says
PREEMPTED = "cancelled by rollback"
STDERR_LINES = 3  # last lines of a failed host's stderr kept in the state, the journal and the report


def host_failures(run: ActionRun) -> tuple[HostFailure, ...]:
    """Every host of ``run`` that did not end ok: exit status or signal, duration, the last lines of stderr."""
    out = []
    for r in run.runs:
        if r.state == "ok":
            continue
        how = (f"exit {r.exit_status}" if r.exit_status is not None
               else f"killed by {r.signal}" if getattr(r, "signal", "") else r.state)
        took = f" after {r.duration:.1f}s" if r.duration is not None else ""
        tail = [ln for ln in (getattr(r, "stderr", "") or r.output).splitlines() if ln.strip()][-STDERR_LINES:]
        err = f"; stderr: {' | '.join(tail)}" if tail else ""
        extra = f"; {r.error}" if r.error else ""
        out.append(HostFailure(r.host, f"{how}{took}{extra}{err}"))
    return tuple(out)


class RollbackMixin(RunbookState):
    """Undo what steps did; :meth:`no_return` names what cannot be undone."""

    def no_return(self) -> list[str]:
        """Irreversible steps already done: what a rollback cannot undo."""
        return [f"{p.id}.{s.id} ({s.title})" for p in self.spec.phases for s in p.steps
                if s.irreversible and self._steps[f"{p.id}.{s.id}"].state in ("done", "partial")]

    # -- pre-emption -----------------------------------------------------------------------

    async def _preempt(self) -> list[str]:
        """Cancel every running step (its actions first, then its waits and verifies); return their refs."""
        refs = [ref for ref, st in self._steps.items() if st.state in ("running", "verifying")]
        for run in self.engine.actions.running():
            if run.kind == "step":
                self.engine.actions.cancel(run.id, reason=PREEMPTED)
        tasks = [t for ref in refs if (t := self._step_tasks.get(ref)) is not None and not t.done()]
        self._preempting = True
        try:
            for t in tasks:
                t.cancel(PREEMPTED)
            if tasks:
                await asyncio.wait(tasks, timeout=10.0)
            await self.engine.actions.settle(5.0)
        finally:
            self._preempting = False
        for ref in refs:  # the step's own task journaled it; a step of another task (a paused one) is set here
            if self._steps[ref].state in ("running", "verifying"):
                await self._set_step(ref, "failed", detail=PREEMPTED)
        return refs

    # -- the state ---------------------------------------------------------------------------

    async def _begin(self, name: str, title: str, budget: float, kind: str, target: str) -> RollbackState:
        self._refuse_while_rolling_back()
        started = time.time()
        rid = await self._aj("rollback_started", kind, target, started)
        self._rb_state = RollbackState(name=name, title=title, operator=self.operator, started=started, ended=None,
                                       ok=None, budget=budget, journal_id=rid if isinstance(rid, int) else None)
        self._publish()
        return self._rb_state

    async def _end(self, state: RollbackState, ok: bool, failures: tuple[HostFailure, ...], undid: tuple[str, ...]) -> None:
        ended = time.time()
        if state.journal_id is not None:
            await self._aj("rollback_ended", state.journal_id, ended, ok, "\n".join(f.line() for f in failures))
        self._rollbacks.append(RollbackRecord(state.title, state.started, ended, ok))
        cur = self._rb_state if self._rb_state is not None and self._rb_state.started == state.started else state
        self._rb_state = RollbackState(name=state.name, title=state.title, operator=state.operator,
                                       started=state.started, ended=ended, ok=ok, budget=state.budget,
                                       reason=cur.reason, undid=undid, failures=failures,
                                       journal_id=state.journal_id)
        self._publish()

    async def give_reason(self, reason: str) -> None:
        """The reason for the last rollback, asked after firing (speed first); journaled with it."""
        rb = self._rb_state
        if rb is None or not reason.strip():
            return
        if rb.journal_id is not None:
            await self._aj("transition", "runbook", f"rollback#{rb.journal_id}", "reason", reason=reason)
        self._rb_state = replace(rb, reason=reason.strip())
        self._publish()

    async def close_rolled_back(self, reason: str) -> None:
        """The operator ends the cutover as rolled back: the outcome stays rolled back, journaled with the reason."""
        self._may_drive()
        rb = self._rb_state
        if rb is None or rb.ok is None:
            raise RunbookError("nothing was rolled back", "close a cutover as rolled back after a rollback")
        if not reason.strip():
            raise RunbookError("closing the cutover needs a reason", "say why; it goes into the journal and the report")
        await self._aj("transition", "runbook", "cutover", "closed-rolled-back", reason=reason)
        self._rb_state = replace(rb, closed=f"closed as rolled back: {reason.strip()}")
        self._publish()

    async def retry_phase(self, phase_id: str, reason: str = "") -> None:
        """Reopen a rolled-back phase: its steps run again (its gate and hold count again)."""
        self._may_drive()
        self._refuse_while_rolling_back()
        phase = self.spec.phase(phase_id)
        if self._phase_state.get(phase_id) != "rolled-back":
            raise RunbookError(f"phase {phase_id} is not rolled back", "retry applies to a rolled-back phase")
        await self._aj("transition", "phase", phase_id, "reopened", reason=reason or "retry after rollback")
        self._phase_state.pop(phase_id, None)
        self._holds[phase_id] = None
        self._gates.pop(phase_id, None)
        for s in phase.steps:
            ref = f"{phase.id}.{s.id}"
            if self._steps[ref].state == "rolled-back":
                await self._set_step(ref, "pending", reason="phase reopened after its rollback")
        if self._rb_state is not None and not any(v == "rolled-back" for v in self._phase_state.values()):
            self._rb_state = None  # nothing rolled back is left: the cutover goes on
        self.engine.rejudge()
        self._publish()

    async def _undo_phases(self, ids: tuple[str, ...], title: str) -> tuple[str, ...]:
        """Mark phases rolled back (and their steps that ran): lifecycle expectations return to before them."""
        undone = []
        for p in self.spec.phases:
            ran = [f"{p.id}.{s.id}" for s in p.steps
                   if self._steps[f"{p.id}.{s.id}"].state not in ("pending", "skipped", "rolled-back")]
            if (ids and p.id not in ids) or (not ids and not ran and self.phase_state(p) not in DONE_PHASE):
                continue
            for ref in ran:
                await self._set_step(ref, "rolled-back", detail=f"undone by {title}")
            await self._mark_rolled_back(p.id, f"undone by {title}")
            undone.append(p.id)
        return tuple(undone)

    async def _try_hold_clear(self, phase_id: str) -> None:
        try:
            await self._aj("set_hold", phase_id, None)
        except RunbookError:
            pass

    # -- per step and per phase ----------------------------------------------------------------

    async def _step_command(self, ref: str) -> tuple[bool, tuple[HostFailure, ...]]:
        phase, step = self.spec.step(ref)
        if step.rollback is None:
            raise RunbookError(f"step {ref} has no rollback", "add rollback = \"...\" to the step")
        run = await self._fire(f"{ref} rollback", step.rollback, self.step_hosts(step), "rollback", step.timeout,
                               phase.id, ref, sudo=step.sudo, env=step.env)
        failures = host_failures(run)
        await self._set_step(ref, "rolled-back" if not failures else "failed",
                       detail="" if not failures else "rollback failed: " + "; ".join(f.line() for f in failures))
        return not failures, failures

    async def rollback_step(self, ref: str) -> bool:
        self.spec.step(ref)
        self._may_drive()
        state = await self._begin(f"step {ref}", f"rollback of {ref}", self.spec.rollback_budget, "step", ref)
        try:
            await self._preempt()
            ok, failures = await self._step_command(ref)
        except BaseException:
            await self._end(state, False, (HostFailure("*", "the rollback stopped before it ended"),), ())
            raise
        phase = self.spec.step(ref)[0]
        await self._mark_rolled_back(phase.id, f"its step {ref} rolled back")  # it is not done any more
        await self._end(state, ok, failures, (phase.id,))
        return ok

    async def _mark_rolled_back(self, phase_id: str, detail: str) -> None:
        await self._aj("transition", "phase", phase_id, "rolled-back", detail=detail)
        self._phase_state[phase_id] = "rolled-back"
        self._holds[phase_id] = None
        self._gates.pop(phase_id, None)  # its gate result no longer counts
        await self._try_hold_clear(phase_id)
        self.engine.rejudge()

    async def rollback_phase(self, phase_id: str) -> bool:
        """The phase's done steps' rollbacks, in reverse order; the phase is rolled back."""
        phase = self.spec.phase(phase_id)
        self._may_drive()
        state = await self._begin(f"phase {phase_id}", f"rollback of phase {phase_id}", self.spec.rollback_budget,
                            "phase", phase_id)
        failures: list[HostFailure] = []
        try:
            await self._preempt()
            for step in reversed(phase.steps):
                ref = f"{phase.id}.{step.id}"
                if self._steps[ref].state in ("done", "partial", "failed") and step.rollback:
                    failures += (await self._step_command(ref))[1]
        except BaseException:
            await self._end(state, False, (HostFailure("*", "the rollback stopped before it ended"),), ())
            raise
        await self._mark_rolled_back(phase_id, f"{time.time() - state.started:.1f}s")
        await self._end(state, not failures, tuple(failures), (phase_id,))
        return not failures

    # -- the runbook's named rollbacks -----------------------------------------------------------

    async def quick_rollback(self, name: str | None = None) -> RollbackRecord:
        """Fire the named rollback (the first one by default): pre-empt, run, undo its phases, verify."""
        rb = self.spec.named_rollback(name)
        if rb is None:
            names = ", ".join(r.name for r in self.spec.rollbacks) or "none"
            raise RunbookError(f"no rollback named {name!r} in the config (rollbacks: {names})" if name
                               else "no [rollback] in the config", "add a [rollback.NAME] table with on and run")
        self._may_drive()
        state = await self._begin(rb.name, rb.title, rb.budget, rb.name, rb.title)
        try:
            await self._preempt()
            hosts: list[str] = []
            for sel in rb.on:
                hosts += [h.name for h in select(self.engine.config.hosts, sel) if h.name not in hosts]
            run = await self._fire(rb.title, rb.run, hosts, "rollback", rb.timeout, None, None, sudo=rb.sudo,
                                   env=rb.env)
            failures = host_failures(run)
            undid = await self._undo_phases(rb.undoes, rb.title)
            if not failures:
                failures = await self._verify_back(rb, run, hosts, undid)
        except BaseException:
            await self._end(state, False, (HostFailure("*", "the rollback stopped before it ended"),), ())
            raise
        await self._end(state, not failures, failures, undid)
        assert self._rb_state is not None
        return RollbackRecord(rb.title, state.started, self._rb_state.ended, not failures)

    async def _verify_back(self, rb: RollbackSpec, run: ActionRun, hosts: list[str],
                           undid: tuple[str, ...]) -> tuple[HostFailure, ...]:
        """Within ``rb.within`` of the command's end: its verify holds and every old service it brought back is up."""
        ended_cmd = max((r.ended or time.time()) for r in run.runs) if run.runs else time.time()
        deadline = ended_cmd + rb.within
        refs = set(undid) | {f"{p}.{s.id}" for p in undid for s in self.spec.phase(p).steps}
        old = {s.name for s in self.engine.config.services if s.retired_by and s.lifecycle in refs}
        while True:
            await asyncio.gather(*(self.engine.round_host(h) for h in self.engine.pollers))
            missing = [HostFailure(r.host, f"old service {r.service} not up again within {rb.within:g}s "
                                           f"({r.status}: {r.detail})")
                       for h in self.engine.snapshot().hosts for r in h.results
                       if r.service in old and r.expect == "up" and (r.status != "up" or r.at < ended_cmd)]
            verdict = None
            if rb.verify:
                ctx = EngineContext(self.engine, after=ended_cmd, default_hosts=hosts)
                verdict = await evaluate_all(list(rb.verify), ctx)
            if not missing and (verdict is None or verdict.value is True):
                return ()
            if time.time() >= deadline:
                bad = list(missing)
                if verdict is not None and verdict.value is not True:
                    bad.append(HostFailure("verify", f"not within {rb.within:g}s: {verdict.detail}"))
                return tuple(bad)
            await asyncio.sleep(VERIFY_POLL)

