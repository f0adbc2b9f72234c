"""Sort and filter on the dashboard, driven by keys (docs/ui.md, "Filter and sort").

The fixed fleet of :mod:`ui_fixtures` (six hosts, known figures, every reach kind), fed as the engine feeds it:
sort orders must be exact, and live figures of loopback hosts on one machine would tie. The terms themselves
are tested one by one in ``tests/test_fleet_query.py``; here, that the keys and the box reach them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import ui_fixtures
from textual.pilot import Pilot
from textual.widgets import Input

from cockpit.fleetquery import parse_filter, sort_hosts
from cockpit.model import FleetSnapshot
from screens.app import CockpitApp
from screens.sort_picker import SortPicker
from screens.widgets.fleet_table import FleetTable

PICK = {"name": "n", "status": "s", "cpu": "c", "mem": "m", "load": "l"}


def table(app) -> FleetTable:  # type: ignore[no-untyped-def]
    return app.dashboard.query_one("#fleet", FleetTable)


@asynccontextmanager
async def dashboard(tmp_path: Path, fed: bool = True) -> AsyncIterator[tuple[CockpitApp, Pilot[int], FleetSnapshot]]:
    """The fixed fleet's cockpit at 120×35 (UTC, fixed clock), the snapshot fed unless ``fed=False``."""
    snap = ui_fixtures.snapshot()
    with ui_fixtures.utc():
        app = ui_fixtures.make_app(tmp_path)
        async with app.run_test(size=(120, 35)) as pilot:
            if fed:
                await ui_fixtures.feed(pilot, snap)
            yield app, pilot, snap


async def test_the_first_filter_applies_to_the_first_snapshot(tmp_path: Path) -> None:
    """Typed before any round arrived, ``status:down`` listed every host (an all-up one too) until the next key."""
    async with dashboard(tmp_path, fed=False) as (app, pilot, snap):
        want = [h.name for h in parse_filter("status:down").select(snap.hosts)]
        assert 0 < len(want) < len(snap.hosts)
        await pilot.press("slash", *"status:down")
        await ui_fixtures.feed(pilot, snap)
        assert table(app).visible_hosts() == want
        await pilot.press("enter")  # kept
        await ui_fixtures.feed(pilot, snap)
        assert table(app).visible_hosts() == want


FILTERS = ["tag:web", "!tag:web", "svc:postgres", "web0[12]", "tag:cloud !status:up", "status:unreachable"]


async def test_filter_box_terms(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot, snap):
        for text in FILTERS:
            await pilot.press("slash", *text)
            await pilot.pause()
            assert table(app).visible_hosts() == [h.name for h in parse_filter(text).select(snap.hosts)], text
            await pilot.press("escape")
            await pilot.pause()
            assert table(app).visible_hosts() == [h.name for h in snap.hosts]


async def test_a_bad_term_says_why_and_keeps_the_last_filter(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot, snap):
        await pilot.press("slash", *"tag:web status:sideways")
        await pilot.pause()
        box = app.dashboard.query_one("#filter", Input)
        assert box.has_class("-invalid")
        assert "status:sideways is not a status" in str(box.border_subtitle)
        # the rows are those of the last text that parsed, one key earlier ("tag:web status": a regex)
        assert table(app).visible_hosts() == [h.name for h in parse_filter("tag:web status").select(snap.hosts)]
        for _ in "sideways":
            await pilot.press("backspace")
        await pilot.press(*"down")
        await pilot.pause()
        assert not box.has_class("-invalid") and not box.border_subtitle
        assert table(app).visible_hosts() == [h.name for h in parse_filter("tag:web status:down").select(snap.hosts)]


async def test_each_sort_key_and_again_reverses(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot, snap):
        assert table(app).visible_hosts() == [h.name for h in snap.hosts]  # the config's order
        for key, letter in PICK.items():
            first = [h.name for h in sort_hosts(snap.hosts, key)]
            again = [h.name for h in sort_hosts(snap.hosts, key, reverse=True)]
            assert first != again
            await pilot.press("o")
            await pilot.pause()
            assert isinstance(app.screen, SortPicker)
            await pilot.press(letter)
            await pilot.pause()
            assert app.screen is app.dashboard
            assert table(app).visible_hosts() == first, key
            await ui_fixtures.feed(pilot, snap)  # a round keeps the order
            assert table(app).visible_hosts() == first, key
            await pilot.press("o", letter)
            await pilot.pause()
            assert table(app).visible_hosts() == again, key
