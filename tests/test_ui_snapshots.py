"""One snapshot per screen, at 80×24, 120×35 and 200×50 (and the dashboard with NO_COLOR at 80×24), on a
fixed fleet with a fixed clock. The breakpoints between them (100 and 160 columns) are asserted by
tests/test_screen_sizes.py.

The baselines live in ``tests/__snapshots__/test_ui_snapshots/``. After a deliberate UI
change, regenerate them with ``--snapshot-update``, look at every changed SVG (the
report pytest-textual-snapshot writes shows old and new side by side) and commit them
with the change. Textual is pinned exactly because its rendering changes between releases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import ui_fixtures
from textual.pilot import Pilot

from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.host_detail import HostDetailScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 35), id="120x35"),
         pytest.param((200, 50), id="200x50")]
DETAIL_HOST = "web01"  # down: a failed unit and a failed command beside a healthy container


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    with ui_fixtures.utc():
        yield


async def _settle(pilot: Pilot) -> None:  # type: ignore[type-arg]
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def _dashboard(pilot: Pilot) -> None:  # type: ignore[type-arg]
    await ui_fixtures.feed(pilot)
    await _settle(pilot)


async def _plan(pilot: Pilot) -> None:  # type: ignore[type-arg]
    """Tab 3 below 160 columns; from 160 the plan is beside the fleet and 3 focuses it there."""
    await ui_fixtures.feed(pilot)
    await pilot.press("3")
    await _settle(pilot)


async def _output(pilot: Pilot) -> None:  # type: ignore[type-arg]
    """Tab 4 before any action: the pane says so (no action is run: it would reach for the test hosts)."""
    await ui_fixtures.feed(pilot)
    await pilot.press("4")
    await _settle(pilot)


async def _host_detail(pilot: Pilot) -> None:  # type: ignore[type-arg]
    await ui_fixtures.feed(pilot)
    pilot.app.action_host_detail(DETAIL_HOST)  # type: ignore[attr-defined]
    # the screen is filled by a task started after its first refresh: wait for it, bounded
    for _ in range(100):
        screen = pilot.app.screen
        if isinstance(screen, HostDetailScreen) and screen.state is not None:
            break
        await pilot.pause(0.01)
    assert isinstance(pilot.app.screen, HostDetailScreen) and pilot.app.screen.state is not None
    await _settle(pilot)


async def _confirm(pilot: Pilot) -> None:  # type: ignore[type-arg]
    """The configured action with ``confirm = true``, by its key; never answered (it would run for real)."""
    await ui_fixtures.feed(pilot)
    await pilot.press("t")
    await _settle(pilot)
    assert isinstance(pilot.app.screen, ConfirmScreen)


async def _help(pilot: Pilot) -> None:  # type: ignore[type-arg]
    await ui_fixtures.feed(pilot)
    await pilot.press("question_mark")
    await _settle(pilot)
    assert isinstance(pilot.app.screen, HelpScreen)


def _check(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int],
           run_before: Callable[[Pilot], Awaitable[None]], **kw: object) -> None:  # type: ignore[type-arg]
    app = ui_fixtures.make_app(tmp_path, **kw)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    """Header counts, fleet table (every reach kind), events; wide: services grid and plan beside it."""
    _check(snap_compare, tmp_path, size, _dashboard)


def test_dashboard_no_color(snap_compare: Callable[..., bool], tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR at 80×24: bad values stay bold and reversed, warnings underlined; nothing is dim grey."""
    monkeypatch.setenv("NO_COLOR", "1")  # read (and removed) by the App when it is built
    _check(snap_compare, tmp_path, (80, 24), _dashboard)


@pytest.mark.parametrize("size", SIZES)
def test_plan(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    """The phases: in their tab below 160 columns, beside the fleet (and the events) from 160."""
    _check(snap_compare, tmp_path, size, _plan)


@pytest.mark.parametrize("size", SIZES)
def test_output(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    """The output tab with no action yet."""
    _check(snap_compare, tmp_path, size, _output)


@pytest.mark.parametrize("size", SIZES)
def test_host_detail(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    """web01: services with detail, latency and since; load sparklines; no actions yet."""
    _check(snap_compare, tmp_path, size, _host_detail)


@pytest.mark.parametrize("size", SIZES)
def test_confirm(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    """'Restart reverse proxy' (confirm = true) on 3 hosts: title, exact command, hosts, y / n."""
    _check(snap_compare, tmp_path, size, _confirm)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    """Every binding, including the two configured actions, generated from the bindings."""
    _check(snap_compare, tmp_path, size, _help)
