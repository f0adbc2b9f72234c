"""Every user flow of the cockpit, driven with Textual's pilot against the real loopback fleet."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import psutil
import pytest
from cockpitcfg import write_config
from textual.notifications import Notification
from textual.widgets import Input

from cockpit.config import load_config
from cockpit.engine import Engine
from screens.app import CockpitApp
from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.host_detail import HostDetailScreen
from screens.palette import key_commands
from screens.widgets.event_log import EventLog
from screens.widgets.fleet_table import FleetTable
from screens.widgets.output_pane import OutputPane

SERVICES = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[actions.hello]
key = "h"
title = "Say hello"
on = ["all"]
run = "echo hello-from-$COCKPIT_TEST_HOST {host}"

[actions.restart]
key = "t"
title = "Restart agent"
on = ["h1", "h2"]
run = "echo restarting on {host}"
confirm = true

[actions.slow]
key = "w"
title = "Slow job"
on = ["h1"]
run = "sh -c 'sleep 300 # {marker}-slow' & echo started; wait"
"""


def cells(app: CockpitApp, host: str) -> str:
    table = app.dashboard.query_one("#fleet", FleetTable)
    return " ".join(str(c) for c in table.get_row(host))


async def until(pilot, cond: Callable[[], bool], timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


def make_app(fleet, tmp_path, marker: str = "unused", **kw) -> CockpitApp:  # type: ignore[no-untyped-def]
    for h in ("h1", "h2", "h3"):
        fleet.set_systemd(h, "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, SERVICES.replace("{marker}", marker), cockpit={"interval": "0.5s"})
    return CockpitApp(Engine(load_config(path)), quiet=True, **kw)


def table_ready(app: CockpitApp) -> bool:
    t = app.dashboard.query_one("#fleet", FleetTable)
    return t.row_count == 3 and all("ok" in cells(app, h) for h in ("h1", "h2", "h3"))


async def test_dashboard_shows_the_fleet_and_filters(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table_ready(app))
        assert "1/1" in cells(app, "h1") and "up" in cells(app, "h1")
        await pilot.press("slash")
        await pilot.press(*"h2")
        table = app.dashboard.query_one("#fleet", FleetTable)
        await until(pilot, lambda: table.visible_hosts() == ["h2"])
        await pilot.press("escape")
        await until(pilot, lambda: table.visible_hosts() == ["h1", "h2", "h3"])
        await pilot.press("slash", *"h3-tag", "enter")  # a tag filters too; Enter keeps it
        await until(pilot, lambda: table.visible_hosts() == ["h3"])


async def test_host_going_down_shows_in_table_and_event_log(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table_ready(app))
        fleet.set_systemd("h2", "fleet-agent", "failed failed")
        await until(pilot, lambda: "down" in cells(app, "h2"))
        log = app.dashboard.query_one("#events", EventLog)
        await until(pilot, lambda: any("h2 agent up → down" in e.text.plain for e in log.entries))
        fleet["h3"].stop()
        await until(pilot, lambda: "⨯" in cells(app, "h3"), timeout=15)
        assert "refused" in cells(app, "h3") or "disconnected" in cells(app, "h3")
        await until(pilot, lambda: any("h3" in e.text.plain and "unreachable" in e.text.plain for e in log.entries))


async def test_select_and_probe_now(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table_ready(app))
        await pilot.press("space")  # cursor starts on h1
        table = app.dashboard.query_one("#fleet", FleetTable)
        assert table.selected == {"h1"} and "▶" in cells(app, "h1")
        app.engine.config  # the interval is 0.5 s; make the next probe visibly earlier than that
        fleet.set_systemd("h1", "fleet-agent", "failed failed")
        before = app.snapshot.host("h1").round_ended if app.snapshot else 0
        await pilot.press("p")
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.host("h1").round_ended > before)
        await until(pilot, lambda: "down" in cells(app, "h1"))


async def test_configured_action_streams_output(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table_ready(app))
        await pilot.press("h")
        pane = app.dashboard.query_one("#output", OutputPane)
        await until(pilot, lambda: pane.run is not None and pane.run.done)
        assert pane.run is not None
        assert [r.output for r in pane.run.runs] == [f"hello-from-{h} {h}\n" for h in ("h1", "h2", "h3")]
        assert all(r.state == "ok" and r.exit_status == 0 for r in pane.run.runs)
        log = pane._log("h1")  # the visible tab
        assert log is not None
        await until(pilot, lambda: "ok exit 0" in "\n".join(line.text for line in log.lines))
        assert "hello-from-h1 h1" in "\n".join(line.text for line in log.lines)


async def test_confirm_modal_cancel_then_confirm(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table_ready(app))
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        modal = app.screen
        assert modal.hosts == ["h1", "h2"] and modal.command == "echo restarting on {host}"
        await pilot.press("enter")  # Enter alone never confirms
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.3)
        assert not app.engine.actions.history  # nothing ran
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert not app.engine.actions.history
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        pane = app.dashboard.query_one("#output", OutputPane)
        await until(pilot, lambda: pane.run is not None and pane.run.done)
        assert [(r.host, r.output) for r in pane.run.runs] == [("h1", "restarting on h1\n"), ("h2", "restarting on h2\n")]


