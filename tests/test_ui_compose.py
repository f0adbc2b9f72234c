"""A compose project on screen: one column on the dashboard, one row per container in the host detail."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_ui_pilot import until
from ui_fixtures import _r, feed, make_app, snapshot

from textual.widgets import DataTable

from screens.host_detail import HostDetailScreen
from screens.widgets.services_grid import ServicesGrid


def _with_project():  # type: ignore[no-untyped-def]
    snap = snapshot()
    csb1 = snap.hosts[0]
    project = (
        _r("csb1", "fluxer", "compose", "up", "14/15 services fine: admin restarting (3 restarts) (allowed)", None, 900),
        _r("csb1", "fluxer/api", "compose", "up", "running", None, 900),
        _r("csb1", "fluxer/admin", "compose", "up", "restarting (3 restarts) (allowed)", None, 60, critical=False),
        _r("csb1", "fluxer/[bold]x", "compose", "down", "exited (1 restarts)", None, 30),  # remote text: no markup
    )
    hosts = (dataclasses.replace(csb1, results=csb1.results + project), *snap.hosts[1:])
    return dataclasses.replace(snap, hosts=hosts)


async def test_containers_are_rows_of_the_host_detail_not_columns_of_the_grid(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await feed(pilot, _with_project())
        grid = app.dashboard.query_one("#grid-main", ServicesGrid)
        columns = [str(c.label) for c in grid.columns.values()]
        assert "fluxer" in columns and not any("/" in c for c in columns), columns
        app.action_host_detail("csb1")
        await until(pilot, lambda: isinstance(app.screen, HostDetailScreen))
        screen = app.screen
        await until(pilot, lambda: bool(screen.query("#hd-services")) and screen.query_one("#hd-services").row_count == 9)
        table = screen.query_one("#hd-services", DataTable)
        admin = " ".join(str(c) for c in table.get_row("fluxer/admin"))
        assert "restarting (3 restarts) (allowed)" in admin
        hostile = " ".join(str(c) for c in table.get_row("fluxer/[bold]x"))
        assert "fluxer/[bold]x" in hostile and "exited" in hostile


async def test_the_highlighted_services_whole_detail_shows_below_the_table_at_80x24(tmp_path: Path) -> None:
    """At 80 columns the Detail column is cut (it is last, so only it is); the highlighted row's detail is
    shown whole below the table, and follows the cursor."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot, _with_project())
        app.action_host_detail("csb1")
        await until(pilot, lambda: isinstance(app.screen, HostDetailScreen))
        screen = app.screen
        await until(pilot, lambda: bool(screen.query("#hd-services")) and screen.query_one("#hd-services").row_count == 9)
        table = screen.query_one("#hd-services", DataTable)
        line = screen.query_one("#hd-service-detail")
        first = str(table.coordinate_to_cell_key((0, 0)).row_key.value)
        assert str(line.render()).startswith(f"{first}: ")
        table.move_cursor(row=table.get_row_index("fluxer"))
        await pilot.pause()
        shown = str(line.render())
        assert shown == "fluxer: 14/15 services fine: admin restarting (3 restarts) (allowed)", shown
        assert line.region.height >= 1 and line.region.y < screen.query_one("#hd-actions").region.y  # on screen
