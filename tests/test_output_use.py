"""Output you can use (issue 23, item 3), driven with the pilot on the real loopback fleet.

The Output tab stays selected at every width, the elapsed time moves while a command runs, `/` searches
the spool with n/N, `w` wraps, `s` saves (the file equals the spool), `c` copies (opt-in), and a rolling
step's batches stay together: a tab per host across every batch and a merged tab.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from cockpitcfg import write_config
from textual.widgets import TabbedContent
from ui_fixtures import until

from cockpit.config import load_config
from cockpit.engine import Engine
from screens.app import CockpitApp
from screens.widgets.output_pane import OutputPane, _pane_id

SERVICES = """
[services.agent]
on = ["all"]
command = "true"

[actions.hello]
key = "h"
title = "Say hello"
on = ["all"]
run = "echo hello-from-{host}; seq 1 30 | sed 's/^/line-/'; echo needle-on-{host}"

[actions.slow]
key = "w"
title = "Slow job"
on = ["h1"]
run = "sleep 3; echo slept"
"""



def make_app(fleet, tmp_path: Path, services: str = SERVICES, cockpit: dict | None = None) -> CockpitApp:  # type: ignore[no-untyped-def,type-arg]
    path = write_config(tmp_path, fleet, services, cockpit={"interval": "1s", **(cockpit or {})})
    return CockpitApp(Engine(load_config(path)), quiet=True)


def ready(app: CockpitApp) -> bool:
    return app.snapshot is not None and all(h.reachable for h in app.snapshot.hosts)


def pane_of(app: CockpitApp) -> OutputPane:
    return app.dashboard.query_one("#output", OutputPane)


@pytest.mark.parametrize("width", [80, 120, 200])
async def test_output_tab_stays_selected_at_every_width(fleet, tmp_path, width: int) -> None:  # type: ignore[no-untyped-def]
    """At 120 and 200 columns the Output tab used to flip back to the Fleet tab at once."""
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(width, 36)) as pilot:
        await until(pilot, lambda: ready(app))
        tabs = app.dashboard.query_one("#tabs", TabbedContent)
        await pilot.press("h")
        await until(pilot, lambda: pane_of(app).run is not None and pane_of(app).run.done)  # type: ignore[union-attr]
        await pilot.pause(0.3)
        assert tabs.active == "tab-output"
        await pilot.press("1")
        await until(pilot, lambda: tabs.active == "tab-fleet")
        await pilot.press("4")  # the key goes there too, and stays
        await pilot.pause(0.3)
        assert tabs.active == "tab-output"


def log_text(pane: OutputPane, view: str) -> str:
    log = pane._view_log(view)
    assert log is not None, view
    return "\n".join(line.text for line in log.lines)


def status_text(pane: OutputPane) -> str:
    return str(pane.query_one("#out-status").render())


async def test_elapsed_time_moves_while_a_command_runs(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A 3 s command used to say `running in 0.0s` until it ended: the head is drawn again every second."""
    app = make_app(fleet, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: ready(app))
        await pilot.press("w")
        pane = pane_of(app)
        head = pane.query_one("#out-head")
        seen: list[float] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (pane.run is not None and pane.run.done):
            m = re.search(r"h1 running in (\d+\.\d)s", str(head.render()))
            if m and (not seen or float(m.group(1)) != seen[-1]):
                seen.append(float(m.group(1)))
            await pilot.pause(0.1)
        assert pane.run is not None and pane.run.done and pane.run.runs[0].state == "ok"
        assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] >= 1.5, seen  # it used to stay at 0.0


FLOOD = """
[services.agent]
on = ["all"]
command = "true"

[actions.flood]
key = "f"
title = "Flood"
on = ["h1", "h2"]
run = "echo needle-early; seq 1 20000 | sed 's/^/line-/'; echo needle-late; printf '%0300d\\\\n' 7"
"""


