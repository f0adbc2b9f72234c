"""Rollbacks: of one step, of a phase (its done steps, in reverse), and the quick rollback of the runbook.

A mixin over :class:`cockpit.runbook.state.RunbookState`, part of
:class:`cockpit.runbook.Runbook`. Every rollback is journaled and timed against
the runbook's budget, so the report can say whether it was within it.
"""

from __future__ import annotations

import asyncio
import time

from cockpit.conditions import evaluate_all
from cockpit.errors import RunbookError
from cockpit.inventory import select
from cockpit.runbook.context import EngineContext
from cockpit.runbook.state import RunbookState
from cockpit.runbook.views import VERIFY_POLL, RollbackRecord


class RollbackMixin(RunbookState):
    """Undo what steps did; :meth:`no_return` names what cannot be undone."""

    def no_return(self) -> list[str]:
        """Irreversible steps already done: what a rollback cannot undo."""
        return [f"{p.id}.{s.id} ({s.title})" for p in self.spec.phases for s in p.steps
                if s.irreversible and self._steps[f"{p.id}.{s.id}"].state in ("done", "partial")]

    async def _timed_rollback(self, title: str, command: str, hosts: list[str], timeout: float | None,
                              phase: str | None, ref: str | None, *, sudo: bool = False,
                              env: tuple[tuple[str, str], ...] = ()) -> bool:
        """Run one rollback command, journaled and timed against the budget."""
        started = time.time()
        rid = self._j("rollback_started", "step", ref or title, started)
        run = await self._fire(title, command, hosts, "rollback", timeout, phase, ref, sudo=sudo, env=env)
        ok = all(r.state == "ok" for r in run.runs)
        ended = time.time()
        if rid is not None:
            self._j("rollback_ended", rid, ended, ok)
        self._rollbacks.append(RollbackRecord(title, started, ended, ok))
        self._publish()
        return ok

    async def rollback_step(self, ref: str) -> bool:
        phase, step = self.spec.step(ref)
        self._may_drive()
        if step.rollback is None:
            raise RunbookError(f"step {ref} has no rollback", "add rollback = \"...\" to the step")
        ok = await self._timed_rollback(f"{ref} rollback", step.rollback, self.step_hosts(step), step.timeout,
                                        phase.id, ref, sudo=step.sudo, env=step.env)
        self._set_step(ref, "rolled-back" if ok else "failed", detail="" if ok else "rollback failed")
        return ok

    async def rollback_phase(self, phase_id: str) -> bool:
        """The phase's done steps' rollbacks, in reverse order."""
        phase = self.spec.phase(phase_id)
        self._may_drive()
        started = time.time()
        rid = self._j("rollback_started", "phase", phase_id, started)
        ok = True
        for step in reversed(phase.steps):
            ref = f"{phase.id}.{step.id}"
            if self._steps[ref].state in ("done", "partial") and step.rollback:
                ok = await self.rollback_step(ref) and ok
        ended = time.time()
        if rid is not None:
            self._j("rollback_ended", rid, ended, ok)
        self._rollbacks.append(RollbackRecord(f"phase {phase_id}", started, ended, ok))
        self._j("transition", "phase", phase_id, "rolled-back", detail=f"{ended - started:.1f}s")
        self._phase_state[phase_id] = "rolled-back"
        self._holds[phase_id] = None
        self._publish()
        return ok

    async def quick_rollback(self) -> RollbackRecord:
        rb = self.spec.rollback
        if rb is None:
            raise RunbookError("no [rollback] in the config", "add a [rollback] table with on and run")
        self._may_drive()
        hosts: list[str] = []
        for sel in rb.on:
            hosts += [h.name for h in select(self.engine.config.hosts, sel) if h.name not in hosts]
        started = time.time()
        rid = self._j("rollback_started", "quick", rb.title, started)
        run = await self._fire(rb.title, rb.run, hosts, "rollback", rb.timeout, None, None, env=rb.env)
        ok = all(r.state == "ok" for r in run.runs)
        if ok and rb.verify:
            ended_cmd = max((r.ended or time.time()) for r in run.runs)
            deadline = ended_cmd + rb.within
            ok = False
            while True:
                await asyncio.gather(*(self.engine.round_host(h) for h in self.engine.pollers))
                ctx = EngineContext(self.engine, after=ended_cmd, default_hosts=hosts)
                if (await evaluate_all(list(rb.verify), ctx)).value is True:
                    ok = True
                    break
                if time.time() >= deadline:
                    break
                await asyncio.sleep(VERIFY_POLL)
        ended = time.time()
        if rid is not None:
            self._j("rollback_ended", rid, ended, ok)
        rec = RollbackRecord(rb.title, started, ended, ok)
        self._rollbacks.append(rec)
        self.engine.rejudge()  # a good quick rollback re-expects what the steps retired
        self._publish()
        return rec
