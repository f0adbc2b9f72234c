"""The screen at every size (issue 22, items 1, 2 and 4): what a user must see at each breakpoint.

The fixed fleet of ``ui_fixtures`` plus a host with a 12-character name, fed with a fixed clock
(nothing polls). At 80×24, 100×30, 120×35, 160×48 and 200×50: every host name whole, the columns
the layout promises, the current phase with its gate's verdict in the header, the rollback key on
the footer; at 80 columns ``m`` brings the other columns. A silent host's figures show their age.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import ui_fixtures
from textual.widgets import TabbedContent

from cockpit.conditions import Verdict
from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.model import FleetSnapshot
from screens.app import CockpitApp
from screens.widgets.fleet_table import FleetTable
from screens.widgets.header import CockpitHeader
from screens.widgets.key_footer import FooterKey, KeyFooter, fit

SIZES = [(80, 24), (100, 30), (120, 35), (160, 48), (200, 50)]
LONG = "mba-mbp-work"  # 12 characters: cut to "mba-mbp-wo" before
RUNBOOK = """
[runbook]
rollback_budget = "1m"

[[phases]]
id = "canary"
title = "Canary 10%"
gate = ["up(fleet-agent)"]

  [[phases.steps]]
  id = "split"
  title = "Send 10% to v2"
  on = ["csb1"]
  run = "true"

[rollback]
title = "Back to v1"
on = ["csb1"]
run = "true"
"""


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    with ui_fixtures.utc():
        yield


def _snapshot() -> FleetSnapshot:
    snap = ui_fixtures.snapshot()
    laptop = next(h for h in snap.hosts if h.name == "laptop")
    long = dataclasses.replace(laptop, name=LONG, results=tuple(dataclasses.replace(r, host=LONG)
                                                                for r in laptop.results))
    return dataclasses.replace(snap, hosts=(*snap.hosts, long), changed=(*snap.changed, LONG))


def _app(tmp_path: Path, clock: object = ui_fixtures.clock) -> CockpitApp:
    path = ui_fixtures.write_config(tmp_path)
    text = path.read_text().replace('phases = ["Decommission v1", "Canary 10%", "Rollout 100%"]\n', "")
    path.write_text(text + RUNBOOK)
    return CockpitApp(Engine(load_config(path)), live=False, clock=clock, operator="tester")  # type: ignore[arg-type]


def _table_text(table: FleetTable) -> dict[str, str]:
    """Each row's cells as the user reads them, by column label."""
    labels = [str(c.label) for c in table.ordered_columns]
    return {lbl: " ".join(str(table.get_row(k)[i]) for k in table.visible_hosts()) for i, lbl in enumerate(labels)}


