"""A fixed fleet for UI snapshots: one config, one snapshot, one clock, so screenshots repeat.

Nothing here touches the network: the app is built with ``live=False`` (the engine's
pollers never start) and the snapshot is fed the way the engine would feed it, as a
:class:`screens.messages.SnapshotReady` message. The ssh hosts' addresses are in
TEST-NET (192.0.2.0/24) and are never contacted.

Times are relative to :data:`NOW` and rendered in UTC (:func:`utc` sets ``TZ=UTC`` for
the duration of a test), so ``HH:MM:SS`` columns and "3s ago" are the same on every machine.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cockpit.config import load_config
import dataclasses

from cockpit.model import CheckResult, FleetSnapshot, HostState, Load, StatusChange, Usage
from cockpit.engine import Engine
from screens.app import CockpitApp
from screens.messages import SnapshotReady

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def clock() -> float:
    return NOW


@contextmanager
def utc() -> Iterator[None]:
    """Local time is UTC inside (the screens show local wall-clock times); restored after."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


TITLE = "Fleet agent v1 -> v2"
PHASES = ("Decommission v1", "Canary 10%", "Rollout 100%")

CONFIG_TOML = """\
[cockpit]
title = "Fleet agent v1 -> v2"
interval = "5s"
history = 60
phases = ["Decommission v1", "Canary 10%", "Rollout 100%"]

[ssh]
known_hosts = "known_hosts"
connect_timeout = "3s"

[hosts.csb1]
address = "192.0.2.11"
user = "ops"
tags = ["cloud", "dashboard"]
mounts = ["/", "/var"]

[hosts.csb2]
address = "192.0.2.12"
user = "ops"
tags = ["cloud", "dashboard"]

[hosts.web01]
address = "192.0.2.21"
port = 2222
user = "deploy"
tags = ["web", "canary"]

[hosts.web02]
address = "192.0.2.22"
port = 2222
user = "deploy"
tags = ["web"]

[hosts.db1]
address = "192.0.2.31"
tags = ["db"]

[hosts.laptop]
transport = "local"
tags = ["macos"]

[services.fleet-web]
on = ["tag:dashboard"]
http = "https://fleet.example.net/health"
expect_status = [200, 302]
max_latency = "500ms"

[services.fleet-agent]
on = ["all"]
systemd = "fleet-agent.service"

[services.traefik]
on = ["tag:web"]
docker = "traefik"

[services.v1-gone]
on = ["tag:cloud"]
process = "fleet-agent-v1 --serve"
critical = false

[services.proxy-port]
on = ["csb1"]
port = 8088
port_owner = "traefik"

[services.postgres]
on = ["tag:db"]
tcp = 5432

[services.v2-config]
on = ["all"]
command = "test -f /etc/fleet/v2.toml && echo ok"
expect_stdout = "ok"

[actions.restart-proxy]
key = "t"
title = "Restart reverse proxy"
on = ["tag:web", "csb1"]
run = "docker compose -f ~/docker/docker-compose.yml restart traefik"
confirm = true

[actions.agent-version]
key = "v"
title = "Agent version"
on = ["all"]
run = "fleet-agent --version"
"""


def write_config(directory: Path) -> Path:
    path = directory / "cockpit.toml"
    path.write_text(CONFIG_TOML)
    (directory / "known_hosts").write_text("")
    return path


def make_engine(directory: Path) -> Engine:
    return Engine(load_config(write_config(directory)))


# -- the snapshot ---------------------------------------------------------------------------

HISTORY = 30
STEP = 5.0  # seconds between load samples


def _wave(i: int, base: float, amp: float, period: float, phase: float = 0.0) -> float:
    """A deterministic, wobbly series so every sparkline has shape."""
    return round(base + amp * math.sin(2 * math.pi * i / period + phase), 1)


def _history(seed: int, cpu: tuple[float, float], mem: tuple[float, float], load: tuple[float, float],
             disk: float, ncpu: int, mounts: tuple[str, ...] = ("/",)) -> tuple[Load, ...]:
    out = []
    for i in range(HISTORY):
        at = NOW - 3 - STEP * (HISTORY - 1 - i)
        l1 = max(0.0, _wave(i, load[0], load[1], 9, seed))
        disks = tuple((m, round(disk + 0.1 * i - 12 * j, 1)) for j, m in enumerate(mounts))
        out.append(Load(at=at, cpu=max(0.0, min(100.0, _wave(i, cpu[0], cpu[1], 11, seed))),
                        mem=max(0.0, min(100.0, _wave(i, mem[0], mem[1], 17, seed / 2))), mem_total_kb=16_384_000,
                        load1=l1, load5=round(l1 * 0.8, 2), load15=round(l1 * 0.6, 2), disks=disks, ncpu=ncpu))
    return tuple(out)


def _r(host: str, service: str, kind: str, status: str, detail: str, latency: float | None, since_ago: float,
       critical: bool = True) -> CheckResult:
    return CheckResult(service=service, host=host, kind=kind, status=status, detail=detail,  # type: ignore[arg-type]
                       latency=latency, at=NOW - 3, critical=critical, since=NOW - since_ago)


