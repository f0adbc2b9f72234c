"""Issue 17, item 1 (two cockpits on one journal, real loopback fleet, the observer by pilot): the driver accepts
an edited plan and runs it; the observer's banner says the driver runs a newer plan than its own file and offers
to load it (L, and the palette); loading replaces the observer's plan in place, without a restart."""

from __future__ import annotations

import pytest
from cockpitcfg import write_config
from test_plan_change import marks, plan_toml
from test_plan_removed import OTHER
from test_ui_pilot import until

from cockpit.config import load_config
from cockpit.errors import CockpitError
from cockpit.session import Session
from screens.palette import key_commands
from screens.app import CockpitApp
from screens.widgets.phase_panel import PhasePanel

ADDED = OTHER.replace('id = "other"', 'id = "after"').replace("Another step", "A step the driver added")


async def test_an_observer_loads_the_drivers_newer_plan_in_place(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "driver").mkdir()
    (tmp_path / "observer").mkdir()
    mine = write_config(tmp_path / "driver", fleet, plan_toml(batch=3), cockpit={"interval": "0.5s"})
    journal = tmp_path / "journal.sqlite"
    mine.write_text(mine.read_text() + f'\n[journal]\npath = "{journal}"\nlease_ttl = "3s"\n')
    theirs = tmp_path / "observer" / "cockpit.toml"
    theirs.write_text(mine.read_text())
    driver = Session(load_config(mine), "alice")
    observer = Session(load_config(theirs), "bob")
    assert not driver.observer and observer.observer
    app = CockpitApp(observer.engine, quiet=True, operator="bob", session=observer)
    first = observer.plan.fingerprint

    def banner() -> str:
        return "\n".join(observer.runbook.view().plan_notice)

    def step(ref: str):  # type: ignore[no-untyped-def]
        return next((s for p in observer.runbook.view().phases for s in p.steps if s.ref == ref), None)

    try:
        await driver.start(poll=False)
        async with app.run_test(size=(160, 48)) as pilot:
            # the driver edits its plan, accepts it and runs the changed step under it
            mine.write_text(mine.read_text().replace("echo v1", "echo v2") + ADDED)
            await until(pilot, lambda: driver.pending is not None and driver.pending.plan is not None, timeout=30)
            await driver.accept_update("v2 marker, and a step after it")
            await driver.engine.run_round()
            await driver.runbook.run_step("p.mark")
            assert marks(fleet) == [["v2"], ["v2"], ["v2"]]

            # the observer: its file is older; the banner says so, with the diff, and offers L
            await until(pilot, lambda: "the driver runs plan" in banner(), timeout=30)
            assert f"the driver runs plan {driver.plan.fingerprint} (accepted by alice" in banner()
            assert f"not this cockpit's file (plan {first}); L loads it here" in banner()
            assert "changed p.mark (command)" in banner() and "added p.after" in banner()
            await until(pilot, lambda: step("p.mark") is not None and step("p.mark").state == "done", timeout=30)
            assert "changed since run" in step("p.mark").changed and step("p.after") is None  # its own plan
            panel = app.dashboard.query_one("#phases-main", PhasePanel)
            assert "step:p.after" not in [k for k, _ in panel._rows]

            palette = [c.title for c in key_commands(app)]
            assert "Load the driver's plan" in palette  # the same action, by name
            await pilot.press("L")
            await until(pilot, lambda: observer.plan.fingerprint == driver.plan.fingerprint, timeout=30)
            assert observer.plan.text == driver.plan.text  # the driver's very version, fingerprints and all
            # in place: the same cockpit now shows the driver's plan (the step it added, no "changed since run")
            await until(pilot, lambda: "step:p.after" in [k for k, _ in panel._rows], timeout=15)
            assert step("p.mark").changed == "" and step("p.mark").state == "done"
            assert step("p.after") is not None and step("p.after").state == "pending"
            assert "L loads it" not in banner() and f"following the driver's plan {driver.plan.fingerprint}" in banner()
            assert observer.engine.config.runbook.step("p.mark")[1].run.startswith("echo v2")  # type: ignore[union-attr]
            assert marks(fleet) == [["v2"], ["v2"], ["v2"]]  # loading a plan fires nothing
            # a plan with masked secrets is for watching: this cockpit cannot take the lease with it
            with pytest.raises(CockpitError, match="loaded from the journal"):
                observer.take_over("driver looks stale")
            await pilot.press("L")  # nothing newer: said, nothing changes
            await pilot.pause(0.3)
            assert observer.plan.fingerprint == driver.plan.fingerprint
    finally:
        await observer.close()
        await driver.close()


async def test_a_loaded_plan_names_the_steps_whose_hosts_this_cockpit_lacks(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "driver").mkdir()
    (tmp_path / "observer").mkdir()
    journal = f'\n[journal]\npath = "{tmp_path / "journal.sqlite"}"\nlease_ttl = "3s"\n'
    mine = write_config(tmp_path / "driver", fleet, plan_toml(cmd="v2"))
    mine.write_text(mine.read_text() + journal)
    theirs = write_config(tmp_path / "observer", fleet, plan_toml(), hosts=["h1", "h2"])
    theirs.write_text(theirs.read_text() + journal)
    driver = Session(load_config(mine), "alice")
    observer = Session(load_config(theirs), "bob")
    try:
        plan = await observer.load_driver_plan()
        assert plan.fingerprint == driver.plan.fingerprint
        notice = "\n".join(observer.runbook.view().plan_notice)
        assert "p.mark: the driver runs it on h1, h2, h3, this cockpit's hosts resolve it to h1, h2" in notice
        assert "its config lacks h3, so it cannot watch them" in notice and "p.other" not in notice
        with pytest.raises(CockpitError, match="already runs the driver's plan"):
            await observer.load_driver_plan()
        with pytest.raises(CockpitError, match="this cockpit drives"):
            await driver.load_driver_plan()
    finally:
        await observer.close()
        await driver.close()
