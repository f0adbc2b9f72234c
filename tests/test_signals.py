"""TERM, HUP and INT mid-action, headless: remote work cancelled (detached jobs left running), every outcome
journaled, the lease released, exit 128+signal within 10 s; a second signal exits at once, "abandoned"."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from cockpitcfg import fleet_toml, write_config

from cockpit.config import load_config
from cockpit.journal import Journal

ROOT = Path(__file__).resolve().parents[1]

RUNBOOK = """
[[phases]]
id = "move"
title = "Move"

  [[phases.steps]]
  id = "long"
  title = "A long step on two hosts"
  on = ["h1", "h2"]
  run = "echo started-long; sleep 47"

  [[phases.steps]]
  id = "asks"
  title = "A step that asks first"
  on = ["h1"]
  run = "echo asked {host}"
  confirm = true

  [[phases.steps]]
  id = "bg"
  title = "A detached job"
  on = ["h1"]
  run = "echo started-bg; sleep 48"
  detach = true
"""


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "alice", "PYTHONUNBUFFERED": "1"}
    env.pop("COCKPIT_CONFIG", None)
    return env


def _start_step(path: Path, ref: str, marker: str, hosts: int = 1) -> subprocess.Popen[str]:
    """``cockpit step run REF``, returned once ``hosts`` remote commands printed ``marker`` (they run there)."""
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "step", "run", ref, "-c", str(path), "--yes"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
    deadline = time.monotonic() + 30
    seen = ""
    while time.monotonic() < deadline and seen.count(marker) < hosts:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        seen += line
    if seen.count(marker) < hosts:
        proc.kill()
        proc.wait(10)
        pytest.fail(f"{ref} never printed {marker}: {seen}{proc.stderr.read()}")  # type: ignore[union-attr]
    return proc


def _signal(proc: subprocess.Popen[str], sig: int, timeout: float = 15) -> tuple[float, str]:
    """Send ``sig`` and wait for the exit: (seconds it took, stderr). Killed by pid if it does not exit."""
    sent = time.monotonic()
    try:
        proc.send_signal(sig)
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return time.monotonic() - sent, proc.stderr.read()  # type: ignore[union-attr]


def _sleeps(fleet, host: str, seconds: str) -> list:  # type: ignore[no-untyped-def, type-arg]
    found = []
    for p in fleet.remote_processes(host):
        try:
            if p.cmdline()[-2:] == ["sleep", seconds] or p.cmdline() == ["sleep", seconds]:
                found.append(p)
        except psutil.Error:  # gone meanwhile
            continue
    return found


def _kill_scripts(fleet, host: str) -> int:  # type: ignore[no-untyped-def]
    """How many of the cockpit's kill scripts (kill_group_script) run on ``host``."""
    count = 0
    for p in fleet.remote_processes(host):
        try:
            count += "pkill -TERM" in " ".join(p.cmdline())
        except psutil.Error:
            continue
    return count


def _kill_confirmed(fleet, host: str) -> None:  # type: ignore[no-untyped-def]
    """Until the kill script on ``host`` has come (within 3 s, else it came and went between looks) and gone."""
    deadline = time.monotonic() + 3
    while not _kill_scripts(fleet, host) and time.monotonic() < deadline:
        time.sleep(0.02)
    deadline = time.monotonic() + 5  # it waits at most KILL_GRACE (2 s) for the group to go
    while _kill_scripts(fleet, host) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _kill_scripts(fleet, host), "the kill script did not end"


def _wait_gone(fleet, hosts: list[str], seconds: str, timeout: float = 5.0) -> list:  # type: ignore[no-untyped-def, type-arg]
    deadline = time.monotonic() + timeout
    left = [p for h in hosts for p in _sleeps(fleet, h, seconds)]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for h in hosts for p in _sleeps(fleet, h, seconds)]
    return left


def _journal(path: Path) -> tuple[list[dict], object]:  # type: ignore[type-arg]
    j = Journal(load_config(path).journal.path, "check", readonly=True).open()
    try:
        return j.actions(), j.lease()
    finally:
        j.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_mid_step_cancels_remote_work_journals_and_releases(fleet, tmp_path, sig) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, RUNBOOK, cockpit={"interval": "0.5s"})
    proc = _start_step(path, "move.long", "started-long")
    assert _wait_gone(fleet, ["h1", "h2"], "47", timeout=0) != [], "the step's sleep is not running"
    took, err = _signal(proc, sig)
    assert proc.returncode == 128 + int(sig), err
    assert took < 10, took
    assert "Traceback" not in err, err
    assert signal.Signals(sig).name in err, err  # the operator is told why it stopped
    assert _wait_gone(fleet, ["h1", "h2"], "47") == []  # nothing orphaned on the hosts
    actions, lease = _journal(path)
    step = next(a for a in actions if a["step"] == "move.long")
    assert {r["host"]: r["state"] for r in step["runs"]} == {"h1": "cancelled", "h2": "cancelled"}
    assert all(signal.Signals(sig).name in r["error"] for r in step["runs"]), step["runs"]
    assert step["ended"] is not None
    assert lease is None, err  # released: the next cockpit drives without a take-over


