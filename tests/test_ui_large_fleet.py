"""The dashboard at 500 hosts (benchmark B4): only rows on screen cost work, and nobody sees old values.

Rows off screen take a round's values when they come into view (scroll, cursor, filter) or are read.
These tests look at what the screen shows (the compositor's lines, cropped to a widget), never at
the table's data alone, and compare a table updated round after round with one built from scratch.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import ui_fixtures
from textual.widget import Widget

from cockpit.config import load_config
from cockpit.model import FleetSnapshot
from cockpit.engine import Engine
from screens.app import GC_THRESHOLD, CockpitApp
from screens.widgets.event_log import EventLog
from screens.widgets.fleet_table import FleetTable
from screens.widgets.services_grid import ServicesGrid
from ui_fixtures import BigFleet, feed

N = 500
SIZE = (160, 48)


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    with ui_fixtures.utc():
        yield


def big_app(tmp_path: Path, **kw: object) -> CockpitApp:
    engine = Engine(load_config(ui_fixtures.write_big_config(tmp_path, N)))
    return CockpitApp(engine, live=False, quiet=True, clock=ui_fixtures.clock, **kw)  # type: ignore[arg-type]


def shown(app: CockpitApp, widget: Widget) -> list[str]:
    """The lines of the screen inside ``widget``, as the terminal would show them."""
    strips = app.screen._compositor.render_strips()
    r = widget.region
    return [strip.crop(r.x, r.right).text for strip in strips[r.y:r.bottom]]


def row_of(lines: list[str], host: str) -> str:
    found = [line for line in lines if f" {host} " in line]
    assert found, f"{host} is not on screen:\n" + "\n".join(lines)
    return found[0]


async def show_row(pilot, table: FleetTable | ServicesGrid, host: str) -> None:  # type: ignore[no-untyped-def]
    """What an operator does: focus the table and move the cursor there (it scrolls)."""
    table.focus()
    table.move_cursor(row=table.get_row_index(host), animate=False)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def test_rows_changed_off_screen_show_new_values_when_scrolled_into_view(tmp_path: Path) -> None:
    big = BigFleet(N)
    app = big_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, big.next())
        table = app.dashboard.query_one("#fleet", FleetTable)
        grid = app.dashboard.query_one("#grid-main", ServicesGrid)
        assert " 10%" in row_of(shown(app, table), "h001")
        for h in big.names:
            big.cpu[h] = 87.0
        big.cpu["h450"] = 13.0
        big.set_status("h450", "web", "down")
        await feed(pilot, big.next())
        # on screen at once; most of the 500 rows not touched yet
        assert " 87%" in row_of(shown(app, table), "h001")
        assert "h450" in table.stale_rows and len(table.stale_rows) > N - 60
        await show_row(pilot, table, "h450")
        row = row_of(shown(app, table), "h450")
        assert " 13%" in row and "4/5 ✖ down" in row, row
        assert " 87%" in row_of(shown(app, table), "h440")
        await show_row(pilot, grid, "h450")
        assert "✖ down" in row_of(shown(app, grid), "h450")
        assert "✖ down" not in row_of(shown(app, grid), "h449")
        # the event of a host far off screen is listed like any other
        assert any("h450 web up → down" in line for line in shown(app, app.dashboard.query_one("#events", EventLog)))


async def test_a_table_updated_round_after_round_looks_like_one_built_from_scratch(tmp_path: Path) -> None:
    """Scrolls, partial rounds (only some hosts changed) and status flips, then every visible line of
    the fleet table and the grid compared with a fresh cockpit shown only the last snapshot."""
    big = BigFleet(N)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    app = big_app(tmp_path / "a")
    last: FleetSnapshot
    async with app.run_test(size=SIZE) as pilot:
        table = app.dashboard.query_one("#fleet", FleetTable)
        grid = app.dashboard.query_one("#grid-main", ServicesGrid)
        await feed(pilot, big.next())
        await show_row(pilot, table, "h200")
        for i, h in enumerate(big.names):
            big.cpu[h] = float(5 + (i * 7) % 90)
        big.set_status("h010", "agent", "down")
        big.set_status("h300", "queue", "degraded")
        await feed(pilot, big.next())
        await show_row(pilot, table, "h001")
        await show_row(pilot, grid, "h290")
        # a round that names only the hosts that changed, on screen and off
        changed = ("h002", "h150", "h305", "h499")
        for h in changed:
            big.cpu[h] = 99.0
        big.set_status("h305", "health", "down")
        big.set_status("h010", "agent", "up")
        last = big.next(changed=(*changed, "h010"))
        await feed(pilot, last)
        await show_row(pilot, table, "h305")
        await show_row(pilot, grid, "h300")
        got_table, got_grid = shown(app, table), shown(app, grid)
        cursor_table, cursor_grid = table.cursor_coordinate, grid.cursor_coordinate

    fresh = big_app(tmp_path / "b")
    async with fresh.run_test(size=SIZE) as pilot:
        await feed(pilot, last)
        table = fresh.dashboard.query_one("#fleet", FleetTable)
        grid = fresh.dashboard.query_one("#grid-main", ServicesGrid)
        await show_row(pilot, grid, "h300")
        grid.move_cursor(row=cursor_grid.row, column=cursor_grid.column, animate=False)
        await show_row(pilot, table, "h305")
        await pilot.pause()
        assert table.cursor_coordinate == cursor_table
        assert shown(fresh, table) == got_table
        assert shown(fresh, grid) == got_grid
    assert " 99%" in row_of(got_table, "h305") and "4/5 ✖ down" in row_of(got_table, "h305")


async def test_statuses_flipping_off_screen_reach_the_header_events_and_filter(tmp_path: Path) -> None:
    big = BigFleet(N)
    app = big_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, big.next())
        down = [f"h{i:03d}" for i in range(400, 420)]
        for h in down:
            big.set_status(h, "db-conn", "down")
        await feed(pilot, big.next())
        log = app.dashboard.query_one("#events", EventLog)
        assert {e.key for e in log.entries} >= {(h, "db-conn") for h in down}
        header = shown(app, app.dashboard.query_one("#header"))[0]
        assert "✖20 " in header, header
        await pilot.press("slash", *"down", "enter")
        await pilot.pause()
        table = app.dashboard.query_one("#fleet", FleetTable)
        assert table.visible_hosts() == down
        lines = shown(app, table)
        for h in down[:10]:
            assert "4/5 ✖ down" in row_of(lines, h)


async def test_selection_and_narrow_layout_rebuild_rows_without_losing_values(tmp_path: Path) -> None:
    big = BigFleet(N)
    app = big_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, big.next())
        table = app.dashboard.query_one("#fleet", FleetTable)
        await show_row(pilot, table, "h250")
        await pilot.press("space")
        await pilot.pause()
        assert row_of(shown(app, table), "h250").lstrip().startswith("▶ h250")
        big.cpu["h250"] = 66.0
        await feed(pilot, big.next())
        await pilot.resize_terminal(100, 30)  # narrow: shorter sparklines, the table rebuilt
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        row = row_of(shown(app, table), "h250")
        assert "▶ h250" in row and " 66%" in row, row


async def test_gc_is_tuned_while_the_cockpit_runs_and_restored_after(tmp_path: Path) -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    app = big_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert gc.get_threshold() == GC_THRESHOLD
        assert gc.get_freeze_count() > 0  # start-up's objects are out of the collector's scans

        def scanned(obj: object) -> bool:  # still in the collector's scans (frozen objects are not)
            return any(o is obj for o in gc.get_objects())

        keep = [[] for _ in range(3)]  # what lives as long as the cockpit (connections, kept shells)
        fleet = BigFleet(N)
        first = fleet.next()
        await feed(pilot, replace(first, hosts=(replace(first.hosts[0], round_ended=0.0), *first.hosts[1:])))
        assert scanned(keep)  # a host has not answered yet: nothing more is frozen
        await feed(pilot, fleet.next())
        assert not scanned(keep)  # every host answered: what lives on is out of the scans too
        later = [[]]
        await feed(pilot, fleet.next())
        assert scanned(later)  # once, not on every snapshot
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


class QuietEngine(Engine):
    """The real engine with no pollers: the test publishes the rounds."""

    async def start(self) -> None:
        return None

    def publish(self, snap: FleetSnapshot) -> None:
        for sub in self._subs:
            sub._push(snap)


async def test_live_snapshots_are_merged_to_one_update_a_second_and_keep_every_event(tmp_path: Path) -> None:
    big = BigFleet(N)
    engine = QuietEngine(load_config(ui_fixtures.write_big_config(tmp_path, N)))
    app = CockpitApp(engine, quiet=True, clock=ui_fixtures.clock, apply_every=1.0)
    applied: list[float] = []
    original = app.dashboard.apply

    def counting(snap: FleetSnapshot) -> None:
        applied.append(time.monotonic())
        original(snap)

    app.dashboard.apply = counting  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        engine.publish(big.next())
        await pilot.pause(1.5)  # idle for longer than apply_every
        table = app.dashboard.query_one("#fleet", FleetTable)
        log = app.dashboard.query_one("#events", EventLog)
        n0 = len(applied)
        # a change after a quiet spell is on screen within a second
        big.set_status("h001", "web", "down")
        t0 = time.monotonic()
        engine.publish(big.next(changed=("h001",)))
        while len(applied) == n0 and time.monotonic() - t0 < 3:
            await asyncio.sleep(0.01)
        assert applied[n0] - t0 < 1.0
        await pilot.pause()
        assert "4/5 ✖ down" in row_of(shown(app, table), "h001")
        # then a flood: one snapshot per host round, each with a flip
        flood = [f"h{i:03d}" for i in range(2, 22)]
        t1 = time.monotonic()
        for h in flood:
            big.set_status(h, "agent", "down")
            engine.publish(big.next(changed=(h,)))
            await asyncio.sleep(0.02)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not {(h, "agent") for h in flood} <= {e.key for e in log.entries}:
            await asyncio.sleep(0.05)
        assert {(h, "agent") for h in flood} <= {e.key for e in log.entries}  # every status change listed
        merged = [t for t in applied if t >= t1]
        assert 1 <= len(merged) <= 2, merged  # 20 snapshots, at most one update a second
        await pilot.pause()
        assert "4/5 ✖ down" in row_of(shown(app, table), "h021")
