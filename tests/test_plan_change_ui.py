"""Issue 17 in the cockpit (Textual pilot, real loopback fleet): an edit of the runbook mid-cutover shows its
diff, fires nothing until the driver accepts it with a reason (journaled), an invalid edit is refused with
its errors while the running plan stays, and a step changed since it ran asks for its id before running."""

from __future__ import annotations

from cockpitcfg import write_config
from test_plan_change import marks
from test_ui_pilot import until

from cockpit.config import load_config
from cockpit.session import Session
from screens.app import CockpitApp
from screens.confirm import ConfirmScreen
from screens.widgets.phase_panel import PhasePanel

ROLL = """
[[phases]]
id = "p"
title = "One phase"

  [[phases.steps]]
  id = "mark"
  title = "Mark every host"
  on = ["all"]
  run = 'echo v1 >> "$COCKPIT_SHIM_STATE/systemd/marker"; test "$COCKPIT_TEST_HOST" != h2'
  batch = 1
  max_failures = 1
"""


async def run_mark(pilot, app: CockpitApp) -> PhasePanel:  # type: ignore[no-untyped-def]
    """Select p.mark in the plan, press Enter and confirm with y (what an operator does to run it)."""
    panel = app.dashboard.query_one("#phases-main", PhasePanel)
    await until(pilot, lambda: panel.row_count == 2)
    panel.focus()
    panel.move_cursor(row=1)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.press("y")
    return panel


async def test_edit_mid_cutover_shows_the_diff_and_runs_nothing_until_accepted(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, ROLL, cockpit={"interval": "0.5s"})
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    first_plan = session.plan.fingerprint

    def state() -> str:
        return next(s for p in app.runbook.view().phases for s in p.steps if s.ref == "p.mark").state

    def banner() -> str:
        return "\n".join(app.runbook.view().plan_notice)

    async with app.run_test(size=(160, 48)) as pilot:
        panel = await run_mark(pilot, app)
        await until(pilot, lambda: state() in ("partial", "failed"), timeout=20)
        assert marks(fleet) == [["v1"], ["v1"], []]  # stopped after h2 failed: h3 untouched

        # an invalid edit: refused with its errors (file, line, key); the running plan stays
        path.write_text(path.read_text().replace("batch = 1", 'batch = "lots"'))
        await until(pilot, lambda: "CONFIG EDIT REFUSED" in banner(), timeout=10)
        assert f"{path}:" in banner() and "batch" in banner() and session.plan.fingerprint == first_plan
        await pilot.press("A")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen) and app.screen.__class__.__name__ != "ReasonPrompt"

        # a valid edit: the diff by step, nothing fired, nothing applied until accepted
        path.write_text(path.read_text().replace('batch = "lots"', "batch = 1").replace(
            'echo v1 >> "$COCKPIT_SHIM_STATE/systemd/marker"; test "$COCKPIT_TEST_HOST" != h2',
            'echo v2 >> "$COCKPIT_SHIM_STATE/systemd/marker"'))
        await until(pilot, lambda: "PLAN CHANGED" in banner(), timeout=10)
        assert "changed p.mark (command)" in banner() and "echo v2" in banner()
        # the screen applies the plan's view on its next update (at most one a second): wait for it
        await until(pilot, lambda: "PLAN CHANGED" in str(app.dashboard.query_one("#banner").render()), timeout=5)
        assert session.plan.fingerprint == first_plan and marks(fleet) == [["v1"], ["v1"], []]
        await pilot.press("A")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        assert "changed p.mark (command)" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press(*"h2 failed on the old check", "enter")
        await until(pilot, lambda: session.plan.fingerprint != first_plan)
        assert not banner() and marks(fleet) == [["v1"], ["v1"], []]
        assert session.journal is not None
        change = session.journal.plan_changes()[-1]
        assert change["reason"] == "h2 failed on the old check" and change["operator"] == "alice"
        assert change["old"] == first_plan and change["diff"][0]["target"] == "p.mark"

        # the plan panel says the step changed since it ran
        await until(pilot, lambda: "changed since run" in str(panel.get_row("step:p.mark")[2]))
        # running it again: changed since run, named, needs its id typed; then the new command runs
        panel.focus()
        panel.move_cursor(row=1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "echo v2" in app.screen.command  # type: ignore[attr-defined]
        await pilot.press("y")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        question = app.screen.question  # type: ignore[attr-defined]
        assert "changed since run" in question and "echo v1" in question
        assert "done on h1 (plan " in question and "the next run fires on h2, h3 only" in question
        await pilot.press(*"p.mark", "enter")
        await until(pilot, lambda: state() == "done", timeout=20)
        assert marks(fleet) == [["v1"], ["v1", "v2"], ["v2"]]  # h1 was done: not re-run
        runs = [(a["plan"], r["host"], r["command"]) for a in session.journal.actions() if a["step"] == "p.mark"
                for r in a["runs"]]  # one action per batch
        assert [(p, h) for p, h, _ in runs] == [(first_plan, "h1"), (first_plan, "h2"),
                                                (session.plan.fingerprint, "h2"), (session.plan.fingerprint, "h3")]
        assert all("echo v1" in c for _, _, c in runs[:2])  # hosts already fired keep their journaled command
        assert all("echo v2" in c for _, _, c in runs[2:])
        h1 = next(c for p in app.runbook.view().phases for s in p.steps if s.ref == "p.mark" for c in s.checks
                  if c.host == "h1")
        assert h1.ok is True and f"done under plan {first_plan}" in h1.detail and "not re-run" in h1.detail


PAUSED = ROLL.replace('; test "$COCKPIT_TEST_HOST" != h2', "").replace("  max_failures = 1\n", '  pause = "manual"\n')


async def test_a_change_accepted_during_a_pause_runs_on_the_remaining_hosts_only(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, PAUSED, cockpit={"interval": "0.5s"})
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    first_plan = session.plan.fingerprint

    def step():  # type: ignore[no-untyped-def]
        return next(s for p in app.runbook.view().phases for s in p.steps if s.ref == "p.mark")

    async with app.run_test(size=(160, 48)) as pilot:
        panel = await run_mark(pilot, app)
        await until(pilot, lambda: step().waiting.startswith("paused"), timeout=20)
        assert marks(fleet) == [["v1"], [], []]
        path.write_text(path.read_text().replace("echo v1", "echo v2"))
        await until(pilot, lambda: "PLAN CHANGED" in "\n".join(app.runbook.view().plan_notice), timeout=10)
        await pilot.press("A")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        await pilot.press(*"v2 for the rest", "enter")
        await until(pilot, lambda: session.plan.fingerprint != first_plan)
        await pilot.pause(0.3)
        assert marks(fleet) == [["v1"], [], []]  # accepting fires nothing
        for n in (2, 3):  # continue after each batch
            await until(pilot, lambda: step().waiting.startswith("paused"), timeout=20)
            await pilot.press("C")
            await until(pilot, lambda n=n: sum(bool(m) for m in marks(fleet)) == n, timeout=20)  # type: ignore[misc]
        await until(pilot, lambda: step().state == "done", timeout=20)
        assert marks(fleet) == [["v1"], ["v2"], ["v2"]]  # h1 keeps what it ran; the rest run the accepted plan
        assert session.journal is not None
        runs = [(a["plan"], r["host"]) for a in session.journal.actions() if a["step"] == "p.mark" for r in a["runs"]]
        assert runs == [(first_plan, "h1"), (session.plan.fingerprint, "h2"), (session.plan.fingerprint, "h3")]
