"""Each service's own CPU and memory on screen: the services grid (``%``) and the host detail, driven with the
pilot against a real process tree on the loopback fleet; thresholds and staleness as host load has them."""

from __future__ import annotations

import re

import pytest
import ui_fixtures
from rich.text import Text
from test_service_usage import start_tree, stop_tree, wait_children
from test_ui_pilot import until
from cockpitcfg import write_config

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.model import CheckResult, HostState, Load, Usage
from screens import render, usage
from screens.app import CockpitApp
from screens.host_detail import HostDetailScreen
from screens.widgets.services_grid import USAGE_WIDTH, ServicesGrid

MB = 1024 * 1024


def has_usage(app: CockpitApp) -> bool:
    engine = app.dashboard.app.engine  # type: ignore[attr-defined]
    r = next((r for r in engine.pollers["h1"].state.results if r.service == "busy"), None)
    return r is not None and r.usage is not None and r.usage.cpu is not None


async def test_grid_and_host_detail_show_a_services_cpu_and_memory(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tree = start_tree("cockpit-usage-ui-tree", True)
    try:
        wait_children(tree, 2)
        cfg = write_config(tmp_path, fleet, '[services.busy]\non = ["h1"]\nprocess = "cockpit-usage-ui-tree"\n'
                                            '[services.web]\non = ["h1"]\nhttp = "http://127.0.0.1:9/"\n',
                           hosts=["h1"], cockpit={"interval": "0.5s"})
        app = CockpitApp(Engine(load_config(cfg)), quiet=True)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: has_usage(app), timeout=20)
            grid = app.dashboard.query_one("#grid-main", ServicesGrid)
            await until(pilot, lambda: grid.row_count == 1 and "busy" in grid.columns and "web" in grid.columns)
            assert "up" in str(grid.get_row("h1")[1])  # status first
            await pilot.press("percent_sign")
            assert grid.usage and grid.columns["busy"].width == USAGE_WIDTH  # type: ignore[index]
            await pilot.pause(0.6)
            busy = str(grid.get_cell("h1", "busy"))
            assert re.search(r"\d+%\s+\S*\s*\d+[KM]$", busy), busy  # CPU of one core, then memory
            assert str(grid.get_cell("h1", "web")) == "✖ down"  # an http check has no resources: its status stays
            await pilot.press("percent_sign")
            assert not grid.usage and "up" in str(grid.get_cell("h1", "busy"))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, HostDetailScreen))
            screen = app.screen
            table = screen.query_one("#hd-services")
            await until(pilot, lambda: table.row_count == 2)
            row = [str(c) for c in table.get_row("busy")]
            assert re.search(r"\d+%$", row[2]) and re.search(r"\d+[KM]$", row[3]), row
            assert "via process tree (3 pids)" in row[-1]
            assert [str(c) for c in table.get_row("web")][2:4] == ["–", "–"]
            await pilot.resize_terminal(80, 24)  # narrow: the figures follow the detail, which keeps its room
            await until(pilot, lambda: len(table.columns) == 5)
            await until(pilot, lambda: table.row_count == 2)
            detail = str(table.get_row("busy")[-1])
            assert re.search(r"CPU \d+% of a core, mem \d+[KM] · via process tree", detail), detail
    finally:
        stop_tree(tree)


def _state(reach: str, cpu: float, cpu_host: float, mem: int) -> tuple[HostState, CheckResult]:
    u = Usage(at=1000.0, cpu=cpu, cpu_host=cpu_host, mem=mem, via="cgroup v1")
    r = CheckResult(service="db", host="h", kind="docker", status="up", detail="running", latency=None, at=1000.0,
                    usage=u, usage_history=(u,))
    h = HostState(name="h", reach=reach, load=Load(at=1000.0, mem_total_kb=4 * 1024 * 1024, ncpu=4),  # type: ignore[arg-type]
                  results=(r,))
    return h, r


def style_of(t: Text, figure: str) -> str:
    start = t.plain.index(figure)
    return " ".join(str(s.style) for s in t.spans if s.start <= start < s.end)


def test_thresholds_are_the_hosts_cpu_share_and_memory_share() -> None:
    h, r = _state("ok", 180.0, 45.0, 3900 * MB)  # 1.8 cores of 4: 45 % of the host; 3.8 GB of 4 GB
    cell = usage.usage_cell(r, h, None)
    assert cell is not None and "180%" in cell.plain and "3.8G" in cell.plain
    assert style_of(cell, "180%") == render.OK  # under the host CPU's 70 % warning
    assert render.BAD in style_of(cell, "3.8G")  # 95 % of the host's memory
    h, r = _state("ok", 300.0, 75.0, 100 * MB)
    cell = usage.usage_cell(r, h, None)
    assert cell is not None and style_of(cell, "300%") == render.WARN and render.OK in style_of(cell, "100M")


def test_a_silent_hosts_figures_show_their_age_dimmed() -> None:
    h, r = _state("unreachable", 50.0, 12.5, 200 * MB)
    stale = usage.stale_age(h, r, now=1042.0)
    assert stale == 42.0
    cell = usage.usage_cell(r, h, stale)
    assert cell is not None and cell.plain == "42s ago  50%  200M"
    assert "dim" in style_of(cell, " 50%") and "dim" in style_of(cell, "200M")
    assert usage.stale_age(*_state("ok", 1, 1, 1), now=1042.0) is None  # an answering host's figures are now


async def _grid_usage(pilot) -> None:  # type: ignore[no-untyped-def]
    await ui_fixtures.feed(pilot)
    await pilot.press("percent_sign")
    pilot.app.clear_notifications()  # the toast says what % did; the grid is what this snapshot is about
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("size", [pytest.param((120, 35), id="120x35"), pytest.param((200, 50), id="200x50")])
def test_services_grid_usage_snapshot(snap_compare, tmp_path, size) -> None:  # type: ignore[no-untyped-def]
    """The fixed fleet's grid after %: web01's traefik with CPU and memory sparklines, the others' status."""
    with ui_fixtures.utc():
        app = ui_fixtures.make_app(tmp_path)
        assert snap_compare(app, terminal_size=size, run_before=_grid_usage)
