"""The rounds' kept shell on real sshd: one `sh -s` per host across rounds, and what ends it.

A warm round must not open a session per host (docs/performance.md, B2), but nothing a
check does may wedge the shell, eat the next round's script or leave processes behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import psutil
from cockpitcfg import write_config
from fleet import TEST_USER

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.transports import SshTransport


def _statuses(snap, host: str = "h1") -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r.service: r.status for r in snap.host(host).results}


def _alive(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            pass
    return found


async def test_rounds_share_one_shell_and_stdin_readers_cannot_eat_the_script(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    services = """
[services.agent]
on = ["h1"]
systemd = "fleet-agent"
[services.reader]
on = ["h1"]
command = "cat; head -c 10; read x; echo alive"
expect_stdout = "alive"
"""
    path = write_config(tmp_path, fleet, services, hosts=["h1"])
    async with Engine(load_config(path)) as engine:
        t = engine.transport("h1")
        assert isinstance(t, SshTransport)
        pgids = set()
        for _ in range(4):
            snap = await engine.run_round()
            assert _statuses(snap) == {"agent": "up", "reader": "up"}
            assert snap.host("h1").load is not None
            shell = t.kept_shell
            assert shell is not None and shell.pgid is not None
            pgids.add(shell.pgid)
        assert len(pgids) == 1 and shell.rounds == 4
        proc = psutil.Process(shell.pgid)
        assert proc.username() == TEST_USER and os.getpgid(proc.pid) == proc.pid
        fleet.set_systemd("h1", "fleet-agent", None)
        snap = await engine.run_round()  # state read afresh by the same shell
        assert _statuses(snap)["agent"] == "down" and t.kept_shell is shell
    for _ in range(100):  # closing the engine ends the shell on the host
        if not psutil.pid_exists(shell.pgid):
            break
        await asyncio.sleep(0.05)
    assert not psutil.pid_exists(shell.pgid)


async def test_a_round_past_its_deadline_kills_the_shell_and_the_next_round_recovers(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = f"ckkept{time.time_ns() % 10**9}"
    flag = fleet.root / f"slow-{marker}"  # the fleet's directory is readable by its login user
    flag.write_text("")
    flag.chmod(0o644)
    services = f"""
[services.slow]
on = ["h1"]
command = "if [ -e {flag} ]; then sh -c 'sleep 300 # {marker}'; fi; echo done"
timeout = "60s"
[services.quick]
on = ["h1"]
command = "echo quick"
"""
    path = write_config(tmp_path, fleet, services, hosts=["h1"], ssh={"command_timeout": "2s"})
    async with Engine(load_config(path)) as engine:
        t = engine.transport("h1")
        assert isinstance(t, SshTransport)
        snap = await engine.run_round()
        assert _statuses(snap)["slow"] == "unknown"
        assert "round deadline" in {r.service: r.detail for r in snap.host("h1").results}["slow"]
        for _ in range(100):
            if not _alive(marker):
                break
            await asyncio.sleep(0.05)
        assert _alive(marker) == []  # the shell's whole group was killed
        assert t.kept_shell is None
        flag.unlink()
        snap = await engine.run_round()
        assert _statuses(snap) == {"slow": "up", "quick": "up"}
        assert t.kept_shell is not None


async def test_a_shell_killed_between_rounds_costs_no_round(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, '[services.c]\non = ["h1"]\ncommand = "echo ok"\n', hosts=["h1"])
    async with Engine(load_config(path)) as engine:
        t = engine.transport("h1")
        assert isinstance(t, SshTransport)
        await engine.run_round()
        first = t.kept_shell
        assert first is not None and first.pgid is not None
        os.killpg(first.pgid, signal.SIGKILL)  # an operator's pkill on the host
        await asyncio.sleep(0.2)
        snap = await engine.run_round()
        assert _statuses(snap) == {"c": "up"}  # not a round of "unknown"
        assert t.kept_shell is not None and t.kept_shell.pgid != first.pgid


async def test_one_session_per_host_means_a_channel_per_round(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, '[services.c]\non = ["h1"]\ncommand = "echo ok"\n', hosts=["h1"],
                        ssh={"max_sessions": 1})
    async with Engine(load_config(path)) as engine:
        for _ in range(2):
            snap = await engine.run_round()
            assert _statuses(snap) == {"c": "up"}
        t = engine.transport("h1")
        assert isinstance(t, SshTransport) and t.kept_shell is None
        res = await engine.run_command("h1", "echo action", timeout=10)  # the one session is free for actions
        assert res.stdout == "action\n"