async def test_typed_confirmation_for_more_than_five_hosts(fleet_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    big = fleet_factory(6)
    path = write_config(tmp_path, big, '[services.c]\non=["all"]\ncommand="true"\n')
    app = CockpitApp(Engine(load_config(path)), quiet=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(h.reachable for h in app.snapshot.hosts))
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPrompt")
        app.screen.query_one("#prompt-on", Input).value = "all"
        await pilot.press(*"echo hi", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")  # goes into the count field, confirms nothing
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmScreen) and not app.engine.actions.history
        app.screen.query_one("#confirm-count", Input).value = ""
        await pilot.press("6", "enter")
        pane = app.dashboard.query_one("#output", OutputPane)
        await until(pilot, lambda: pane.run is not None and pane.run.done)
        assert len(pane.run.runs) == 6 and all(r.output == "hi\n" for r in pane.run.runs)


async def test_adhoc_command_on_selected_host(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table_ready(app))
        await pilot.press("down", "space", "exclamation_mark")  # select h2
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPrompt")
        assert app.screen.query_one("#prompt-on", Input).value == "h2"
        await pilot.press(*"echo adhoc-$COCKPIT_TEST_HOST", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        pane = app.dashboard.query_one("#output", OutputPane)
        await until(pilot, lambda: pane.run is not None and pane.run.done)
        assert pane.run.runs[0].host == "h2" and pane.run.runs[0].output == "adhoc-h2\n"


async def test_cancel_a_running_action_stops_the_remote_process(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = f"ckui{time.time_ns() % 10**9}"
    app = make_app(fleet, tmp_path, marker=marker)

    def remote() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["cmdline"]) if f"{marker}-slow" in " ".join(p.info["cmdline"] or [])]

    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table_ready(app))
        await pilot.press("w")
        pane = app.dashboard.query_one("#output", OutputPane)
        await until(pilot, lambda: pane.run is not None and pane.run.runs[0].state == "running" and bool(remote()))
        await pilot.press("x")
        await until(pilot, lambda: pane.run is not None and pane.run.done)
        assert pane.run.runs[0].state == "cancelled"
        await until(pilot, lambda: not remote())


