"""The one rule for what rings the bell and pages (cockpit.runbook.alarms): events from two plan views.

Pure: views are built here as the runbook publishes them; each alarm fires once per change, never for
a state that merely persists, and never for the first view a cockpit sees.
"""

from __future__ import annotations

import dataclasses
import time

from cockpit.conditions import Verdict
from cockpit.runbook import (
    HostFailure,
    PhaseView,
    PlanView,
    RollbackState,
    StepView,
    alarms_between,
    events_between,
)


def _view(step: str = "pending", phase: str = "open", gate: Verdict | None = None, **kw: object) -> PlanView:
    st = StepView("cut.stop", "Stop v1", step, ("h1",), manual=False)
    return PlanView(phases=(PhaseView("cut", "Cut over", phase, (st,), gate=gate),), current="cut", **kw)  # type: ignore[arg-type]


def _rb(ok: bool | None, took: float, budget: float = 60.0) -> RollbackState:
    start = time.time() - took
    return RollbackState("quick", "Back to v1", "alice", start, None if ok is None else start + took, ok, budget,
                         failures=(HostFailure("h2", "exit 3 after 0.2s; stderr: no unit"),) if ok is False else ())


def test_the_first_view_is_a_starting_point() -> None:
    assert events_between(None, _view(gate=Verdict(False, "down on h2"), regressions=("h1 api: slow",))) == []


def test_a_regression_rings_once() -> None:
    old = _view()
    new = _view(regressions=("h1 api: up in the baseline, down for 2 rounds",))
    [e] = alarms_between(old, new)
    assert e.kind == "regression" and e.summary == "REGRESSION h1 api: up in the baseline, down for 2 rounds"
    assert alarms_between(new, new) == []


def test_a_gate_turning_to_fails_rings_once_and_inconclusive_does_not() -> None:
    holds, unsure, fails = (_view(gate=Verdict(v, d)) for v, d in
                            ((True, "up on all"), (None, "2 of 20 samples"), (False, "down on h2")))
    assert alarms_between(holds, unsure) == []
    [e] = alarms_between(unsure, fails)
    assert e.kind == "gate-failed" and e.ref == "cut" and "down on h2" in e.summary
    assert alarms_between(fails, dataclasses.replace(fails)) == []  # still failing: not news
    assert [a.kind for a in alarms_between(_view(), fails)] == ["gate-failed"]  # never judged before


def _ended(running: PlanView, ok: bool, took: float) -> PlanView:
    """The same rollback as ``running``, ended after ``took`` seconds."""
    rb = running.rollback
    assert rb is not None
    fails = _rb(False, took).failures if not ok else ()
    return _view(rollback=dataclasses.replace(rb, ended=rb.started + took, ok=ok, failures=fails))


def test_a_failed_rollback_and_an_over_budget_one() -> None:
    running = _view(rollback=_rb(None, 5))
    failed = _ended(running, False, 5)
    kinds = [e.kind for e in alarms_between(running, failed)]
    assert kinds == ["rollback-failed"]
    assert "h2: exit 3" in alarms_between(running, failed)[0].detail
    slow = _ended(running, True, 90)
    [e] = alarms_between(running, slow)
    assert e.kind == "rollback-timeout" and "of a 60 s budget" in e.summary
    assert alarms_between(slow, slow) == []
    fine = _ended(running, True, 5)
    assert alarms_between(running, fine) == []


def test_a_lost_lease_rings() -> None:
    [e] = alarms_between(_view(), _view(lease_lost="taken over by bob on vm2"))
    assert e.kind == "lease-lost" and "bob" in e.summary


def test_the_cutover_moments_for_silences_and_annotations() -> None:
    kinds = [e.kind for e in events_between(_view(), _view(step="running", phase="running"))]
    assert kinds == ["step-started", "phase-started"]
    kinds = [e.kind for e in events_between(_view(step="verifying", phase="running"), _view(step="done", phase="done"))]
    assert kinds == ["step-ended", "phase-ended"]
    assert [e.kind for e in events_between(_view(step="running"), _view(step="rolled-back"))] == ["step-rolled-back"]
    assert [e.state for e in events_between(_view(step="running"), _view(step="failed"))] == ["failed"]
