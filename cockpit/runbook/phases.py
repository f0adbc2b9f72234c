"""Running the plan: steps with per-host verification, phases with gates and hold, rollbacks.

State lives in the journal (when there is one), so a restarted cockpit resumes
where it was. The runbook publishes immutable :class:`PlanView` snapshots.

:class:`Runbook` is put together from :mod:`cockpit.runbook.state` (state,
journal, views, guards), :mod:`cockpit.runbook.steps` (running steps) and
:mod:`cockpit.runbook.rollback` (rollbacks); phases, gates and the baseline are
here. The views live in :mod:`cockpit.runbook.views`; import all of it from the face, :mod:`cockpit.runbook`.
"""

from __future__ import annotations

import asyncio

from cockpit.baseline import capture
from cockpit.conditions import Verdict, evaluate_all
from cockpit.errors import RunbookError
from cockpit.sanitize import strip_control
from cockpit.runbook.analysis import AnalysisRun, series_rows
from cockpit.runbook.context import EngineContext
from cockpit.runbook.lifecycle import LifecycleMixin
from cockpit.runbook.rollback import RollbackMixin
from cockpit.runbook.steps import StepsMixin
from cockpit.runbook.views import DONE_PHASE, DONE_STEP
from cockpit.spec import PhaseSpec

__all__ = ["Runbook"]


