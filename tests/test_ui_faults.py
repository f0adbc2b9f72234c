"""Crash containment in the TUI (issue 13, item 3): a UI fault is logged, shown and survived; only a dead
monitor makes the cockpit exit, with status 70, its actions cancelled and journaled, the lease released."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import psutil
from cockpitcfg import write_config
from test_ui_pilot import SERVICES, table_ready, until

from cockpit.config import load_config
from cockpit.journal import Journal
from cockpit.session import Session
from screens.app import CockpitApp
from screens.host_detail import HostDetailScreen


def _session_app(fleet, tmp_path: Path, marker: str) -> tuple[Session, CockpitApp]:  # type: ignore[no-untyped-def]
    for h in ("h1", "h2", "h3"):
        fleet.set_systemd(h, "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, SERVICES.replace("{marker}", marker), cockpit={"interval": "0.5s"})
    session = Session(load_config(path), "alice")
    return session, CockpitApp(session.engine, quiet=True, operator="alice", session=session)


def _slow_running(marker: str) -> bool:
    return any(f"{marker}-slow" in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))


def _fault_notices(app: CockpitApp) -> list[str]:
    return [n.message for n in app._notifications if n.title == "UI FAULT"]


async def test_pagedown_on_an_empty_last_actions_table_does_not_fault(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _session, app = _session_app(fleet, tmp_path, "pgdn")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: table_ready(app))
        await pilot.press("enter")  # host detail of h1, which has run nothing
        await until(pilot, lambda: isinstance(app.screen, HostDetailScreen))
        await pilot.press("tab", "pagedown", "pagedown", "tab", "pagedown")
        await pilot.pause(0.3)
        assert app.is_running and isinstance(app.screen, HostDetailScreen)
        assert app.faults == 0 and _fault_notices(app) == []
    assert not (tmp_path / "cockpit.state" / "crash.log").exists()


async def test_a_failing_handler_is_logged_shown_and_survived(fleet, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    marker = f"ck{secrets.token_hex(3)}"
    session, app = _session_app(fleet, tmp_path, marker)

    def broken_probe(self, *args, **kw) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("injected fault in a key handler")

    def broken_highlight(self, event) -> None:  # type: ignore[no-untyped-def]
        raise ValueError("injected fault in a screen's message handler")

    monkeypatch.setattr(CockpitApp, "action_probe_hosts", broken_probe)
    monkeypatch.setattr(HostDetailScreen, "on_data_table_row_highlighted", broken_highlight)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: table_ready(app))
            await pilot.press("w")  # the slow job on h1: it must outlive every UI fault
            await until(pilot, lambda: _slow_running(marker))
            await pilot.press("p")  # an App-level key handler raises
            await until(pilot, lambda: app.faults == 1)
            app.action_host_detail("h1")  # a screen's handler raises as its "Last actions" table fills
            await until(pilot, lambda: isinstance(app.screen, HostDetailScreen), timeout=5)
            await until(pilot, lambda: app.faults >= 2, timeout=5)
            await pilot.press("escape")
            assert app.is_running
            log = (tmp_path / "cockpit.state" / "crash.log").read_text()
            assert "Traceback" in log and "RuntimeError: injected fault in a key handler" in log
            assert "ValueError: injected fault in a screen's message handler" in log
            notices = _fault_notices(app)
            assert notices and "keeps running" in notices[0] and "crash.log" in notices[0]
            await pilot.pause(7)  # longer than any ordinary notification: the notice stays
            assert _fault_notices(app) == notices
            fleet.set_systemd("h2", "fleet-agent", "failed failed")  # the screens still follow the fleet
            await until(pilot, lambda: "down" in " ".join(str(c) for c in app.dashboard.query_one("#fleet")
                                                          .get_row("h2")))  # type: ignore[attr-defined]
            assert _slow_running(marker) and [r.title for r in app.engine.actions.running()] == ["Slow job"]
            assert session.lease is not None and session.lease.ours
    finally:
        for p in psutil.process_iter(["cmdline"]):
            if f"{marker}-slow" in " ".join(p.info["cmdline"] or []):
                p.kill()


async def test_a_dead_monitor_exits_70_cancelling_and_journaling(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = f"ck{secrets.token_hex(3)}"
    session, app = _session_app(fleet, tmp_path, marker)
    broken = {"now": False}
    subscribe = session.engine.subscribe

    def failing_subscribe():  # type: ignore[no-untyped-def]
        sub = subscribe()
        real_next = sub.next

        async def next_():  # type: ignore[no-untyped-def]
            snap = await real_next()
            if broken["now"]:
                raise RuntimeError("injected fault in the monitor")
            return snap

        sub.next = next_  # type: ignore[method-assign]
        return sub

    session.engine.subscribe = failing_subscribe  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: table_ready(app))
        await pilot.press("w")
        await until(pilot, lambda: _slow_running(marker))
        broken["now"] = True
        await until(pilot, lambda: not app.is_running, timeout=15)
    assert app.return_code == 70
    j = Journal(load_config(tmp_path / "cockpit.toml").journal.path, "check", readonly=True).open()
    try:
        slow = next(a for a in j.actions() if a["title"] == "Slow job")
        assert [r["state"] for r in slow["runs"]] == ["cancelled"] and "exit 70" in slow["runs"][0]["error"]
        assert j.lease() is None
    finally:
        j.close()
    assert "RuntimeError: injected fault in the monitor" in (tmp_path / "cockpit.state" / "crash.log").read_text()
    deadline = time.monotonic() + 10
    while _slow_running(marker) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not _slow_running(marker)
