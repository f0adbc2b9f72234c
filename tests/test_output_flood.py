"""An action's output flood never becomes an outage: the screen answers, services keep their state,
the action finishes, and every line is in the host's spool (issue 19)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cockpitcfg import write_config
from test_ui_pilot import until

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.model import HostState, StatusChange
from screens.app import CockpitApp
from screens.help import HelpScreen
from screens.widgets.output_pane import OutputPane

FLOOD = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[services.web]
on = ["all"]
http = "{url}"

[actions.flood]
key = "g"
title = "Flood"
on = ["all"]
run = "seq 1 200000"
"""


def pane_lines(app: CockpitApp, host: str) -> list[str]:
    pane = app.dashboard.query_one("#output", OutputPane)
    log = pane._log(host)
    return [] if log is None else [strip.text for strip in log.lines]


@pytest.mark.xdist_group("serial")
async def test_flood_keeps_services_and_screen_and_action_finishes(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for h in ("h1", "h2", "h3"):
        fleet.set_systemd(h, "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, FLOOD.replace("{url}", httpd.route("/ok")), cockpit={"interval": "1s"})
    app = CockpitApp(Engine(load_config(path)), quiet=True)
    changes: list[StatusChange] = []

    def record(_state: HostState, events: list[StatusChange]) -> None:
        changes.extend(events)

    app.engine.round_hooks.append(record)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(
            h.reach == "ok" and len(h.results) == 2 and all(r.status == "up" for r in h.results)
            for h in app.snapshot.hosts), timeout=20)
        changes.clear()
        await pilot.press("g")
        await until(pilot, lambda: any(r.title == "Flood" for r in app.engine.actions.history), timeout=10)
        run_id = next(r.id for r in app.engine.actions.history if r.title == "Flood")
        # while the flood streams, the operator's keys still work (it froze ~20 s before)
        await until(pilot, lambda: any("1000" == line for line in pane_lines(app, "h1"))
                    or not app.engine.actions.running(), timeout=30)
        asked = time.monotonic()
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=10)
        help_after = time.monotonic() - asked
        await pilot.press("escape")
        await until(pilot, lambda: not app.engine.actions.running(), timeout=120)
        run = next(r for r in app.engine.actions.history if r.id == run_id)
        assert [r.state for r in run.runs] == ["ok", "ok", "ok"], run.runs
        # the pane ends with the last line and the host's summary; the spool has every line
        await until(pilot, lambda: any("200000 lines, all in" in line for line in pane_lines(app, "h1")))
        lines = pane_lines(app, "h1")
        assert "200000" in lines and len(lines) <= 5000
        for r in run.runs:
            spool = Path(r.spool)
            assert spool.parent == tmp_path / "cockpit.state" / "spool", r.spool
            text = spool.read_text()
            assert text.startswith("1\n2\n") and text.endswith("\n199999\n200000\n") and text.count("\n") == 200000
            assert r.lines == 200000 and r.dropped == 0
        # a few more rounds after the flood: still nothing changed state
        seen = app.snapshot.round if app.snapshot else 0
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.round >= seen + 2, timeout=20)
    assert changes == [], changes
    assert help_after < 10


TWO = """
[actions.quick]
key = "g"
title = "Quick"
on = ["h1"]
run = "for i in $(seq 1 150); do [ -e {go} ] && break; sleep 0.1; done; echo quick-done"

[actions.slow]
key = "G"
title = "Slow"
on = ["h2"]
run = "sleep 3; echo slow-done"
"""


async def test_an_older_action_finishing_never_takes_the_pane_from_the_newest(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The pane shows the newest action; an older one's change no longer rebuilds the pane to show it
    (B7: switching back and forth on every change took seconds each in a flood, and hosts that had
    finished showed "running" for 16 s)."""
    go = tmp_path / "go"  # Quick ends only once Slow is on screen: its end is a change of an older action
    path = write_config(tmp_path, fleet, TWO.replace("{go}", str(go)), cockpit={"interval": "5s"})
    app = CockpitApp(Engine(load_config(path)), quiet=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None, timeout=20)
        pane = app.dashboard.query_one("#output", OutputPane)
        await pilot.press("g")
        await until(pilot, lambda: pane.run is not None and pane.run.title == "Quick", timeout=10)
        quick = next(r for r in app.engine.actions.history if r.title == "Quick")
        await pilot.press("G")
        await until(pilot, lambda: pane.run is not None and pane.run.title == "Slow", timeout=10)
        go.touch()
        await until(pilot, lambda: next(r for r in app.engine.actions.history if r.id == quick.id).done, timeout=15)
        await pilot.pause(0.3)
        assert pane.run is not None and pane.run.title == "Slow"  # still the one the operator fired last
        await until(pilot, lambda: not app.engine.actions.running(), timeout=20)
        await until(pilot, lambda: "slow-done" in pane_lines(app, "h2"), timeout=10)
        assert pane.run.title == "Slow" and any(line.startswith("── ") for line in pane_lines(app, "h2"))