def test_signal_leaves_a_detached_job_running_and_journaled(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, RUNBOOK, cockpit={"interval": "0.5s"})
    proc = _start_step(path, "move.bg", "started-bg")
    _took, err = _signal(proc, signal.SIGTERM)
    try:
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert _sleeps(fleet, "h1", "48") != []  # the job runs on
        actions, lease = _journal(path)
        bg = next(a for a in actions if a["step"] == "move.bg")
        assert [r["state"] for r in bg["runs"]] == ["running"] and bg["runs"][0]["job"], bg
        assert lease is None
    finally:
        for p in _sleeps(fleet, "h1", "48"):
            p.kill()


def test_second_signal_exits_at_once_journaling_abandoned(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, RUNBOOK, cockpit={"interval": "0.5s"})
    proc = _start_step(path, "move.long", "started-long", hosts=2)  # h2's command runs before it hangs
    fleet["h2"].pause()  # h2 hangs: its kill is never confirmed, so the first TERM's stop waits
    try:
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        took, err = _signal(proc, signal.SIGTERM)
    finally:
        fleet["h2"].resume()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert took < 2, took
    assert "second SIGTERM: exiting at once" in err, err
    actions, _lease = _journal(path)
    step = next(a for a in actions if a["step"] == "move.long")
    states = {r["host"]: (r["state"], r["error"]) for r in step["runs"]}
    assert states["h2"][0] == "interrupted" and "abandoned: outcome unknown" in states["h2"][1], states


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_at_a_confirmation_prompt_stops_it(fleet, tmp_path, sig) -> None:  # type: ignore[no-untyped-def]
    """The prompt blocks the event loop in input(): the signal must still end the command, and nothing ran."""
    import pty

    path = write_config(tmp_path, fleet, RUNBOOK, cockpit={"interval": "0.5s"})
    leader, follower = pty.openpty()  # stdin a terminal: the prompt is asked
    try:
        proc = subprocess.Popen([sys.executable, "-m", "cockpit", "step", "run", "move.asks", "-c", str(path)],
                                stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_env(), cwd=ROOT)
        seen, deadline = "", time.monotonic() + 30
        while "h1 $ " not in seen and time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            seen += line
        time.sleep(0.5)  # into input()
        took, err = _signal(proc, sig)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 128 + int(sig), err
    assert "hosts (1): h1\n  h1 $ echo asked h1\n" in seen, seen  # the command as it fires, not its template
    assert took < 10 and "Traceback" not in err, err
    actions, lease = _journal(path)
    assert [a for a in actions if a["step"] == "move.asks"] == [] and lease is None


TUI_SERVICES = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[actions.slow]
key = "w"
title = "Slow job"
on = ["h1", "h2"]
run = "echo started-slow; sleep 46"
"""


def test_a_hung_host_cannot_hold_the_stop_past_10_s(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One TERM, and h2 hangs so its kill is never confirmed: the stop gives up at 8 s, journaling it abandoned."""
    path = write_config(tmp_path, fleet, RUNBOOK, cockpit={"interval": "0.5s"}, ssh={"connect_timeout": "5s"})
    proc = _start_step(path, "move.long", "started-long", hosts=2)  # h2's command runs before it hangs
    fleet["h2"].pause()
    try:
        took, err = _signal(proc, signal.SIGTERM)
    finally:
        fleet["h2"].resume()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert 7.5 < took < 10, took  # the 8 s grace, not the 10 s the kill of a hung host may wait
    assert "took over 8 s" in err, err
    actions, lease = _journal(path)
    runs = {r["host"]: r for r in next(a for a in actions if a["step"] == "move.long")["runs"]}
    assert runs["h2"]["state"] == "interrupted" and "abandoned: outcome unknown" in runs["h2"]["error"]
    assert lease is None


NEEDS_TMUX = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed: apt-get install -y tmux")
TERMINAL = "#{alternate_on} #{cursor_flag} #{mouse_any_flag}"  # restored: "0 1 0"