class Runbook(StepsMixin, RollbackMixin, LifecycleMixin):
    """The plan's state machine, driven by the operator (UI or CLI) and by rounds (gates, regressions)."""

    # -- phases ----------------------------------------------------------------------------

    async def override_phase(self, phase_id: str, reason: str) -> None:
        """Count a phase as done without its gate: journaled with the operator's reason."""
        self.spec.phase(phase_id)
        self._may_drive()
        if not reason.strip():
            raise RunbookError("an override needs a reason", "say why; it goes into the journal and the report")
        await self._aj("transition", "phase", phase_id, "overridden", reason=reason)
        self._phase_state[phase_id] = "overridden"
        self._publish()

    # -- gates -----------------------------------------------------------------------------

    async def evaluate_gates(self) -> None:
        """Evaluate the current phase's gate; track hold; mark the phase done when it has held."""
        for phase in self.spec.phases:
            state = self.phase_state(phase)
            if state in DONE_PHASE or state == "rolled-back":
                continue
            if state == "locked":
                break
            steps_done = all(self._steps[f"{phase.id}.{s.id}"].state in DONE_STEP for s in phase.steps)
            if phase.analysis is not None:
                if await self._analyse(phase, steps_done):
                    continue
                break
            if phase.gate:
                ctx = EngineContext(self.engine, regressions=lambda: [r.line() for r in self.regressions()],
                                undecided=self.tracker.undecided)
                verdict = await evaluate_all(list(phase.gate), ctx)
            else:
                verdict = Verdict(True, "no gate")
            old = self._gates.get(phase.id)
            self._gates[phase.id] = verdict
            if old is None or old.value != verdict.value:
                await self._try_aj("gate_result", phase.id, verdict.value, verdict.detail)
            now = self.clock()
            if verdict.value is True:
                if self._holds.get(phase.id) is None:
                    self._holds[phase.id] = now
                    await self._try_aj("set_hold", phase.id, now)
                since = self._holds[phase.id] or now
                if steps_done and now - since >= phase.hold and not self.observer:
                    await self._try_aj("transition", "phase", phase.id, "done")
                    self._phase_state[phase.id] = "done"
                    await self._try_aj("set_hold", phase.id, None)
                    continue
            elif self._holds.get(phase.id) is not None:
                self._holds[phase.id] = None  # a round broke the gate: hold restarts
                await self._try_aj("set_hold", phase.id, None)
            break  # only the current phase is gated
        self._publish()

    async def judge_gate_conditions(self) -> tuple[str, list[tuple[str, Verdict]]] | None:
        """The current phase's gate, condition by condition, judged now (``cockpit check --gates``).

        Read-only: nothing is journaled and no phase moves. None when no phase is current or it has no gate.
        """
        current = self.view().current
        phase = next((p for p in self.spec.phases if p.id == current), None)
        if phase is None or not phase.gate:
            return None
        ctx = EngineContext(self.engine, regressions=lambda: [r.line() for r in self.regressions()],
                            undecided=self.tracker.undecided, phase=phase.id)
        verdicts = await asyncio.gather(*(evaluate_all([c], ctx) for c in phase.gate))
        return phase.id, list(zip(phase.gate, verdicts))

    async def _analyse(self, phase: PhaseSpec, steps_done: bool) -> bool:
        """Take the measurements due by now (each at its own time); True when the run passed the phase."""
        assert phase.analysis is not None
        now = self.clock()
        run = self._analysis.get(phase.id)
        if run is None:
            if not steps_done:
                await self._set_gate(phase.id, Verdict(None, "analysis starts when the phase's steps are done"))
                return False
            if self.observer:
                return False  # the driver starts it (reload_states shows it)
            run = self._analysis[phase.id] = AnalysisRun(phase.analysis, now)
            await self._try_aj("analysis_started", phase.id, now)
        while not self.observer and (at := run.due(now)) is not None:
            ctx = EngineContext(self.engine, regressions=lambda: [r.line() for r in self.regressions()],
                                undecided=self.tracker.undecided, phase=phase.id, at=at)
            m = run.record(at, await evaluate_all(list(phase.gate), ctx))
            await self._try_aj("measurement", phase.id, run.started, m.index, m.value, m.detail, series_rows(m), at=at)
        await self._set_gate(phase.id, run.verdict(now))
        if run.state == "passed" and steps_done and not self.observer:
            await self._try_aj("transition", "phase", phase.id, "done", detail=self._gates[phase.id].detail)
            self._phase_state[phase.id] = "done"
            return True
        return False

    async def _set_gate(self, phase_id: str, verdict: Verdict) -> None:
        """Keep the verdict; journal it when its value changed (the caller records only changes)."""
        old = self._gates.get(phase_id)
        self._gates[phase_id] = verdict
        if old is None or old.value != verdict.value:
            await self._try_aj("gate_result", phase_id, verdict.value, verdict.detail)

    async def retry_analysis(self, phase_id: str, reason: str) -> None:
        """Start the phase's analysis over (after an inconclusive or failed run): the operator's decision,
        journaled with the reason before the old run is dropped."""
        phase = self.spec.phase(phase_id)
        self._may_drive()
        if phase.analysis is None:
            raise RunbookError(f"phase {phase_id!r} has no analysis to retry")
        if not reason.strip():
            raise RunbookError("a retry needs a reason", "say why; it goes into the journal and the report")
        detail = f"analysis retried by the operator ({strip_control(reason)}): a new run starts"
        await self._aj("gate_result", phase_id, None, detail)
        self._analysis.pop(phase_id, None)
        self._gates[phase_id] = Verdict(None, detail)
        self._publish()

    async def gate_loop(self, interval: float) -> None:
        while True:
            try:
                await self.evaluate_gates()
            except Exception as exc:  # a gate bug must not stop monitoring
                self.banner = f"gate evaluation failed: {exc!r}"
                self._publish()
            await asyncio.sleep(interval)

    def start(self) -> None:
        if self._gate_task is None and self.spec.phases:
            self._gate_task = asyncio.create_task(self.gate_loop(max(1.0, self.engine.config.cockpit.interval)))

    async def stop(self) -> None:
        if self._gate_task is not None:
            self._gate_task.cancel()
            await asyncio.gather(self._gate_task, return_exceptions=True)
            self._gate_task = None

    # -- baseline --------------------------------------------------------------------------

    async def capture_baseline(self) -> dict[str, object]:
        self._may_write("save_baseline")  # a read-only cockpit refuses before any log check is marked
        logs = await self.engine.mark_logs_baseline()  # log checks' cursors: a later cockpit counts from them too
        base: dict[str, object] = capture(self.engine.snapshot(), self.engine.history, self.spec.window)
        base["logs"] = logs
        await self._aj("save_baseline", base, base["at"])
        self.tracker.set_baseline(base)
        self._publish()
        return base

    def set_observer(self, observer: bool, driver: str) -> None:
        self.observer, self.driver = observer, driver
        if self.journal is not None and (self._rb_state is None or not self._rb_state.running):
            self._rb_state = self._restore_rollback()  # an observer sees the driver's rollback as running
        self._publish()

    def reload_states(self) -> None:
        """Observer: pick up what the driver wrote to the journal."""
        if self.journal is None:
            return
        for (kind, target), state in self.journal.states().items():  # type: ignore[attr-defined]
            if kind == "step" and target in self._steps:
                self._steps[target].state = state
            elif kind == "phase":
                self._phase_state[target] = state
        for p in self.spec.phases:
            self._holds[p.id] = self.journal.hold(p.id)  # type: ignore[attr-defined]
        self._restore_analysis()
        self._restore_hosts()
        self._see_drift()  # the driver's runs: under which definition, and of steps this plan no longer has
        self._rb_state = self._restore_rollback()
        self.engine.rejudge()
        self._publish()
