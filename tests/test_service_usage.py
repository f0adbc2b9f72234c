"""Each service's own CPU and memory, read by the round script over real sshd: cgroup v2 and v1 trees (faithful
fixtures with known counters: CPU exact from two rounds), real process trees, a pm2 app, one command per round."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cockpitcfg import write_config

from cockpit.checks import parse_passes, resources_snippet
from cockpit.conditions import evaluate_all
from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.engine.usage import UsageTracker
from cockpit.exports import Exporter
from cockpit.model import CheckResult, FleetSnapshot
from cockpit.runbook.context import EngineContext

MB = 1024 * 1024


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory the fleet's login user can read (pytest's tmp_path is root's own)."""
    path = Path(tempfile.mkdtemp(prefix="cockpit-usage-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for d in [path.parent, *path.parent.parents]:
        if d == Path("/tmp") or d == Path("/"):
            break
        d.chmod(0o755)
    path.write_text(text)
    path.chmod(0o644)


def v2_unit(root: Path, unit: str, mem: int, usec: int) -> None:
    """A unit's cgroup as cgroup v2 shows it: memory.current and cpu.stat (usage_usec first, as the kernel)."""
    write(root / "system.slice" / unit / "memory.current", f"{mem}\n")
    write(root / "system.slice" / unit / "cpu.stat",
          f"usage_usec {usec}\nuser_usec {usec * 3 // 4}\nsystem_usec {usec // 4}\nnr_periods 0\n")


def v1_unit(root: Path, unit: str, mem: int | None, ns: int) -> None:
    """cgroup v1: memory.usage_in_bytes (only with MemoryAccounting) and cpuacct.usage in ns."""
    if mem is not None:
        write(root / "memory" / "system.slice" / unit / "memory.usage_in_bytes", f"{mem}\n")
    write(root / "cpuacct" / "system.slice" / unit / "cpuacct.usage", f"{ns}\n")


def result(snap: FleetSnapshot, service: str, host: str = "h1") -> CheckResult:
    return next(r for r in snap.host(host).results if r.service == service)


def fixture_env(world: Path) -> dict[str, str]:
    """The round script's cgroup root and clock, pointed at the fixture tree."""
    return {"CK_CGROUP_ROOT": str(world / "cg"), "CK_UPTIME": str(world / "uptime")}


async def test_cgroup_v2_unit_cpu_is_exact_from_two_rounds_and_memory_is_current(fleet_factory, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = world / "cg"
    write(root / "cgroup.controllers", "cpuset cpu io memory pids\n")
    v2_unit(root, "api.service", 150 * MB, 1_000_000)
    write(world / "uptime", "1000.00 1900.00\n")
    fleet = fleet_factory(1, env=fixture_env(world))
    fleet.set_systemd("h1", "api", "active running")
    fleet.set_systemd("h1", "old", "inactive dead")
    cfg = write_config(tmp_path, fleet, '[services.api]\non = ["h1"]\nsystemd = "api"\n'
                                         '[services.old]\non = ["h1"]\nsystemd = "old"\n')
    async with Engine(load_config(cfg)) as engine:
        snap = await engine.run_round()
        first = result(snap, "api").usage
        assert first is not None and first.mem == 150 * MB and first.via == "cgroup v2"
        assert first.cpu is None and "no time passed on the host's clock" in first.note  # the fixture's clock stood
        v2_unit(root, "api.service", 160 * MB, 1_500_000)  # half a second of CPU ...
        write(world / "uptime", "1002.00 1903.00\n")  # ... in two seconds of the host's clock
        snap = await engine.run_round()
        r = result(snap, "api")
        ncpu = snap.host("h1").load.ncpu  # type: ignore[union-attr]
        assert r.usage is not None and r.usage.cpu == 25.0 and r.usage.mem == 160 * MB
        assert ncpu and r.usage.cpu_host == pytest.approx(25.0 / ncpu)
        assert [u.mem for u in r.usage_history] == [150 * MB, 160 * MB]
        old = result(snap, "old").usage
        assert old is not None and old.mem is None and old.note == "the unit has no cgroup (not running)"
        exported = Exporter().result_dict(r)["usage"]  # what `cockpit snapshot --json` prints
        assert exported == {"at": exported["at"], "cpu_pct_core": 25.0, "cpu_pct_host": round(25.0 / ncpu, 2),
                            "mem_bytes": 160 * MB, "via": "cgroup v2", "note": ""}
        ctx = EngineContext(engine)
        assert (await evaluate_all(["mem(api) < 200MB", "cpu(api) < 50%"], ctx)).value is True
        v = await evaluate_all(["cpu(api) < 20%"], ctx)
        assert v.value is False and "25% (of one core) on h1" in v.detail
        v = await evaluate_all(["mem(old) < 200MB"], ctx)
        assert v.value is None and "the unit has no cgroup (not running)" in v.detail


async def test_cgroup_v1_unit_reads_memory_and_cpuacct_and_says_what_is_not_accounted(fleet_factory, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = world / "cg"
    v1_unit(root, "db.service", 300 * MB, 5_000_000_000)
    v1_unit(root, "cache.service", None, 1_000_000_000)  # systemd made no memory cgroup for it
    write(world / "uptime", "500.00 900.00\n")
    fleet = fleet_factory(1, env=fixture_env(world))
    fleet.set_systemd("h1", "db", "active running")
    fleet.set_systemd("h1", "cache", "active running")
    cfg = write_config(tmp_path, fleet, '[services.db]\non = ["h1"]\nsystemd = "db"\n'
                                        '[services.cache]\non = ["h1"]\nsystemd = "cache"\n')
    async with Engine(load_config(cfg)) as engine:
        await engine.run_round()
        v1_unit(root, "db.service", 310 * MB, 8_000_000_000)  # 3 s of CPU in 4 s: 75 % of one core
        v1_unit(root, "cache.service", None, 1_400_000_000)  # 0.4 s in 4 s: 10 %
        write(world / "uptime", "504.00 905.00\n")
        snap = await engine.run_round()
    db, cache = result(snap, "db").usage, result(snap, "cache").usage
    assert db is not None and db.cpu == 75.0 and db.mem == 310 * MB and db.via == "cgroup v1"
    assert cache is not None and cache.cpu == pytest.approx(10.0) and cache.mem is None
    assert "memory not accounted in this cgroup (cgroup v1: enable MemoryAccounting" in cache.note


async def test_one_round_is_one_remote_command_however_many_services(fleet_factory, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = world / "cg"
    write(root / "cgroup.controllers", "cpu memory\n")
    write(world / "uptime", "10.00 10.00\n")
    fleet = fleet_factory(1, env=fixture_env(world))
    services = []
    for i in range(8):
        fleet.set_systemd("h1", f"unit{i}", "active running")
        v2_unit(root, f"unit{i}.service", (i + 1) * MB, i * 1000)
        services.append(f'[services.unit{i}]\non = ["h1"]\nsystemd = "unit{i}"\n')
        services.append(f'[services.proc{i}]\non = ["h1"]\nprocess = "no-such-process-{i}"\n')
        fleet.set_docker("h1", f"box{i}", "running none 0")
        services.append(f'[services.box{i}]\non = ["h1"]\ndocker = "box{i}"\n')
    cfg = write_config(tmp_path, fleet, "".join(services))
    async with Engine(load_config(cfg)) as engine:
        transport = engine.transport("h1")
        calls: list[str] = []
        real = transport.run_script  # type: ignore[attr-defined]

        async def counted(script: str, *args, **kw):  # type: ignore[no-untyped-def]
            calls.append(script)
            return await real(script, *args, **kw)

        transport.run_script = counted  # type: ignore[attr-defined]
        for _ in range(2):
            snap = await engine.run_round()
    assert len(calls) == 2  # one script per round for 24 services' checks and resources
    assert all(script.count("systemctl show -p ControlGroup") == 1 for script in calls)
    got = {r.service: r.usage for r in snap.host("h1").results}
    assert len(got) == 24 and all(u is not None for u in got.values())
    assert [got[f"unit{i}"].mem for i in range(8)] == [(i + 1) * MB for i in range(8)]  # type: ignore[union-attr]
    assert got["proc3"].note == "no process matches"  # type: ignore[union-attr]
    assert got["box2"].note == "no container by that name"  # type: ignore[union-attr]


def start_tree(marker: str, busy: bool) -> subprocess.Popen[bytes]:
    """``sh`` with children: ``yes`` (busy) and ``sleep``; only the parent's argv holds the marker."""
    body = ("yes >/dev/null & " if busy else "") + "sleep 600 & wait"
    return subprocess.Popen(["sh", "-c", body, marker], start_new_session=True)


def stop_tree(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)


def tree_rss(pid: int) -> int:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def wait_children(proc: subprocess.Popen[bytes], n: int) -> None:
    deadline = time.monotonic() + 10
    while len(psutil.Process(proc.pid).children()) < n:
        assert time.monotonic() < deadline, "the test tree did not start"
        time.sleep(0.05)


async def test_process_sharing_a_cgroup_is_read_from_its_process_tree(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    busy, idle = start_tree("cockpit-usage-busy-tree", True), start_tree("cockpit-usage-idle-tree", False)
    try:
        wait_children(busy, 2)
        wait_children(idle, 1)
        cfg = write_config(tmp_path, fleet, '[services.busy]\non = ["h1"]\nprocess = "cockpit-usage-busy-tree"\n'
                                            '[services.idle]\non = ["h1"]\nprocess = "cockpit-usage-idle-tree"\n',
                           hosts=["h1"])
        async with Engine(load_config(cfg)) as engine:
            await engine.run_round()
            time.sleep(1.0)
            snap = await engine.run_round()
        b, i = result(snap, "busy").usage, result(snap, "idle").usage
        assert b is not None and i is not None
        assert b.via == "process tree (3 pids)" and i.via == "process tree (2 pids)"
        assert b.mem == pytest.approx(tree_rss(busy.pid), rel=0.2)
        assert b.cpu is not None and i.cpu is not None
        # yes spins; sleep does not (yes's share of a core depends on the shared machine's load: compared, not fixed)
        assert i.cpu < 1.0 and b.cpu > 2.0 and b.cpu > 10 * max(i.cpu, 0.1), (b, i)
    finally:
        stop_tree(busy)
        stop_tree(idle)
    assert not psutil.pid_exists(busy.pid) or psutil.Process(busy.pid).status() == psutil.STATUS_ZOMBIE


def test_pm2_apps_are_read_from_their_pids_process_trees(fleet) -> None:  # type: ignore[no-untyped-def]
    """pm2 apps share pm2's daemon cgroup: their trees are summed. pm2 is not installed here: a shim prints
    ``pm2 jlist`` as pm2 5 does (pid, name, pm2_env with the app's env, pm_id, monit), on one line."""
    host = fleet.host("h1")
    app = start_tree("cockpit-usage-pm2-app", True)
    try:
        wait_children(app, 2)
        jlist = [
            {"pid": app.pid, "name": "api", "pm2_env": {"status": "online", "env": {"DB_PASSWORD": "hunter2"},
                                                        "pm_id": 0}, "pm_id": 0, "monit": {"memory": 1, "cpu": 0}},
            {"pid": 0, "name": "worker", "pm2_env": {"status": "stopped"}, "pm_id": 1, "monit": {"memory": 0, "cpu": 0}},
        ]
        write(host.state_dir / "pm2.json", json.dumps(jlist, separators=(",", ":")))
        shim = fleet.shim_dir / "pm2"
        shim.write_text('#!/bin/sh\n[ "$1" = jlist ] || exit 2\ncat "$COCKPIT_SHIM_STATE/pm2.json"\n')
        shim.chmod(0o755)
        script = resources_snippet([("s0", ("pm2", "api")), ("s1", ("pm2", "worker")), ("s2", ("pm2", "none"))],
                                   prime=True)
        # pm2 jlist would start a daemon when none runs, so the script asks only a live one: no pid file here
        home = f"/tmp/cockpit-pm2-{os.getpid()}"
        none = subprocess.run(host.ssh_argv("sh -s"), input=f"PM2_HOME={home}-none; export PM2_HOME\n" + script,
                              capture_output=True, text=True, timeout=30)
        assert none.returncode == 0, none.stderr
        idle = UsageTracker().read(parse_passes(none.stdout)[-1], {"api": "s0"}, 2, time.time(), {})
        assert idle["api"].mem is None and idle["api"].note == "no pm2 app by that name is running"
        # a live daemon (its pid file names a process of the host's user, as pm2 writes it)
        live = f'PM2_HOME={home}; export PM2_HOME; mkdir -p "$PM2_HOME"; echo $$ > "$PM2_HOME/pm2.pid"\n'
        out = subprocess.run(host.ssh_argv("sh -s"), input=live + script + f'\nrm -rf "{home}"\n',
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert "hunter2" not in out.stdout  # only names and pids leave the host
        tracker = UsageTracker()
        first, second = parse_passes(out.stdout)
        ids = {"api": "s0", "worker": "s1", "none": "s2"}
        tracker.read(first, ids, 2, time.time(), {}, keep=False)
        got = tracker.read(second, ids, 2, time.time(), {})
        assert got["api"].via == "process tree (3 pids)" and got["api"].cpu is not None and got["api"].cpu > 2
        assert got["api"].mem == pytest.approx(tree_rss(app.pid), rel=0.2)
        assert got["worker"].mem is None and got["worker"].note == "no pm2 app by that name is running"
        assert got["none"].note == "no pm2 app by that name is running"
    finally:
        stop_tree(app)


async def test_a_process_tree_with_its_own_cgroup_is_read_from_that_cgroup(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A process check whose pids are all of their cgroup (a service's own): the cgroup's counters, as for a
    unit. The machine's real cgroup v1 hierarchy: a private child cgroup made (and removed) by the test."""
    base = Path("/sys/fs/cgroup")
    if os.geteuid() != 0 or (base / "cgroup.controllers").exists() or not (base / "memory").is_dir():
        pytest.skip("needs root on a cgroup v1 machine to make a cgroup")
    name = f"cockpit-usage-{os.getpid()}"
    dirs = [base / "memory" / name, base / "cpuacct" / name]
    tree = start_tree("cockpit-usage-own-cgroup", True)
    try:
        wait_children(tree, 2)
        pids = [tree.pid, *(p.pid for p in psutil.Process(tree.pid).children())]
        for d in dirs:
            d.mkdir()
            for pid in pids:
                (d / "cgroup.procs").write_text(f"{pid}\n")
        cfg = write_config(tmp_path, fleet, '[services.own]\non = ["h1"]\nprocess = "cockpit-usage-own-cgroup"\n',
                           hosts=["h1"])
        async with Engine(load_config(cfg)) as engine:
            snap = await engine.run_round()
        u = result(snap, "own").usage
        charged = int((dirs[0] / "memory.usage_in_bytes").read_text())
        assert u is not None and u.via == "cgroup v1", u
        assert u.mem is not None and u.mem == pytest.approx(charged, rel=0.2)
        assert u.cpu is not None and u.cpu > 0.0  # the primed first round: yes ran between its two readings
    finally:
        stop_tree(tree)
        for d in dirs:
            if d.exists():
                deadline = time.monotonic() + 10
                while (d / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
                    time.sleep(0.05)
                d.rmdir()
