"""Containers' own CPU and memory through their cgroups (v1 on these machines), with the real Docker daemon,
read by the same round script the cockpit runs on a host, over real sshd."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from cockpitcfg import write_config
from dockerd import DockerDaemon

from cockpit.conditions import evaluate_all
from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.runbook.context import EngineContext

pytestmark = pytest.mark.xdist_group("dockerd")

MB = 1024 * 1024


@pytest.fixture
def reachable_docker(dockerd: DockerDaemon) -> Iterator[DockerDaemon]:
    """The fleet logs in as an unprivileged user: let it reach the private daemon's socket for this test."""
    modes = (dockerd.dir.stat().st_mode & 0o777, dockerd.socket.stat().st_mode & 0o777)
    dockerd.dir.chmod(0o711)
    dockerd.socket.chmod(0o666)
    try:
        yield dockerd
    finally:
        dockerd.dir.chmod(modes[0])
        dockerd.socket.chmod(modes[1])


async def test_containers_cpu_and_memory_come_from_their_cgroups(reachable_docker, fleet_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = reachable_docker
    names = ("usage-busy", "usage-idle", "usage-mem")
    d.remove(*names)
    try:
        d.run("usage-busy", "sh", "-c", "yes > /dev/null")
        d.run("usage-idle", "sleep", "600")
        # 64 MB written to a tmpfs inside the container is charged to its memory cgroup and stays resident
        d.run("usage-mem", "sh", "-c", "dd if=/dev/zero of=/m/f bs=1M count=64 2>/dev/null; sleep 600",
              options=("--tmpfs", "/m:size=96m"))
        fleet = fleet_factory(1, env={"DOCKER_HOST": d.host})
        (fleet.shim_dir / "docker").unlink()  # the host's docker is the real client
        services = "".join(f'[services.{n}]\non = ["h1"]\ndocker = "{n}"\n' for n in names)
        services += '[services.gone]\non = ["h1"]\ndocker = "usage-no-such-container"\n'
        cfg = write_config(tmp_path, fleet, services)
        async with Engine(load_config(cfg)) as engine:
            deadline = time.monotonic() + 20
            while True:  # until dd has filled the tmpfs (it starts with the container)
                snap = await engine.run_round()
                usage = {r.service: r.usage for r in snap.host("h1").results}
                mem = usage["usage-mem"]
                if mem is not None and mem.mem is not None and mem.mem >= 64 * MB or time.monotonic() > deadline:
                    break
            time.sleep(1.0)
            snap = await engine.run_round()
            usage = {r.service: r.usage for r in snap.host("h1").results}
            status = {r.service: r.status for r in snap.host("h1").results}
            ctx = EngineContext(engine)
            small = await evaluate_all(["mem(usage-mem) < 200MB", "mem(usage-mem) > 60MB"], ctx)
            hot = await evaluate_all(["cpu(usage-busy) < 5%"], ctx)
        busy, idle, mem = usage["usage-busy"], usage["usage-idle"], usage["usage-mem"]
        assert status == {"usage-busy": "up", "usage-idle": "up", "usage-mem": "up", "gone": "down"}
        assert busy is not None and idle is not None and mem is not None
        assert busy.via == idle.via == mem.via == "cgroup v1"
        # yes spins, sleep does not. How much of a core yes gets depends on who else runs on this shared machine
        # (measured: 17 % to 95 %), so the figures are compared with each other, not with a fixed share
        assert busy.cpu is not None and idle.cpu is not None
        assert idle.cpu < 1.0 and busy.cpu > 2.0 and busy.cpu > 10 * max(idle.cpu, 0.1), (busy, idle)
        assert mem.mem is not None and 64 * MB <= mem.mem < 80 * MB, mem
        assert busy.cpu_host is not None and busy.cpu_host == pytest.approx(busy.cpu / snap.host("h1").load.ncpu)  # type: ignore[union-attr]
        assert usage["gone"] is not None and usage["gone"].note == "no container by that name"
        assert small.value is True, small.detail
        assert hot.value is False and "(of one core) on h1" in hot.detail
    finally:
        d.remove(*names)


async def test_docker_stats_stands_in_where_the_cgroup_cannot_be_read(reachable_docker, fleet_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A host whose cgroup files the login user cannot read (here: a cgroup root with nothing in it)."""
    d = reachable_docker
    d.remove("usage-stats-mem")
    try:
        d.run("usage-stats-mem", "sh", "-c", "dd if=/dev/zero of=/m/f bs=1M count=32 2>/dev/null; sleep 600",
              options=("--tmpfs", "/m:size=64m"))
        empty = tmp_path / "no-cgroups"
        empty.mkdir()
        fleet = fleet_factory(1, env={"DOCKER_HOST": d.host, "CK_CGROUP_ROOT": str(empty)})
        (fleet.shim_dir / "docker").unlink()
        cfg = write_config(tmp_path, fleet, '[services.box]\non = ["h1"]\ndocker = "usage-stats-mem"\n')
        async with Engine(load_config(cfg)) as engine:
            deadline = time.monotonic() + 20
            while True:
                snap = await engine.run_round()
                u = snap.host("h1").results[0].usage
                if u is not None and u.mem is not None and u.mem >= 32 * MB or time.monotonic() > deadline:
                    break
        assert u is not None and u.via == "docker stats (cgroup not readable)", u
        assert u.mem is not None and 32 * MB <= u.mem < 48 * MB and u.cpu is not None and u.cpu < 5.0, u
    finally:
        d.remove("usage-stats-mem")


async def test_a_compose_projects_cpu_and_memory_sum_its_containers(reachable_docker, fleet_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A compose service (issue 24's kind) is its project's containers: their cgroups are read and summed
    (the resource script once filtered on an empty service label and found no container at all)."""
    d = reachable_docker
    names = ("usage-proj-a", "usage-proj-b", "usage-other")
    d.remove(*names)
    label = {"com.docker.compose.project": "usageproj"}
    try:
        for n in names[:2]:  # each holds 32 MB in a tmpfs charged to its own memory cgroup
            d.run(n, "sh", "-c", "dd if=/dev/zero of=/m/f bs=1M count=32 2>/dev/null; sleep 600",
                  labels={**label, "com.docker.compose.service": n.rsplit("-", 1)[1]},
                  options=("--tmpfs", "/m:size=48m"))
        d.run("usage-other", "sleep", "600", labels={"com.docker.compose.project": "elsewhere"})
        fleet = fleet_factory(1, env={"DOCKER_HOST": d.host})
        (fleet.shim_dir / "docker").unlink()  # the host's docker is the real client
        cfg = write_config(tmp_path, fleet, '[services.proj]\non = ["h1"]\ncompose = "usageproj"\n')
        async with Engine(load_config(cfg)) as engine:
            deadline = time.monotonic() + 20
            while True:  # until both dd have filled their tmpfs
                snap = await engine.run_round()
                u = next(r.usage for r in snap.host("h1").results if r.service == "proj")
                if u is not None and u.mem is not None and u.mem >= 64 * MB or time.monotonic() > deadline:
                    break
            ctx = EngineContext(engine)
            verdict = await evaluate_all(["mem(proj) < 200MB"], ctx)
        assert u is not None and u.mem is not None and 64 * MB <= u.mem < 90 * MB, u  # two containers, not three
        assert verdict.value is True, verdict.detail
    finally:
        d.remove(*names)
