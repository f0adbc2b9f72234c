"""The App's runbook actions: run, continue, skip and tick steps, override phases, roll back, baseline,
take over the lease.

A mixin of :class:`screens.app.CockpitApp`. Every operation is confirmed first
(typed words where a step is irreversible or its rollback is not ready) and runs
in a worker of group ``runbook``; a :class:`~cockpit.runbook.RunbookError`
becomes a notice, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from cockpit.errors import CockpitError
from cockpit.runbook import batches, ordered
from cockpit.runbook import RunbookError
from screens.confirm import ConfirmScreen
from screens.fleet_actions import env_note
from screens.reason import ReasonPrompt

if TYPE_CHECKING:
    from textual.app import App

    from cockpit.runbook import Runbook
    from cockpit.engine import Engine
    from cockpit.session import Session

    _AppBase = App[int]
else:
    _AppBase = object


def rollback_verify_note(verify: tuple[str, ...], within: float) -> str:
    """What will decide that a named rollback worked."""
    if not verify:
        return "verify: none; each host's exit status and the services it brings back decide"
    return f"verify (within {within:g}s of the command's end): {'; '.join(verify)}"


class RunbookActions(_AppBase):
    """``action_*`` methods that drive the runbook; bound on the dashboard, also in the command palette."""

    if TYPE_CHECKING:  # set by CockpitApp.__init__, and defined in screens.fleet_actions.FleetActions
        engine: Engine
        runbook: Runbook
        session: Session | None

        def _refuse_read_only(self) -> bool: ...

        def _resolve(self, selectors: Iterable[str]) -> list[str]: ...

        def _previews_or_refuse(self, template: str, hosts: Iterable[str]) -> list[tuple[str, str]] | None: ...

    def _runbook_task(self, coro, done: Callable[[object], str] | None = None) -> None:  # type: ignore[no-untyped-def]
        """Run a runbook operation in the background; its errors become notices, never tracebacks."""

        async def wrapper() -> None:
            try:
                result = await coro
            except RunbookError as exc:
                self.notify(str(exc), severity="error", timeout=8, markup=False)
                return
            if done is not None:
                self.notify(done(result), timeout=6, markup=False)

        self.run_worker(wrapper(), group="runbook")

    def _journaled(self, coro, ok: str) -> None:  # type: ignore[no-untyped-def]
        """A decision the runbook journals (a reason, an override): in the background, since the journal's write
        may take its statement_timeout on a slow database and the screen never waits for it."""
        self._runbook_task(coro, lambda _result: ok)

    def action_run_step(self, ref: str) -> None:
        """Confirm (hosts, command, verify, rollback readiness), typed words where the step needs them, run."""
        if self._refuse_read_only():
            return
        phase, step = self.engine.config.runbook.step(ref)
        if step.run is None:
            self.notify(f"{ref} is manual: K ticks it done, F marks it failed", timeout=5, markup=False)
            return
        if self.runbook.phase_state(phase) == "locked":  # say so before asking anything
            self.notify(f"phase {phase.id} is locked: an earlier phase is not done (finish it, or O overrides it)",
                        severity="warning", timeout=6, markup=False)
            return
        hosts = ordered(step, self.runbook.step_hosts(step), self.engine.config.hosts)
        if (commands := self._previews_or_refuse(step.run, hosts)) is None:
            return  # a placeholder value that is not shell-safe: the step would be refused

        async def flow() -> None:
            ready = await self.runbook.rollback_readiness(ref)
            notes = []
            if step.verify:
                notes.append(f"verify: {'; '.join(step.verify)}")
            if self.runbook.rollback_conditions(ref):
                notes.append(("rollback READY: " if ready.value is True else "rollback NOT READY: ") + ready.detail)
            if step.batch is not None:
                plan = batches(step, hosts)
                size = f"{step.batch * 100:g}% of the hosts" if isinstance(step.batch, float) else f"{step.batch}"
                parts = [f"rolling in {len(plan)} batches of {size} (in the order shown)"]
                if step.max_failures is not None:
                    parts.append(f"stops after {step.max_failures} failed host(s)")
                if step.pause == "manual":
                    parts.append("waits for C between batches")
                elif step.pause is not None:
                    parts.append(f"pauses {step.pause:g}s between batches")
                notes.append(", ".join(parts))
            if step.irreversible:
                notes.append("IRREVERSIBLE: a point of no return")
            if kept := self.runbook.done_under_other(ref):
                notes.append("done under an earlier definition, not re-run unless you ask next: "
                             + ", ".join(f"{h} ({w})" for h, w in kept.items()))
            if env := env_note(step.env, self.engine.redactor):
                notes.append(env)
            yes = await self.push_screen_wait(ConfirmScreen(f"step {ref}: {step.title}",
                                                            self.engine.redactor.redact(step.run or ""), hosts,
                                                            "\n".join(notes), commands))
            if not yes:
                self.notify("cancelled: nothing was run", timeout=3)
                return
            if ready.value is not True:
                typed = await self.push_screen_wait(ReasonPrompt(
                    f"The rollback of {ref} is NOT READY ({ready.detail}). Type NOT READY to run it anyway:",
                    "NOT READY", must_equal="NOT READY"))
                if typed is None:
                    return
            rerun, rerun_done = None, False
            if why := self.runbook.rerun_needed(ref):
                done = self.runbook.done_under_other(ref)
                also = (f", or ALL {ref} to re-run the hosts done under the earlier definition too "
                        f"({', '.join(done)})") if done else ""
                rerun = await self.push_screen_wait(ReasonPrompt(
                    f"{why}. Type its id ({ref}) to run it again{also}:", ref,
                    must_equal=(ref, f"ALL {ref}") if done else ref))
                if rerun is None:
                    return
                rerun_done, rerun = rerun == f"ALL {ref}", ref
            typed_id = None
            if step.irreversible:
                typed_id = await self.push_screen_wait(ReasonPrompt(
                    f"{ref} cannot be undone. Type its id ({ref}) to run it:", ref, must_equal=ref))
                if typed_id is None:
                    return
            try:
                view = await self.runbook.run_step(ref, typed_id=typed_id, accept_not_ready=True, rerun=rerun,
                                                   rerun_done=rerun_done)
            except RunbookError as exc:
                self.notify(str(exc), severity="error", timeout=8, markup=False)
                return
            self.notify(f"{ref}: {view.state}" + (f" ({view.detail})" if view.detail else ""), timeout=6, markup=False)

        self.run_worker(flow(), group="runbook")

    def action_continue_step(self, ref: str) -> None:
        if self._refuse_read_only():
            return
        try:
            self.runbook.continue_step(ref)  # sets an event: nothing is journaled here
        except RunbookError as exc:
            self.notify(str(exc), severity="error", timeout=8, markup=False)
            return
        self.notify(f"{ref}: next batch", timeout=4, markup=False)

    def action_skip_step(self, ref: str) -> None:
        if self._refuse_read_only():
            return
        self.push_screen(ReasonPrompt(f"Skip {ref}: why? (journaled)", "reason"),
                         lambda reason: reason and self._journaled(self.runbook.skip_step(ref, reason),
                                                              f"{ref} skipped"))

    def action_tick_step(self, ref: str, ok: bool, selected: list[str]) -> None:
        if self._refuse_read_only():
            return
        _phase, step = self.engine.config.runbook.step(ref)
        hosts = [h for h in self.runbook.step_hosts(step) if h in selected] or [None]  # type: ignore[list-item]

        async def tick_all(note: str) -> object:
            view = None
            for h in hosts:
                view = await self.runbook.tick_step(ref, h, ok, note)
            return view

        def answered(note: str | None) -> None:
            if note:
                self._runbook_task(tick_all(note), lambda v: f"{ref}: {v.state}")  # type: ignore[attr-defined]

        what = "done" if ok else "failed"
        self.push_screen(ReasonPrompt(f"Mark {ref} {what}{' on ' + ', '.join(h for h in hosts if h) if hosts != [None] else ''}:"
                                      " a note for the journal", "what was checked"), answered)

    def action_override_phase(self, phase: str) -> None:
        if self._refuse_read_only():
            return
        self.push_screen(ReasonPrompt(f"Override phase {phase} (count it done without its gate): why?", "reason"),
                         lambda reason: reason and self._journaled(self.runbook.override_phase(phase, reason),
                                                              f"phase {phase} overridden"))

    def action_rollback(self, selection: str) -> None:
        if self._refuse_read_only():
            return
        kind, _, target = selection.partition(":")
        if kind == "step":
            _phase, step = self.engine.config.runbook.step(target)
            if step.rollback is None:
                self.notify(f"{target} has no rollback", severity="warning", markup=False)
                return
            coro_factory = lambda: self.runbook.rollback_step(target)  # noqa: E731
            title, command, hosts = f"roll back {target}", step.rollback, self.runbook.step_hosts(step)
            env = step.env
        elif kind == "phase":
            phase = self.engine.config.runbook.phase(target)
            cmds = [s.rollback for s in reversed(phase.steps) if s.rollback]
            coro_factory = lambda: self.runbook.rollback_phase(target)  # noqa: E731
            title, command = f"roll back phase {target} (done steps, in reverse)", " ; ".join(cmds)  # type: ignore[arg-type]
            hosts = sorted({h for s in phase.steps for h in self.runbook.step_hosts(s)})
            env = tuple(kv for s in phase.steps for kv in s.env)
        else:
            return
        budget = self.engine.config.runbook.rollback_budget
        notes = ["verify: none; each host's exit status decides (a step's rollback has no verify of its own)",
                 f"budget: {budget:g}s for the whole rollback ([runbook] rollback_budget)"]
        if (commands := self._previews_or_refuse(command, hosts)) is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._runbook_task(coro_factory(), lambda ok: f"{title}: {'ok' if ok else 'FAILED'}")

        notes += [n for n in (env_note(env, self.engine.redactor), self._no_return_note()) if n]
        self.push_screen(ConfirmScreen(title, self.engine.redactor.redact(command), hosts or ["(none)"],
                                       "\n".join(notes), commands), answered)

    def action_quick_rollback(self, name: str | None = None) -> None:
        """Fire a named rollback (R: the first, or the one that failed: a retry); the reason is asked after firing."""
        if self._refuse_read_only():
            return
        spec = self.engine.config.runbook
        last = self.runbook.view().rollback
        if name is None and last is not None and last.ok is False and spec.named_rollback(last.name) is not None:
            name = last.name  # ROLLBACK FAILED: R retries that rollback
        rb = spec.named_rollback(name)
        if rb is None:
            self.notify("no [rollback] in the config", severity="warning")
            return
        hosts = self._resolve(rb.on)

        def report(rec: object) -> str:
            d = rec.duration or 0.0  # type: ignore[attr-defined]
            verdict = "within" if d <= rb.budget else "OVER"
            return f"{rb.title}: {'ok' if rec.ok else 'FAILED'} in {d:.1f}s ({verdict} its {rb.budget:g}s budget)"  # type: ignore[attr-defined]

        def reason(text: str | None) -> None:
            if text:
                self._journaled(self.runbook.give_reason(text), "reason journaled with the rollback")

        def answered(yes: bool | None) -> None:
            if yes:
                self._runbook_task(self.runbook.quick_rollback(rb.name), report)
                self.push_screen(ReasonPrompt(f"{rb.title} fired. Why? (optional, journaled; Escape skips)",
                                              "reason"), reason)

        if (commands := self._previews_or_refuse(rb.run, hosts)) is None:
            return
        notes = [rollback_verify_note(rb.verify, rb.within),
                 f"budget: {rb.budget:g}s, command and verify together (timed from the moment it fires)"]
        notes += [n for n in (env_note(rb.env, self.engine.redactor), self._no_return_note()) if n]
        self.push_screen(ConfirmScreen(rb.title, self.engine.redactor.redact(rb.run), hosts, "\n".join(notes), commands),
                         answered)

    def action_retry_phase(self, phase: str) -> None:
        """Reopen a rolled-back phase (its steps run again); the reason is journaled."""
        if self._refuse_read_only():
            return
        self.push_screen(ReasonPrompt(f"Retry phase {phase} (reopen it after its rollback)? Why:", "reason"),
                         lambda why: why and self._journaled(self.runbook.retry_phase(phase, why),
                                                        f"phase {phase} reopened"))

    def action_retry_analysis(self, phase: str) -> None:
        """Start a phase's analysis over after an inconclusive or failed run; the reason is journaled."""
        if self._refuse_read_only():
            return
        self.push_screen(ReasonPrompt(f"Retry the analysis of phase {phase} (a new run of measurements)? Why:",
                                      "reason"),
                         lambda why: why and self._journaled(self.runbook.retry_analysis(phase, why),
                                                        f"analysis of {phase} restarted"))

    def action_close_rolled_back(self) -> None:
        """End the cutover as rolled back, with a reason (plan and report say so)."""
        if self._refuse_read_only():
            return
        self.push_screen(ReasonPrompt("Close the cutover as rolled back? Why:", "reason"),
                         lambda why: why and self._journaled(self.runbook.close_rolled_back(why),
                                                        "cutover closed as rolled back"))

    def _no_return_note(self) -> str:
        done = self.runbook.no_return()
        if not done:
            return ""
        return "WARNING: past a point of no return; this rollback cannot undo: " + "; ".join(done)

    def action_baseline(self) -> None:
        if self._refuse_read_only():
            return
        self._journaled(self.runbook.capture_baseline(), "baseline recorded: regressions are judged against it from now on")

    def action_accept_plan(self) -> None:
        """The config on disk changed: show its diff (or its errors) and accept it with a reason (journaled)."""
        if self._refuse_read_only():
            return
        update = self.session.pending if self.session is not None else None
        if update is None:
            self.notify("the config on disk has no plan change to accept", timeout=4)
            return
        if update.errors or update.restart:  # nothing to accept: the banner says why (errors, what needs a restart)
            self.notify("\n".join(update.lines()), severity="error", timeout=10, markup=False)
            return

        async def accept(reason: str) -> None:
            assert self.session is not None
            try:
                plan = await self.session.accept_update(reason)
            except CockpitError as exc:
                self.notify(str(exc), severity="error", timeout=8, markup=False)
                return
            self.notify(f"plan {plan.fingerprint} accepted: the next run of a step uses it", timeout=6, markup=False)

        def answered(reason: str | None) -> None:
            if not reason or self.session is None:
                self.notify("not accepted: the running plan stays", timeout=4)
                return
            self.run_worker(accept(reason), group="plan")

        text = "\n".join(update.lines()[:30])
        self.push_screen(ReasonPrompt(f"{text}\n\nAccept this plan? Type the reason (journaled):",
                                      "why the plan changed"), answered)

    def action_load_driver_plan(self) -> None:
        """Observer: load the plan the driver runs (from the journal) in place of this cockpit's; no restart."""
        if self.session is None:
            self.notify("no journal: there is no driver's plan to load", timeout=4)
            return

        async def load() -> None:
            assert self.session is not None
            try:
                plan = await self.session.load_driver_plan()
            except CockpitError as exc:
                self.notify(str(exc), severity="warning", timeout=8, markup=False)
                return
            self.notify(f"plan {plan.fingerprint} loaded from the journal: this cockpit now shows the driver's plan",
                        timeout=6, markup=False)

        self.run_worker(load(), group="plan")

    def action_take_over(self) -> None:
        if self._refuse_read_only():
            return
        if self.session is None or not self.runbook.observer:
            self.notify("this cockpit already drives", timeout=3)
            return

        def answered(reason: str | None) -> None:
            if reason and self.session is not None:
                try:
                    self.session.take_over(reason)
                except CockpitError as exc:
                    self.notify(str(exc), severity="error", timeout=8, markup=False)
                    return
                self.notify("you drive the runbook now", timeout=5)

        self.push_screen(ReasonPrompt(f"Take over from {self.runbook.driver}? Type the reason (journaled):",
                                      "why the lease is stale"), answered)
