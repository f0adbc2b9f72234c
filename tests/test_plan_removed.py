"""Issue 17, items 4 and 6 (Textual pilot, real loopback fleet): a step removed from the plan after it ran stays
in the plan view as a row of its phase, "removed after running", with its last state, the command it ran and
the plan version; the report lists it with each host's exact command and the plan version of each run."""

from __future__ import annotations

from cockpitcfg import write_config
from test_plan_change import plan_toml
from test_ui_pilot import until

from cockpit.config import load_config
from cockpit.report import build_report
from cockpit.session import Session
from screens.app import CockpitApp
from screens.confirm import ConfirmScreen
from screens.widgets.phase_panel import PhasePanel

OTHER = '''
  [[phases.steps]]
  id = "other"
  title = "Another step"
  on = ["h1"]
  run = "echo other"
'''


async def test_a_step_removed_after_running_stays_in_the_plan_and_the_report(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, plan_toml(batch=3), cockpit={"interval": "0.5s"})
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    first_plan = session.plan.fingerprint
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.dashboard.query_one("#phases-main", PhasePanel)
        await until(pilot, lambda: panel.row_count == 3)
        panel.focus()
        panel.move_cursor(row=1)  # p.mark
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: app.runbook.step_state("p.mark") == "done", timeout=40)
        path.write_text(path.read_text().replace(OTHER, ""))  # p.other never ran: it just goes
        path.write_text(path.read_text().replace('  [[phases.steps]]\n  id = "mark"', '  [[phases.steps]]\n  id = "gone"'
                                                 ).replace('title = "Mark every host"', 'title = "Renamed"'))
        await until(pilot, lambda: "PLAN CHANGED" in "\n".join(app.runbook.view().plan_notice), timeout=30)
        await pilot.press("A")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        await pilot.press(*"mark is done, renamed", "enter")
        await until(pilot, lambda: session.plan.fingerprint != first_plan)
        await until(pilot, lambda: "removed:p.mark" in [k for k, _ in panel._rows], timeout=15)
        keys = [k for k, _ in panel._rows]
        assert keys == ["phase:p", "step:p.gone", "removed:p.mark"]  # p.other never ran: no trace
        state, title, detail = (str(c) for c in panel.get_row("removed:p.mark"))
        assert "done" in state and "Mark every host" in title  # its title as the plan it ran under had it
        assert detail.startswith("removed after running last run ") and "by alice" in detail
        assert f"under plan {first_plan}, done: echo v1 >>" in detail
        panel.focus()
        panel.move_cursor(row=2)
        await pilot.press("enter")  # a removed step cannot be run: nothing is asked, nothing fires
        await pilot.pause(0.3)
        assert app.screen is app.dashboard
        assert session.journal is not None
        report = build_report(session.config, session.journal)
    removed = report.split("### Removed after running")[1].split("\n## ")[0]
    assert "| p.mark | removed after running; **done** " in removed
    assert f"under plan {first_plan}: h1 ok (exit 0): echo v1 &gt;&gt;" in removed
    for h in ("h2", "h3"):
        assert f"{h} ok (exit 0): echo v1 &gt;&gt;" in removed
    assert "### Not in the runbook" not in report  # listed once, with what it ran
