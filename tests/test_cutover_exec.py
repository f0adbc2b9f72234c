"""Cutover-grade execution against the loopback fleet: rolling batches, reboots, manual steps,
rollback readiness and points of no return, headless and in the cockpit."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cockpitcfg import write_config

from cockpit.config import load_config
from cockpit.journal import Journal
from cockpit.runbook import RunbookError
from cockpit.session import Session

ROOT = Path(__file__).resolve().parents[1]


def cockpit(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "alice"}
    env.pop("COCKPIT_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)


ROLLING = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[[phases]]
id = "rollout"
title = "Roll out"

  [[phases.steps]]
  id = "upgrade"
  title = "Upgrade host by host"
  on = ["all"]
  run = 'test "$COCKPIT_TEST_HOST" != h3 && echo upgraded $COCKPIT_TEST_HOST'
  batch = 2
  max_failures = 1
"""


def test_rolling_stops_after_max_failures(fleet_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    six = fleet_factory(6)
    path = write_config(tmp_path, six, ROLLING)

    async def run() -> None:
        s = Session(load_config(path), "alice")
        try:
            await s.engine.run_round()
            view = await s.runbook.run_step("rollout.upgrade")
            checks = {c.host: c for c in view.checks}
            assert view.state == "partial"
            assert [h for h, c in checks.items() if c.ok] == ["h1", "h2", "h4"]
            assert checks["h3"].ok is False and "exit 1" in checks["h3"].detail
            for h in ("h5", "h6"):
                assert checks[h].ok is None and "untouched" in checks[h].detail
            assert s.journal is not None
            ran = [r["host"] for a in s.journal.actions() for r in a["runs"]]
            assert sorted(ran) == ["h1", "h2", "h3", "h4"]  # h5 and h6 never saw the command
            batches = [t["detail"] for t in s.journal.transitions("rollout.upgrade") if t["state"] == "batch"]
            assert batches[0].startswith("batch 1/3: h1, h2") and batches[1].startswith("batch 2/3: h3, h4")
            assert "stopped after batch 2/3" in batches[2] and "h5, h6" in batches[2]
        finally:
            await s.close()

    asyncio.run(run())


def test_rolling_order_and_pause(fleet_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    four = fleet_factory(4)
    text = ROLLING.replace('batch = 2\n  max_failures = 1', 'batch = "50%"\n  order = ["h4", "h3"]\n  pause = "0.5s"')
    text = text.replace("!= h3", "!= nobody")
    path = write_config(tmp_path, four, text)

    async def run() -> None:
        s = Session(load_config(path), "alice")
        try:
            began = time.monotonic()
            view = await s.runbook.run_step("rollout.upgrade")
            assert view.state == "done" and time.monotonic() - began >= 0.5
            batches = [t["detail"] for t in s.journal.transitions("rollout.upgrade") if t["state"] == "batch"]  # type: ignore[union-attr]
            assert batches == ["batch 1/2: h4, h3", "batch 2/2: h1, h2"]
        finally:
            await s.close()

    asyncio.run(run())


REBOOT = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[[phases]]
id = "maint"
title = "Maintenance"

  [[phases.steps]]
  id = "reboot"
  title = "Reboot h1 (survives reboot)"
  on = ["h1"]
  run = 'touch "$COCKPIT_SHIM_STATE/systemd/restart-me"; sleep 60'
  expect_disconnect = true
  wait_for = "@WAIT@"
  verify = ["up(agent)"]
"""


def _watch_restart(fleet, host: str, come_back: bool, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
    """The test fleet's stand-in for a reboot: restart (or stop) sshd when the step asks."""
    flag = fleet.state_dir(host) / "systemd" / "restart-me"
    deadline = time.monotonic() + 30
    while not stop.is_set() and time.monotonic() < deadline:
        if flag.exists():
            flag.unlink()
            time.sleep(0.3)
            if come_back:
                fleet[host].restart()
            else:
                fleet[host].stop()
            return
        time.sleep(0.05)


@pytest.mark.parametrize("comes_back", [True, False])
def test_expect_disconnect_waits_for_the_host(fleet, tmp_path, comes_back: bool) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, REBOOT.replace("@WAIT@", "20s" if comes_back else "4s"), hosts=["h1"],
                        ssh={"connect_timeout": "2s"})
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_restart, args=(fleet, "h1", comes_back, stop), daemon=True)
    watcher.start()

    async def run() -> None:
        s = Session(load_config(path), "alice")
        try:
            await s.engine.run_round()
            began = time.monotonic()
            view = await s.runbook.run_step("maint.reboot")
            took = time.monotonic() - began
            check = view.checks[0]
            if comes_back:
                assert view.state == "done", view
                assert check.ok and "back after" in check.detail
            else:
                assert view.state == "failed"
                assert check.ok is False and "did not come back within 4s" in check.detail
                assert 4 <= took < 15
        finally:
            await s.close()

    try:
        asyncio.run(run())
    finally:
        stop.set()
        watcher.join(5)


