"""Confirmations that show what will happen (issue 23, item 4), driven with the pilot on the real fleet:
the command as each host runs it (placeholders filled, secrets as ••••), a labelled, counted host list,
and for a rollback what verifies it and its budget.
"""

from __future__ import annotations

import os

from cockpitcfg import write_config
from rich.text import Text
from runbookcfg import runbook_services, start_state
from textual.widgets import Static
from ui_fixtures import until

from cockpit.config import load_config
from cockpit.engine import Engine
from screens.app import CockpitApp
from screens.confirm import ConfirmScreen, host_list

ACTIONS = """
[services.agent]
on = ["all"]
command = "true"

[actions.restart]
key = "t"
title = "Restart agent"
on = ["all"]
run = "/opt/v2/start-v2 {address} {host}"
confirm = true
env = { V2_TOKEN = "${CONFIRM_TOKEN}" }
"""



def shown(screen: ConfirmScreen, wid: str) -> str:
    visual = screen.query_one(wid, Static).render()
    return visual.plain if isinstance(visual, Text) else str(visual)


async def test_confirm_shows_each_hosts_command_with_secrets_masked(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    h1 = fleet["h1"]
    path = write_config(tmp_path, fleet, ACTIONS)
    path.write_text(path.read_text().replace(f'address = "{h1.address}"', 'address = "${CONFIRM_ADDR}"', 1))
    token = "tok-confirm-7a6b"
    env = {**os.environ, "CONFIRM_ADDR": h1.address, "CONFIRM_TOKEN": token}
    app = CockpitApp(Engine(load_config(path, env=env)), quiet=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(h.reachable for h in app.snapshot.hosts))
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and bool(app.screen.query("#confirm-note")))
        screen = app.screen
        assert isinstance(screen, ConfirmScreen)
        hosts = shown(screen, "#confirm-hosts")
        commands = shown(screen, "#confirm-command")
        note = shown(screen, "#confirm-note")
        assert hosts == "Hosts (3): h1, h2, h3"
        lines = commands.splitlines()
        assert lines[0].split() == ["h1", "$", "/opt/v2/start-v2", "••••", "h1"], commands
        assert lines[1].split() == ["h2", "$", "/opt/v2/start-v2", fleet["h2"].address, "h2"], commands
        assert "{address}" not in commands and "{host}" not in commands
        assert "V2_TOKEN=••••" in note
        assert h1.address not in commands + note and token not in commands + note
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert not app.engine.actions.history


def test_host_list_counts_and_cuts_with_plus_more() -> None:
    names = [f"web{i:02d}" for i in range(1, 13)]
    assert host_list(names).plain == "Hosts (12): web01, web02, web03, web04, web05, web06, web07, web08 +4 more"
    assert host_list(["h1"]).plain == "Hosts (1): h1"


async def test_rollback_confirm_shows_verify_and_budget(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    start_state(fleet)
    path = write_config(tmp_path, fleet, runbook_services(httpd.route("/ok", body="fine")),
                        cockpit={"interval": "0.5s"})
    app = CockpitApp(Engine(load_config(path)), quiet=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(h.reachable for h in app.snapshot.hosts))
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and bool(app.screen.query("#confirm-note")))
        screen = app.screen
        assert isinstance(screen, ConfirmScreen)
        note = shown(screen, "#confirm-note")
        assert "verify (within 20s of the command's end): up(agent-v1)" in note, note
        assert "budget: 60s, command and verify together" in note, note
        assert shown(screen, "#confirm-hosts") == "Hosts (3): h1, h2, h3"
        assert "(the same on all 3 hosts)" in shown(screen, "#confirm-command")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert not app.engine.actions.history
