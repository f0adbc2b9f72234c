"""Render the docs' screenshots (``make screenshots``) into docs/screenshots/*.svg.

The data is the fixed fleet, snapshot and clock of ``tests/ui_fixtures.py`` (rendered in
UTC, nothing contacted: ``live=False``), plus a small runbook whose state is a fixed
:class:`~cockpit.runbook.PlanView`, so every run gives the same pictures. The app is
driven headless with Textual's ``run_test(size=...)`` and each screen is written with
``export_screenshot()``.

    python tools/screenshots.py                 # every screenshot
    python tools/screenshots.py dashboard-wide  # just some, by name
    python tools/screenshots.py --list

Look at one as a PNG: ``rsvg-convert -w 1200 docs/screenshots/dashboard-wide.svg -o /tmp/x.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import ui_fixtures  # noqa: E402  (tests/ui_fixtures.py: the fixed fleet)
from textual.pilot import Pilot  # noqa: E402

from cockpit.conditions import Verdict  # noqa: E402
from cockpit.config import load_config  # noqa: E402
from cockpit.runbook import HostCheck, PhaseView, PlanView, StepView  # noqa: E402
from cockpit.engine import Engine  # noqa: E402
from screens.app import CockpitApp  # noqa: E402

OUT = ROOT / "docs" / "screenshots"

#: the fixture's fleet plus a runbook (its phases replace the fixture's `[cockpit] phases` titles)
RUNBOOK_TOML = """
[runbook]
rollback_budget = "1m"

[[phases]]
id = "decommission"
title = "Decommission v1"
gate = ["down(v1-gone)"]

  [[phases.steps]]
  id = "stop-v1"
  title = "Disable v1 agents on every host"
  on = ["tag:cloud"]
  run = "sudo systemctl disable --now fleet-agent-v1"
  rollback = "sudo systemctl enable --now fleet-agent-v1"

  [[phases.steps]]
  id = "backup"
  title = "Database backup taken"

[[phases]]
id = "canary"
title = "Canary 10%"
gate = ["up(fleet-agent@tag:canary)", "up(v2-config@tag:canary)"]

  [[phases.steps]]
  id = "install"
  title = "Install agent v2 on the canaries"
  on = ["tag:canary", "csb1"]
  run = "sudo fleet-install v2"
  verify = ["up(fleet-agent)", "up(v2-config)"]
  rollback = "sudo fleet-install v1"

  [[phases.steps]]
  id = "dns"
  title = "Point fleet.example.net at v2"
  on = ["csb1"]
  run = "./switch-dns v2"
  irreversible = true

[[phases]]
id = "rollout"
title = "Rollout 100%"
gate = ["up(fleet-agent)", "no_regressions"]

  [[phases.steps]]
  id = "install-all"
  title = "Install agent v2 everywhere"
  on = ["all"]
  run = "sudo fleet-install v2"
  verify = ["up(fleet-agent)", "up(v2-config)"]
  batch = "25%"
  order = ["tag:web", "all"]
  max_failures = 1

