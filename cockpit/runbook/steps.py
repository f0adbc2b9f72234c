"""Running a runbook step: rollback readiness, batches, disconnect waits, per-host verification, ticks.

A mixin over :class:`cockpit.runbook.state.RunbookState`, part of
:class:`cockpit.runbook.Runbook`. A step's outcome is decided per host on checks
made after its command ended, so a stale green never passes it.
"""

from __future__ import annotations

import asyncio
import time

from cockpit.conditions import Verdict, evaluate_all
from cockpit.errors import RunbookError
from cockpit.runbook.context import EngineContext
from cockpit.runbook.drift import changed_since_run, done_under_other, hhmm
from cockpit.runbook.rolling import batches, ordered
from cockpit.runbook.state import RunbookState
from cockpit.runbook.views import VERIFY_POLL, HostCheck, StepView
from cockpit.spec import PhaseSpec, StepSpec


class StepsMixin(RunbookState):
    """Run, continue, skip and tick steps; the operator (UI or CLI) drives these."""

    # -- readiness -------------------------------------------------------------------------

    def rollback_conditions(self, ref: str) -> list[str]:
        """What must hold for this step to be undoable: the step's, its phase's and the runbook's."""
        phase, step = self.spec.step(ref)
        rb = self.spec.rollback
        return [*step.rollback_requires, *phase.rollback_requires, *(rb.rollback_requires if rb else ())]

    async def rollback_readiness(self, ref: str) -> Verdict:
        """Evaluate rollback_requires now (commands run on the step's hosts unless they name others)."""
        _phase, step = self.spec.step(ref)
        conds = self.rollback_conditions(ref)
        if not conds:
            verdict = Verdict(True, "no rollback requirements")
        else:
            ctx = EngineContext(self.engine, default_hosts=self.step_hosts(step) or None,
                                regressions=lambda: [r.line() for r in self.regressions()],
                                undecided=self.tracker.undecided)
            verdict = await evaluate_all(conds, ctx)
        self._steps[ref].ready = verdict
        self._publish()
        return verdict

    # -- steps -----------------------------------------------------------------------------

    def continue_step(self, ref: str) -> None:
        """The operator continues a rolling step paused with ``pause = "manual"``."""
        ev = self._steps[ref].resume
        if ev is None:
            raise RunbookError(f"step {ref} is not waiting for you")
        ev.set()

    def rerun_needed(self, ref: str) -> str:
        """Why running ``ref`` again needs its id typed ("" when it does not): its last run was interrupted
        (when, by whom, on which hosts the outcome is unknown), it is already done (when, by whom), or its
        definition changed since it ran on some hosts (naming the change: :func:`changed_since_run`).

        One check for the cockpit and ``cockpit step run`` alike; :meth:`run_step` enforces it.
        """
        state = self._steps[ref].state
        changed = changed_since_run(self.journal, ref)
        if done := self.done_under_other(ref):
            _phase, step = self.spec.step(ref)
            rest = [h for h in self.step_hosts(step) if h not in done]
            note = (f"done on {', '.join(f'{h} ({w})' for h, w in done.items())} under an earlier definition: the "
                    f"next run fires on {', '.join(rest) or 'no host'} only, unless you choose to re-run the done "
                    "hosts too")
            changed = f"{changed}; {note}" if changed else note
        if state not in ("interrupted", "done"):
            return f"step {ref} {changed}" if changed else ""
        if changed:
            return f"{self._rerun_why(ref, state)}; {changed}"
        return self._rerun_why(ref, state)

    def done_under_other(self, ref: str) -> dict[str, str]:
        """Hosts of ``ref`` done under an earlier definition of it (when and under which plan): a changed step
        is not re-run there unless the operator asks (``rerun_done``)."""
        _phase, step = self.spec.step(ref)
        return done_under_other(self.journal, ref, self.step_hosts(step))

    def _rerun_why(self, ref: str, state: str) -> str:
        j = self.journal
        last = j.transitions(ref)[-1:] if j is not None else []  # type: ignore[attr-defined]
        who = f" by {last[0]['operator']}" if last else ""
        when = f" at {hhmm(last[0]['at'])}" if last else ""
        if state == "done":
            return f"step {ref} is already done{when}{who}"
        action = j.last_step_action(ref) if j is not None else None  # type: ignore[attr-defined]
        if action is None:
            return f"step {ref} was interrupted{when}{who}: its outcome is unknown"
        unknown = [r["host"] for r in action["runs"] if r["state"] in ("interrupted", "pending", "running")]
        hosts = ", ".join(unknown) or "none of its hosts"
        return (f"step {ref} was interrupted: its last run started at {hhmm(action['started'])} by "
                f"{action['operator']} and the cockpit stopped while it ran; outcome unknown on {hosts}")

    async def run_step(self, ref: str, *, typed_id: str | None = None, accept_not_ready: bool = False,
                       rerun: str | None = None, rerun_done: bool = False) -> StepView:
        """Fire the step on its hosts (rolling in batches when asked), then verify each host on fresh checks.

        An irreversible step needs ``typed_id == ref``; a step whose rollback is not ready needs
        ``accept_not_ready`` (the UI asks for a typed confirmation, the CLI a flag); a step whose last run
        was interrupted, or that is done, needs ``rerun == ref`` (:meth:`rerun_needed`). Hosts where the step
        is done under an earlier definition (:meth:`done_under_other`) keep what they ran and count as done,
        unless ``rerun_done``: the new definition runs on the remaining hosts only.
        """
        phase, step = self.spec.step(ref)
        self._may_drive()
        self._refuse_while_rolling_back()
        if (why := self.rerun_needed(ref)) and rerun != ref:
            raise RunbookError(f"{why}; running it again needs its id typed",
                               f"check those hosts first; headless pass --rerun {ref}, in the cockpit type {ref}")
        if self.phase_state(phase) == "locked":
            raise RunbookError(f"phase {phase.id!r} is locked: an earlier phase is not done",
                               "finish the earlier phase, or override it with a reason")
        st = self._steps[ref]
        if st.state in ("running", "verifying"):
            raise RunbookError(f"step {ref} is already running here, on {', '.join(st.checks) or 'its hosts'}",
                               "wait for it to end (the plan shows its progress)")
        if step.run is None:
            raise RunbookError(f"step {ref} is manual: tick it when done", "cockpit step tick (or the UI) records it")
        if step.irreversible and typed_id != ref:
            raise RunbookError(f"{ref} is irreversible (a point of no return): type its id to run it",
                               f"in the cockpit type {ref}; headless pass --irreversible {ref}")
        ready = await self.rollback_readiness(ref)
        if ready.value is not True and not accept_not_ready:
            raise RunbookError(f"rollback is NOT READY for {ref}: {ready.detail}",
                               "fix what the rollback needs, or confirm that you run it anyway")
        hosts = ordered(step, self.step_hosts(step), self.engine.config.hosts)
        kept = {} if rerun_done else self.done_under_other(ref)
        if kept and all(h in kept for h in hosts):
            raise RunbookError(f"step {ref} is done on all its hosts ({', '.join(hosts)}) under an earlier "
                               "definition: no host remains for the changed one",
                               f"to run the new definition there, re-run the done hosts: headless pass --rerun-done "
                               f"(with --rerun {ref}), in the cockpit type ALL {ref}")
        plan = batches(step, [h for h in hosts if h not in kept])
        st.checks = {h: HostCheck(h, True, f"done under {kept[h]} (an earlier definition); not re-run")
                     if h in kept else HostCheck(h, None, "waiting") for h in hosts}
        st.batch = st.waiting = ""
        st.group = 0
        st.progress = None
        await self._set_step(ref, "running")
        self._changed.pop(ref, None)  # it runs the definition in use now
        failures = 0
        if (task := asyncio.current_task()) is not None:
            self._step_tasks[ref] = task  # what a rollback cancels first
        try:
            await self.engine.mark_logs(f"step {ref}")  # log checks count what this step causes: matches(S)
            for i, group in enumerate(plan):
                if i > 0 and step.pause is not None:
                    await self._pause(ref, step, i, len(plan))
                    step = self._accepted_meanwhile(ref, step)
                if len(plan) > 1:
                    st.batch = f"batch {i + 1}/{len(plan)}"
                    await self._aj("transition", "step", ref, "batch", detail=f"{st.batch}: {', '.join(group)}")
                await self._run_group(phase, step, ref, group)
                failures += sum(1 for h in group if not st.checks[h].ok)
                if step.max_failures is not None and failures >= step.max_failures and i + 1 < len(plan):
                    rest = [h for g in plan[i + 1:] for h in g]
                    for h in rest:
                        st.checks[h] = HostCheck(h, None, f"untouched: rolling stopped after {failures} failed host(s)")
                    await self._aj("transition", "step", ref, "batch", detail=f"stopped after {st.batch}: {failures} failed; "
                            f"untouched: {', '.join(rest)}")
                    break
        except asyncio.CancelledError:
            if self._preempting:  # pre-empted: journaled, so the plan and the report say so
                for h, c in st.checks.items():
                    if not c.ok:
                        st.checks[h] = HostCheck(h, False, "cancelled by rollback")
                await self._set_step(ref, "failed", detail="cancelled by rollback")
            else:
                self._steps[ref].state = "failed"
                self._publish()
            raise
        except BaseException:
            self._steps[ref].state = "failed"
            self._publish()
            raise
        finally:
            st.waiting = ""
            st.progress = None
            self._step_tasks.pop(ref, None)
        good = [c for c in st.checks.values() if c.ok]
        final = "done" if len(good) == len(hosts) else "failed" if not good else "partial"
        bad = [c for c in st.checks.values() if not c.ok]  # each named with why: exit status, stderr, verify
        why = "; ".join(f"{c.host}: {c.detail}" for c in bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        await self._set_step(ref, final, detail="" if final == "done" else f"not done on {why}")
        return self._step_view(phase, step)

    def _accepted_meanwhile(self, ref: str, step: StepSpec) -> StepSpec:
        """The step's definition for the next batch: a plan change the driver accepted during a pause applies
        to the hosts not fired yet (the batches stay as planned); the hosts already fired keep theirs."""
        for p in self.spec.phases:
            for s in p.steps:
                if f"{p.id}.{s.id}" == ref and s.run is not None:
                    return s
        return step  # removed meanwhile, or made manual: finish as started

    async def _pause(self, ref: str, step: StepSpec, i: int, n: int) -> None:
        st = self._steps[ref]
        if step.pause == "manual":
            st.resume = asyncio.Event()
            st.waiting = f"paused before batch {i + 1}/{n}: continue with C (or cockpit step continue)"
            self._publish()
            try:
                await st.resume.wait()
            finally:
                st.resume = None
                st.waiting = ""
        else:
            st.waiting = f"pause {float(step.pause):g}s before batch {i + 1}/{n}"  # type: ignore[arg-type]
            self._publish()
            await asyncio.sleep(float(step.pause))  # type: ignore[arg-type]

    async def _run_group(self, phase: PhaseSpec, step: StepSpec, ref: str, hosts: list[str]) -> None:
        """One batch: fire, then (expect_disconnect) wait for the hosts to come back, or verify them."""
        st = self._steps[ref]
        assert step.run is not None
        st.active = set(hosts)  # their lifecycle services are in transition until this batch ends
        self.engine.rejudge(hosts)  # now, not at their next round: a long command may run for minutes
        try:
            await self._run_batch(phase, step, ref, hosts)
        finally:
            st.active = set()
            self.engine.rejudge(hosts)  # their lifecycle services: out of transition now, not at the next round
            self._publish()

    async def _run_batch(self, phase: PhaseSpec, step: StepSpec, ref: str, hosts: list[str]) -> None:
        st = self._steps[ref]
        assert step.run is not None
        run = await self._fire(step.title, step.run, hosts, "step", step.timeout, phase.id, ref, sudo=step.sudo,
                               detach=step.detach, env=step.env, group=st.group, batch=st.batch)
        st.action_id = run.id
        st.group = st.group or run.id
        ended = max((r.ended or time.time()) for r in run.runs) if run.runs else time.time()
        if step.expect_disconnect:
            # a lost connection (no exit status) is what a reboot looks like; an exit status != 0 is a real failure
            failed = {r.host: f"command failed before the disconnect: exit {r.exit_status}"
                      for r in run.runs if r.exit_status not in (0, None)}
            for h, why in failed.items():
                st.checks[h] = HostCheck(h, False, why)
            back = [h for h in hosts if h not in failed]
            await self._wait_back(ref, step, back, after=ended)
            return
        failed_cmd = {r.host: self._why(r) for r in run.runs if r.state != "ok"}
        for h, why in failed_cmd.items():
            st.checks[h] = HostCheck(h, False, why)
        ok_hosts = [h for h in hosts if h not in failed_cmd]
        if step.verify and ok_hosts:
            await self._set_step(ref, "verifying")
            await self._verify(ref, step, ok_hosts, after=ended)
            self._steps[ref].state = "running"
        else:
            for h in ok_hosts:
                st.checks[h] = HostCheck(h, True, "command ok")
                await self._aj("verify_result", ref, h, True, "command ok")  # each host's outcome, for lifecycle services

    @staticmethod
    def _why(r: object) -> str:
        """A failed host's line in the plan: exit status or signal, duration, the last line of its stderr."""
        state = getattr(r, "state", "")
        code = getattr(r, "exit_status", None)
        sig = getattr(r, "signal", "")
        error = getattr(r, "error", "")
        took = getattr(r, "duration", None)
        tail = [ln for ln in (getattr(r, "stderr", "") or "").splitlines() if ln.strip()][-1:]
        return (f"command {state}" + (f" exit {code}" if code is not None else f" killed by {sig}" if sig else "")
                + (f" after {took:.1f}s" if took is not None else "") + (f": {error}" if error else "")
                + (f"; stderr: {tail[0]}" if tail else ""))

    async def _wait_back(self, ref: str, step: StepSpec, hosts: list[str], after: float) -> None:
        """expect_disconnect: each host must be reachable again and pass verify within wait_for."""
        st = self._steps[ref]
        deadline = after + step.wait_for
        pending = list(hosts)
        while pending:
            left = deadline - time.time()
            st.progress = min(1.0, max(0.0, 1 - left / step.wait_for))
            st.waiting = f"waiting for {', '.join(pending)} to come back: {max(0, int(left))}s of {step.wait_for:g}s left"
            self._publish()
            for h in pending:
                self.engine.retry(h)  # forget the backoff of the expected disconnect
            await asyncio.gather(*(self.engine.round_host(h) for h in pending))
            for h in list(pending):
                state = self.engine.pollers[h].state
                if state.reach != "ok" or state.round_ended < after:
                    st.checks[h] = HostCheck(h, None, f"not back yet: {state.reach}")
                    continue
                if step.verify:
                    ctx = EngineContext(self.engine, only={h}, after=after, default_hosts=[h],
                                        regressions=lambda: [r.line() for r in self.regressions()],
                                undecided=self.tracker.undecided)
                    verdict = await evaluate_all(list(step.verify), ctx)
                    if verdict.value is not True:
                        st.checks[h] = HostCheck(h, None, f"back, but {verdict.detail}")
                        continue
                st.checks[h] = HostCheck(h, True, f"back after {time.time() - after:.0f}s")
                await self._aj("verify_result", ref, h, True, st.checks[h].detail)
                pending.remove(h)
            if not pending or time.time() >= deadline:
                break
            await asyncio.sleep(min(VERIFY_POLL, max(0.0, deadline - time.time())))
        for h in pending:
            st.checks[h] = HostCheck(h, False, f"did not come back within {step.wait_for:g}s ({st.checks[h].detail})")
            await self._aj("verify_result", ref, h, False, st.checks[h].detail)

    async def _verify(self, ref: str, step: StepSpec, hosts: list[str], after: float) -> None:
        """Per host: the verify list on checks made after `after`, retried until `within`."""
        st = self._steps[ref]
        deadline = after + step.within
        pending = list(hosts)
        while pending:
            await asyncio.gather(*(self.engine.round_host(h) for h in pending))
            for h in list(pending):
                ctx = EngineContext(self.engine, only={h}, after=after, default_hosts=[h],
                                    regressions=lambda: [r.line() for r in self.regressions()],
                                    undecided=self.tracker.undecided, phase=ref.split(".")[0], step=step.id)
                verdict = await evaluate_all(list(step.verify), ctx)
                st.checks[h] = HostCheck(h, verdict.value, verdict.detail)
                if verdict.value is True:
                    pending.remove(h)
                    await self._aj("verify_result", ref, h, True, verdict.detail)
            self._publish()
            if not pending or time.time() >= deadline:
                break
            await asyncio.sleep(min(VERIFY_POLL, max(0.0, deadline - time.time())))
        for h in pending:
            c = st.checks[h]
            st.checks[h] = HostCheck(h, False, f"not within {step.within:g}s: {c.detail}")
            await self._aj("verify_result", ref, h, False, c.detail)

    async def skip_step(self, ref: str, reason: str) -> None:
        self.spec.step(ref)
        self._may_drive()
        if not reason.strip():
            raise RunbookError("skipping a step needs a reason", "say why, it goes into the journal and the report")
        await self._set_step(ref, "skipped", reason=reason)

    async def tick_step(self, ref: str, host: str | None, ok: bool, note: str) -> StepView:
        """A manual step (or one host of it) done or failed by the operator; ``verify`` still applies."""
        phase, step = self.spec.step(ref)
        self._may_drive()
        self._refuse_while_rolling_back()
        if self.phase_state(phase) == "locked":
            raise RunbookError(f"phase {phase.id!r} is locked: an earlier phase is not done")
        if not note.strip():
            raise RunbookError("a tick needs a note", "say what was checked; it goes into the journal")
        st = self._steps[ref]
        hosts = self.step_hosts(step) or ["*"]
        if host is not None and host not in hosts:
            raise RunbookError(f"{host} is not a host of {ref}", f"its hosts: {', '.join(hosts)}")
        targets = [host] if host else hosts
        now = time.time()
        for h in targets:
            st.checks[h] = HostCheck(h, ok if not (ok and step.verify) else None, note)
            await self._aj("verify_result", ref, h, ok if not step.verify else None, f"ticked by {self.operator}: {note}")
        if ok and step.verify:
            checkable = [h for h in targets if h != "*"]
            if checkable:
                await self._set_step(ref, "verifying", reason=note)
                await self._verify(ref, step, checkable, after=now)
            else:  # a step done once (no hosts): its verify runs over the whole fleet
                ctx = EngineContext(self.engine, after=None, regressions=lambda: [r.line() for r in self.regressions()],
                                    undecided=self.tracker.undecided, phase=ref.split(".")[0], step=step.id)
                verdict = await evaluate_all(list(step.verify), ctx)
                st.checks["*"] = HostCheck("*", verdict.value is True, f"{note}; {verdict.detail}")
        done = [h for h in hosts if st.checks.get(h, HostCheck(h, None)).ok]
        failed = any(c.ok is False for c in st.checks.values())
        final = "done" if len(done) == len(hosts) else "failed" if failed and not done else (
            "partial" if failed else "pending")
        await self._set_step(ref, final, reason=note,
                       detail="" if final in ("done", "pending") else
                       f"not done on {', '.join(h for h in hosts if not st.checks.get(h, HostCheck(h, None)).ok)}")
        return self._step_view(phase, step)
