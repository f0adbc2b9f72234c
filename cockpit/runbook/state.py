"""The runbook's state: restored from and written to the journal, published as views, guarded.

:class:`RunbookState` is the base of :class:`cockpit.runbook.Runbook`; the mixins
that run steps (:mod:`cockpit.runbook.steps`) and rollbacks
(:mod:`cockpit.runbook.rollback`) build on it, so they share one state and one
journal (when there is one: a restarted cockpit resumes where it was).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from cockpit.baseline import Regression, RegressionTracker
from cockpit.conditions import SeriesValue, Verdict
from cockpit.engine import ActionRun, Engine
from cockpit.errors import CockpitError, LeaseLost, PlaceholderError, RunbookError
from cockpit.inventory import select
from cockpit.runbook.analysis import AnalysisRun, MeasurementView
from cockpit.runbook.drift import changed_since_run, removed_after_running
from cockpit.runbook.views import (
    DONE_PHASE,
    DONE_STEP,
    HostCheck,
    PhaseView,
    PlanView,
    RemovedStep,
    HostFailure,
    RollbackRecord,
    RollbackState,
    StepView,
    _StepState,
)
from cockpit.spec import PhaseSpec, RunbookSpec, StepSpec


class RunbookState:
    """The plan's state, its journal records and its views; the operations are in the subclasses."""

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
        self.clock: Callable[[], float] = time.time  # gates and analysis runs read time here (tests inject one)
        self._analysis: dict[str, AnalysisRun] = {}  # phase -> its gate's analysis run, once started
        self._rollbacks: list[RollbackRecord] = []
        self._rb_state: RollbackState | None = None  # rolling back / rolled back / ROLLBACK FAILED (all views)
        self._step_tasks: dict[str, asyncio.Task[object]] = {}  # running steps: what a rollback pre-empts
        self._preempting = False  # a rollback is cancelling the running steps
        self._interrupted: list[str] = []
        self.observer = False
        self.driver = ""
        self.banner = ""
        self.lease_lost = ""  # set by the session when it is demoted: an alarm (cockpit.runbook.alarms)
        self.plan_notice: tuple[str, ...] = ()
        self._removed: tuple[RemovedStep, ...] = ()
        self._changed: dict[str, str] = {}  # steps whose last run had another definition (drift.changed_since_run)
        self._gate_task: asyncio.Task[None] | None = None
        #: step -> hosts it was ever done on, for irreversible steps (a retirement never re-expected)
        self._irreversible_done: dict[str, set[str]] = {}
        self._hosts_of: dict[int, tuple[StepSpec, tuple[str, ...]]] = {}
        engine.round_hooks.append(lambda state, _events: self.tracker.observe(state))
        self._restore()
        engine.expect = getattr(self, "expectation", None)  # lifecycle services follow this runbook

    # -- persistence ---------------------------------------------------------------------

    async def _aj(self, method: str, *args: object, **kw: object) -> object:
        """Write to the journal; a failure refuses the operation (actions need their record first).

        The write runs in a thread: a PostgreSQL journal may wait up to its statement_timeout, and the event
        loop (the screen, the pollers) never waits with it. The caller still awaits it before going on.
        """
        if not self._may_write(method):
            return None
        try:
            return await asyncio.to_thread(getattr(self.journal, method), *args, **kw)
        except CockpitError as exc:
            raise self._refused(exc) from None

    async def _try_aj(self, method: str, *args: object, **kw: object) -> None:
        """A write whose failure the banner already reports (a gate's hold, a measurement): never raised."""
        try:
            await self._aj(method, *args, **kw)
        except RunbookError:
            pass

    def _may_write(self, method: str) -> bool:
        if self.journal is None:
            return False
        if getattr(self.journal, "readonly", False):  # --read-only: never even tried (SQLite would refuse it,
            # and its refusal once showed as JOURNAL NOT WRITABLE on a healthy journal)
            raise RunbookError(f"this cockpit is read-only: it records nothing ({method})",
                               "run it from a cockpit started without --read-only")
        return True

    def _refused(self, exc: CockpitError) -> RunbookError:
        if isinstance(exc, LeaseLost):  # the session has demoted itself already (banner, observer)
            return RunbookError(exc.message, exc.hint)
        self.banner = f"JOURNAL NOT WRITABLE: {exc.message} Actions are refused; monitoring goes on."
        self._publish()
        return RunbookError(exc.message, "fix the journal file (permissions, disk space) and retry")

    def _restore(self) -> None:
        if self.journal is None:
            return
        states = self.journal.states()  # type: ignore[attr-defined]
        for (kind, target), state in states.items():
            if kind == "step" and target in self._steps:
                self._steps[target].state = "interrupted" if state in ("running", "verifying") else state
            elif kind == "phase":
                self._phase_state[target] = state
        for t in self.journal.transitions():  # type: ignore[attr-defined]
            if t["kind"] == "step" and t["target"] in self._steps:  # why it is not done ("not done on h2: exit 4 …")
                self._steps[t["target"]].detail = t["detail"] or ""
        for p in self.spec.phases:
            self._holds[p.id] = self.journal.hold(p.id)  # type: ignore[attr-defined]
            last = self.journal.gate_results(p.id)[-1:]  # type: ignore[attr-defined]
            # said with when it was judged: `cockpit plan` shows why without judging anew
            if last and p.gate and self._phase_state.get(p.id) != "rolled-back":
                when = time.strftime("%H:%M:%S", time.localtime(last[0]["at"]))
                self._gates[p.id] = Verdict(last[0]["ok"], f"{last[0]['detail']} (judged at {when})")
        self._restore_analysis()
        self._restore_hosts()
        base = self.journal.latest_baseline()  # type: ignore[attr-defined]
        if base is not None:
            self.tracker.set_baseline(base[2])
            # since = "baseline" log checks go on from its cursors (a baseline older than them has none: said so)
            self.engine.restore_log_baseline(base[2].get("logs") or {"at": base[1], "cursors": {}})
        for rb in self.journal.rollbacks():  # type: ignore[attr-defined]
            self._rollbacks.append(RollbackRecord(rb.get("target") or rb.get("kind", "rollback"),
                                                  rb["started"], rb.get("ended"), rb.get("ok")))
        self._see_drift()
        self._rb_state = self._restore_rollback()

    def _restore_rollback(self) -> RollbackState | None:
        """The last rollback, while any phase it undid is still rolled back (or it failed, or it was closed)."""
        j = self.journal
        rows = j.rollbacks() if j is not None else []  # type: ignore[attr-defined]
        if not rows:
            return None
        rb = rows[-1]
        states = j.states()  # type: ignore[union-attr]
        undid = tuple(t for (k, t), st in states.items() if k == "phase" and st == "rolled-back")
        reopened = any(t["state"] == "reopened" and t["at"] >= rb["started"]
                       for t in j.transitions() if t["kind"] == "phase")  # type: ignore[union-attr]
        if not undid and (rb.get("ok") is True or reopened):
            return None  # every phase it undid was reopened (after a failure too): the cutover went on
        kind, target = rb["kind"], rb["target"]
        named = self.spec.named_rollback(kind) if kind not in ("step", "phase") else None
        if kind == "quick" and named is None:
            named = self.spec.rollback  # an older journal: "quick" was the one [rollback]
        name = f"{kind} {target}" if kind in ("step", "phase") else kind
        title = named.title if named else (f"rollback of {target}" if kind in ("step", "phase") else target)
        budget = named.budget if named else self.spec.rollback_budget
        failures = tuple(HostFailure(*line.split(": ", 1)) for line in (rb.get("detail") or "").splitlines()
                         if ": " in line)
        reasons = [t for t in j.transitions(f"rollback#{rb['id']}") if t["kind"] == "runbook"]  # type: ignore[union-attr]
        closed = [t for t in j.transitions("cutover") if t["kind"] == "runbook"]  # type: ignore[union-attr]
        ok = rb.get("ok")
        ended = rb.get("ended")
        if ok is None and ended is None and not self.observer:
            ok, ended = False, rb["started"]  # a cockpit died while it ran: outcome unknown, which is not rolled back
            failures = failures or (HostFailure("*", "the cockpit stopped while it ran: outcome unknown"),)
        return RollbackState(name=name, title=title, operator=rb.get("operator") or "", started=rb["started"],
                             ended=ended, ok=ok, budget=budget,
                             reason=reasons[-1]["reason"] if reasons else "", undid=undid, failures=failures,
                             closed=f"closed as rolled back: {closed[-1]['reason']}"
                             if closed and closed[-1]["at"] >= rb["started"] else "",
                             journal_id=int(rb["id"]))

    def _restore_hosts(self) -> None:
        """Each host's outcome of each step's last run (what lifecycle services follow), read from the journal.

        Also how an observer follows the driver: a step running there puts its hosts without an outcome yet
        "in transition" (the driver's batches are not journaled host by host; neutral is the honest answer).
        """
        lifecycle = {s.lifecycle for s in self.engine.config.services if s.lifecycle}
        for p in self.spec.phases:
            for s in p.steps:
                ref = f"{p.id}.{s.id}"
                if ref not in lifecycle and p.id not in lifecycle:
                    continue
                moves = self.journal.transitions(ref)  # type: ignore[union-attr]
                runs = [t["at"] for t in moves if t["state"] == "running"]
                since = runs[-1] if runs else 0.0
                st = self._steps[ref]
                st.at = moves[-1]["at"] if moves else 0.0
                st.checks = {}
                for v in self.journal.verify_results(ref):  # type: ignore[union-attr]
                    if v["ok"] and s.irreversible:
                        self._irreversible_done.setdefault(ref, set()).add(v["host"])
                    if v["at"] >= since:
                        st.checks[v["host"]] = HostCheck(v["host"], v["ok"], v.get("detail") or "")
                running = st.state in ("running", "verifying")
                st.active = {h for h in self.step_hosts(s) if h not in st.checks} if running else set()

    def reattaching(self, ref: str | None, host: str, title: str) -> None:
        """A detached job of a step survived the restart: show it running again, not interrupted."""
        self._interrupted.append(f"{title} on {host}: detached job still running, reattached")
        if ref in self._steps:
            st = self._steps[ref]  # type: ignore[index]
            st.state = "running"
            st.checks[host] = HostCheck(host, None, "reattached to the detached job after a restart")
        self._publish()

    async def reattached(self, ref: str | None, host: str, state: str, rc: int | None) -> None:
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
                await self._set_step(ref, final, detail="" if final == "done" else "after reattaching")  # type: ignore[arg-type]
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
                        rollback_detail="" if st.ready is None else st.ready.detail,
                        changed=self._changed.get(ref, ""))

    def _restore_analysis(self) -> None:
        """Each phase's latest analysis run from its journaled measurements (an observer's too)."""
        if self.journal is None:
            return
        for p in self.spec.phases:
            if p.analysis is None:
                continue
            starts = self.journal.analysis_starts(p.id)  # type: ignore[attr-defined]
            rows = self.journal.measurements(p.id)  # type: ignore[attr-defined]
            if not starts and not rows:
                continue
            run = max([s["run"] for s in starts] + [r["run"] for r in rows])
            ms = tuple(MeasurementView(r["index"], r["at"], r["ok"], r["detail"], tuple(
                SeriesValue(s.get("series", ""), s.get("value"), s.get("ok"), s.get("why", "")) for s in r["series"]))
                for r in rows if r["run"] == run)
            self._analysis[p.id] = AnalysisRun(p.analysis, run, ms)

    def phase_state(self, phase: PhaseSpec) -> str:
        explicit = self._phase_state.get(phase.id)
        if explicit in ("done", "overridden", "rolled-back"):
            return explicit
        idx = self.spec.phases.index(phase)
        if any(self.phase_state(p) not in DONE_PHASE for p in self.spec.phases[:idx]):
            return "locked"
        states = [self._steps[f"{phase.id}.{s.id}"].state for s in phase.steps]
        if all(s in DONE_STEP for s in states):
            gate = self._gates.get(phase.id)
            if gate is not None and gate.value is False:
                return "failing"  # never "holding" while its gate fails
            return "holding" if phase.gate or phase.hold else "open"
        if any(s in ("running", "verifying") for s in states):
            return "running"
        return "open"

    def view(self) -> PlanView:
        phases = tuple(
            PhaseView(id=p.id, title=p.title, state=self.phase_state(p),
                      steps=tuple(self._step_view(p, s) for s in p.steps), gate=self._gates.get(p.id),
                      hold=p.hold, hold_since=self._holds.get(p.id),
                      analysis=self._analysis[p.id].view() if p.id in self._analysis else None)
            for p in self.spec.phases
        )
        current = next((p.id for p in phases if p.state not in DONE_PHASE), None)
        banner = self.banner
        j = self.journal
        if j is not None and not getattr(j, "writable", True) and not getattr(j, "readonly", False) and not banner:
            banner = f"JOURNAL NOT WRITABLE: {getattr(j, 'last_error', '')} Actions are refused; monitoring goes on."
        return PlanView(phases=phases, current=current, regressions=tuple(r.line() for r in self.regressions()),
                        rollbacks=tuple(self._rollbacks), budget=self.spec.rollback_budget, driver=self.driver,
                        observer=self.observer, interrupted=tuple(self._interrupted), banner=banner,
                        plan_notice=self.plan_notice, removed=tuple(r.line() for r in self._removed),
                        removed_steps=self._removed,
                        baseline_at=(self.tracker.baseline or {}).get("at"), rollback=self._rb_state,
                        lease_lost=self.lease_lost)

    def _publish(self) -> None:
        v = self.view()
        for listener in self.listeners:
            listener(v)

    # -- plan changes (issue 17) ----------------------------------------------------------

    def set_plan_notice(self, lines: tuple[str, ...]) -> None:
        if lines != self.plan_notice:
            self.plan_notice = lines
            self._publish()

    def step_state(self, ref: str) -> str:
        """The step's state; "paused" for a rolling step waiting for the operator between batches."""
        st = self._steps.get(ref)
        if st is None:
            return ""
        return "paused" if st.resume is not None else st.state

    def apply_spec(self, spec: RunbookSpec) -> None:
        """A plan change the driver accepted: new steps start pending, the others keep their state; steps that
        ran and are gone are listed as removed after running."""
        self.spec = spec
        for p in spec.phases:
            for s in p.steps:
                self._steps.setdefault(f"{p.id}.{s.id}", _StepState())
        self._see_drift()
        self._publish()

    def _see_drift(self) -> None:
        """Steps changed since their last run, and steps that ran but are gone from the plan in use now."""
        self._removed = tuple(removed_after_running(self.journal, set(self._refs())))
        self._changed = {ref: why for ref in self._refs() if (why := changed_since_run(self.journal, ref))}

    def _refs(self) -> list[str]:
        return [f"{p.id}.{s.id}" for p in self.spec.phases for s in p.steps]

    def step_hosts(self, step: StepSpec) -> list[str]:
        """The step's hosts in selector order (cached: lifecycle judgments ask per host and service)."""
        cached = self._hosts_of.get(id(step))
        if cached is not None and cached[0] is step:
            return list(cached[1])
        out: list[str] = []
        for sel in step.on:
            out += [h.name for h in select(self.engine.config.hosts, sel) if h.name not in out]
        self._hosts_of[id(step)] = (step, tuple(out))
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

    def _refuse_while_rolling_back(self) -> None:
        rb = self._rb_state
        if rb is not None and rb.running:
            raise RunbookError(f"{rb.title} is running: steps and other rollbacks are refused until it ends",
                               "wait for it to end (the header shows it)")

    def _may_drive(self) -> None:
        if self.observer:
            raise RunbookError(f"this cockpit is an observer: {self.driver or 'another cockpit'} drives the runbook",
                               "run steps from the driving cockpit, or take over a stale lease")
        if why := self._journal_broken():
            self.banner = f"JOURNAL NOT WRITABLE: {why} Actions are refused; monitoring goes on."
            self._publish()
            raise RunbookError(f"actions are refused: {why}", "fix the journal file (permissions, disk space) and retry")

    async def _set_step(self, ref: str, state: str, reason: str = "", detail: str = "") -> None:
        await self._aj("transition", "step", ref, state, reason=reason, detail=detail)
        self._steps[ref].state = state
        self._steps[ref].at = time.time()
        step = self.spec.step(ref)[1]
        if step.irreversible:  # a point of no return: never re-expected on these hosts
            done = {h for h, c in self._steps[ref].checks.items() if c.ok}
            self._irreversible_done.setdefault(ref, set()).update(done)
        self.engine.rejudge(self.step_hosts(step))
        self._steps[ref].detail = detail or self._steps[ref].detail
        self._publish()

    async def _fire(self, title: str, command: str, hosts: list[str], kind: str, timeout: float | None,
                    phase: str | None, step: str | None, *, sudo: bool = False, detach: bool = False,
                    env: tuple[tuple[str, str], ...] = (), group: int = 0, batch: str = "") -> ActionRun:
        """Fire an action and wait for it; a journal that refuses its record refuses the operation.

        ``group`` and ``batch``: a rolling step's later batches name its first (the output pane shows them together).
        """
        runner = self.engine.actions
        extra: dict[str, object] = {}
        if group:
            extra["group"] = group
        if batch:
            extra["batch"] = batch
        if sudo:
            extra["sudo"] = True
        if detach:
            extra["detach"] = True
        if env:
            extra["env"] = dict(env)
        try:
            first = await runner.start(title, command, hosts, timeout=timeout, operator=self.operator, kind=kind,
                                 phase=phase, step=step, **extra)
        except (LeaseLost, PlaceholderError) as exc:  # the session demoted itself / the config needs fixing
            raise RunbookError(exc.message, exc.hint) from None
        except CockpitError as exc:
            if self.observer:  # demoted meanwhile: the journal is fine, the lease is gone
                raise RunbookError(exc.message, exc.hint) from None
            raise self._refused(exc) from None
        return await runner.wait(first.id)
