"""Sort and filter on the dashboard, driven by keys (docs/ui.md, "Filter and sort").

The fixed fleet of :mod:`ui_fixtures` (six hosts, known figures, every reach kind), fed as the engine feeds it:
sort orders must be exact, and live figures of loopback hosts on one machine would tie. The terms themselves
are tested one by one in ``tests/test_fleet_query.py``; here, that the keys and the box reach them.
"""

from __future__ import annotations

from pathlib import Path

import ui_fixtures
from textual.widgets import Input

from cockpit.fleetquery import parse_filter, sort_hosts
from screens.sort_picker import SortPicker
from screens.widgets.fleet_table import FleetTable

PICK = {"name": "n", "status": "s", "cpu": "c", "mem": "m", "load": "l"}


def table(app) -> FleetTable:  # type: ignore[no-untyped-def]
    return app.dashboard.query_one("#fleet", FleetTable)


async def test_the_first_filter_applies_to_the_first_snapshot(tmp_path: Path) -> None:
    """Typed before any round arrived, ``status:down`` listed every host (an all-up one too) until the next key."""
    snap = ui_fixtures.snapshot()
    want = [h.name for h in parse_filter("status:down").select(snap.hosts)]
    assert 0 < len(want) < len(snap.hosts)
    with ui_fixtures.utc():
        app = ui_fixtures.make_app(tmp_path)
        async with app.run_test(size=(120, 35)) as pilot:
            await pilot.press("slash", *"status:down")
            await ui_fixtures.feed(pilot, snap)
            assert table(app).visible_hosts() == want
            await pilot.press("enter")  # kept
            await ui_fixtures.feed(pilot, snap)
            assert table(app).visible_hosts() == want


FILTERS = ["tag:web", "!tag:web", "svc:postgres", "web0[12]", "tag:cloud !status:up", "status:unreachable"]


async def test_filter_box_terms(tmp_path: Path) -> None:
    snap = ui_fixtures.snapshot()
    with ui_fixtures.utc():
        app = ui_fixtures.make_app(tmp_path)
        async with app.run_test(size=(120, 35)) as pilot:
            await ui_fixtures.feed(pilot, snap)
            for text in FILTERS:
                await pilot.press("slash", *text)
                await pilot.pause()
                assert table(app).visible_hosts() == [h.name for h in parse_filter(text).select(snap.hosts)], text
                await pilot.press("escape")
                await pilot.pause()
                assert table(app).visible_hosts() == [h.name for h in snap.hosts]


async def test_a_bad_term_says_why_and_keeps_the_last_filter(tmp_path: Path) -> None:
    snap = ui_fixtures.snapshot()
    with ui_fixtures.utc():
        app = ui_fixtures.make_app(tmp_path)
        async with app.run_test(size=(120, 35)) as pilot:
            await ui_fixtures.feed(pilot, snap)
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
    snap = ui_fixtures.snapshot()
    with ui_fixtures.utc():
        app = ui_fixtures.make_app(tmp_path)
        async with app.run_test(size=(120, 35)) as pilot:
            await ui_fixtures.feed(pilot, snap)
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