[rollback]
title = "Quick rollback to v1"
on = ["tag:cloud"]
run = "sudo fleet-install v1"
"""


def plan_view() -> PlanView:
    """A cutover in the middle of its canary: phase 1 done, one canary host failing its verify."""
    down = "down on web01 (inactive (dead); exit-code 1)"
    return PlanView(
        phases=(
            PhaseView("decommission", "Decommission v1", "done", (
                StepView("decommission.stop-v1", "Disable v1 agents on every host", "done", ("csb1", "csb2"), False,
                         (HostCheck("csb1", True), HostCheck("csb2", True))),
                StepView("decommission.backup", "Database backup taken", "skipped", (), True,
                         detail="taken by the DBA at 07:10"),
            ), gate=Verdict(True, "down(v1-gone): down on csb1, csb2")),
            PhaseView("canary", "Canary 10%", "running", (
                StepView("canary.install", "Install agent v2 on the canaries", "partial", ("web01", "csb1"), False,
                         (HostCheck("web01", False, f"up(fleet-agent): {down}"), HostCheck("csb1", True)),
                         rollback_ready=True),
                StepView("canary.dns", "Point fleet.example.net at v2", "pending", ("csb1",), False,
                         irreversible=True),
            ), gate=Verdict(False, f"up(fleet-agent@tag:canary): {down}")),
            PhaseView("rollout", "Rollout 100%", "locked", (
                StepView("rollout.install-all", "Install agent v2 everywhere", "pending",
                         ("web01", "web02", "csb1", "csb2", "db1", "laptop"), False),
            )),
        ),
        current="canary",
        regressions=("web01 fleet-agent: up in the baseline, down for 2 rounds",),
        budget=60.0,
        baseline_at=ui_fixtures.NOW - 1800,
    )


def make_app(directory: Path) -> CockpitApp:
    path = ui_fixtures.write_config(directory)
    path.write_text(ui_fixtures.CONFIG_TOML + RUNBOOK_TOML)
    return CockpitApp(Engine(load_config(path)), live=False, clock=ui_fixtures.clock, operator="alice")


def _fixed_plan(app: CockpitApp) -> None:
    """Show the fixed plan, and keep the (idle) runbook from replacing it with its own view."""
    app.runbook.listeners.clear()
    app.dashboard.apply_plan(plan_view())


async def _settle(pilot: Pilot) -> None:  # type: ignore[type-arg]
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def _dashboard(pilot: Pilot) -> None:  # type: ignore[type-arg]
    await ui_fixtures.feed(pilot)
    _fixed_plan(pilot.app)  # type: ignore[arg-type]
    await _settle(pilot)


async def _host_detail(pilot: Pilot) -> None:  # type: ignore[type-arg]
    from screens.host_detail import HostDetailScreen

    await _dashboard(pilot)
    pilot.app.action_host_detail("web01")  # type: ignore[attr-defined]
    for _ in range(200):  # the screen is filled by a task started after its first refresh
        screen = pilot.app.screen
        if isinstance(screen, HostDetailScreen) and screen.state is not None:
            break
        await pilot.pause(0.01)
    await _settle(pilot)


async def _plan(pilot: Pilot) -> None:  # type: ignore[type-arg]
    from screens.widgets.phase_panel import PhasePanel

    await _dashboard(pilot)
    await pilot.press("3")
    panel = pilot.app.dashboard.query_one("#phases-tab", PhasePanel)  # type: ignore[attr-defined]
    panel.focus()
    panel.move_cursor(row=3)  # canary.install: the failing step
    await _settle(pilot)


async def _confirm(pilot: Pilot) -> None:  # type: ignore[type-arg]
    """The configured action with ``confirm = true`` (key t); never answered."""
    await _dashboard(pilot)
    await pilot.press("t")
    await _settle(pilot)


async def _confirm_step(pilot: Pilot) -> None:  # type: ignore[type-arg]
    """Enter on a rolling step of 6 hosts: verify, the rolling plan, and the typed host count."""
    from screens.confirm import ConfirmScreen

    await _plan(pilot)
    pilot.app.dashboard.query_one("#phases-tab").move_cursor(row=7)  # type: ignore[attr-defined]
    await pilot.press("enter")
    for _ in range(200):
        if isinstance(pilot.app.screen, ConfirmScreen):
            break
        await pilot.pause(0.01)
    await _settle(pilot)


async def _help(pilot: Pilot) -> None:  # type: ignore[type-arg]
    await _dashboard(pilot)
    await pilot.press("question_mark")
    await _settle(pilot)


@dataclass(frozen=True)
class Shot:
    name: str
    size: tuple[int, int]
    prepare: Callable[[Pilot], Awaitable[None]]  # type: ignore[type-arg]
    what: str


SHOTS = [
    Shot("dashboard-narrow", (80, 24), _dashboard, "the dashboard at 80x24: header, banner, fleet table, events"),
    Shot("dashboard-full", (120, 35), _dashboard, "the dashboard at 120x35: every column, grid under the table"),
    Shot("dashboard-wide", (160, 48), _dashboard, "the dashboard at 160x48: table, services grid, plan, events"),
    Shot("dashboard-huge", (200, 50), _dashboard, "the dashboard at 200x50: longer sparklines, a wider plan"),
    Shot("host-detail", (120, 36), _host_detail, "host detail of web01: services, load history, last actions"),
    Shot("plan", (100, 30), _plan, "the plan tab (3) on a narrow terminal, a failing canary step selected"),
    Shot("confirm", (100, 30), _confirm, "the confirmation of an action with confirm = true"),
    Shot("confirm-step", (100, 30), _confirm_step,
         "Enter on a rolling step of 6 hosts: verify, rolling plan, the typed host count"),
    Shot("help", (100, 36), _help, "the help screen (?): every binding"),
]


async def render(shot: Shot) -> str:
    with tempfile.TemporaryDirectory(prefix="cockpit-shot-") as tmp:
        app = make_app(Path(tmp))
        async with app.run_test(size=shot.size) as pilot:
            await shot.prepare(pilot)
            return app.export_screenshot(title=f"Cutover Cockpit: {shot.name} ({shot.size[0]}x{shot.size[1]})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="only these screenshots (default: all)")
    p.add_argument("--list", action="store_true", help="list the screenshots and exit")
    p.add_argument("-o", "--out", type=Path, default=OUT, help="directory to write to")
    args = p.parse_args(argv)
    if args.list:
        for s in SHOTS:
            print(f"{s.name:18} {s.size[0]}x{s.size[1]}  {s.what}")
        return 0
    unknown = set(args.names) - {s.name for s in SHOTS}
    if unknown:
        p.error(f"unknown screenshot(s): {', '.join(sorted(unknown))} (see --list)")
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    with ui_fixtures.utc():
        for shot in SHOTS:
            if args.names and shot.name not in args.names:
                continue
            svg = asyncio.run(render(shot))
            path = args.out / f"{shot.name}.svg"
            path.write_text(svg, encoding="utf-8")
            total += len(svg.encode())
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({len(svg) // 1024} KiB)")
    print(f"total {total // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