async def test_read_only_refuses_every_action(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table_ready(app))
        header = app.dashboard.query_one("#header")
        assert "READ-ONLY" in header.render().plain
        for key in ("h", "t", "exclamation_mark", "p", "w"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen is app.dashboard, key
        assert not app.engine.actions.history
        assert any("READ-ONLY" in n.message for n in app._notifications)
        # greyed out in the footer: the binding exists but is disabled
        assert app.dashboard.check_action("run_configured", ("hello",)) is None
        # monitoring goes on
        fleet.set_systemd("h1", "fleet-agent", "failed failed")
        await until(pilot, lambda: "down" in cells(app, "h1"))


async def test_host_detail_shows_services_load_and_actions(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: table_ready(app))
        await pilot.press("h")
        pane = app.dashboard.query_one("#output", OutputPane)
        await until(pilot, lambda: pane.run is not None and pane.run.done)
        await pilot.press("1")  # back to the fleet tab
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HostDetailScreen))
        screen = app.screen
        assert screen.host == "h1"
        await until(pilot, lambda: screen.query_one("#hd-services").row_count == 1)
        row = " ".join(str(c) for c in screen.query_one("#hd-services").get_row("agent"))
        assert "up" in row and "active (running)" in row
        await until(pilot, lambda: screen.query_one("#hd-actions").row_count == 1)
        arow = " ".join(str(c) for c in screen.query_one("#hd-actions").get_row_at(0))
        assert "Say hello" in arow and "ok exit 0" in arow
        out = "\n".join(line.text for line in screen.query_one("#hd-output").lines)
        assert "hello-from-h1 h1" in out
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard)


async def test_help_lists_every_binding(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = {(k, d) for k, d, _ in app.screen.rows}
        for expected in (("p", "Probe now: every check on the selected hosts (or all) at once"),
                         ("!", "Run a command: an ad-hoc command on hosts you choose (confirmed first)"), ("/", "Filter"), ("h", "Say hello"), ("t", "Restart agent"),
                         ("q", "Quit"), ("x", "Cancel host")):
            assert expected in rows, expected
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard)


async def test_bell_rings_once_per_change_unless_quiet(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for quiet in (False, True):
        app = make_app(fleet, tmp_path)
        app.quiet = quiet
        rings: list[float] = []
        app.bell = lambda: rings.append(time.monotonic())  # type: ignore[method-assign]
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: table_ready(app))
            fleet.set_systemd("h2", "fleet-agent", "failed failed")
            await until(pilot, lambda: "down" in cells(app, "h2"))
            await pilot.pause(1.2)  # two more rounds with the same state: no more rings
            assert len(rings) == (0 if quiet else 1)
        fleet.set_systemd("h2", "fleet-agent", "active running")


async def test_resize_moves_the_grid_between_main_view_and_tab(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import TabbedContent

    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: table_ready(app))
        grid = app.dashboard.query_one("#grid-main")
        tabs = app.dashboard.query_one("#tabs", TabbedContent)
        assert grid.display and app.dashboard.has_class("-wide")
        await until(pilot, lambda: grid.row_count == 3)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: app.dashboard.has_class("-compact"))
        await pilot.pause()
        assert not grid.display
        await pilot.press("2")
        assert tabs.active == "tab-services"
        await until(pilot, lambda: app.dashboard.query_one("#grid-tab").row_count == 3)
        await pilot.press("1")
        await pilot.resize_terminal(160, 48)
        await until(pilot, lambda: app.dashboard.has_class("-wide"))


async def test_command_palette_lists_every_action(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(100, 30)):
        titles = [c.title for c in app.get_system_commands(app.dashboard)] + [c.title for c in key_commands(app)]
    for expected in ("Probe", "Run cmd", "Keys", "Action: Say hello", "Action: Restart agent",
                     "Action: Slow job", "Host: h1", "Quit", "Screenshot"):
        assert expected in titles, expected