def _usage(r: CheckResult, cpu: tuple[float, float] | None, mem_mb: float | None, note: str = "") -> CheckResult:
    """A service's own CPU (% of one core) and memory history, as the round script reads them."""
    history = tuple(
        Usage(at=NOW - 3 - STEP * (HISTORY - 1 - i), cpu=None if cpu is None else max(0.0, _wave(i, *cpu, 7)),
              cpu_host=None if cpu is None else max(0.0, _wave(i, *cpu, 7)) / 2,
              mem=None if mem_mb is None else int((mem_mb + 4 * i) * 1024 * 1024), via="cgroup v1", note=note)
        for i in range(HISTORY))
    return dataclasses.replace(r, usage=history[-1], usage_history=history)


def _host(name: str, tags: tuple[str, ...], history: tuple[Load, ...] = (), results: tuple[CheckResult, ...] = (),
          reach: str = "ok", error: str = "", fingerprint: str = "") -> HostState:
    return HostState(name=name, reach=reach, error=error, fingerprint=fingerprint,  # type: ignore[arg-type]
                     load=history[-1] if history else None, history=history, results=results,
                     round_started=NOW - 4, round_ended=NOW - 3, tags=tags)


def hosts() -> tuple[HostState, ...]:
    csb1 = _host("csb1", ("cloud", "dashboard"), _history(1, (22, 8), (48, 3), (0.6, 0.3), 41, 4, ("/", "/var")), (
        _r("csb1", "fleet-web", "http", "up", "HTTP 200 in 84 ms", 0.084, 3600),
        _r("csb1", "fleet-agent", "systemd", "up", "active (running) since 07:01", 0.012, 3540),
        _r("csb1", "v1-gone", "process", "up", "no process matches 'fleet-agent-v1 --serve'", 0.009, 1800, False),
        _r("csb1", "proxy-port", "port", "up", "8088 listened on by traefik (pid 912)", 0.010, 3540),
        _r("csb1", "v2-config", "command", "up", "exit 0: ok", 0.015, 3540),
    ))
    csb2 = _host("csb2", ("cloud", "dashboard"), _history(2, (74, 12), (81, 4), (3.1, 0.9), 77, 4), (
        _r("csb2", "fleet-web", "http", "degraded", "HTTP 200 in 912 ms (max 500 ms)", 0.912, 240),
        _r("csb2", "fleet-agent", "systemd", "up", "active (running) since 06:58", 0.014, 3720),
        _r("csb2", "v1-gone", "process", "degraded", "2 processes match: pids 4411, 4420", 0.011, 600, False),
        _r("csb2", "v2-config", "command", "up", "exit 0: ok", 0.016, 3720),
    ))
    web01 = _host("web01", ("web", "canary"), _history(3, (93, 5), (62, 6), (7.8, 1.5), 93, 2), (
        _usage(_r("web01", "fleet-agent", "systemd", "down", "inactive (dead) since 07:58:12; exit-code 1", 0.013, 108),
               None, None, "the unit has no cgroup (not running)"),
        _usage(_r("web01", "traefik", "docker", "up", "running, healthy (traefik:v3.1)", 0.041, 7200), (38, 20), 64),
        _r("web01", "v2-config", "command", "down", "exit 1: test: /etc/fleet/v2.toml: No such file", 0.008, 108),
    ))
    web02 = _host("web02", ("web",), _history(4, (35, 10), (55, 2), (1.2, 0.4), 58, 2)[:12], (
        _r("web02", "fleet-agent", "systemd", "unknown", "host unreachable", None, 95),
        _r("web02", "traefik", "docker", "unknown", "host unreachable", None, 95),
        _r("web02", "v2-config", "command", "unknown", "host unreachable", None, 95),
    ), reach="unreachable", error="refused: connection refused by 192.0.2.22:2222")
    db1 = _host("db1", ("db",), (), (
        _r("db1", "fleet-agent", "systemd", "unknown", "host host-key-CHANGED", None, 60),
        _r("db1", "postgres", "tcp", "up", "connected to 192.0.2.31:5432 in 2 ms", 0.002, 5400),
        _r("db1", "v2-config", "command", "unknown", "host host-key-CHANGED", None, 60),
    ), reach="host-key-CHANGED",
        error="host-key-CHANGED: the key offered by 192.0.2.31 differs from known_hosts line 3",
        fingerprint="SHA256:3kX9f0cQm4p+Zr2yVbT1uLwq8NdE6sJhAo7GiKfYxWc")
    laptop = _host("laptop", ("macos",), _history(6, (12, 6), (67, 2), (1.4, 0.5), 64, 8), (
        _r("laptop", "fleet-agent", "systemd", "up", "active (running) since 06:45", 0.006, 4500),
        _r("laptop", "v2-config", "command", "up", "exit 0: ok", 0.004, 4500),
    ))
    return (csb1, csb2, web01, web02, db1, laptop)


