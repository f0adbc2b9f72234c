"""Hosts behind a jump host (ProxyJump) on a real loopback fleet: one shared bastion connection, sshd defaults.

The bastion and every target are real OpenSSH sshd with the stock ``MaxStartups 10:30:100`` and
``MaxSessions 10``. What a user would notice is counted in the sshd logs: logins at the bastion,
tunnels through it, connections dropped past MaxStartups.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from cockpit.config import load_config
from cockpit.engine import Engine

DROPPED = re.compile(r"drop connection|MaxStartups throttling|past MaxStartups", re.IGNORECASE)


def bastion_debug_log(fleet: Fleet, bastion: FleetHost) -> None:
    """Restart ``bastion`` with LogLevel DEBUG1, which logs each direct-tcpip channel (a tunnel) it opens."""
    bastion.stop()
    extra, fleet.extra_config = fleet.extra_config, "LogLevel DEBUG1"
    try:
        bastion.write_config()
    finally:
        fleet.extra_config = extra
    bastion.start()


def logins(host: FleetHost) -> int:
    return host.log_text().count("Accepted publickey")


def tunnels(host: FleetHost) -> int:
    return len(re.findall(r"server_request_direct_tcpip: originator", host.log_text()))


def ssh_config(tmp_path: Path, fleet: Fleet, bastion: FleetHost, targets: list[FleetHost]) -> Path:
    """An ssh_config listing the fleet: each target's HostName/Port, ProxyJump through the bastion."""
    lines = [f"Host bastion\n  HostName {bastion.address}\n  Port {bastion.port}\n"]
    lines += [f"Host {h.name}\n  HostName {h.address}\n  Port {h.port}\n" for h in targets]
    lines.append(f"Host h*\n  ProxyJump bastion\n\nHost *\n  User {fleet.user}\n  IdentityFile {fleet.client_key}\n")
    path = tmp_path / "ssh_config"
    path.write_text("\n".join(lines))
    return path


def cockpit_toml(tmp_path: Path, fleet: Fleet, names: list[str], ssh: str, hosts_extra: str = "") -> Path:
    path = tmp_path / "cockpit.toml"
    body = [(f'[cockpit]\ntitle = "bastion"\ninterval = "1s"\n\n[ssh]\n{ssh}known_hosts = "{fleet.known_hosts}"\n'
            f'identity_files = ["{fleet.client_key}"]\nconnect_timeout = "10s"\ncommand_timeout = "20s"\n')]
    body += [f'[hosts.{n}]\naddress = "{n}"\n{hosts_extra}' for n in names]
    body.append('[services.agent]\non = "all"\nsystemd = "fleet-agent"\n')
    path.write_text("\n".join(body))
    return path


@pytest.mark.xdist_group("serial")
async def test_forty_hosts_behind_one_bastion_at_sshd_defaults(fleet_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet = fleet_factory(41)  # h41 is the bastion; every sshd at its defaults (MaxStartups 10, MaxSessions 10)
    bastion, targets = fleet.hosts[-1], fleet.hosts[:-1]
    bastion_debug_log(fleet, bastion)
    for h in targets:
        h.set_systemd("fleet-agent", "active running")
    cfg = ssh_config(tmp_path, fleet, bastion, targets)
    path = cockpit_toml(tmp_path, fleet, [h.name for h in targets], f'config = "{cfg}"\n')

    async with Engine(load_config(path)) as engine:
        snap = await engine.run_round()
        reach = {h.name: (h.reach, h.error) for h in snap.hosts}
        assert all(r == "ok" for r, _ in reach.values()), {n: v for n, v in reach.items() if v[0] != "ok"}
        assert all(h.results[0].status == "up" for h in snap.hosts)
        limits = engine.ssh_pool.limits.view()
        assert list(engine.ssh_pool.jumps) == ["bastion"]
        # 40 handshakes went through one jump host, never more than max_startups at once
        assert 1 < limits.peak_per_jump <= limits.per_jump == 8

    assert logins(bastion) == 1  # one bastion login, not one per host
    assert tunnels(bastion) == 40  # every target reached through it: 40 tunnels on one connection (MaxSessions 10)
    assert all(logins(h) == 1 for h in targets)
    dropped = [h.name for h in fleet.hosts if DROPPED.search(h.log_text())]
    assert dropped == []


async def test_proxy_jump_on_the_host_and_a_bastion_whose_key_is_unknown(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``proxy_jump`` set per host (as an inventory would); then the bastion's key missing from known_hosts."""
    bastion = fleet.hosts[0]
    targets = fleet.hosts[1:]
    jump = f'proxy_jump = "{fleet.user}@{bastion.address}:{bastion.port}"\n'
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f'[ssh]\nknown_hosts = "{fleet.known_hosts}"\nidentity_files = ["{fleet.client_key}"]\n'
        f'connect_timeout = "5s"\n\n'
        + "".join(f'[hosts.{h.name}]\naddress = "{h.address}"\nport = {h.port}\nuser = "{fleet.user}"\n{jump}\n'
                  for h in targets))
    before = logins(bastion)
    async with Engine(load_config(path)) as engine:
        snap = await engine.run_round()
        assert [h.reach for h in snap.hosts] == ["ok"] * len(targets)
    assert logins(bastion) - before == 1

    # the bastion's key is not trusted: every host behind it says so, and nothing reached the targets
    fleet.known_hosts.write_text("".join(h.known_hosts_line() + "\n" for h in targets))
    target_logins = [logins(h) for h in targets]
    async with Engine(load_config(path)) as engine:
        snap = await engine.run_round()
    for h in snap.hosts:
        assert h.reach == "unreachable"
        assert f"{h.name}: via jump host {fleet.user}@{bastion.address}:{bastion.port}" in h.error
        assert f"host key {bastion.host_key_fingerprint()} is not in" in h.error
    assert [logins(h) for h in targets] == target_logins