async def test_runbook_in_the_cockpit(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Run a step from the plan, see its verify results, phase completion, regression banner, quick rollback."""
    from runbookcfg import runbook_services, start_state

    from cockpit.session import Session
    from screens.widgets.phase_panel import PhasePanel

    start_state(fleet)
    path = write_config(tmp_path, fleet, runbook_services(httpd.route("/ok")), cockpit={"interval": "0.5s"})
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(h.reachable for h in app.snapshot.hosts))
        panel = app.dashboard.query_one("#phases-main", PhasePanel)
        await until(pilot, lambda: panel.row_count == 5)
        assert "Phase 1: Decommission v1" in app.dashboard.query_one("#header").render().plain
        panel.focus()
        panel.move_cursor(row=1)  # decommission.stop-v1
        assert panel.selected == "step:decommission.stop-v1"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "set_unit fleet-agent-v1" in app.screen.command
        await pilot.press("y")

        def step(ref: str):  # type: ignore[no-untyped-def]
            return next(s for p in app.runbook.view().phases for s in p.steps if s.ref == ref)

        await until(pilot, lambda: step("decommission.stop-v1").state == "done", timeout=20)
        row = " ".join(str(c) for c in panel.get_row("step:decommission.stop-v1"))
        assert "done" in row and "3/3 hosts ok" in row
        # a skip needs a reason, journaled
        panel.move_cursor(row=2)
        await pilot.press("S")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        await pilot.press(*"backup taken by the DBA", "enter")
        await until(pilot, lambda: step("decommission.backup").state == "skipped")
        # the gate holds: phase 1 is done and phase 2 opens
        await until(pilot, lambda: app.runbook.view().phases[0].state == "done", timeout=15)
        await until(pilot, lambda: "Phase 2" in app.dashboard.query_one("#header").render().plain)
        # baseline, then a regression shows as a banner with the rollback key
        await pilot.press("b")
        await until(pilot, lambda: app.runbook.view().baseline_at is not None)
        fleet.set_systemd("h3", "fleet-agent-v1", "active running")  # …v1 comes back by itself
        fleet.set_systemd("h1", "fleet-agent-v1", "inactive dead")
        # web goes down: it was up in the baseline
        httpd.route("/ok", status=503)
        banner = app.dashboard.query_one("#banner")
        await until(pilot, lambda: "REGRESSION: h1 web" in str(banner.render()), timeout=15)
        assert "R: quick rollback" in str(banner.render())
        httpd.route("/ok", status=200)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: len(app.runbook.view().rollbacks) == 1, timeout=30)
        rec = app.runbook.view().rollbacks[0]
        assert rec.ok and rec.duration is not None and rec.duration < 60
        # its own budget; notify() posts a message, so the toast lands a moment after the record (under load later)
        await until(pilot, lambda: any("within its 60s budget" in n.message for n in app._notifications))


async def observer_tries_a_step(pilot, app: CockpitApp) -> Notification:  # type: ignore[no-untyped-def]
    """An observer cockpit confirms the plan's first step; returns the notice that refused it."""
    from screens.widgets.phase_panel import PhasePanel

    panel = app.dashboard.query_one("#phases-main", PhasePanel)
    await until(pilot, lambda: panel.row_count == 5)
    panel.focus()
    panel.move_cursor(row=1)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.press("y")
    await until(pilot, lambda: any("observer" in n.message for n in app._notifications))
    return next(n for n in app._notifications if "observer" in n.message)


async def test_observer_cockpit_shows_who_drives_and_runs_nothing(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from runbookcfg import runbook_services, start_state

    from cockpit.session import Session
    from screens.widgets.phase_panel import PhasePanel

    start_state(fleet)
    path = write_config(tmp_path, fleet, runbook_services(httpd.route("/ok")), cockpit={"interval": "0.5s"})
    driver = Session(load_config(path), "alice")
    try:
        observer = Session(load_config(path), "bob")
        app = CockpitApp(observer.engine, quiet=True, operator="bob", session=observer)
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: "OBSERVER" in app.dashboard.query_one("#header").render().plain)
            banner = str(app.dashboard.query_one("#banner").render())
            assert "alice" in banner and "drives the runbook" in banner
            panel = app.dashboard.query_one("#phases-main", PhasePanel)
            await observer_tries_a_step(pilot, app)
            assert not observer.engine.actions.history
            # the driver runs a step; the observer sees it (journal followed every few seconds)
            view = await driver.runbook.run_step("decommission.backup")
            assert view.state == "done"
            await until(pilot, lambda: "done" in " ".join(str(c) for c in panel.get_row("step:decommission.backup")),
                        timeout=15)
    finally:
        await driver.close()