MANUAL = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[services.backup]
on = ["h1"]
command = "test -s /etc/hostname"

[runbook]
rollback_budget = "1m"

[[phases]]
id = "prep"
title = "Preparation"
rollback_requires = ['command("test -e /nonexistent-backup-file")@h1']

  [[phases.steps]]
  id = "restart-mac"
  title = "Restart the Mac"

  [[phases.steps]]
  id = "login"
  title = "Login with password + TOTP works"
  on = ["h1", "h2"]
  verify = ["up(agent)"]
  within = "3s"

  [[phases.steps]]
  id = "migrate"
  title = "Migrate the data (no way back)"
  on = ["h1"]
  run = "echo migrated"
  irreversible = true

[rollback]
title = "Quick rollback"
on = ["h1"]
run = "echo rolling back"
"""


def test_manual_steps_rollback_readiness_and_no_return_headless(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h2", "fleet-agent", "failed failed")
    path = write_config(tmp_path, fleet, MANUAL, hosts=["h1", "h2"])
    res = cockpit("step", "run", "prep.restart-mac", "-c", str(path))
    assert res.returncode == 2 and "manual" in res.stderr
    res = cockpit("step", "tick", "prep.restart-mac", "-c", str(path), "--note", "restarted, came back at 10:02")
    assert res.returncode == 0, res.stderr
    assert "● prep.restart-mac" in res.stdout
    # verify still applies to a manual tick: h2's agent is down, so its tick fails verification
    res = cockpit("step", "tick", "prep.login", "-c", str(path), "--host", "h1", "--note", "TOTP ok")
    assert res.returncode == 0 and "◐ prep.login" not in res.stdout
    res = cockpit("step", "tick", "prep.login", "-c", str(path), "--host", "h2", "--note", "TOTP ok")
    assert "✖ h2" in res.stdout and "not within 3s" in res.stdout
    # NOT READY: the rollback needs a backup that does not exist
    res = cockpit("step", "run", "prep.migrate", "-c", str(path), "--irreversible", "prep.migrate")
    assert res.returncode == 2 and "NOT READY" in res.stdout + res.stderr and "--rollback-not-ready" in res.stderr
    # irreversible: the id must be typed
    res = cockpit("step", "run", "prep.migrate", "-c", str(path), "--rollback-not-ready")
    assert res.returncode == 2 and "irreversible" in res.stderr
    res = cockpit("step", "run", "prep.migrate", "-c", str(path), "--rollback-not-ready", "--irreversible", "prep.migrate")
    assert res.returncode == 0, res.stdout + res.stderr
    res = cockpit("rollback", "-c", str(path), "--yes")
    assert res.returncode == 0, res.stderr
    assert "cannot undo: prep.migrate (Migrate the data (no way back))" in res.stdout
    assert "ROLLED BACK at" in res.stdout and "of 1 m budget" in res.stdout
    j = Journal(load_config(path).journal.path, "r", readonly=True).open()
    ticks = [v for v in j.verify_results("prep.restart-mac")]
    j.close()
    assert ticks and "restarted, came back at 10:02" in ticks[0]["detail"] and "alice" in ticks[0]["detail"]


async def test_manual_tick_not_ready_and_irreversible_in_the_cockpit(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from test_ui_pilot import until

    from screens.app import CockpitApp
    from screens.confirm import ConfirmScreen
    from screens.widgets.phase_panel import PhasePanel

    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h2", "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, MANUAL, hosts=["h1", "h2"], cockpit={"interval": "0.5s"})
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)

    def step(ref: str):  # type: ignore[no-untyped-def]
        return next(s for p in app.runbook.view().phases for s in p.steps if s.ref == ref)

    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.snapshot is not None and all(h.reachable for h in app.snapshot.hosts))
        panel = app.dashboard.query_one("#phases-main", PhasePanel)
        await until(pilot, lambda: panel.row_count == 4)
        panel.focus()
        panel.move_cursor(row=1)  # restart-mac (manual, once)
        await pilot.press("K")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        await pilot.press(*"rebooted by hand", "enter")
        await until(pilot, lambda: step("prep.restart-mac").state == "done")
        panel.move_cursor(row=3)  # migrate: NOT READY, irreversible
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "rollback NOT READY" in app.screen.note and "IRREVERSIBLE" in app.screen.note
        await pilot.press("y")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        await pilot.press(*"ready", "enter")  # wrong words: nothing happens
        await pilot.pause(0.2)
        assert app.screen.__class__.__name__ == "ReasonPrompt" and step("prep.migrate").state == "pending"
        await pilot.press(*"NOT READY", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt"
                    and "cannot be undone" in app.screen.question)
        await pilot.press(*"prep.migrate", "enter")
        await until(pilot, lambda: step("prep.migrate").state == "done", timeout=15)
        row = " ".join(str(c) for c in panel.get_row("phase:prep"))
        assert "point of no return passed" in row
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "cannot undo: prep.migrate" in app.screen.note
        await pilot.press("n")


DETACHED = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[[phases]]
id = "data"
title = "Data"

  [[phases.steps]]
  id = "migrate"
  title = "Long data migration"
  on = ["h1"]
  run = 'for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 1; done; echo migrated'
  detach = true
"""


