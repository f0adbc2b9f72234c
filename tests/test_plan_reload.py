"""Issue 17, item 2 (Textual pilot, real loopback fleet): an edit of the hosts (an included Ansible inventory),
the services and a gate is shown as a diff and, once the driver accepts it, applied in place: the new host is
polled, the new service checked, the removed host dropped, the gate judged as edited; an edit of a part that
only a restart applies ([ssh], [cockpit], ...) says which and why, and cannot be accepted."""

from __future__ import annotations

import asyncio

import pytest
from cockpitcfg import fleet_toml, write_config
from test_plan_change import marks, plan_toml
from test_ui_pilot import until

from cockpit.config import load_config
from cockpit.errors import CockpitError
from cockpit.session import Session
from screens.app import CockpitApp
from screens.widgets.fleet_table import FleetTable
from screens.widgets.services_grid import ServicesGrid

RUNBOOK = '[inventory]\nansible = "hosts.ini"\n' + plan_toml()


EXTRA = """
[services.extra]
on = ["all"]
systemd = "fleet-agent"
"""


def inventory(fleet, names: list[str]) -> str:  # type: ignore[no-untyped-def]
    lines = ["[fleet]"]
    for h in fleet.hosts:
        if h.name in names:
            lines.append(f"{h.name} ansible_host={h.address} ansible_port={h.port} ansible_user={fleet.user}")
    return "\n".join(lines) + "\n"


async def test_hosts_services_and_gates_are_applied_in_place_once_accepted(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cockpit.toml"
    path.write_text(fleet_toml(fleet, RUNBOOK, hosts=[], cockpit={"interval": "0.5s"}))
    inv = tmp_path / "hosts.ini"
    inv.write_text(inventory(fleet, ["h1", "h2"]))
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    first = session.plan.fingerprint

    def banner() -> str:
        return "\n".join(app.runbook.view().plan_notice)

    def host(name: str):  # type: ignore[no-untyped-def]
        snap = session.engine.snapshot()
        return next((h for h in snap.hosts if h.name == name), None)

    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: all(host(n) and host(n).reach == "ok" for n in ("h1", "h2")), timeout=40)
        # an edit of the inventory (h3 added), the services (extra) and the gate, in one go
        inv.write_text(inventory(fleet, ["h1", "h2", "h3"]))
        path.write_text(path.read_text().replace('gate = ["up(agent)"]', 'gate = ["up(agent)", "up(extra)"]')
                        + EXTRA)
        await until(pilot, lambda: "PLAN CHANGED" in banner() and "added hosts.h3" in banner(), timeout=30)
        assert "added services.extra" in banner() and "changed p (gate)" in banner()
        assert "A: review and accept it" in banner() and host("h3") is None  # nothing applied yet
        await pilot.press("A")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        await pilot.press(*"h3 joins, extra is watched", "enter")
        await until(pilot, lambda: session.plan.fingerprint != first, timeout=30)
        # applied in place, no restart: h3 is polled, every host checks extra, the gate judges it
        await until(pilot, lambda: host("h3") is not None and host("h3").reach == "ok", timeout=40)
        await until(pilot, lambda: all("extra" in [r.service for r in h.results] for h in session.engine.snapshot().hosts),
                    timeout=40)
        table = app.dashboard.query_one("#fleet", FleetTable)
        grids = list(app.dashboard.query(ServicesGrid))
        await until(pilot, lambda: "h3" in table.visible_hosts() and any("extra" in g._services for g in grids),
                    timeout=15)
        assert app.runbook.spec.phases[0].gate == ("up(agent)", "up(extra)")
        assert session.journal is not None
        change = session.journal.plan_changes()[-1]
        targets = [d["target"] for d in change["diff"]]
        assert change["reason"] == "h3 joins, extra is watched"
        assert "p" in targets and "services.extra" in targets and "hosts.h3" in targets and "p.mark" in targets

        # a host removed from the inventory: shown, then dropped when accepted
        second = session.plan.fingerprint
        inv.write_text(inventory(fleet, ["h1", "h3"]))
        await until(pilot, lambda: "removed hosts.h2" in banner(), timeout=30)
        assert "changed p.mark (hosts)" in banner() and "hosts: h1, h2, h3 -> h1, h3" in banner()
        await pilot.press("A")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        await pilot.press(*"h2 is gone", "enter")
        await until(pilot, lambda: host("h2") is None, timeout=30)
        await until(pilot, lambda: "h2" not in table.visible_hosts(), timeout=15)
        assert session.journal.plan_changes()[-1]["reason"] == "h2 is gone"
        assert session.plan.fingerprint != second  # p.mark runs on every host: its hosts changed
        assert "h2" not in [h.name for h in session.engine.snapshot().hosts]

        # a part only a restart applies: named with why, and not accepted
        path.write_text(path.read_text().replace('command_timeout = "10s"', 'command_timeout = "20s"'))
        await until(pilot, lambda: "NEEDS A RESTART" in banner(), timeout=30)
        assert "[ssh]: the open connections" in banner() and "A: review and accept it" not in banner()
        await pilot.press("A")
        await pilot.pause(0.3)
        assert app.screen is app.dashboard and session.engine.config.ssh.command_timeout == 10.0


async def test_a_host_of_a_step_under_way_is_not_removed(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A rolling step paused between batches still has hosts to fire: an edit dropping one is refused, naming
    it and the step; the step then ends on every host it planned."""
    rolling = plan_toml(batch=1).replace("  batch = 1\n", '  batch = 1\n  pause = "manual"\n')
    path = write_config(tmp_path, fleet, rolling, cockpit={"interval": "0.5s"})
    session = Session(load_config(path), "alice")

    async def soon(cond) -> None:  # type: ignore[no-untyped-def]
        for _ in range(1200):
            if cond():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("condition not met in 60 s")

    def paused() -> bool:
        return session.runbook.step_state("p.mark") == "paused"

    try:
        await session.start()
        await session.engine.run_round()
        run = asyncio.create_task(session.runbook.run_step("p.mark"))
        await soon(paused)
        assert marks(fleet) == [["v1"], [], []]
        write_config(tmp_path, fleet, rolling, cockpit={"interval": "0.5s"}, hosts=["h1", "h2"])
        await soon(lambda: session.pending is not None)
        assert session.pending is not None and "removed hosts.h3" in "\n".join(session.pending.lines())
        with pytest.raises(CockpitError, match="removes h3, a host of p.mark, which is under way"):
            await session.accept_update("h3 is out")
        assert "h3" in session.engine.pollers
        for fired in (2, 3):  # continued: the next batch fires (a fast batch may pause again before a poll sees it)
            await soon(paused)
            session.runbook.continue_step("p.mark")
            await soon(lambda fired=fired: sum(1 for m in marks(fleet) if m) >= fired)
        assert (await asyncio.wait_for(run, 30)).state == "done" and marks(fleet) == [["v1"], ["v1"], ["v1"]]
    finally:
        await session.close()
