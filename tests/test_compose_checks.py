"""compose and docker checks against a real Docker daemon, over a real loopback SSH host.

A Compose v1 project with a healthy, a crash-looping, a stopped, an unhealthy and a not-yet-created
service, then a container added later: what the operator sees per container and for the project.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from cockpitcfg import write_config
from dockerd import IMAGE, DockerDaemon
from dockerhost import compose, docker_fleet

from cockpit.checks import compose_declared, compose_snippet
from cockpit.conditions import evaluate_all
from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.errors import ConfigError
from cockpit.runbook import EngineContext
from cockpit.spec import ComposeCheck
from cockpit.model import CheckResult

pytestmark = pytest.mark.xdist_group("dockerd")

COMPOSE_FILE = f"""
version: "2.4"
services:
  web:
    image: {IMAGE}
    network_mode: host
    command: ["sleep", "600"]
    healthcheck: {{test: ["CMD", "true"], interval: 1s, retries: 1}}
  crash:
    image: {IMAGE}
    network_mode: host
    command: ["sh", "-c", "sleep 1; exit 3"]
    restart: always
  worker:
    image: {IMAGE}
    network_mode: host
    command: ["sleep", "600"]
  sick:
    image: {IMAGE}
    network_mode: host
    command: ["sleep", "600"]
    healthcheck: {{test: ["CMD", "false"], interval: 1s, retries: 1}}
  admin:
    image: {IMAGE}
    network_mode: host
    command: ["sleep", "600"]
"""


def _results(snap) -> dict[str, CheckResult]:  # type: ignore[no-untyped-def]
    return {r.service: r for h in snap.hosts for r in h.results}


def _wait(dockerd: DockerDaemon, name: str, fmt: str, want: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    got = ""
    for _ in range(int(seconds * 10)):
        got = dockerd.docker("inspect", "--format", fmt, name, check=False).stdout.decode().strip()
        if got == want or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got == want, (name, fmt, got)


@pytest.fixture
def project(tmp_path: Path, fleet_factory, dockerd: DockerDaemon):  # type: ignore[no-untyped-def]
    fleet = docker_fleet(fleet_factory, dockerd)
    name = f"ck{tmp_path.name[-12:].replace('_', '').lower()}"
    folder = fleet.root / "compose"
    folder.mkdir(mode=0o755)
    file = folder / "docker-compose.yml"
    file.write_text(COMPOSE_FILE)
    file.chmod(0o644)
    try:
        yield fleet, name, file
    finally:
        compose(dockerd, name, file, "down", "-t", "1")
        dockerd.remove(f"{name}-extra", f"{name}-bare")


async def test_a_compose_project_seen_per_container_with_a_crash_loop_and_a_late_container(
        tmp_path: Path, project, dockerd: DockerDaemon) -> None:  # type: ignore[no-untyped-def]
    fleet, name, file = project
    compose(dockerd, name, file, "up", "-d", "web", "crash", "worker", "sick")
    compose(dockerd, name, file, "stop", "-t", "1", "worker")
    _wait(dockerd, f"{name}_web_1", "{{.State.Health.Status}}", "healthy")
    _wait(dockerd, f"{name}_sick_1", "{{.State.Health.Status}}", "unhealthy")
    services = f"""
[services.stack]
on = ["h1"]
compose = "{name}"
file = "{file}"

[services.lenient]
on = ["h1"]
compose = "{name}"
file = "{file}"
allow = {{ crash = ["restarting", "exited"], admin = ["missing"] }}
noncritical = ["sick", "worker"]