def events() -> tuple[StatusChange, ...]:
    return (
        StatusChange(NOW - 600, "csb2", "v1-gone", "up", "degraded", "2 processes match: pids 4411, 4420"),
        StatusChange(NOW - 240, "csb2", "fleet-web", "up", "degraded", "HTTP 200 in 912 ms (max 500 ms)"),
        StatusChange(NOW - 108, "web01", "fleet-agent", "up", "down", "inactive (dead); exit-code 1"),
        StatusChange(NOW - 108, "web01", "v2-config", "up", "down", "exit 1: test: /etc/fleet/v2.toml: No such file"),
        StatusChange(NOW - 95, "web02", None, "ok", "unreachable", "refused: connection refused by 192.0.2.22:2222"),
        StatusChange(NOW - 60, "db1", None, "ok", "host-key-CHANGED", "host key does not match known_hosts"),
    )


def snapshot() -> FleetSnapshot:
    hs = hosts()
    return FleetSnapshot(title=TITLE, at=NOW, hosts=hs, round=42, phases=PHASES,
                         changed=tuple(h.name for h in hs), events=events())


# -- the app --------------------------------------------------------------------------------

def make_app(directory: Path, **kw: object) -> CockpitApp:
    """A cockpit on the fixed config with a fixed clock; nothing polls (``live=False``)."""
    return CockpitApp(make_engine(directory), live=False, clock=clock, operator="tester", **kw)  # type: ignore[arg-type]


async def feed(pilot: object, snap: FleetSnapshot | None = None) -> None:
    """Post the snapshot as the engine's consumer would, and wait until it is on screen."""
    app = pilot.app  # type: ignore[attr-defined]
    app.post_message(SnapshotReady(snap or snapshot()))
    await pilot.pause()  # type: ignore[attr-defined]
    await pilot.wait_for_scheduled_animations()  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


# -- a large fleet (B4: the UI at 500 hosts) ---------------------------------------------------

BIG_SERVICES = ("agent", "web", "db-conn", "queue", "health")


def write_big_config(directory: Path, n: int) -> Path:
    """``n`` hosts ``h001``… in TEST-NET (never contacted) × 5 command checks."""
    lines = ["[cockpit]", 'title = "Big fleet"', 'interval = "5s"', "", "[ssh]", 'known_hosts = "known_hosts"', ""]
    for i in range(n):
        lines += [f"[hosts.h{i + 1:03d}]", f'address = "192.0.2.{1 + i % 250}"', f"port = {2000 + i}",
                  'tags = ["fleet"]', ""]
    for s in BIG_SERVICES:
        lines += [f"[services.{s}]", 'on = ["all"]', f'command = "true {s}"', ""]
    path = directory / "big.toml"
    path.write_text("\n".join(lines))
    (directory / "known_hosts").write_text("")
    return path


class BigFleet:
    """Rounds for ``n`` hosts as the engine would publish them; set a host's CPU or a check's status."""

    def __init__(self, n: int) -> None:
        self.names = [f"h{i + 1:03d}" for i in range(n)]
        self.cpu = {h: 10.0 + (i % 50) for i, h in enumerate(self.names)}
        self.status = {(h, s): "up" for h in self.names for s in BIG_SERVICES}
        self.hist: dict[str, tuple[Load, ...]] = {h: () for h in self.names}
        self.round = 0
        self._events: list[StatusChange] = []
        self._last: dict[str, HostState] = {}

    def set_status(self, host: str, service: str, status: str) -> None:
        old = self.status[(host, service)]
        self.status[(host, service)] = status
        self._events.append(StatusChange(NOW + self.round, host, service, old, status, f"now {status}"))

    def next(self, changed: tuple[str, ...] | None = None) -> FleetSnapshot:
        """The next round; ``changed``: the only hosts whose state moved (default: all)."""
        self.round += 1
        at = NOW + self.round
        out = []
        for h in self.names:
            if changed is not None and h in self._last and h not in changed:
                out.append(self._last[h])  # as the engine does: an unchanged host keeps its state
                continue
            load = Load(at=at, cpu=self.cpu[h], mem=40.0, mem_total_kb=8_000_000, load1=0.5, load5=0.5,
                        load15=0.4, disks=(("/", 41.0),), ncpu=2)
            self.hist[h] = (*self.hist[h][-29:], load)
            results = tuple(CheckResult(service=s, host=h, kind="command", status=self.status[(h, s)],  # type: ignore[arg-type]
                                        detail="", latency=None, at=at) for s in BIG_SERVICES)
            self._last[h] = HostState(name=h, reach="ok", load=load, history=self.hist[h], results=results,
                                      round_started=at - 0.2, round_ended=at, tags=("fleet",))
            out.append(self._last[h])
        events, self._events = tuple(self._events), []
        return FleetSnapshot(title="Big fleet", at=at, hosts=tuple(out), round=self.round,
                             changed=tuple(self.names) if changed is None else changed, events=events)


async def until(pilot: object, cond: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until ``cond()`` holds, polling every 50 ms, at most ``timeout`` seconds (then fail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError("condition not met in time")
