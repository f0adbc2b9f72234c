"""Screenshots from the command palette: into ``[cockpit] screenshot_dir`` (default: the state directory), the saved
path shown; a directory that cannot be written is a clear error on screen, never a silent failure.

Before: Textual's own "Screenshot" wrote to ~/Downloads and, on a server without one, the only trace was
``Failed to save screenshot``. The palette is driven as an operator drives it (type, Enter).
"""

from __future__ import annotations

import time
from pathlib import Path

from localcfg import LOCAL_HOST
from textual.command import CommandList, CommandPalette

from cockpit.config import load_config
from cockpit.engine import Engine
from screens.app import CockpitApp

CONFIG = """\
[cockpit]
title = "shots"
{extra}

""" + LOCAL_HOST


def make_app(tmp_path: Path, extra: str = "") -> CockpitApp:
    path = tmp_path / "cockpit.toml"
    path.write_text(CONFIG.format(extra=extra))
    return CockpitApp(Engine(load_config(path)), live=False, quiet=True, operator="test", clock=lambda: 0.0)


async def until(pilot, cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def palette_run(app: CockpitApp, pilot, words: str, title: str) -> None:  # type: ignore[no-untyped-def]
    """Open the palette, type ``words``, wait for ``title`` at the top of the list, press Enter."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*words)
    commands = app.screen.query_one(CommandList)

    def top() -> str:
        if commands.option_count == 0 or commands.highlighted is None:
            return ""
        return str(commands.get_option_at_index(commands.highlighted).hit.text)

    await until(pilot, lambda: top().startswith(title))
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(app.screen, CommandPalette))


def messages(app: CockpitApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_screenshot_goes_to_the_state_directory_and_says_where(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await palette_run(app, pilot, "Screenshot", "Screenshot")
        await until(pilot, lambda: any("screenshot saved" in m for m in messages(app)))
    state = tmp_path / "cockpit.state"
    shots = list(state.glob("*.svg"))
    assert len(shots) == 1 and shots[0].read_text().startswith("<svg")
    assert any(str(shots[0]) in m for m in messages(app))


async def test_screenshot_to_a_configured_directory(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'screenshot_dir = "shots/today"')
    async with app.run_test(size=(100, 30)) as pilot:
        await palette_run(app, pilot, "Screenshot", "Screenshot")
        await until(pilot, lambda: any("screenshot saved" in m for m in messages(app)))
    shots = list((tmp_path / "shots" / "today").glob("*.svg"))
    assert len(shots) == 1 and any(str(shots[0]) in m for m in messages(app))


async def test_screenshot_that_cannot_be_written_is_an_error_on_screen(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("a file where the directory should be")
    app = make_app(tmp_path, 'screenshot_dir = "not-a-dir/shots"')
    async with app.run_test(size=(100, 30)) as pilot:
        await palette_run(app, pilot, "Screenshot", "Screenshot")
        await until(pilot, lambda: any(n.severity == "error" for n in app._notifications))
    error = next(n.message for n in app._notifications if n.severity == "error")
    assert "screenshot NOT saved" in error and str(tmp_path / "not-a-dir" / "shots") in error, error
    assert "screenshot_dir" in error  # says what to change
    assert not any("screenshot saved" in m for m in messages(app))
