"""Rollback state and verdict reasons in the real cockpit (Textual pilot, loopback fleet, 80×24 and 160×48).

Before issue 16: after R the header said "plan complete" and every phase stayed done; a failed rollback's
notice vanished with no host or exit status; a failing gate's reason was cut to ~13 characters.
"""

from __future__ import annotations

import asyncio

import pytest
from test_lifecycle import cockpit
from test_rollback_state import _cfg
from test_ui_pilot import until

from cockpit.config import load_config
from cockpit.session import Session
from screens.app import CockpitApp
from screens.widgets.plan_detail import PlanDetail


def _header(app: CockpitApp) -> str:
    return app.dashboard.query_one("#header").render().plain


def _banner(app: CockpitApp) -> str:
    return str(app.dashboard.query_one("#banner").render())


def _detail(app: CockpitApp, wide: bool) -> PlanDetail:
    return app.dashboard.query_one("#plan-detail-main" if wide else "#plan-detail-tab", PlanDetail)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_r_during_a_running_step_cancels_it_then_the_cockpit_says_rolled_back(fleet, httpd, tmp_path,
                                                                                    size) -> None:  # type: ignore[no-untyped-def]
    path = _cfg(tmp_path, fleet, httpd)
    path.write_text(path.read_text().replace('run = "echo backing up; echo rows=42"', 'run = "sleep 30"'))
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(h.reachable for h in app.snapshot.hosts))
        assert (await app.runbook.run_step("decommission.stop-v1")).state == "done"
        step = asyncio.create_task(app.runbook.run_step("decommission.backup"))
        await until(pilot, lambda: bool(session.engine.actions.running()))
        await pilot.press("R")
        await pilot.press("y")  # confirmed: it fires now; the reason is asked after
        await until(pilot, lambda: app.runbook.view().rollback is not None)
        await pilot.press(*"v2 too slow", "enter")
        await until(pilot, lambda: (rb := app.runbook.view().rollback) is not None and rb.ok is True, timeout=30)
        await asyncio.gather(step, return_exceptions=True)
        await until(pilot, lambda: "ROLLED BACK" in _header(app))
        assert "plan complete" not in _header(app)
        await until(pilot, lambda: "(v2 too slow)" in _banner(app))
        assert "ROLLED BACK: at" in _banner(app) and "by alice" in _banner(app) and "of 1 m budget" in _banner(app)
        assert "R: quick rollback" not in _banner(app)
        view = app.runbook.view()
        assert [p.state for p in view.phases] == ["rolled-back", "locked"]
        # the old service is expected up again, and checked so
        await until(pilot, lambda: {r.expect for h in app.snapshot.hosts for r in h.results
                                    if r.service == "agent-v1"} == {"up"})
        wide = size[0] >= 120
        if not wide:
            await pilot.press("3")
        app.dashboard.query_one("#phases-main" if wide else "#phases-tab").focus()
        await pilot.pause()
        detail = _detail(app, wide)
        await until(pilot, lambda: "rolled back at" in str(detail.render()))
        assert detail.region.height > 0  # on screen, not only in the widget
    journal = (await asyncio.to_thread(cockpit, "journal", "-c", str(path))).stdout
    assert "cancelled by rollback" in journal
    report = (await asyncio.to_thread(cockpit, "report", "-c", str(path))).stdout
    outcome = next(ln for ln in report.splitlines() if ln.startswith("- **Outcome:**"))
    assert "rolled back at" in outcome and "(v2 too slow)" in outcome and "of 1m budget" in outcome


async def test_a_failed_rollback_shows_the_host_exit_status_and_stderr_persistently(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    h2 = fleet.hosts[1].name
    path = _cfg(tmp_path, fleet, httpd)
    text = path.read_text()
    quick = text.index("[rollback.quick]")
    text = text[:quick] + text[quick:].replace("inactive dead' '''", "inactive dead'; if [ \"$COCKPIT_TEST_HOST\" = "
                                               f"{h2} ]; then echo 'proxy config locked' >&2; exit 3; fi '''", 1)
    path.write_text(text)
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(h.reachable for h in app.snapshot.hosts))
        await pilot.press("R", "y")
        await until(pilot, lambda: app.runbook.view().rollback is not None)
        await pilot.press("escape")  # the reason is optional
        await until(pilot, lambda: (rb := app.runbook.view().rollback) is not None and rb.ok is False, timeout=30)
        await until(pilot, lambda: "ROLLBACK FAILED" in _banner(app))
        await pilot.pause(1.0)
        text = _banner(app)
        assert f"{h2}: exit 3" in text and "proxy config locked" in text and "R retries" in text
        assert "ROLLBACK FAILED" in _header(app)
    report = (await asyncio.to_thread(cockpit, "report", "-c", str(path))).stdout
    assert f"{h2}: exit 3" in report and "proxy config locked" in report


async def test_a_failing_gate_names_service_and_host_within_two_keys_at_80x24(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    h2 = fleet.hosts[1].name
    fleet.set_systemd(h2, "fleet-agent", "inactive dead")
    path = _cfg(tmp_path, fleet, httpd, lifecycle=False)
    path.write_text(path.read_text().replace('gate = ["down(agent-v1)", "up(web)"]',
                                             f'gate = ["up(agent@{h2})", "up(web)"]', 1))
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(h.reachable for h in app.snapshot.hosts))
        for ref in ("decommission.stop-v1", "decommission.backup"):
            assert (await app.runbook.run_step(ref)).state == "done"
        await app.runbook.evaluate_gates()
        await until(pilot, lambda: app.runbook.view().phases[0].state == "failing")
        await pilot.press("3")  # the Plan; the cursor is on the first phase
        detail = _detail(app, wide=False)
        await until(pilot, lambda: "gate FAILS" in str(detail.render()))
        shown = str(detail.render())
        assert "agent" in shown and h2 in shown and detail.region.height > 0
        assert "holding" not in shown
