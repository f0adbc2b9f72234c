"""The output pane with a rolling step's two batches, its merged tab and a search, at 80×24 and 200×50.

Fed the way the engine feeds the App (ActionChanged messages and its action_output listener call, spool files on disk) on the
fixed fleet of :mod:`ui_fixtures`; nothing is contacted. The spool paths are relative (the test runs in its
own directory) so the footers repeat. Regenerate with ``--snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import ui_fixtures
from textual.pilot import Pilot

from cockpit.engine import ActionRun, HostRun
from screens.messages import ActionChanged
from screens.widgets.output_pane import OutputPane

NOW = ui_fixtures.NOW
OUTPUT = {
    "csb1": ["pulling fleet-agent 2.0.1", "unit fleet-agent.service restarted", "health: ok"],
    "csb2": ["pulling fleet-agent 2.0.1", "unit fleet-agent.service restarted", "health: ok"],
    "web01": ["pulling fleet-agent 2.0.1", "error: /etc/fleet/v2.toml: No such file", "health: error (exit 1)"],
}


@pytest.fixture(autouse=True)
def _utc_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    with ui_fixtures.utc():
        yield


def _runs() -> tuple[ActionRun, ActionRun]:
    def hr(host: str, state: str, code: int, start: float) -> HostRun:
        return HostRun(host=host, command=f"deploy-agent {host}", state=state, exit_status=code,  # type: ignore[arg-type]
                       started=NOW - start, ended=NOW - start + 1.2, spool=f"spool/action-{host}.log",
                       lines=len(OUTPUT[host]), stderr=OUTPUT[host][1] if code else "")
    first = ActionRun(id=7, title="Roll out agent v2", command="deploy-agent {host}", kind="step", step="deploy.agent",
                      runs=(hr("csb1", "ok", 0, 30), hr("csb2", "ok", 0, 30)), started=NOW - 30, ended=NOW - 28.8,
                      batch="batch 1/2")
    second = ActionRun(id=8, title="Roll out agent v2", command="deploy-agent {host}", kind="step", step="deploy.agent",
                       runs=(hr("web01", "failed", 1, 20),), started=NOW - 20, ended=NOW - 18.8, group=7,
                       batch="batch 2/2")
    return first, second


async def _rolling_search(pilot: Pilot) -> None:  # type: ignore[type-arg]
    await ui_fixtures.feed(pilot)
    Path("spool").mkdir()
    for host, lines in OUTPUT.items():
        Path(f"spool/action-{host}.log").write_text("\n".join(lines) + "\n")
    app = pilot.app
    for run in _runs():
        pending = ActionRun(id=run.id, title=run.title, command=run.command, kind=run.kind, step=run.step,
                            runs=tuple(HostRun(r.host, r.command, spool=r.spool) for r in run.runs),
                            started=run.started, group=run.group, batch=run.batch)
        app.post_message(ActionChanged(pending))
        await pilot.pause()
        for r in run.runs:
            app.action_output(run.id, r.host, "\n".join(OUTPUT[r.host]) + "\n")  # as the engine calls it
        app.post_message(ActionChanged(run))
        await pilot.pause()
    pane = app.dashboard.query_one("#output", OutputPane)
    for _ in range(100):  # bounded: both batches in the view
        if len(pane.runs) == 2:
            break
        await pilot.pause(0.01)
    app.clear_notifications()
    pane.query_one("#out-tabs").active = pane._merged_id()  # type: ignore[attr-defined]
    await pilot.pause()
    await pilot.press("slash", *"error", "enter")
    await pilot.press("n")
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("size", [pytest.param((80, 24), id="80x24"), pytest.param((200, 50), id="200x50")])
def test_output_rolling_step_merged_search(snap_compare: Callable[..., bool], tmp_path: Path,
                                           size: tuple[int, int]) -> None:
    assert snap_compare(ui_fixtures.make_app(tmp_path), terminal_size=size, run_before=_rolling_search)