def test_detached_step_survives_a_dropped_connection(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, DETACHED, hosts=["h1"], ssh={"connect_timeout": "2s"})

    async def run() -> None:
        s = Session(load_config(path), "alice")
        try:
            await s.engine.run_round()
            task = asyncio.create_task(s.runbook.run_step("data.migrate"))
            await asyncio.sleep(3)
            fleet["h1"].stop()  # the connection (and every ordinary session) is gone
            await asyncio.sleep(1)
            fleet["h1"].start()
            view = await asyncio.wait_for(task, 60)
            assert view.state == "done", view
            run = s.engine.actions.history[-1]
            out = run.runs[0].output
            assert out.count("tick 3") == 1 and "tick 8" in out and "migrated" in out
            assert run.runs[0].exit_status == 0
        finally:
            await s.close()

    asyncio.run(run())


def test_detached_step_is_reattached_after_the_cockpit_dies(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import signal

    path = write_config(tmp_path, fleet, DETACHED, hosts=["h1"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "alice"}
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "step", "run", "data.migrate", "-c", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and "tick 2" not in line:
            line = proc.stdout.readline()  # type: ignore[union-attr]
        assert "tick 2" in line
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()

    async def run() -> None:
        s = Session(load_config(path), "alice")  # same machine, dead pid: takes over, reattaches
        try:
            assert not s.observer
            await s.start(poll=False)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                st = next(x for p in s.runbook.view().phases for x in p.steps if x.ref == "data.migrate")
                if st.state in ("done", "failed"):
                    break
                await asyncio.sleep(0.2)
            assert st.state == "done", st
            assert "reattached" in st.checks[0].detail
            assert s.journal is not None
            row = s.journal.actions()[-1]["runs"][0]
            assert row["state"] == "ok" and row["exit_status"] == 0 and "migrated" in row["output"]
        finally:
            await s.close()

    asyncio.run(run())


RERUN = """
[[phases]]
id = "p"
title = "One phase"

  [[phases.steps]]
  id = "mark"
  title = "Mark every host (slowly the first time)"
  on = ["all"]
  run = 'f="$COCKPIT_SHIM_STATE/systemd/marker-rerun"; echo fired >> "$f"; echo started; [ "$(wc -l < "$f")" -gt 1 ] || sleep 30'
"""


def _fired(fleet) -> list[int]:  # type: ignore[no-untyped-def]
    out = []
    for h in fleet.hosts:
        f = h.state_dir / "systemd" / "marker-rerun"
        out.append(len(f.read_text().splitlines()) if f.exists() else 0)
    return out


def test_a_step_killed_mid_run_or_done_needs_rerun_typed(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13, finding 4: after a kill -9'd `step run`, running it again says what is unknown and fires
    nothing until `--rerun STEP`; a done step says when and by whom, and needs the same."""
    path = write_config(tmp_path, fleet, RERUN)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "alice"}
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "step", "run", "p.mark", "-c", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _fired(fleet) != [1, 1, 1]:
            time.sleep(0.1)
        assert _fired(fleet) == [1, 1, 1]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    again = cockpit("step", "run", "p.mark", "-c", str(path))
    assert again.returncode == 2, again.stdout + again.stderr
    assert "step p.mark was interrupted" in again.stderr and "outcome unknown on h1, h2, h3" in again.stderr
    assert re.search(r"its last run started at \d\d:\d\d \S+ by alice", again.stderr), again.stderr
    assert "--rerun p.mark" in again.stderr and "Traceback" not in again.stderr
    assert _fired(fleet) == [1, 1, 1]  # nothing fired again
    wrong = cockpit("step", "run", "p.mark", "-c", str(path), "--rerun", "p.other")
    assert wrong.returncode == 2 and _fired(fleet) == [1, 1, 1]
    rerun = cockpit("step", "run", "p.mark", "-c", str(path), "--rerun", "p.mark")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "p.mark: done" in rerun.stdout and _fired(fleet) == [2, 2, 2]
    done = cockpit("step", "run", "p.mark", "-c", str(path))
    assert done.returncode == 2 and "step p.mark is already done at " in done.stderr and " by alice" in done.stderr
    assert _fired(fleet) == [2, 2, 2]
    for p in fleet.remote_processes():  # the first run's `sleep 30`, orphaned by the kill -9
        p.kill()


async def test_running_a_done_step_again_in_the_cockpit_needs_its_id_typed(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13, item 4 in the TUI: the same check as --rerun, as a typed prompt after the confirmation."""
    from test_ui_pilot import until

    from screens.app import CockpitApp
    from screens.confirm import ConfirmScreen
    from screens.widgets.phase_panel import PhasePanel

    path = write_config(tmp_path, fleet, RERUN.replace(' || sleep 30', ' || true'), hosts=["h1", "h2"],
                        cockpit={"interval": "0.5s"})
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)

    def state() -> str:
        return next(s for p in app.runbook.view().phases for s in p.steps if s.ref == "p.mark").state

    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.dashboard.query_one("#phases-main", PhasePanel)
        await until(pilot, lambda: panel.row_count == 2)
        panel.focus()
        panel.move_cursor(row=1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")  # the first run needs no typing
        await until(pilot, lambda: state() == "done", timeout=15)
        assert _fired(fleet)[:2] == [1, 1]
        panel.focus()
        panel.move_cursor(row=1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ReasonPrompt")
        question = app.screen.question  # type: ignore[attr-defined]
        assert "step p.mark is already done at " in question and " by alice" in question
        await pilot.press(*"y", "enter")  # not its id: nothing runs
        await pilot.pause(0.3)
        assert app.screen.__class__.__name__ == "ReasonPrompt" and _fired(fleet)[:2] == [1, 1]
        await pilot.press("backspace", *"p.mark", "enter")
        await until(pilot, lambda: _fired(fleet)[:2] == [2, 2], timeout=15)
        await until(pilot, lambda: state() == "done", timeout=15)
