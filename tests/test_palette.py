"""The command palette and the `?` help (issue 23, item 1): every key's action by name and by key, greyed with the
reason when it cannot run now; `:` opens it; `Keys` once; the help's "Where" column says where each key acts.

A real cockpit on a local host (a runbook of two phases, a quick rollback, a configured action); the palette is
Textual's own, driven by typing. Before: `rollback`, `baseline`, `skip`, `plan`, `filter`, `cancel`, `retry`,
`tick` and `override` found nothing, `Keys` was listed twice, and every help row said `dashboard`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from localcfg import LOCAL_HOST, ONE_PHASE
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.session import Session
from screens.app import CockpitApp
from screens.help import HelpScreen
from screens.palette import KeyCommands, key_commands

CONFIG = """\
[cockpit]
title = "palette"
interval = "0.3s"
{journal}

""" + LOCAL_HOST + """
[actions.restart-proxy]
key = "t"
title = "Restart reverse proxy"
on = ["all"]
run = "true"

""" + ONE_PHASE + """
[[phases]]
id = "two"

  [[phases.steps]]
  id = "later"
  on = ["all"]
  run = "true"

[rollback]
on = ["all"]
run = "true"
"""

#: words an operator typed that found nothing, and the command each must find
ISSUE_WORDS = {"rollback": "Rollback", "baseline": "Baseline", "skip": "Skip step", "plan": "Plan",
               "filter": "Filter", "cancel": "Cancel host", "retry": "Retry host", "tick": "Tick manual step done",
               "override": "Override phase"}


def config(tmp_path: Path, journal: bool = False) -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text(CONFIG.format(journal='[journal]\npath = "journal.db"' if journal else ""))
    return path


@asynccontextmanager
async def cockpit(tmp_path: Path, **kw: Any) -> AsyncIterator[tuple[CockpitApp, Pilot[int]]]:
    app = CockpitApp(Engine(load_config(config(tmp_path))), live=False, quiet=True, operator="test",
                     clock=lambda: 0.0, **kw)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        yield app, pilot


async def until(pilot: Pilot[int], cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def search(app: CockpitApp, query: str) -> list[tuple[float, str, str]]:
    """(score, name, help) of every hit our provider gives for ``query``, as the palette would ask it."""
    provider = KeyCommands(app.dashboard)
    return [(hit.score, str(hit.text), str(hit.help)) async for hit in provider.search(query)]


def options(app: CockpitApp) -> list[tuple[str, str]]:
    """(name, help) of every row the open palette lists."""
    commands = app.screen.query_one(CommandList)
    rows = [commands.get_option_at_index(i) for i in range(commands.option_count)]
    return [(str(r.hit.text), str(r.hit.help or "")) for r in rows if hasattr(r, "hit")]


async def type_in_palette(app: CockpitApp, pilot: Pilot[int], words: str, expect: str) -> list[tuple[str, str]]:
    box = app.screen.query_one(Input)
    box.value = ""
    await pilot.press(*words)
    await until(pilot, lambda: box.value == words and any(expect == n for n, _ in options(app)))
    return options(app)


async def test_every_key_is_found_by_its_name_and_by_its_key(tmp_path: Path) -> None:
    async with cockpit(tmp_path) as (app, _pilot):
        keyed = [c for c in key_commands(app) if c.key]
        assert {"p", "!", "/", "o", "b", "R", "S", "O", "K", "F", "U", "T", "C", "A", "L", "x", "X", "r", "t",
                "q", "?"} <= {c.key for c in keyed}
        for c in keyed:
            by_key = await search(app, c.key)
            best = max(s for s, _, _ in by_key)
            assert any(n == c.title for s, n, _ in by_key if s == best), c
            by_name = await search(app, c.title)
            assert any(n == c.title for _, n, _ in by_name), c
        assert ("Action: Restart reverse proxy", "t") in [(c.title, c.key) for c in keyed]
        # the longer line counts too, below names: the old palette names still find their commands
        assert "Run cmd" in [n for _, n, _ in await search(app, "Run a command")]
        assert "Probe" in [n for _, n, _ in await search(app, "Probe now")]


async def test_the_words_of_the_issue_find_their_commands_in_the_palette(tmp_path: Path) -> None:
    async with cockpit(tmp_path) as (app, pilot):
        await pilot.press("colon")  # `:` opens it, as in k9s
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        for word, name in ISSUE_WORDS.items():
            rows = await type_in_palette(app, pilot, word, name)
            assert name in [n for n, _ in rows], (word, rows)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard)


async def test_keys_is_listed_once_and_each_row_says_its_key(tmp_path: Path) -> None:
    async with cockpit(tmp_path) as (app, pilot):
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette) and len(options(app)) > 20)
        await pilot.pause(0.5)  # every provider has answered
        names = [n for n, _ in options(app)]
        assert names.count("Keys") == 1 and names.count("Quit") == 1 and names.count("Screenshot") == 1, names
        commands = app.screen.query_one(CommandList)
        prompts = [commands.get_option_at_index(i).prompt for i in range(commands.option_count)]
        assert any("Skip step  S" in str(p) for p in prompts)


async def test_colon_in_a_text_box_stays_text(tmp_path: Path) -> None:
    async with cockpit(tmp_path) as (app, pilot):
        await pilot.press("slash", *"status:down")
        assert app.dashboard.query_one("#filter", Input).value == "status:down"
        assert not isinstance(app.screen, CommandPalette)


async def test_greyed_with_the_reason_and_choosing_it_runs_nothing(tmp_path: Path) -> None:
    async with cockpit(tmp_path, read_only=True) as (app, pilot):
        hits = {n: h for _, n, h in await search(app, "Probe")}
        assert hits["Probe"].startswith("unavailable: read-only: this cockpit fires nothing"), hits
        hits = {n: h for _, n, h in await search(app, "Cancel host")}
        assert hits["Cancel host"] == "unavailable: nothing is running"
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await type_in_palette(app, pilot, "Probe", "Probe")
        commands = app.screen.query_one(CommandList)
        await until(pilot, lambda: commands.highlighted is not None and
                    str(commands.get_option_at_index(commands.highlighted).hit.text) == "Probe")
        await pilot.press("enter")
        await until(pilot, lambda: any("Probe: read-only" in n.message for n in app._notifications))
        assert not app.engine.actions.history and app.screen is app.dashboard


async def test_reasons_of_a_driver_no_step_selected_locked_phase_nothing_paused(tmp_path: Path) -> None:
    async with cockpit(tmp_path) as (app, _pilot):
        hits = {n: h for _, n, h in await search(app, "step")}
        assert hits["Skip step"] == "unavailable: select a step in the plan first (3, or the plan beside the table)"
        assert hits["Continue rolling step"] == "unavailable: no rolling step is waiting for you"
        assert not hits["Run step one.mark: mark"].startswith("unavailable")
        assert hits["Run step two.later: later"].startswith("unavailable: phase two is locked")
        hits = {n: h for _, n, h in await search(app, "T")}
        assert hits["Take over stale lease"] == "unavailable: this cockpit drives the runbook already"


async def test_an_observer_sees_who_drives_as_the_reason(tmp_path: Path) -> None:
    path = config(tmp_path, journal=True)
    driver = Session(load_config(path), "alice")
    try:
        observer = Session(load_config(path), "bob")
        app = CockpitApp(observer.engine, quiet=True, operator="bob", session=observer)
        async with app.run_test(size=(120, 35)) as pilot:
            await until(pilot, lambda: app.dashboard.plan is not None and app.dashboard.plan.observer)
            hits = {n: h for _, n, h in await search(app, "Baseline")}
            assert hits["Baseline"].startswith("unavailable: observer: alice on "), hits
            hits = {n: h for _, n, h in await search(app, "T")}
            assert not hits["Take over stale lease"].startswith("unavailable")  # T is what an observer may do
    finally:
        await driver.close()


async def test_help_says_where_each_key_acts(tmp_path: Path) -> None:
    async with cockpit(tmp_path) as (app, pilot):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        where = {(k, w) for k, _, w in app.screen.rows}  # type: ignore[attr-defined]
        for expected in (("S", "plan (the selected step)"), ("O", "plan (the selected phase)"),
                         ("space", "fleet table (the host under the cursor)"), ("o", "fleet table"),
                         ("/", "fleet table"), ("x", "output pane (the host of its tab)"), ("q", "everywhere"),
                         ("?", "everywhere"), (":", "everywhere"), ("p", "dashboard"), ("t", "dashboard")):
            assert expected in where, expected
        keys = [k for k, _, _ in app.screen.rows]  # type: ignore[attr-defined]
        assert keys.count("q") == 1 and keys.count("?") == 1


async def test_on_host_detail_the_palette_lists_its_keys_and_the_global_ones(tmp_path: Path) -> None:
    from screens.host_detail import HostDetailScreen

    async with cockpit(tmp_path) as (app, pilot):
        app.action_host_detail("local")
        await until(pilot, lambda: isinstance(app.screen, HostDetailScreen))
        rows = {(c.key, c.name, c.where) for c in key_commands(app, app.screen)}
        assert ("escape", "Back", "host detail") in rows and ("p", "Probe host", "host detail") in rows
        assert ("q", "Quit", "everywhere") in rows
        assert not any(c.name == "Skip step" for c in key_commands(app, app.screen))  # the dashboard's, not here
