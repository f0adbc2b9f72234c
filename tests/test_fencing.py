"""Fencing with real processes (issue 13, finding 1): a driver frozen past the lease TTL, taken over
with a reason, then resumed, fires nothing and decides nothing; it says it was demoted."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cockpitcfg import write_config

from cockpit.config import load_config
from cockpit.errors import JournalError
from cockpit.journal import Journal, open_journal
from cockpit.session import Session

ROOT = Path(__file__).resolve().parents[1]
TTL = 3.0

RUNBOOK = """
[journal]
lease_ttl = "3s"

[[phases]]
id = "p"
title = "One phase"

  [[phases.steps]]
  id = "mark"
  title = "Leave a mark on every host"
  on = ["all"]
  run = 'echo fired >> "$COCKPIT_SHIM_STATE/systemd/marker-step"'
"""


class Driver:
    """tests/lease_driver.py as a child process; lines read by a thread so every wait is bounded."""

    def __init__(self, config: Path, operator: str) -> None:
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "lease_driver.py"), str(config), operator],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=ROOT)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str, timeout: float = 20.0) -> list[str]:
        """Lines up to and including the first starting with ``prefix``."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            if line.startswith(prefix):
                return seen
        raise AssertionError(f"no {prefix!r} within {timeout:g}s; got {seen}; stderr: {self.stderr()}")

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return "(running)"
        return self.proc.stderr.read()[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


async def take_over_when_stale(b: Session, reason: str) -> None:
    """Take the lease over with a reason as soon as it is stale (what T does), within 4 TTLs."""
    deadline = time.monotonic() + 4 * TTL
    while True:  # bounded: the lease turns stale once the TTL passed without a heartbeat
        try:
            b.take_over(reason)
            return
        except JournalError:
            assert time.monotonic() < deadline, "the frozen driver's lease never went stale"
            await asyncio.sleep(0.2)


def marks(fleet, name: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    out = {}
    for h in fleet.hosts:
        f = h.state_dir / "systemd" / name
        out[h.name] = len(f.read_text().splitlines()) if f.exists() else 0
    return out


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_frozen_driver_taken_over_fires_and_decides_nothing_when_resumed(fleet, tmp_path, backend,  # type: ignore[no-untyped-def]
                                                                           request) -> None:
    """Both journals (issue 28: on PostgreSQL the frozen ex-driver's step and action are refused by the database)."""
    runbook = RUNBOOK
    if backend == "postgresql":
        runbook = RUNBOOK.replace("[journal]\n", f'[journal]\npath = "{request.getfixturevalue("postgres")}"\n')
    config = write_config(tmp_path, fleet, runbook)
    assert load_config(config).journal.lease_ttl == TTL
    a = Driver(config, "alice")
    try:
        a.expect("DRIVER")
        a.send("action")
        assert a.expect("ACTION")[-1] == "ACTION h1=ok h2=ok h3=ok"
        assert marks(fleet, "marker-action") == {"h1": 1, "h2": 1, "h3": 1}

        os.kill(a.proc.pid, signal.SIGSTOP)  # frozen past the TTL: its heartbeat stops

        async def take_over() -> int:
            b = Session(load_config(config), "bob")
            try:
                assert b.observer
                await take_over_when_stale(b, "alice's cockpit is frozen")
                assert b.lease is not None and b.lease.ours and not b.observer
                return b.lease.generation
            finally:
                await b.close()  # releases bob's lease: alice must still not get to decide

        generation = asyncio.run(take_over())
        assert generation == 2

        os.kill(a.proc.pid, signal.SIGCONT)
        a.send("action")
        got = a.expect("REFUSED", timeout=15)
        a.send("step p.mark")
        got += a.expect("REFUSED", timeout=15)
        assert any(line.startswith("DEMOTED this cockpit lost the driver lease") for line in got), got
        assert all("lost the driver lease" in line or "observer" in line for line in got if line.startswith("REFUSED"))
        a.send("quit")
        a.expect("CLOSED")
        assert a.proc.wait(timeout=10) == 0

        # nothing fired after the take-over, on any host
        assert marks(fleet, "marker-action") == {"h1": 1, "h2": 1, "h3": 1}
        assert marks(fleet, "marker-step") == {"h1": 0, "h2": 0, "h3": 0}
        # and nothing journaled as alice after bob's taken-over
        settings = load_config(config).journal
        with open_journal(settings.target, "check", readonly=True) as j:  # type: ignore[arg-type]
            log = j.timeline()
        taken = next(e["id"] for e in log if e["kind"] == "transition" and e["state"] == "taken-over")
        assert [e["kind"] for e in log if e["id"] > taken and e["operator"] == "alice"] == []
        assert [e["kind"] for e in log if e["kind"] == "action"] == ["action"]
        assert settings.url is not None if backend == "postgresql" else j.path.exists()
    finally:
        a.stop()


SLOW = RUNBOOK.replace('''  id = "mark"
  title = "Leave a mark on every host"
  on = ["all"]
  run = 'echo fired >> "$COCKPIT_SHIM_STATE/systemd/marker-step"'
''', '''  id = "slow"
  title = "A slow command on two hosts"
  on = ["h1", "h2"]
  run = 'echo started; sleep 5'
''')


def test_a_headless_step_run_that_lost_the_lease_records_its_outcome_flagged_and_exits_with_why(  # type: ignore[no-untyped-def]
        fleet, tmp_path) -> None:
    config = write_config(tmp_path, fleet, SLOW)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "alice"}
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "step", "run", "p.slow", "-c", str(config)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        started: set[str] = set()
        while time.monotonic() < deadline and started != {"h1", "h2"}:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if line.endswith("] started\n"):
                started.add(line[1:3])
        assert started == {"h1", "h2"}
        os.kill(proc.pid, signal.SIGSTOP)

        async def take_over_and_resume() -> None:
            b = Session(load_config(config), "bob")
            try:
                await take_over_when_stale(b, "alice's step run is frozen")
                os.kill(proc.pid, signal.SIGCONT)
                await asyncio.to_thread(proc.wait, 30)
            finally:
                await b.close()

        asyncio.run(take_over_and_resume())
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 2, out + err
    assert "lost the driver lease" in err and "bob on" in err and "Traceback" not in err
    assert "p.slow: done" not in out
    with Journal(load_config(config).journal.path, "check", readonly=True) as j:
        [action] = j.actions()
        steps = [t for t in j.transitions("p.slow")]
    assert [(r["host"], r["state"], r["after_lease_lost"]) for r in action["runs"]] == [
        ("h1", "ok", True), ("h2", "ok", True)]  # what really happened, flagged
    assert [(t["state"], t["operator"]) for t in steps] == [("running", "alice")]  # alice decided nothing more


async def test_the_cockpit_that_loses_the_lease_says_so_and_greys_its_firing_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The TUI half of item 1: a failed heartbeat demotes it at once (banner, footer), T stays."""
    from test_journal_problems import config_for
    from test_ui_pilot import until

    from screens.app import CockpitApp

    config = load_config(config_for(tmp_path, tmp_path / "journal.sqlite", ttl="3s"))
    session = Session(config, "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    async with app.run_test(size=(160, 48)) as pilot:
        dash = app.dashboard
        await until(pilot, lambda: dash.active_bindings["p"][2] is True)
        # bob takes the lease over, as if alice's cockpit had been silent past the TTL
        with Journal(config.journal.path, "bob") as bob:
            bob.take_over("bob", "jump2", 4242, time.time() + 60, reason="alice's laptop slept")
            await until(pilot, lambda: "LEASE LOST" in str(dash.query_one("#banner").render()),
                        timeout=3 * session.heartbeat_every + 2)
        banner = str(dash.query_one("#banner").render())
        assert "lost the driver lease" in banner and "bob on jump2" in banner and "observer" in banner
        await pilot.pause(0.1)
        for key in ("p", "exclamation_mark"):  # greyed in the footer
            assert dash.active_bindings[key][2] is False, key
        await pilot.press("!")
        await pilot.pause(0.2)
        assert app.screen is dash  # no command prompt: the key does nothing
        assert dash.check_action("take_over", ()) is True  # taking it back stays possible
        assert not session.engine.actions.history


def test_a_host_command_is_refused_when_the_heartbeat_is_old_and_the_lease_gone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The runner's last gate: the intent is journaled, then (frozen past TTL/2, lease taken meanwhile) the
    host's command never starts; the host says why, flagged in the journal."""
    from test_journal_problems import config_for

    marker = tmp_path / "ran"
    config = load_config(config_for(tmp_path, tmp_path / "journal.sqlite", ttl="3s"))

    async def run() -> None:
        s = Session(config, "alice")
        try:
            first = await s.engine.actions.start("mark", f"touch {marker}", ["me"], timeout=10)
            # before the host's task runs: as if this process froze past TTL/2 and bob took the lease
            s._beat_ok -= TTL
            with Journal(config.journal.path, "bob") as bob:
                bob.take_over("bob", "jump2", 4242, time.time() + 60, reason="alice froze")
            done = await s.engine.actions.wait(first.id)
            [r] = done.runs
            assert r.state == "error" and r.error.startswith("refused: no good heartbeat for ")
            assert "bob on jump2" in r.error
            assert s.observer and s.lost
        finally:
            await s.close()

    asyncio.run(run())
    assert not marker.exists()
    with Journal(config.journal.path, "check", readonly=True) as j:
        [action] = j.actions()
    assert [(r["state"], r["after_lease_lost"]) for r in action["runs"]] == [("error", True)]
