"""Each seed migration's checks, as its operators wrote them in ../shared/seeds, in TOML against real things.

Seed 000: a 15-service compose project (admin restarting is acceptable) and a JSON-RPC ping within 100 ms.
Seed 001: pm2 apps stopped and restarted by the rollback, its error log watched after each step.
Seed 002: v2 added to the main compose file, healthy, and its WebSocket endpoint answering 401.
Seed 003: in tests/test_seed_003.py (its stand-in services, Prometheus and two rollbacks need a file of their own).
Seed 004: the WebSocket API (ping/pong) and the DNS switch seen on every resolver.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cockpitcfg import write_config
from dockerd import IMAGE, DockerDaemon
from dockerhost import compose, docker_fleet
from pm2host import app
from test_compose_checks import _wait
from test_dns_checks import resolvers  # noqa: F401  (a fixture: two dnsmasq on loopback)
from test_http_json import rpc  # noqa: F401  (a fixture: the JSON-RPC server)
from test_pm2_checks import SECRETS, pm2_fleet  # noqa: F401  (a fixture: pm2 on a loopback host)
from test_ws_checks import _port, wsd  # noqa: F401  (a fixture: a WebSocket server)

from cockpit.conditions import evaluate_all
from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.model import CheckResult
from cockpit.runbook import EngineContext
from cockpit.session import Session

FLUXER = ("admin", "api", "caddy", "cassandra", "clamav", "docs", "gateway", "marketing", "media", "meilisearch",
          "metrics", "minio", "postgres", "redis", "worker")
HEALTHY = ("cassandra", "clamav", "metrics", "minio")


def _r(snap, name: str) -> CheckResult:  # type: ignore[no-untyped-def]
    return next(r for h in snap.hosts for r in h.results if r.service == name)


def _compose_file(services: tuple[str, ...], *, crash: tuple[str, ...] = (), healthy: tuple[str, ...] = ()) -> str:
    out = ['version: "2.4"', "services:"]
    for s in services:
        cmd = '["sh", "-c", "exit 1"]' if s in crash else '["sleep", "600"]'
        out += [f"  {s}:", f"    image: {IMAGE}", "    network_mode: host", f"    command: {cmd}"]
        if s in crash:
            out.append("    restart: always")
        if s in healthy:
            out.append('    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 1}')
    return "\n".join(out) + "\n"


@pytest.fixture
def stack(tmp_path: Path, fleet_factory, dockerd: DockerDaemon):  # type: ignore[no-untyped-def]
    """``up(services, **kw) -> (fleet, project, file)``: a compose project up on one docker host."""
    fleet = docker_fleet(fleet_factory, dockerd)
    made: list[tuple[str, Path]] = []

    def up(services: tuple[str, ...], **kw: tuple[str, ...]) -> tuple[object, str, Path]:
        name = f"sd{tmp_path.name[-10:].replace('_', '').lower()}{len(made)}"
        folder = fleet.root / name
        folder.mkdir(mode=0o755)
        file = folder / "docker-compose.yml"
        file.write_text(_compose_file(services, **kw))
        file.chmod(0o644)
        made.append((name, file))
        compose(dockerd, name, file, "up", "-d")
        for s in kw.get("healthy", ()):
            _wait(dockerd, f"{name}_{s}_1", "{{.State.Health.Status}}", "healthy")
        return fleet, name, file

    try:
        yield up
    finally:
        for name, file in made:
            compose(dockerd, name, file, "down", "-t", "1")


async def _rounds_until(engine: Engine, ctx: EngineContext, condition: str, rounds: int = 20) -> object:
    """Rounds until the condition is decided (p95 needs its samples; a loaded machine may drop a timing)."""
    verdict = None
    deadline = time.monotonic() + 60
    for _ in range(rounds):
        await engine.run_round()
        verdict = await evaluate_all([condition], ctx)
        if verdict.value is not None or time.monotonic() > deadline:
            break
    return verdict


@pytest.mark.xdist_group("dockerd")
async def test_seed_000_fluxer_stack_and_json_rpc(tmp_path: Path, stack, rpc) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fleet, name, file = stack(FLUXER, crash=("admin",), healthy=HEALTHY)
    services = f"""
[services.fluxer]
on = ["h1"]
compose = "{name}"
file = "{file}"
allow = {{ admin = ["restarting"] }}   # "Restarting (minor issue, non-critical)"
noncritical = ["admin"]

[services.api-rpc]
on = ["h1"]
http = "http://127.0.0.1:{rpc.server_address[1]}/api/_rpc"
method = "POST"
json = {{ method = "ping" }}
expect_json = {{ "result" = "pong" }}
max_latency = "100ms"

[runbook]
min_samples = 3
"""
    config = load_config(write_config(tmp_path, fleet, services, ssh={"command_timeout": "30s"}), env={})
    async with Engine(config) as engine:
        snap = await engine.run_round()
        project = _r(snap, "fluxer")
        assert project.status == "up" and project.get("services") == 15, project.detail
        parts = {r.service.split("/")[1]: r for r in snap.hosts[0].results if r.service.startswith("fluxer/")}
        assert sorted(parts) == sorted(FLUXER)
        assert all(parts[s].detail == "running, healthy" for s in HEALTHY)
        assert not parts["admin"].critical and parts["admin"].status in ("up", "down"), parts["admin"]
        ctx = EngineContext(engine)
        assert (await evaluate_all(["up(fluxer)", "up(fluxer/api)", "up(api-rpc)"], ctx)).value is True
        verdict = await _rounds_until(engine, ctx, "p95(api-rpc) < 2s")  # a latency: p95() has samples
        assert verdict.value is True, verdict  # type: ignore[attr-defined]


async def test_seed_001_pm2_rollback_and_its_error_log(tmp_path: Path, pm2_fleet) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fleet, home = pm2_fleet
    home.jlist([app("lonestar-chat", 0, "online", 0, SECRETS), app("lonestar-chat-v3", 1, "online", 0, SECRETS)])
    home.start_daemon()
    logs = home.dir / "logs"
    logs.mkdir(mode=0o777)
    errors = logs / "lonestar-chat-v3-error.log"
    errors.write_text("Error: connect ECONNREFUSED 127.0.0.1:5432 (before the rollback)\n")
    errors.chmod(0o666)
    services = f"""
