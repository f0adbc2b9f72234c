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
from cockpit.rolling import batches, ordered
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
    batch: str = ""  # "batch 2/3" while rolling
    waiting: str = ""  # a manual pause or a host coming back: what the step waits for
    progress: float | None = None  # 0..1 while waiting for hosts to come back
    irreversible: bool = False
    rollback_ready: bool | None = None  # None: not evaluated yet
    rollback_detail: str = ""


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
    batch: str = ""
    waiting: str = ""
    progress: float | None = None
    ready: Verdict | None = None
    resume: asyncio.Event | None = None  # set by the operator to continue after a manual pause


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

    def reattaching(self, ref: str | None, host: str, title: str) -> None:
        """A detached job of a step survived the restart: show it running again, not interrupted."""
        self._interrupted.append(f"{title} on {host}: detached job still running, reattached")
        if ref in self._steps:
            st = self._steps[ref]  # type: ignore[index]
            st.state = "running"
            st.checks[host] = HostCheck(host, None, "reattached to the detached job after a restart")
        self._publish()

    def reattached(self, ref: str | None, host: str, state: str, rc: int | None) -> None:
        """The reattached job ended: record the host's outcome and, when every host is decided, the step's."""
        if ref not in self._steps:
            self._publish()
            return
        phase, step = self.spec.step(ref)  # type: ignore[arg-type]
        st = self._steps[ref]  # type: ignore[index]
        st.checks[host] = HostCheck(host, state == "ok",
                                    f"detached job {state}" + (f", exit {rc}" if rc is not None else "") + " (reattached)")
        hosts = self.step_hosts(step)
        if all(st.checks.get(h, HostCheck(h, None)).ok is not None for h in hosts):
            good = [h for h in hosts if st.checks[h].ok]
            final = "done" if len(good) == len(hosts) else "failed" if not good else "partial"
            try:
                self._set_step(ref, final, detail="" if final == "done" else "after reattaching")  # type: ignore[arg-type]
            except RunbookError:
                pass
        self._publish()

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
                        action_id=st.action_id, batch=st.batch, waiting=st.waiting, progress=st.progress,
                        irreversible=step.irreversible,
                        rollback_ready=None if st.ready is None else st.ready.value is True,
                        rollback_detail="" if st.ready is None else st.ready.detail)

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
                                regressions=lambda: [r.line() for r in self.regressions()])
            verdict = await evaluate_all(conds, ctx)
        self._steps[ref].ready = verdict
        self._publish()
        return verdict

    def no_return(self) -> list[str]:
        """Irreversible steps already done: what a rollback cannot undo."""
        return [f"{p.id}.{s.id} ({s.title})" for p in self.spec.phases for s in p.steps
                if s.irreversible and self._steps[f"{p.id}.{s.id}"].state in ("done", "partial")]

    def continue_step(self, ref: str) -> None:
        """The operator continues a rolling step paused with ``pause = "manual"``."""
        ev = self._steps[ref].resume
        if ev is None:
            raise RunbookError(f"step {ref} is not waiting for you")
        ev.set()

    async def run_step(self, ref: str, *, typed_id: str | None = None, accept_not_ready: bool = False) -> StepView:
        """Fire the step on its hosts (rolling in batches when asked), then verify each host on fresh checks.

        An irreversible step needs ``typed_id == ref``; a step whose rollback is not ready needs
        ``accept_not_ready`` (the UI asks for a typed confirmation, the CLI a flag).
        """
        phase, step = self.spec.step(ref)
        self._may_drive()
        if self.phase_state(phase) == "locked":
            raise RunbookError(f"phase {phase.id!r} is locked: an earlier phase is not done",
                               "finish the earlier phase, or override it with a reason")
        st = self._steps[ref]
        if st.state in ("running", "verifying"):
            raise RunbookError(f"step {ref} is already running")
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
        plan = batches(step, hosts)
        st.checks = {h: HostCheck(h, None, "waiting") for h in hosts}
        st.batch = st.waiting = ""
        st.progress = None
        self._set_step(ref, "running")
        failures = 0
        try:
            for i, group in enumerate(plan):
                if i > 0 and step.pause is not None:
                    await self._pause(ref, step, i, len(plan))
                if len(plan) > 1:
                    st.batch = f"batch {i + 1}/{len(plan)}"
                    self._j("transition", "step", ref, "batch", detail=f"{st.batch}: {', '.join(group)}")
                await self._run_group(phase, step, ref, group)
                failures += sum(1 for h in group if not st.checks[h].ok)
                if step.max_failures is not None and failures >= step.max_failures and i + 1 < len(plan):
                    rest = [h for g in plan[i + 1:] for h in g]
                    for h in rest:
                        st.checks[h] = HostCheck(h, None, f"untouched: rolling stopped after {failures} failed host(s)")
                    self._j("transition", "step", ref, "batch", detail=f"stopped after {st.batch}: {failures} failed; "
                            f"untouched: {', '.join(rest)}")
                    break
        except BaseException:
            self._steps[ref].state = "failed"
            self._publish()
            raise
        finally:
            st.waiting = ""
            st.progress = None
        good = [c for c in st.checks.values() if c.ok]
        final = "done" if len(good) == len(hosts) else "failed" if not good else "partial"
        bad = [c.host for c in st.checks.values() if not c.ok]
        self._set_step(ref, final, detail="" if final == "done" else f"not done on {', '.join(bad)}")
        return self._step_view(phase, step)

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
        run = await self._fire(step.title, step.run, hosts, "step", step.timeout, phase.id, ref, sudo=step.sudo,
                               detach=step.detach)
        st.action_id = run.id
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
            self._set_step(ref, "verifying")
            await self._verify(ref, step, ok_hosts, after=ended)
            self._steps[ref].state = "running"
        else:
            for h in ok_hosts:
                st.checks[h] = HostCheck(h, True, "command ok")

    @staticmethod
    def _why(r: object) -> str:
        state = getattr(r, "state", "")
        code = getattr(r, "exit_status", None)
        error = getattr(r, "error", "")
        return f"command {state}" + (f" exit {code}" if code is not None else "") + (f": {error}" if error else "")

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
                                        regressions=lambda: [r.line() for r in self.regressions()])
                    verdict = await evaluate_all(list(step.verify), ctx)
                    if verdict.value is not True:
                        st.checks[h] = HostCheck(h, None, f"back, but {verdict.detail}")
                        continue
                st.checks[h] = HostCheck(h, True, f"back after {time.time() - after:.0f}s")
                self._j("verify_result", ref, h, True, st.checks[h].detail)
                pending.remove(h)
            if not pending or time.time() >= deadline:
                break
            await asyncio.sleep(min(VERIFY_POLL, max(0.0, deadline - time.time())))
        for h in pending:
            st.checks[h] = HostCheck(h, False, f"did not come back within {step.wait_for:g}s ({st.checks[h].detail})")
            self._j("verify_result", ref, h, False, st.checks[h].detail)

    async def _fire(self, title: str, command: str, hosts: list[str], kind: str, timeout: float | None,
                    phase: str | None, step: str | None, *, sudo: bool = False, detach: bool = False) -> ActionRun:
        runner = self.engine.actions
        extra: dict[str, bool] = {}
        if sudo:
            extra["sudo"] = True
        if detach:
            extra["detach"] = True
        try:
            first = runner.start(title, command, hosts, timeout=timeout, operator=self.operator, kind=kind,
                                 phase=phase, step=step, **extra)
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

    async def tick_step(self, ref: str, host: str | None, ok: bool, note: str) -> StepView:
        """A manual step (or one host of it) done or failed by the operator; ``verify`` still applies."""
        phase, step = self.spec.step(ref)
        self._may_drive()
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
            self._j("verify_result", ref, h, ok if not step.verify else None, f"ticked by {self.operator}: {note}")
        if ok and step.verify:
            checkable = [h for h in targets if h != "*"]
            if checkable:
                self._set_step(ref, "verifying", reason=note)
                await self._verify(ref, step, checkable, after=now)
            else:  # a step done once (no hosts): its verify runs over the whole fleet
                ctx = EngineContext(self.engine, after=None, regressions=lambda: [r.line() for r in self.regressions()])
                verdict = await evaluate_all(list(step.verify), ctx)
                st.checks["*"] = HostCheck("*", verdict.value is True, f"{note}; {verdict.detail}")
        done = [h for h in hosts if st.checks.get(h, HostCheck(h, None)).ok]
        failed = any(c.ok is False for c in st.checks.values())
        final = "done" if len(done) == len(hosts) else "failed" if failed and not done else (
            "partial" if failed else "pending")
        self._set_step(ref, final, reason=note,
                       detail="" if final in ("done", "pending") else
                       f"not done on {', '.join(h for h in hosts if not st.checks.get(h, HostCheck(h, None)).ok)}")
        return self._step_view(phase, step)

    async def _timed_rollback(self, title: str, command: str, hosts: list[str], timeout: float | None,
                              phase: str | None, ref: str | None, *, sudo: bool = False) -> bool:
        """Run one rollback command, journaled and timed against the budget."""
        started = time.time()
        rid = self._j("rollback_started", "step", ref or title, started)
        run = await self._fire(title, command, hosts, "rollback", timeout, phase, ref, sudo=sudo)
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
                                        phase.id, ref, sudo=step.sudo)
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