async def _show_gate(app: CockpitApp) -> None:
    view = app.runbook.view()
    phases = tuple(dataclasses.replace(p, gate=Verdict(False, "fleet-agent down on web01")) for p in view.phases)
    app.dashboard.apply_plan(dataclasses.replace(view, phases=phases))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_size_shows_whole_names_its_columns_the_phase_and_the_rollback_key(
        tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await ui_fixtures.feed(pilot, _snapshot())
        await _show_gate(app)
        await pilot.pause()
        table = app.dashboard.query_one("#fleet", FleetTable)
        cells = _table_text(table)
        for h in _snapshot().hosts:  # every name whole, the 12-character one included
            assert h.name in cells["Host"].split(), (h.name, cells["Host"])
        assert table.region.right <= size[0] and table.virtual_size.width <= table.size.width  # no clipped column
        labels = set(cells)
        if size[0] >= 100:
            assert {"Host", "Reach", "CPU", "Mem", "Load1", "Disk", "Services"} <= labels
        else:
            assert {"Host", "Reach", "CPU", "Mem", "Services"} <= labels and "Load1" not in labels
        header = app.dashboard.query_one("#header", CockpitHeader).render().plain
        assert "Canary 10% gate FAILS" in header
        footer = app.dashboard.query_one(KeyFooter).render().plain
        assert " R Rollback " in footer and " ? Keys " in footer
        tabs = app.dashboard.query_one("#tabs", TabbedContent)
        beside = app.dashboard.query_one("#phases-main")
        assert beside.display == (size[0] >= 160)  # the plan beside the fleet from 160 columns, a tab below
        if size[0] >= 160:
            assert beside.region.right <= size[0] and beside.region.width >= 60  # the plan pane is not clipped
        assert (tabs.get_tab("tab-plan").display) == (size[0] < 160)


async def test_at_80_columns_m_brings_the_other_columns(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ui_fixtures.feed(pilot, _snapshot())
        table = app.dashboard.query_one("#fleet", FleetTable)
        assert "m More cols" in app.dashboard.query_one(KeyFooter).render().plain  # the footer names the key
        await pilot.press("m")
        await pilot.pause()
        cells = _table_text(table)
        assert {"Load1", "Disk", "Services"} <= set(cells) and "CPU" not in cells
        assert "6.40" in cells["Load1"] and "96%" in cells["Disk"]
        assert LONG in cells["Host"].split()
        await pilot.press("m")
        await pilot.pause()
        assert "CPU" in _table_text(table)
        await pilot.resize_terminal(120, 35)  # from 100 columns every column: m does nothing and is not offered
        await pilot.pause()
        assert "Load1" in _table_text(table) and "CPU" in _table_text(table)
        assert "More cols" not in app.dashboard.query_one(KeyFooter).render().plain


async def test_a_name_longer_than_the_cap_keeps_both_ends(tmp_path: Path) -> None:
    snap = _snapshot()
    name = "eu-west-1-prod-frontend-canary-07"
    long = dataclasses.replace(snap.hosts[0], name=name)
    app = _app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        await ui_fixtures.feed(pilot, dataclasses.replace(snap, hosts=(*snap.hosts, long), changed=(name,)))
        table = app.dashboard.query_one("#fleet", FleetTable)
        shown = str(table.get_row(name)[0]).strip()
        assert "…" in shown and shown.startswith("eu-west") and shown.endswith("canary-07")


async def test_a_silent_hosts_figures_are_dimmed_with_their_age(tmp_path: Path) -> None:
    """web02 stopped answering: its last CPU and memory show how old they are, and the age ticks."""
    now = [ui_fixtures.NOW]
    app = _app(tmp_path, clock=lambda: now[0])
    async with app.run_test(size=(120, 35)) as pilot:
        await ui_fixtures.feed(pilot, _snapshot())
        table = app.dashboard.query_one("#fleet", FleetTable)
        measured = next(h for h in _snapshot().hosts if h.name == "web02").load
        assert measured is not None
        age = int(ui_fixtures.NOW - measured.at)
        cpu = table.get_row("web02")[2]
        assert f"{age // 60}m{age % 60:02d}s ago" in cpu.plain
        assert all("dim" in str(span.style) for span in cpu.spans)  # the old value is dimmed, not coloured
        fresh = table.get_row("csb1")[2]
        assert "ago" not in fresh.plain and "dim" not in str(fresh.spans[-1].style)
        now[0] += 60
        for _ in range(40):  # the age ticks once a second
            await pilot.pause(0.05)
            if f"{(age + 60) // 60}m{(age + 60) % 60:02d}s ago" in table.get_row("web02")[2].plain:
                break
        assert f"{(age + 60) // 60}m{(age + 60) % 60:02d}s ago" in table.get_row("web02")[2].plain


def test_the_footer_drops_low_keys_first_and_never_the_rollback() -> None:
    keys = [FooterKey("q", "Quit", True, 2), FooterKey("?", "Keys", True, 0), FooterKey("p", "Probe", True, 2),
            FooterKey("x", "Cancel host", True, 1), FooterKey("t", "Restart proxy", True, 3),
            FooterKey("R", "Rollback", True, 0)]
    shown, dropped = fit(keys, 65)
    assert [k.key for k in shown] == ["q", "?", "p", "x", "R"] and dropped == 1
    shown, dropped = fit(keys, 35)
    assert [k.key for k in shown] == ["?", "R"] and dropped == 4
    shown, dropped = fit(keys, 200)
    assert len(shown) == 6 and dropped == 0