[services.chat]
on = ["h1"]
pm2 = "lonestar-chat"

[services.chat-v3]
on = ["h1"]
pm2 = "lonestar-chat-v3"

[services.chat-errors]
on = ["h1"]
log = '(Error|FATAL)'
file = "{errors}"

[[phases]]
id = "rollback"
title = "Back to V2"
gate = ["up(chat)", "down(chat-v3)", "matches(chat-errors) == 0"]

  [[phases.steps]]
  id = "stop-v3"
  title = "Stop new backend"
  on = ["h1"]
  run = "pm2 stop lonestar-chat-v3"
  verify = ["down(chat-v3)", "matches(chat-errors) == 0"]
  within = "10s"

  [[phases.steps]]
  id = "restart-v2"
  title = "Restart V2"
  on = ["h1"]
  run = "pm2 restart lonestar-chat"
  verify = ["up(chat)"]
  within = "15s"
"""
    cfg = load_config(write_config(tmp_path, fleet, services, hosts=["h1"],
                                   cockpit={"state_dir": str(tmp_path / "state")}), env={})
    s = Session(cfg, "alice")
    try:
        snap = await s.engine.run_round()
        assert (_r(snap, "chat").status, _r(snap, "chat-v3").status) == ("up", "up")
        assert (await s.runbook.run_step("rollback.stop-v3")).state == "done"
        view = await s.runbook.run_step("rollback.restart-v2")
        assert view.state == "done", view.checks
        snap = await s.engine.run_round()
        assert _r(snap, "chat").get("restarts") == 1 and _r(snap, "chat").status == "up"
        gate = await evaluate_all(["up(chat)", "down(chat-v3)", "matches(chat-errors) == 0"], EngineContext(s.engine))
        assert gate.value is True, gate
        # v3's error log gets a line after the step: the gate says so, with the line
        with errors.open("a") as f:
            f.write("FATAL: out of memory\n")
        await s.engine.run_round()
        gate = await evaluate_all(["matches(chat-errors) == 0"], EngineContext(s.engine))
        assert gate.value is False and "1 on h1" in gate.detail, gate
        assert _r(s.engine.snapshot(), "chat-errors").detail.endswith("newest: FATAL: out of memory")
        assert home.calls().count("stop lonestar-chat-v3") == 1 and home.calls().count("restart lonestar-chat") == 1
    finally:
        await s.close()


@pytest.mark.xdist_group("dockerd")
async def test_seed_002_v2_in_the_main_compose_healthy_and_its_websocket_401(  # type: ignore[no-untyped-def]
        tmp_path: Path, stack, dockerd: DockerDaemon, wsd) -> None:  # noqa: F811
    fleet, name, file = stack(("traefik", "docmost", "grafana", "paperless", "nixfleet"), healthy=("nixfleet",))
    server, _ = wsd
    services = f"""
[services.main]
on = ["h1"]
compose = "{name}"
file = "{file}"

[services.nixfleet-v2]
on = ["h1"]
docker = "{name}_nixfleet_1"

[services.fleet-ws]
on = ["h1"]
ws = "ws://127.0.0.1:{_port(server)}/private/ws"
expect_status = 401
"""
    config = load_config(write_config(tmp_path, fleet, services, ssh={"command_timeout": "30s"}), env={})
    async with Engine(config) as engine:
        snap = await engine.run_round()
        assert _r(snap, "nixfleet-v2").detail == "running, healthy"  # "docker ps | grep nixfleet: (healthy)"
        assert _r(snap, "fleet-ws").status == "up", _r(snap, "fleet-ws").detail
        assert (await evaluate_all(["up(main)", "up(main/nixfleet)", "up(main/traefik)"],
                                   EngineContext(engine))).value is True
        compose(dockerd, name, file, "stop", "-t", "1", "nixfleet")  # the rollback's first move
        snap = await engine.run_round()
        assert _r(snap, "main").status == "down" and "nixfleet exited" in _r(snap, "main").detail


async def test_seed_004_websocket_api_and_dns_switch(tmp_path: Path, wsd, resolvers) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server, _ = wsd
    new, old = (f"127.0.0.1:{p}" for p in resolvers)
    services = f"""
[services.ws-api]
on = ["me"]
ws = "ws://127.0.0.1:{_port(server)}/ws"
send = "ping"
expect_reply = "pong"

[services.dns-new]
on = ["me"]
dns = "api.test"
resolvers = ["{new}"]
expect_addresses = ["127.0.0.9"]
max_ttl = "60s"

[services.dns-everywhere]
on = ["me"]
dns = "api.test"
resolvers = ["{new}", "{old}"]
expect_addresses = ["127.0.0.9"]
"""
    path = tmp_path / "cockpit.toml"
    path.write_text('[hosts.me]\ntransport = "local"\naddress = "127.0.0.1"\n' + services)
    async with Engine(load_config(path, env={})) as engine:
        snap = await engine.run_round()
    assert _r(snap, "ws-api").status == "up", _r(snap, "ws-api").detail
    assert _r(snap, "dns-new").status == "up", _r(snap, "dns-new").detail
    assert _r(snap, "dns-everywhere").status == "down" and old in _r(snap, "dns-everywhere").detail
