"""Old and new services in the real cockpit (Textual pilot, loopback fleet, 80×24): neutral before their step,
judged after it. Before issue 15 a new service not deployed yet painted its host red (``0/1 ✖ down``)."""

from __future__ import annotations

import asyncio
import json

from cockpitcfg import write_config
from runbookcfg import SET
from test_lifecycle import cockpit
from test_ui_pilot import until

from cockpit.config import load_config
from cockpit.session import Session
from screens import render
from screens.app import CockpitApp
from screens.widgets.fleet_table import FleetTable

DEPLOY = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"
introduced_by = "deploy.start-v2"

[[phases]]
id = "deploy"
title = "Deploy v2"

  [[phases.steps]]
  id = "start-v2"
  title = "Start the v2 agents"
  on = ["all"]
  run = '''@SET@; set_unit fleet-agent 'active running' '''
  verify = ["up(agent)"]
  within = "10s"
""".replace("@SET@", SET)


def _row(app: CockpitApp, host: str) -> str:
    return " ".join(str(c) for c in app.dashboard.query_one("#fleet", FleetTable).get_row(host))


def _cell(app: CockpitApp, host: str) -> tuple[str, str]:
    grid = app.dashboard.query_one("#grid-tab")
    text = grid.get_row(host)[1]  # after the host name: the agent column
    return str(text), str(text.style)


async def test_new_service_is_neutral_before_its_step_and_judged_after(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for h in fleet.hosts:
        fleet.set_systemd(h, "fleet-agent", "inactive dead")
    path = write_config(tmp_path, fleet, DEPLOY, cockpit={"interval": "0.5s"})
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    header = lambda: app.dashboard.query_one("#header").render().plain  # noqa: E731
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(h.reachable and h.results
                                                                    for h in app.snapshot.hosts))
        await until(pilot, lambda: "planned" in _row(app, "h1"))
        assert "✖" not in _row(app, "h1") and "down" not in _row(app, "h1")  # not red: not deployed yet
        assert "●3 ◐0 ✖0 ⨯0" in header()
        await pilot.press("2")  # the services grid's tab at 80 columns
        await until(pilot, lambda: app.dashboard.query_one("#grid-tab").row_count == 3)
        assert _cell(app, "h1") == ("✖ down", "dim")  # the observation, neutral

        view = await app.runbook.run_step("deploy.start-v2")
        assert view.state == "done"
        try:
            await until(pilot, lambda: _cell(app, "h1") == ("● up", render.OK))  # the palette of screens/render.py
        except AssertionError:
            r = session.engine.snapshot().host("h1").results[0]
            raise AssertionError(f"{_cell(app, 'h1')} {r}") from None
        fleet.set_systemd("h2", "fleet-agent", "inactive dead")  # introduced, then lost: now a failure
        await until(pilot, lambda: _cell(app, "h2") == ("✖ down", render.STYLE["down"]), timeout=15)
        await until(pilot, lambda: "●2 ◐0 ✖1 ⨯0" in header())
        assert "✖ down" in _row(app, "h2")
        assert session.engine.snapshot().counts() == {"up": 2, "degraded": 0, "down": 1, "unreachable": 0}
        # one count everywhere: the header, `snapshot` and `check` on the same fleet at the same moment
        snap = json.loads((await asyncio.to_thread(cockpit, "snapshot", "-c", str(path), "--format", "json")).stdout)
        res = await asyncio.to_thread(cockpit, "check", "-c", str(path))
        c = snap["counts"]
        assert f"●{c['up']} ◐{c['degraded']} ✖{c['down']} ⨯{c['unreachable']}" in header()
        assert c == {"up": 2, "degraded": 0, "down": 1, "unreachable": 0}
        assert res.returncode == 1 and [ln for ln in res.stdout.splitlines() if ln.startswith("FAIL")] == [
            "FAIL h2 agent: down: inactive (dead)"], res.stdout
        assert "PLANNED" not in res.stdout  # introduced everywhere now: judged, not planned
