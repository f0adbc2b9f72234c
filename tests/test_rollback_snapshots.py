"""Snapshots of the rollback and verdict states (issue 16), at 80×24 and 160×48, fixed clock, fixed plan.

The plan views are fed as the runbook would publish them, so the pictures never depend on a fleet:
ROLLBACK FAILED naming a host with its exit status and stderr, and a phase whose gate fails naming the
service and host in the plan's detail line. Regenerate with ``--snapshot-update`` and look at every SVG.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import ui_fixtures
from textual.pilot import Pilot

from cockpit.conditions import Verdict
from cockpit.runbook import HostCheck, HostFailure, PhaseView, PlanView, RollbackState, StepView
from screens.messages import PlanChanged

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
T = ui_fixtures.NOW


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    with ui_fixtures.utc():
        yield


def _steps(phase: str, state: str, checks: tuple[HostCheck, ...] = (), detail: str = "") -> tuple[StepView, ...]:
    return (StepView(ref=f"{phase}.stop-v1", title="Stop the v1 agents", state=state, hosts=("web01", "web02"),
                     manual=False, checks=checks, detail=detail),)


def rolled_back_failed() -> PlanView:
    failures = (HostFailure("web02", "exit 3 after 0.4s; stderr: proxy config locked | giving up"),)
    rb = RollbackState(name="quick", title="Quick rollback to v1", operator="alice", started=T - 120, ended=T - 104,
                       ok=False, budget=60.0, reason="v2 p95 doubled", undid=("decommission",), failures=failures)
    return PlanView(phases=(
        PhaseView(id="decommission", title="Decommission v1", state="rolled-back",
                  steps=_steps("decommission", "rolled-back", detail="undone by Quick rollback to v1")),
        PhaseView(id="canary", title="Canary 10%", state="locked", steps=_steps("canary", "pending")),
    ), current="decommission", rollback=rb)


def gate_failing() -> PlanView:
    checks = (HostCheck("web01", True, "down(agent-v1)"), HostCheck("web02", True, "down(agent-v1)"))
    gate = Verdict(False, "up(agent@web02): agent down on web02 (inactive dead); p95(web) < 800ms: 1.2s "
                          "over 240 samples")
    return PlanView(phases=(
        PhaseView(id="decommission", title="Decommission v1", state="failing",
                  steps=_steps("decommission", "done", checks), gate=gate),
        PhaseView(id="canary", title="Canary 10%", state="locked", steps=_steps("canary", "pending")),
    ), current="decommission")


def _run_before(view: Callable[[], PlanView]) -> Callable[[Pilot], object]:  # type: ignore[type-arg]
    async def run(pilot: Pilot) -> None:  # type: ignore[type-arg]
        await ui_fixtures.feed(pilot)
        app = pilot.app
        app.dashboard.has_runbook = True  # type: ignore[attr-defined]
        app.post_message(PlanChanged(view()))
        await pilot.pause()
        if app.size.width < 120:
            await pilot.press("3")  # the Plan tab, cursor on the first phase: its detail shows
        else:
            app.dashboard.query_one("#phases-main").focus()  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    return run


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", [rolled_back_failed, gate_failing], ids=["rollback-failed", "gate-failing"])
def test_rollback_and_reason_states(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int],
                                    state: Callable[[], PlanView]) -> None:
    """The banner's ROLLBACK FAILED (host, exit 3, stderr) and the header; a failing gate's reason in full."""
    app = ui_fixtures.make_app(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=_run_before(state))