@pytest.fixture
def tui(fleet, tmp_path):  # type: ignore[no-untyped-def]
    """The cockpit in a private tmux, the slow action running on h1 and h2: (tmux, config, rc file, process).

    The pane outlives the cockpit (``exec sleep``), so its terminal state can be read after the exit.
    """
    from test_tmux import Tmux

    for h in fleet.hosts:
        fleet.set_systemd(h, "fleet-agent", "active running")
    config = tmp_path / "cockpit.toml"
    config.write_text(fleet_toml(fleet, TUI_SERVICES))
    rc_file = tmp_path / "rc"
    cockpit = f"{shlex.quote(sys.executable)} -m cockpit -c {shlex.quote(str(config))}"
    env = f"PYTHONPATH={shlex.quote(str(ROOT))} TERM=tmux-256color COCKPIT_OPERATOR=tmux-test"
    tmux = Tmux(f"cockpit-sig-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmux.start(f"cd {shlex.quote(str(tmp_path))} && {env} {cockpit}; echo $? > {rc_file}; exec sleep 60")
        tmux.wait(lambda: "h3" in tmux.screen(), 15, "the cockpit")
        tmux.wait(lambda: tmux("display-message", "-p", "-t", tmux.name, TERMINAL).stdout.split()[0] == "1",
                  5, "the alternate screen")
        tmux.keys("w")
        tmux.wait(lambda: len(_sleeps(fleet, "h1", "46") + _sleeps(fleet, "h2", "46")) == 2, 15, "the slow action")
        pane = int(tmux("display-message", "-p", "-t", tmux.name, "#{pane_pid}").stdout)
        proc = next(p for p in psutil.Process(pane).children(recursive=True) if "cockpit" in " ".join(p.cmdline()))
        yield tmux, config, rc_file, proc
    finally:
        tmux.close()


def _exited(tmux, rc_file: Path, timeout: float) -> str:  # type: ignore[no-untyped-def]
    tmux.wait(lambda: rc_file.exists() and rc_file.read_text().strip() != "", timeout, "the cockpit to exit")
    return rc_file.read_text().strip()


@NEEDS_TMUX
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_tui_signal_mid_action_restores_the_terminal(fleet, tui, sig) -> None:  # type: ignore[no-untyped-def]
    tmux, config, rc_file, proc = tui
    sent = time.monotonic()
    proc.send_signal(sig)
    assert _exited(tmux, rc_file, 12) == str(128 + int(sig))
    assert time.monotonic() - sent < 10
    assert tmux("display-message", "-p", "-t", tmux.name, TERMINAL).stdout.split() == ["0", "1", "0"]
    assert f"stopped by {signal.Signals(sig).name}" in tmux.screen()
    assert _wait_gone(fleet, ["h1", "h2"], "46") == []
    j = Journal(load_config(config).journal.path, "check", readonly=True).open()
    try:
        slow = next(a for a in j.actions() if a["title"] == "Slow job")
        assert {r["state"] for r in slow["runs"]} == {"cancelled"}
        assert all(signal.Signals(sig).name in r["error"] for r in slow["runs"])
        assert j.lease() is None
    finally:
        j.close()


@NEEDS_TMUX
def test_tui_second_signal_exits_at_once_and_restores_the_terminal(fleet, tui) -> None:  # type: ignore[no-untyped-def]
    """h2 hangs, so the first TERM's stop waits for its kill; the second TERM exits at once, terminal restored."""
    tmux, config, rc_file, proc = tui
    try:
        fleet["h2"].pause()
        proc.send_signal(signal.SIGTERM)
        _kill_confirmed(fleet, "h1")
        time.sleep(0.3)  # its answer reaches the cockpit
        assert proc.is_running() and not rc_file.exists()  # still stopping: h2's kill cannot be delivered
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert _exited(tmux, rc_file, 5) == "143"
        assert time.monotonic() - sent < 2
        assert tmux("display-message", "-p", "-t", tmux.name, TERMINAL).stdout.split() == ["0", "1", "0"]
        assert "second SIGTERM: exiting at once" in tmux.screen()  # said on the restored terminal
        j = Journal(load_config(config).journal.path, "check", readonly=True).open()
        try:
            slow = next(a for a in j.actions() if a["title"] == "Slow job")
            runs = {r["host"]: (r["state"], r["error"]) for r in slow["runs"]}
            assert runs["h1"][0] == "cancelled", runs
            assert runs["h2"][0] == "interrupted" and "abandoned: outcome unknown" in runs["h2"][1], runs
            assert j.lease() is None
        finally:
            j.close()
    finally:
        fleet["h2"].resume()


LATE = """
import asyncio, sys, time
from cockpit.shutdown import run_until_signal

async def main(stop):
    asyncio.get_running_loop().run_in_executor(None, time.sleep, 20)  # teardown waits for this thread
    print("ready", flush=True)
    await asyncio.Event().wait()
    return 0

sys.exit(run_until_signal(main))
"""


def test_a_second_signal_during_teardown_still_exits_at_once_with_the_first_status() -> None:
    """After the session closed the handlers are off the loop, but a second signal is not a default kill (-15)."""
    proc = subprocess.Popen([sys.executable, "-c", LATE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(), cwd=ROOT)
    try:
        assert proc.stdout.readline() == "ready\n"  # type: ignore[union-attr]
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # main is cancelled; asyncio.run waits for the 20 s thread
        assert proc.poll() is None
        took, err = _signal(proc, signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert took < 2, took
    assert "second SIGINT: exiting at once" in err, err