[services.unlisted]
on = ["h1"]
compose = "{name}-none"
"""
    # the default 30 s: docker-compose v1 (Python) lists a file's services in seconds on this busy machine,
    # twice in the first round here (the tests' usual 10 s cut it short under load: "did not finish")
    config = load_config(write_config(tmp_path, fleet, services, ssh={"command_timeout": "30s"}), env={})
    async with Engine(config) as engine:
        r = _results(await engine.run_round())
        assert r["stack/web"].status == "up" and r["stack/web"].detail == "running, healthy"
        assert r["stack/worker"].status == "down" and r["stack/worker"].detail.startswith("exited")
        assert (r["stack/sick"].status, r["stack/sick"].detail) == ("down", "running but unhealthy")
        assert (r["stack/admin"].status, r["stack/admin"].detail) == ("down", "declared, no container")
        assert r["stack"].status == "down" and r["stack"].detail.startswith("1/5 services fine") or \
            r["stack"].detail.startswith("2/5 services fine"), r["stack"].detail
        assert "admin declared, no container" in r["stack"].detail
        assert (r["unlisted"].status, r["unlisted"].detail) == ("down", f"no containers of compose project {name}-none")
        # the lenient view: what is allowed or not critical does not fail the project, and is still shown
        assert r["lenient"].status == "up", r["lenient"].detail
        assert r["lenient/admin"].detail == "declared, no container (allowed)"
        assert r["lenient/sick"].status == "down" and not r["lenient/sick"].critical
        assert "sick running but unhealthy (not critical)" in r["lenient"].detail
        # conditions address the project or one container; a container the project lacks is down, said so
        ctx = EngineContext(engine)
        assert (await evaluate_all(["up(stack/web)"], ctx)).value is True
        assert (await evaluate_all(["up(lenient)"], ctx)).value is True
        worker = await evaluate_all(["up(stack/worker)"], ctx)
        assert worker.value is False and "exited" in worker.detail
        nosuch = await evaluate_all(["up(stack/nosuch)"], ctx)
        assert nosuch.value is False and "no container of service nosuch" in nosuch.detail, nosuch
        assert (await evaluate_all(["down(stack/nosuch)"], ctx)).value is True
        # the crash loop: its restart count rises between rounds, and that is a finding in the strict view
        first = r["stack/crash"].get("restarts")
        assert isinstance(first, int)
        seen: list[tuple[str, str, object]] = []
        deadline = time.monotonic() + 30
        for _ in range(60):
            c = _results(await engine.run_round())["stack/crash"]
            seen.append((c.status, c.detail, c.get("restarts")))
            if isinstance(c.get("restarts"), int) and c.get("restarts") > first:  # type: ignore[operator]
                break
            assert time.monotonic() < deadline, seen
            time.sleep(0.3)
        status, detail, restarts = seen[-1]
        assert restarts > first and status in ("degraded", "down"), seen  # type: ignore[operator]
        assert "restarted" in detail or "restarting" in detail or "exited" in detail, seen
        # the file's services are listed again only when it changes: a service declared later is missing
        res = subprocess.run(fleet.hosts[0].ssh_argv(compose_snippet(ComposeCheck(name, file=str(file)), "x")),
                             capture_output=True, text=True, timeout=60)
        key = compose_declared(res.stdout)[0]
        again = subprocess.run(fleet.hosts[0].ssh_argv(compose_snippet(ComposeCheck(name, file=str(file)), key)),
                               capture_output=True, text=True, timeout=60)
        assert compose_declared(again.stdout) == (key, None), again.stdout  # unchanged: not listed
        file.write_text(COMPOSE_FILE + f"  late:\n    image: {IMAGE}\n    network_mode: host\n")
        r = _results(await engine.run_round())
        assert (r["stack/late"].status, r["stack/late"].detail) == ("down", "declared, no container")
        file.write_text(COMPOSE_FILE)
        # a container added later (created by compose, then one by hand with the project's labels) is shown
        compose(dockerd, name, file, "up", "-d", "admin")
        dockerd.run(f"{name}-extra", "sleep", "600",
                    labels={"com.docker.compose.project": name, "com.docker.compose.service": "extra"})
        dockerd.run(f"{name}-bare", "sleep", "600", labels={"com.docker.compose.project": name})  # no service label
        r = _results(await engine.run_round())
        assert (r["stack/admin"].status, r["stack/admin"].detail) == ("up", "running")
        assert (r["stack/extra"].status, r["stack/extra"].detail) == ("up", "running")
        assert (r["stack/?"].status, r["stack/?"].get("container")) == ("up", f"{name}-bare")
        assert r["stack"].get("services") == 7
        hosts = engine.snapshot().hosts[0]
        names = [x.service for x in hosts.results]
        assert names[:6] == ["stack", "stack/web", "stack/crash", "stack/worker", "stack/sick", "stack/admin"], names
        assert set(names[6:8]) == {"stack/extra", "stack/?"} and names[8] == "lenient", names  # declared ones first


async def test_docker_checks_against_the_real_daemon(tmp_path: Path, fleet_factory, dockerd: DockerDaemon) -> None:  # type: ignore[no-untyped-def]
    fleet = docker_fleet(fleet_factory, dockerd)
    p = f"dk{tmp_path.name[-10:].replace('_', '').lower()}"
    names = {k: f"{p}-{k}" for k in ("running", "exited", "loop", "healthy", "unhealthy")}
    try:
        dockerd.run(names["running"], "sleep", "600")
        dockerd.run(names["exited"], "sh", "-c", "exit 2")
        dockerd.run(names["loop"], "sh", "-c", "exit 1", options=("--restart", "always"))
        dockerd.run(names["healthy"], "sleep", "600", options=("--health-cmd", "true", "--health-interval", "1s"))
        dockerd.run(names["unhealthy"], "sleep", "600",
                    options=("--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1"))
        _wait(dockerd, names["exited"], "{{.State.Status}}", "exited")
        _wait(dockerd, names["healthy"], "{{.State.Health.Status}}", "healthy")
        _wait(dockerd, names["unhealthy"], "{{.State.Health.Status}}", "unhealthy")
        services = "".join(f'[services.{k}]\non = ["h1"]\ndocker = "{v}"\n\n' for k, v in names.items())
        services += f'[services.missing]\non = ["h1"]\ndocker = "{p}-never"\n'
        async with Engine(load_config(write_config(tmp_path, fleet, services), env={})) as engine:
            r = _results(await engine.run_round())
        assert (r["running"].status, r["running"].detail) == ("up", "running")
        assert (r["exited"].status, r["exited"].detail) == ("down", "container exited")
        assert (r["healthy"].status, r["healthy"].detail) == ("up", "running, healthy")
        assert (r["unhealthy"].status, r["unhealthy"].detail) == ("down", "running but unhealthy")
        assert (r["missing"].status, r["missing"].detail) == ("down", f"no container named {p}-never")
        # "exit 1" lives a few milliseconds per cycle; the rest is docker's back-off, shown as restarting
        assert r["loop"].status == "degraded" and r["loop"].detail.startswith("restart loop ("), r["loop"]
    finally:
        dockerd.remove(*names.values())


def test_a_part_of_a_service_that_is_not_compose_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text('[hosts.me]\ntransport = "local"\naddress = "127.0.0.1"\n'
                    '[services.web]\non = ["me"]\nsystemd = "web.service"\n'
                    '[services.stack]\non = ["me"]\ncompose = "Stack"\nallow = { admin = ["sleeping"] }\n'
                    '[[phases]]\nid = "p"\ntitle = "P"\ngate = ["up(web/api)", "up(stack/api)"]\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    text = str(exc.value)
    assert "names 'web/api', but 'web' is a systemd check: only a compose service has parts" in text
    assert "'Stack' is not a compose project name" in text
    assert "'sleeping' is not a container state" in text
    assert "stack/api" not in text
