"""Running the plan: steps with per-host verification, phases with gates and hold, rollbacks.

State lives in the journal (when there is one), so a restarted cockpit resumes
where it was. The runbook publishes immutable :class:`PlanView` snapshots.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cockpit.actions import ActionRun
from cockpit.baseline import Regression, RegressionTracker, capture
from cockpit.conditions import Verdict, evaluate_all
from cockpit.errors import CockpitError
from cockpit.evalctx import EngineContext
from cockpit.inventory import select
from cockpit.scheduler import Engine
from cockpit.spec import PhaseSpec, StepSpec

VERIFY_POLL = 1.0  # seconds between verify attempts within `within`
DONE_PHASE = frozenset({"done", "overridden"})
DONE_STEP = frozenset({"done", "skipped"})


class RunbookError(CockpitError):
    """A runbook operation is not allowed now (locked phase, observer, journal unwritable…)."""


@dataclass(frozen=True)
class HostCheck:
    host: str
    ok: bool | None  # None: not judged yet / inconclusive
    detail: str = ""


@dataclass(frozen=True)
class StepView:
    ref: str  # PHASE.STEP
    title: str
    state: str  # pending running verifying done failed partial skipped rolled-back interrupted
    hosts: tuple[str, ...]
    manual: bool
    checks: tuple[HostCheck, ...] = ()
    detail: str = ""
    action_id: int | None = None


@dataclass(frozen=True)
class PhaseView:
    id: str
    title: str
    state: str  # locked open running holding done overridden rolled-back
    steps: tuple[StepView, ...]
    gate: Verdict | None = None
    hold: float = 0.0
    hold_since: float | None = None

    @property
    def hold_left(self) -> float | None:
        if not self.hold or self.hold_since is None:
            return None
        return max(0.0, self.hold - (time.time() - self.hold_since))


@dataclass(frozen=True)
class RollbackRecord:
    title: str
    started: float
    ended: float | None
    ok: bool | None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True)
class PlanView:
    phases: tuple[PhaseView, ...]
    current: str | None  # id of the first phase not done
    regressions: tuple[str, ...] = ()
    rollbacks: tuple[RollbackRecord, ...] = ()
    budget: float = 60.0
    driver: str = ""  # who holds the lease ("" when no journal)
    observer: bool = False
    interrupted: tuple[str, ...] = ()  # actions that were running when a cockpit died
    banner: str = ""  # e.g. the journal is not writable
    baseline_at: float | None = None


@dataclass
class _StepState:
    state: str = "pending"
    checks: dict[str, HostCheck] = field(default_factory=dict)
    detail: str = ""
    action_id: int | None = None


class Runbook:
    """The plan's state machine, driven by the operator (UI or CLI) and by rounds (gates, regressions)."""

    def __init__(self, engine: Engine, journal: object | None = None, operator: str = "") -> None:
        self.engine = engine
        self.spec = engine.config.runbook
        self.journal = journal
        self.operator = operator
        self.listeners: list[Callable[[PlanView], None]] = []
        self.tracker = RegressionTracker(engine.config, engine.history)
        self._steps: dict[str, _StepState] = {f"{p.id}.{s.id}": _StepState() for p in self.spec.phases for s in p.steps}
        self._phase_state: dict[str, str] = {}
        self._gates: dict[str, Verdict] = {}
        self._holds: dict[str, float | None] = {}
        self._rollbacks: list[RollbackRecord] = []
        self._interrupted: list[str] = []
        self.observer = False
        self.driver = ""
        self.banner = ""
        self._gate_task: asyncio.Task[None] | None = None
        engine.round_hooks.append(lambda state, _events: self.tracker.observe(state))
        self._restore()

    # -- persistence ---------------------------------------------------------------------

    def _j(self, method: str, *args: object, **kw: object) -> object:
        """Write to the journal; a failure refuses the operation (actions need their record first)."""
        if self.journal is None:
            return None
        try:
            return getattr(self.journal, method)(*args, **kw)
        except CockpitError as exc:
            self.banner = f"JOURNAL NOT WRITABLE: {exc.message} Actions are refused; monitoring goes on."
            self._publish()
            raise RunbookError(exc.message, "fix the journal file (permissions, disk space) and retry") from None

    def _restore(self) -> None:
        if self.journal is None:
            return
        states = self.journal.states()  # type: ignore[attr-defined]
        for (kind, target), state in states.items():
            if kind == "step" and target in self._steps:
                self._steps[target].state = "interrupted" if state in ("running", "verifying") else state
            elif kind == "phase":
                self._phase_state[target] = state
        for p in self.spec.phases:
            self._holds[p.id] = self.journal.hold(p.id)  # type: ignore[attr-defined]
        base = self.journal.latest_baseline()  # type: ignore[attr-defined]
        if base is not None:
            self.tracker.set_baseline(base[2])
        for rb in self.journal.rollbacks():  # type: ignore[attr-defined]
            self._rollbacks.append(RollbackRecord(rb.get("target") or rb.get("kind", "rollback"),
                                                  rb["started"], rb.get("ended"), rb.get("ok")))

    def note_interrupted(self, records: list[dict[str, object]]) -> None:
        """Actions a dead cockpit left running: shown until the operator has seen them."""
        for rec in records:
            hosts = ", ".join(str(h) for h in rec.get("hosts", []))  # type: ignore[union-attr]
            where = f" ({rec['step']})" if rec.get("step") else ""
            self._interrupted.append(f"{rec.get('title')}{where} on {hosts}: outcome unknown")
        self._publish()

    # -- views ---------------------------------------------------------------------------

    def regressions(self) -> list[Regression]:
        return self.tracker.current()

    def _step_view(self, phase: PhaseSpec, step: StepSpec) -> StepView:
        ref = f"{phase.id}.{step.id}"
        st = self._steps[ref]
        return StepView(ref=ref, title=step.title, state=st.state, hosts=tuple(self.step_hosts(step)),
                        manual=step.run is None, checks=tuple(st.checks.values()), detail=st.detail,
                        action_id=st.action_id)

    def phase_state(self, phase: PhaseSpec) -> str:
        explicit = self._phase_state.get(phase.id)
        if explicit in ("done", "overridden", "rolled-back"):
            return explicit
        idx = self.spec.phases.index(phase)
        if any(self.phase_state(p) not in DONE_PHASE for p in self.spec.phases[:idx]):
            return "locked"
        states = [self._steps[f"{phase.id}.{s.id}"].state for s in phase.steps]
        if all(s in DONE_STEP for s in states):
            return "holding" if phase.gate or phase.hold else "open"
        if any(s in ("running", "verifying") for s in states):
            return "running"
        return "open"

    def view(self) -> PlanView:
        phases = tuple(
            PhaseView(id=p.id, title=p.title, state=self.phase_state(p),
                      steps=tuple(self._step_view(p, s) for s in p.steps), gate=self._gates.get(p.id),
                      hold=p.hold, hold_since=self._holds.get(p.id))
            for p in self.spec.phases
        )
        current = next((p.id for p in phases if p.state not in DONE_PHASE), None)
        banner = self.banner
        j = self.journal
        if j is not None and not getattr(j, "writable", True) and not banner:
            banner = f"JOURNAL NOT WRITABLE: {getattr(j, 'last_error', '')} Actions are refused; monitoring goes on."
        return PlanView(phases=phases, current=current, regressions=tuple(r.line() for r in self.regressions()),
                        rollbacks=tuple(self._rollbacks), budget=self.spec.rollback_budget, driver=self.driver,
                        observer=self.observer, interrupted=tuple(self._interrupted), banner=banner,
                        baseline_at=(self.tracker.baseline or {}).get("at"))

    def _publish(self) -> None:
        v = self.view()
        for listener in self.listeners:
            listener(v)

    def step_hosts(self, step: StepSpec) -> list[str]:
        out: list[str] = []
        for sel in step.on:
            out += [h.name for h in select(self.engine.config.hosts, sel) if h.name not in out]
        return out

    # -- guards --------------------------------------------------------------------------

    def _journal_broken(self) -> str:
        """Why the journal cannot take records now ("" when it can); re-probed after a failure."""
        j = self.journal
        if j is None:
            return "the journal could not be opened" if self.banner.startswith("JOURNAL") else ""
        if getattr(j, "writable", True) or j.probe_writable():  # type: ignore[attr-defined]
            if self.banner.startswith("JOURNAL"):
                self.banner = ""
            return ""
        return str(getattr(j, "last_error", "") or "the journal is not writable")

    def _may_drive(self) -> None:
        if self.observer:
            raise RunbookError(f"this cockpit is an observer: {self.driver or 'another cockpit'} drives the runbook",
                               "run steps from the driving cockpit, or take over a stale lease")
        if why := self._journal_broken():
            self.banner = f"JOURNAL NOT WRITABLE: {why} Actions are refused; monitoring goes on."
            self._publish()
            raise RunbookError(f"actions are refused: {why}", "fix the journal file (permissions, disk space) and retry")

    def _set_step(self, ref: str, state: str, reason: str = "", detail: str = "") -> None:
        self._j("transition", "step", ref, state, reason=reason, detail=detail)
        self._steps[ref].state = state
        self._steps[ref].detail = detail or self._steps[ref].detail
        self._publish()

    # -- steps ---------------------------------------------------------------------------

    async def run_step(self, ref: str) -> StepView:
        """Fire the step's command on its hosts, then verify each host on fresh checks."""
        phase, step = self.spec.step(ref)
        self._may_drive()
        state = self.phase_state(phase)
        if state == "locked":
            raise RunbookError(f"phase {phase.id!r} is locked: an earlier phase is not done",
                               "finish the earlier phase, or override it with a reason")
        st = self._steps[ref]
        if st.state in ("running", "verifying"):
            raise RunbookError(f"step {ref} is already running")
        if step.run is None:
            raise RunbookError(f"step {ref} is manual: tick it when done", "cockpit step tick (or the UI) records it")
        hosts = self.step_hosts(step)
        st.checks = {h: HostCheck(h, None, "waiting") for h in hosts}
        self._set_step(ref, "running")
        try:
            run = await self._fire(step.title, step.run, hosts, "step", step.timeout, phase.id, ref)
        except BaseException:
            self._steps[ref].state = "failed"
            self._publish()
            raise
        st.action_id = run.id
        ended = max((r.ended or time.time()) for r in run.runs) if run.runs else time.time()
        failed_cmd = {r.host: f"{r.state}" + (f" exit {r.exit_status}" if r.exit_status is not None else "")
                      for r in run.runs if r.state != "ok"}
        for h, why in failed_cmd.items():
            st.checks[h] = HostCheck(h, False, f"command {why}")
        ok_hosts = [h for h in hosts if h not in failed_cmd]
        if step.verify and ok_hosts:
            self._set_step(ref, "verifying")
            await self._verify(ref, step, ok_hosts, after=ended)
        else:
            for h in ok_hosts:
                st.checks[h] = HostCheck(h, True, "command ok")
        good = [c for c in st.checks.values() if c.ok]
        final = "done" if len(good) == len(hosts) else "failed" if not good else "partial"
        bad = [c.host for c in st.checks.values() if not c.ok]
        self._set_step(ref, final, detail="" if final == "done" else f"failed on {', '.join(bad)}")
        return self._step_view(phase, step)

    async def _fire(self, title: str, command: str, hosts: list[str], kind: str, timeout: float | None,
                    phase: str | None, step: str | None) -> ActionRun:
        runner = self.engine.actions
        try:
            first = runner.start(title, command, hosts, timeout=timeout, operator=self.operator, kind=kind,
                                 phase=phase, step=step)
        except CockpitError as exc:
            self.banner = f"JOURNAL NOT WRITABLE: {exc.message} Actions are refused; monitoring goes on."
            self._publish()
            raise RunbookError(exc.message, "fix the journal file (permissions, disk space) and retry") from None
        return await runner.wait(first.id)

    async def _verify(self, ref: str, step: StepSpec, hosts: list[str], after: float) -> None:
        """Per host: the verify list on checks made after `after`, retried until `within`."""
        st = self._steps[ref]
        deadline = after + step.within
        pending = list(hosts)
        while pending:
            await asyncio.gather(*(self.engine.round_host(h) for h in pending))
            for h in list(pending):
                ctx = EngineContext(self.engine, only={h}, after=after, default_hosts=[h],
                                    regressions=lambda: [r.line() for r in self.regressions()])
                verdict = await evaluate_all(list(step.verify), ctx)
                st.checks[h] = HostCheck(h, verdict.value, verdict.detail)
                if verdict.value is True:
                    pending.remove(h)
                    self._j("verify_result", ref, h, True, verdict.detail)
            self._publish()
            if not pending or time.time() >= deadline:
                break
            await asyncio.sleep(min(VERIFY_POLL, max(0.0, deadline - time.time())))
        for h in pending:
            c = st.checks[h]
            st.checks[h] = HostCheck(h, False, f"not within {step.within:g}s: {c.detail}")
            self._j("verify_result", ref, h, False, c.detail)

    def skip_step(self, ref: str, reason: str) -> None:
        self.spec.step(ref)
        self._may_drive()
        if not reason.strip():
            raise RunbookError("skipping a step needs a reason", "say why, it goes into the journal and the report")
        self._set_step(ref, "skipped", reason=reason)

    def tick_step(self, ref: str, host: str | None, ok: bool, note: str) -> None:
        """A manual step (or one host of it) done or failed by the operator."""
        phase, step = self.spec.step(ref)
        self._may_drive()
        st = self._steps[ref]
        hosts = self.step_hosts(step) or ["*"]
        target = host or "*"
        st.checks[target] = HostCheck(target, ok, note)
        self._j("verify_result", ref, target, ok, f"ticked: {note}")
        done = [h for h in hosts if st.checks.get(h, HostCheck(h, None)).ok]
        final = "done" if len(done) == len(hosts) else ("failed" if any(c.ok is False for c in st.checks.values())
                                                          else "pending")
        self._set_step(ref, final, reason=note)

    async def rollback_step(self, ref: str) -> bool:
        phase, step = self.spec.step(ref)
        self._may_drive()
        if step.rollback is None:
            raise RunbookError(f"step {ref} has no rollback", "add rollback = \"...\" to the step")
        ok = await self._timed_rollback(f"{ref} rollback", step.rollback, self.step_hosts(step), step.timeout,
                                        phase.id, ref)
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
        run = await self._fire(rb.title, rb.run, hosts, "rollback", rb.timeout, None, None)
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
        self._publish()
        return rec

    def override_phase(self, phase_id: str, reason: str) -> None:
        """Count a phase as done without its gate: journaled with the operator's reason."""
        self.spec.phase(phase_id)
        self._may_drive()
        if not reason.strip():
            raise RunbookError("an override needs a reason", "say why; it goes into the journal and the report")
        self._j("transition", "phase", phase_id, "overridden", reason=reason)
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
            if phase.gate:
                ctx = EngineContext(self.engine, regressions=lambda: [r.line() for r in self.regressions()])
                verdict = await evaluate_all(list(phase.gate), ctx)
            else:
                verdict = Verdict(True, "no gate")
            old = self._gates.get(phase.id)
            self._gates[phase.id] = verdict
            if old is None or old.value != verdict.value:
                try:
                    self._j("gate_result", phase.id, verdict.value, verdict.detail)
                except RunbookError:
                    pass
            now = time.time()
            if verdict.value is True:
                if self._holds.get(phase.id) is None:
                    self._holds[phase.id] = now
                    self._try_j("set_hold", phase.id, now)
                since = self._holds[phase.id] or now
                if steps_done and now - since >= phase.hold and not self.observer:
                    self._try_j("transition", "phase", phase.id, "done")
                    self._phase_state[phase.id] = "done"
                    self._try_j("set_hold", phase.id, None)
                    continue
            elif self._holds.get(phase.id) is not None:
                self._holds[phase.id] = None  # a round broke the gate: hold restarts
                self._try_j("set_hold", phase.id, None)
            break  # only the current phase is gated
        self._publish()

    def _try_j(self, method: str, *args: object) -> None:
        try:
            self._j(method, *args)
        except RunbookError:
            pass

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

    def capture_baseline(self) -> dict[str, object]:
        base = capture(self.engine.snapshot(), self.engine.history, self.spec.window)
        self._j("save_baseline", base, base["at"])
        self.tracker.set_baseline(base)
        self._publish()
        return base

    def set_observer(self, observer: bool, driver: str) -> None:
        self.observer, self.driver = observer, driver
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
        self._publish()