async def test_search_save_wrap_read_the_whole_spool(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`/` finds lines the tab never kept (it holds 5,000 of 20,003); n/N move; D saves a copy of the spool; W wraps."""
    app = make_app(fleet, tmp_path, FLOOD)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: ready(app))
        await pilot.press("f")
        pane = pane_of(app)
        await until(pilot, lambda: pane.run is not None and pane.run.done)
        await pilot.pause(0.3)
        assert pane.current_view == "h1"
        # the tab keeps 5,000 lines at most (which ones depends on how the flood was batched): the search must
        # read the spool to find line 1 and line 20002 both, and name their line numbers there
        await pilot.press("slash", *"NEEDLE", "enter")
        await until(pilot, lambda: "match 1 of 2" in status_text(pane))
        assert "h1 line 1 " in status_text(pane) + " "
        assert "needle-early" in log_text(pane, "h1")
        await pilot.press("n")
        await until(pilot, lambda: "match 2 of 2 · h1 line 20002" in status_text(pane))
        await pilot.press("n")  # wraps around
        await until(pilot, lambda: "match 1 of 2 · h1 line 1 " in status_text(pane) + " ")
        await pilot.press("N")
        await until(pilot, lambda: "match 2 of 2" in status_text(pane))
        await pilot.press("escape")  # back to the live output, from the spool
        await until(pilot, lambda: status_text(pane) == "")
        assert "needle-early" not in log_text(pane, "h1") and "needle-late" in log_text(pane, "h1")
        await pilot.press("slash")  # the fleet filter is not what opened: the pane's search box is
        assert pane.query_one("#out-find").has_class("-active")
        await pilot.press("escape")

        spool = Path(pane.run.run_for("h1").spool)  # type: ignore[union-attr]
        await pilot.press("D")
        await until(pilot, lambda: "saved h1's output (20003 lines) to " in status_text(pane))
        saved = Path(status_text(pane).split(" to ", 1)[1].strip())
        assert saved.parent == tmp_path / "cockpit.state" / "saved"
        assert saved.read_bytes() == spool.read_bytes()

        log = pane._view_log("h1")
        assert log is not None

        def widest() -> int:
            return max(len(line.text) for line in log.lines)

        assert widest() >= 300  # the 300-digit line, cut at the edge
        await pilot.press("W")
        await until(pilot, lambda: log.wrap and widest() < 120)  # it now takes several rows
        await pilot.press("W")
        await until(pilot, lambda: not log.wrap and widest() >= 300)


@pytest.mark.parametrize("allowed", [True, False])
async def test_copy_sends_the_hosts_spool_only_when_allowed(fleet, tmp_path, allowed: bool) -> None:  # type: ignore[no-untyped-def]
    app = make_app(fleet, tmp_path, cockpit={"clipboard": allowed})
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: ready(app))
        await pilot.press("h")
        pane = pane_of(app)
        await until(pilot, lambda: pane.run is not None and pane.run.done)
        await pilot.press("Y")
        await pilot.pause(0.3)
        spool = Path(pane.run.run_for("h1").spool)  # type: ignore[union-attr]
        if allowed:
            await until(pilot, lambda: app.clipboard == spool.read_text())
            assert "hello-from-h1" in app.clipboard and "needle-on-h1" in app.clipboard
        else:
            assert app.clipboard == ""
            assert any("set [cockpit] clipboard = true" in n.message for n in app._notifications)


ROLLING = """
[services.agent]
on = ["all"]
command = "true"

[[phases]]
id = "roll"
title = "Roll"

  [[phases.steps]]
  id = "out"
  title = "Say where"
  on = ["all"]
  batch = 1
  run = "echo first-{host}; echo second-{host}"
"""


async def test_rolling_step_output_keeps_every_batch(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each batch is an action of its own; the pane used to show only the last one (h3)."""
    app = make_app(fleet, tmp_path, ROLLING)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: ready(app))
        worker = app.run_worker(app.runbook.run_step("roll.out"), group="runbook")
        await until(pilot, lambda: worker.is_finished, timeout=30)
        pane = pane_of(app)
        await until(pilot, lambda: len(pane.runs) == 3 and all(r.done for r in pane.runs))
        await pilot.pause(0.3)
        assert [r.batch for r in pane.runs] == ["batch 1/3", "batch 2/3", "batch 3/3"]
        tabs = pane.query_one("#out-tabs", TabbedContent)
        for h in ("h1", "h2", "h3"):  # a tab draws its lines once it is shown (a hidden RichLog has no width)
            tabs.active = _pane_id(pane.group, h)
            await until(pilot, lambda h=h: f"first-{h}\nsecond-{h}" in log_text(pane, h))  # type: ignore[misc]
        tabs.active = pane._merged_id()
        await until(pilot, lambda: pane.current_view == "(all)" and "[h3] second-h3" in log_text(pane, "(all)"))
        merged = log_text(pane, "(all)")
        want = [f"[{h}] {w}-{h}" for h in ("h1", "h2", "h3") for w in ("first", "second")]
        assert [ln for ln in merged.splitlines() if ln.startswith("[h")] == want
        await pilot.press("slash", *"second", "enter")
        assert app.dashboard.query_one("#tabs", TabbedContent).active == "tab-output"  # switching host tabs kept it
        await until(pilot, lambda: "match 1 of 3 · h1 line 2" in status_text(pane))
